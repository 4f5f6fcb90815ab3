"""``igv mapf``: solves and writes a file the independent validator accepts; exit 1 with
``solved=0`` when unsolvable; one-line errors naming the line for broken inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.cli import main
from planner.mapf_io import read_log
from planner.mapf_validate import validate_solution_file

BENCH = Path(__file__).resolve().parents[3] / "shared" / "mapf-benchmark"

MAP = "type octile\nheight 4\nwidth 6\nmap\n......\n.@@.@.\n......\n..@...\n"
WALLED = "type octile\nheight 3\nwidth 5\nmap\n..@..\n..@..\n..@..\n"


def scen(rows: list[tuple[int, int, int, int]], w: int, h: int) -> str:
    lines = ["version 1"] + [f"0\tm.map\t{w}\t{h}\t{sx}\t{sy}\t{gx}\t{gy}\t1" for sx, sy, gx, gy in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "m.map").write_text(MAP)
    rows = [(0, 0, 5, 3), (5, 0, 0, 2), (0, 2, 5, 0), (3, 3, 1, 0), (5, 2, 0, 0), (1, 3, 3, 0)]
    (tmp_path / "m.scen").write_text(scen(rows, 6, 4))
    return tmp_path / "m.map", tmp_path / "m.scen"


def test_solves_and_writes_a_valid_lacam_file(tmp_path, small, capsys):
    out = tmp_path / "sol.txt"
    code = main(["mapf", str(small[0]), str(small[1]), "--agents", "5", "--time-limit-s", "1", "--out", str(out)])
    assert code == 0
    assert "5 agents" in capsys.readouterr().out
    check = validate_solution_file(out, *small)
    assert check.ok, check.problems
    log = read_log(out)
    assert log.solved and log.agents == 5 and log.map_file == "m.map" and log.sum_of_loss >= log.sum_of_loss_lb


def test_unreachable_goal_exits_1_with_solved_0(tmp_path, capsys):
    (tmp_path / "m.map").write_text(WALLED)
    (tmp_path / "m.scen").write_text(scen([(0, 0, 1, 2), (4, 0, 0, 0)], 5, 3))
    out = tmp_path / "sol.txt"
    code = main(["mapf", str(tmp_path / "m.map"), str(tmp_path / "m.scen"), "-N", "2", "--time-limit-s", "30", "--out", str(out)])
    assert code == 1
    assert "unsolvable (agent 1: goal cell" in capsys.readouterr().out
    log = read_log(out)
    assert not log.solved and log.solution.shape[0] == 0
    assert validate_solution_file(out, tmp_path / "m.map", tmp_path / "m.scen").ok


@pytest.mark.parametrize(
    ("map_text", "scen_text", "agents", "message"),
    [
        ("type octile\nheight 2\nwidth 3\nmap\n...\n.X.\n", None, 1, "m.map:6: unknown map character 'X'"),
        ("type octile\nheight 3\nwidth 3\nmap\n...\n...\n", None, 1, "m.map:7: map has 2 rows, header says 3"),
        (MAP, "version 1\n0\tm.map\t6\t4\t0\t0\t5\n", 1, "m.scen:2: expected 9 tab-separated fields, got 7"),
        (MAP, "version 1\n0\tm.map\t6\t4\t1\t1\t5\t3\t1\n", 1, "m.scen:2: start (1,1) is a blocked cell"),
        (MAP, None, 7, "--agents must be between 1 and 6"),
        (MAP, "version 1\n0\tm.map\t6\t4\t0\t0\t5\t3\t1\n0\tm.map\t6\t4\t0\t0\t5\t0\t1\n", 2, "agents 0 and 1 share the start cell"),
    ],
)
def test_bad_input_gives_one_line_error(tmp_path, small, capsys, map_text, scen_text, agents, message):
    (tmp_path / "m.map").write_text(map_text)
    if scen_text is not None:
        (tmp_path / "m.scen").write_text(scen_text)
    out = tmp_path / "sol.txt"
    code = main(["mapf", str(tmp_path / "m.map"), str(tmp_path / "m.scen"), "--agents", str(agents), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("igv mapf: error:")
    assert not out.exists()


def test_missing_output_directory_is_refused_before_solving(tmp_path, small, capsys):
    code = main(["mapf", str(small[0]), str(small[1]), "--agents", "2", "--out", str(tmp_path / "no" / "sol.txt")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


@pytest.mark.skipif(not BENCH.is_dir(), reason="shared/mapf-benchmark not beside the repo")
def test_shipped_instance_round_trip(tmp_path, capsys):
    m, s = BENCH / "random-32-32-20.map", BENCH / "random-32-32-20-random-3.scen"
    out = tmp_path / "sol.txt"
    assert main(["mapf", str(m), str(s), "--agents", "200", "--time-limit-s", "2", "--seed", "3", "--out", str(out)]) == 0
    check = validate_solution_file(out, m, s)
    assert check.ok, check.problems
    log = read_log(out)
    assert log.seed == 3 and log.sum_of_loss == check.sum_of_loss and log.makespan == check.makespan
