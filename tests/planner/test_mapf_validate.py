"""The independent grid-solution validator (planner.mapf_validate) and the LaCAM solution
file (planner.mapf_io): every rule is caught and named; files round-trip; bad files give
one line naming the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planner.errors import PlanFileError
from planner.mapf_io import MapfLog, format_log, read_log, write_log
from planner.mapf_validate import validate_grid_solution, validate_solution_file

MAP = """type octile
height 3
width 4
map
....
.@..
....
"""
SCEN = """version 1
0\tt.map\t4\t3\t0\t0\t3\t0\t3
0\tt.map\t4\t3\t3\t0\t0\t0\t3
0\tt.map\t4\t3\t0\t2\t3\t2\t3
"""
FREE = np.array([[c == "." for c in row] for row in ("....", ".@..", "....")])
STARTS = np.array([(0, 0), (3, 0)])
GOALS = np.array([(3, 0), (0, 0)])
# agent 0 goes along the top, agent 1 around the bottom
GOOD = np.array(
    [
        [(0, 0), (3, 0)],
        [(1, 0), (3, 1)],
        [(2, 0), (3, 2)],
        [(3, 0), (2, 2)],
        [(3, 0), (1, 2)],
        [(3, 0), (0, 2)],
        [(3, 0), (0, 1)],
        [(3, 0), (0, 0)],
    ]
)


def test_a_correct_solution_passes_with_its_costs():
    check = validate_grid_solution(FREE, STARTS, GOALS, GOOD)
    assert check.ok, check.problems
    assert (check.sum_of_costs, check.sum_of_loss, check.makespan) == (3 + 7, 3 + 7, 7)


def broken(t: int, i: int, xy: tuple[int, int]) -> np.ndarray:
    s = GOOD.copy()
    s[t, i] = xy
    return s


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        (broken(1, 0, (1, 1)), "agent 0 at t=1: (1,1) is a blocked cell"),
        (broken(2, 1, (4, 2)), "agent 1 at t=2: (4,2) is outside the 4x3 grid"),
        (broken(0, 0, (1, 0)), "agent 0: starts at (1,0), its start is (0,0)"),
        (broken(7, 1, (1, 0)), "agent 1: ends at (1,0) at t=7, its goal is (0,0)"),
        (broken(3, 1, (0, 2)), "agent 1 at t=2->3: jumps from (3,2) to (0,2)"),
        (broken(2, 1, (2, 0)), "vertex conflict at t=2: agents 0 and 1 both at (2,0)"),
    ],
)
def test_each_broken_rule_is_named(solution, expected):
    check = validate_grid_solution(FREE, STARTS, GOALS, solution)
    assert not check.ok
    assert any(expected in p for p in check.problems), check.problems


def test_swap_conflict_is_named():
    starts, goals = np.array([(0, 0), (1, 0)]), np.array([(1, 0), (0, 0)])
    solution = np.array([[(0, 0), (1, 0)], [(1, 0), (0, 0)]])
    check = validate_grid_solution(FREE, starts, goals, solution)
    assert check.problems == ("swap conflict at t=0->1: agents 0 and 1 trade (0,0) and (1,0)",)


def test_many_problems_are_capped_with_a_count():
    starts = goals = np.array([(0, 0), (0, 0)])
    solution = np.zeros((40, 2, 2), dtype=np.int64)  # both agents on one cell all the time
    check = validate_grid_solution(FREE, starts, goals, solution)
    assert len(check.problems) == 21 and check.problems[-1] == "... and 20 more problems"


def make_log(solution: np.ndarray, **changes) -> MapfLog:
    fields = dict(
        agents=2, map_file="t.map", solver="test", solved=True, soc=10, soc_lb=6, makespan=7, makespan_lb=5,
        sum_of_loss=10, sum_of_loss_lb=6, comp_time_ms=12.0, seed=0, starts=STARTS, goals=GOALS, solution=solution,
        extra=(("search_iteration", "5"),),
    )  # fmt: skip
    fields.update(changes)
    return MapfLog(**fields)


@pytest.fixture()
def instance(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "t.map").write_text(MAP)
    (tmp_path / "t.scen").write_text(SCEN)
    return tmp_path / "t.map", tmp_path / "t.scen"


def test_file_round_trip_and_validation(tmp_path, instance):
    path = tmp_path / "sol.txt"
    write_log(path, make_log(GOOD))
    text = path.read_text()
    assert text.splitlines()[:4] == ["agents=2", "map_file=t.map", "solver=test", "solved=1"]
    assert "starts=(0,0),(3,0),\ngoals=(3,0),(0,0),\nsolution=\n0:(0,0),(3,0),\n1:(1,0),(3,1),\n" in text
    log = read_log(path)
    assert np.array_equal(log.solution, GOOD) and log.extra == (("search_iteration", "5"),)
    assert format_log(log) == text
    assert validate_solution_file(path, *instance).ok


def test_file_with_wrong_costs_or_starts_is_reported(tmp_path, instance):
    path = tmp_path / "sol.txt"
    write_log(path, make_log(GOOD, soc=9, starts=np.array([(0, 0), (2, 0)])))
    problems = validate_solution_file(path, *instance).problems
    assert "agent 1: file start (2,0) differs from the scenario's (3,0)" in problems
    assert "file says soc=9, the solution has 10" in problems


def test_unsolved_file_is_consistent_only_without_a_solution(tmp_path, instance):
    path = tmp_path / "sol.txt"
    write_log(path, make_log(np.zeros((0, 2, 2), dtype=np.int64), solved=False, soc=0, makespan=0, sum_of_loss=0))
    assert validate_solution_file(path, *instance).ok
    assert read_log(path).solution.shape == (0, 2, 2)
    write_log(path, make_log(GOOD, solved=False))
    assert validate_solution_file(path, *instance).problems == ("solved=0 but a solution follows",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agents=2\nsolved=1\nstarts=(0,0),(3,0),\ngoals=(3,0),(0,0),\nsolution=\n0:(0,0),(3,0),\n2:(1,0),(3,1),\n", ":7: time step 2 out of order, expected 1"),
        ("agents=2\nsolved=1\nstarts=(0,0),\ngoals=(3,0),(0,0),\nsolution=\n", ":3: expected 2 positions, got 1"),
        ("agents=two\n", ":1: 'agents' must be a whole number"),
        ("agents=2\nsolved=1\nstarts=(0,0)(3,0)\n", ":3: expected '(x,y),' repeated"),
        ("agents=2\nsolved=1\nstarts=(0,0),(3,0),\ngoals=(3,0),(0,0),\n", "missing 'solution=' line"),
        ("agents=2\nsolved=1\nthis line is junk\n", ":3: expected 'key=value'"),
    ],
)
def test_malformed_files_give_one_line_naming_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(PlanFileError) as err:
        read_log(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)
