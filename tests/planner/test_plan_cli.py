"""``igv plan`` through the real dispatcher, and the geometric cross-check of its plans."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.cli import main
from maps.builder import MapBuilder
from planner.collision import CheckStatus, check_plan
from planner.errors import ProblemError
from planner.plan_file import MAX_ROW_GAP_S, read_plan_file
from planner.types import Problem


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_random_plan_is_written_and_readable(tmp_path, capsys, default_map):
    out = tmp_path / "plan.json"
    assert main(["plan", "--map", "bac_luan_2", "--vehicles", "8", "--seed", "3", "--improve-s", "0.3", "--out", str(out)]) == 0
    assert "solved: 8 vehicles" in capsys.readouterr().out
    plan = read_plan_file(out, expected_crs=default_map.crs)
    assert plan.status == "solved" and plan.map == "bac_luan_2"
    assert (plan.vehicle_length_m, plan.vehicle_width_m) == (15.5, 3.0)
    assert len(set(v.start_station for v in plan.vehicles)) == 8
    assert len(set(v.goal_station for v in plan.vehicles)) == 8
    for v in plan.vehicles:
        assert v.start_station != v.goal_station
        rows = v.trajectory
        assert np.diff(rows[:, 0]).max() <= MAX_ROW_GAP_S + 1e-9
        assert np.allclose(rows[0, 1:3], default_map.cell_xy[default_map.station_cell_of(v.start_station)])
        assert np.allclose(rows[-1, 1:3], default_map.cell_xy[default_map.station_cell_of(v.goal_station)], atol=1e-6)


def test_a_plan_of_twenty_vehicles_has_no_geometric_collision(tmp_path, default_map):
    # the cross-check of the cell conflict table: footprints 15.5 m x 3.0 m never touch
    out = tmp_path / "plan20.json"
    assert main(["plan", "--vehicles", "20", "--seed", "11", "--laden-fraction", "0.5", "--improve-s", "0.5", "--out", str(out)]) == 0
    report = check_plan(read_plan_file(out), default_map)
    assert report.collisions == ()
    assert report.status is CheckStatus.CLEAN, report


def test_given_stations_and_an_unsolvable_request(tmp_path, capsys):
    out = tmp_path / "plan.json"
    args = ["plan", "--starts", "P-001,P-002", "--goals", "P-005,P-005", "--out", str(out)]
    assert main(args) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("igv plan: unsolvable:") and "overlapping final goals" in line
    assert read_plan_file(out).status == "failed"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--starts", "P-001,NOPE", "--goals", "P-002,P-003"], "unknown station 'NOPE'"),
        (["--starts", "P-001,P-001", "--goals", "P-002,P-003"], "both start on cell"),
        (["--starts", "P-001", "--goals", "P-002,P-003"], "1 starts but 2 goals"),
        (["--starts", "P-001"], "--starts and --goals go together"),
        ([], "give --vehicles N"),
        (["--vehicles", "400"], "400 vehicles need distinct stations"),
        (["--map", "no-such-map", "--vehicles", "2"], "no map 'no-such-map'"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, needle):
    assert main(["plan", *args, "--out", str(tmp_path / "p.json")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("igv plan: error:") and needle in line


def test_bad_option_values_are_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--vehicles", "0", "--out", str(tmp_path / "p.json")])
    assert exit_info.value.code == 2
    assert "must be >= 1" in _one_line(capsys.readouterr().err)


def test_a_start_inside_a_no_go_zone_is_a_problem_error():
    b = MapBuilder(name="no-go")
    b.node("a", 0, 0)
    b.node("b", 100, 0)
    b.lane("ab", "a", "b", two_way=True)
    b.zone("river", "no_go", [(-5, -5), (5, -5), (5, 5), (-5, 5)])
    b.station("A", "parking", "a")
    b.station("B", "parking", "b")
    tm = b.build(check=False)
    with pytest.raises(ProblemError, match="station 'A' lies in no_go zone 'river'"):
        Problem.from_stations(tm, ["A"], ["B"])
