"""bench.dependencies: the all-at-once build gives the path-by-path baseline's graph."""

from bench.dependencies import main


def test_dependencies_bench_runs_and_its_builds_agree(capsys):
    assert main(["--vehicles", "30", "--repeats", "1"]) == 0
    assert "all paths at once" in capsys.readouterr().out


def test_dependencies_bench_refuses_more_vehicles_than_start_points(capsys):
    assert main(["--vehicles", "100000"]) == 2
    assert "--vehicles must be between" in capsys.readouterr().err
