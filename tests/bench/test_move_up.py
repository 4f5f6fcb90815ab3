"""bench.move_up: the array pass of blocking_counts gives the cell-by-cell reference's counts."""

from bench.move_up import main


def test_move_up_bench_runs_and_its_scans_agree(capsys):
    assert main(["--vehicles", "40", "--routes", "5", "--repeats", "1"]) == 0
    assert "one array pass" in capsys.readouterr().out
