"""The independent validator: every rule, with the vehicle, time and rule in the message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.errors import InvalidPlanError
from planner.routing import plan_routes
from planner.scenarios import corridor_map, crossing_map
from planner.types import PlanOptions, Problem, VehiclePath
from planner.validate import validate_plan


@pytest.fixture(scope="module")
def crossing():
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"], vehicle_ids=["a", "b"])
    result = plan_routes(problem, PlanOptions(time_limit_s=5.0, improve_time_s=0.0))
    assert result.solved
    return tm, problem, dict(result.paths)


def _with(path: VehiclePath, **arrays) -> VehiclePath:
    fields = {"cells": path.cells, "arrive_s": path.arrive_s, "depart_s": path.depart_s, "leg": path.leg}
    fields.update(arrays)
    return VehiclePath(**fields)


def _expect(tm, problem, paths, rule, vehicle):
    with pytest.raises(InvalidPlanError) as err:
        validate_plan(tm, problem, paths)
    message = str(err.value)
    assert f"vehicle {vehicle!r} at t=" in message and f": {rule}:" in message
    return message


def test_a_planned_plan_is_valid(crossing):
    tm, problem, paths = crossing
    validate_plan(tm, problem, paths)


def test_simultaneous_crossing_is_a_conflict(crossing):
    tm, problem, paths = crossing
    alone = {}
    for vid, start, goal in (("a", "WEST", "EAST"), ("b", "SOUTH", "NORTH")):
        alone.update(plan_routes(Problem.from_stations(tm, [start], [goal], vehicle_ids=[vid]), PlanOptions(improve_time_s=0.0)).paths)
    with pytest.raises(InvalidPlanError, match=r"vehicle '[ab]' at t=\d+\.\d+ s: conflict: occupies cell \d+ while '[ab]'"):
        validate_plan(tm, problem, alone)


def test_teleport(crossing):
    tm, problem, paths = crossing
    p = paths["a"]
    cells = p.cells.copy()
    cells[2] = tm.station_cell_of("NORTH")
    _expect(tm, problem, {**paths, "a": _with(p, cells=cells)}, "teleport", "a")


def test_lane_direction(crossing):
    tm, problem, paths = crossing
    p = paths["a"]
    cells = np.concatenate([p.cells[:3], [p.cells[1]], p.cells[3:]])
    arrive = np.concatenate([p.arrive_s[:3], [p.arrive_s[2] + 1.0], p.arrive_s[3:] + 2.0])
    depart = np.concatenate([p.depart_s[:3], [p.arrive_s[2] + 1.0], p.depart_s[3:] + 2.0])
    leg = np.zeros(cells.shape[0], dtype=np.int32)
    _expect(tm, problem, {**paths, "a": VehiclePath(cells, arrive, depart, leg)}, "lane direction", "a")


def test_speed_over_the_limit(crossing):
    tm, problem, paths = crossing
    p = paths["a"]
    arrive = p.arrive_s.copy()
    depart = p.depart_s.copy()
    arrive[1:] -= 0.5 * (p.arrive_s[1] - p.depart_s[0])
    depart[1:-1] -= 0.5 * (p.arrive_s[1] - p.depart_s[0])
    message = _expect(tm, problem, {**paths, "a": _with(p, arrive_s=arrive, depart_s=depart)}, "speed", "a")
    assert "m/s" in message


def test_wrong_start_and_wrong_goal(crossing):
    tm, problem, paths = crossing
    p = paths["a"]
    _expect(tm, problem, {**paths, "a": _with(p, cells=p.cells[::-1].copy())}, "start", "a")
    short = VehiclePath(p.cells[:-1], p.arrive_s[:-1], np.concatenate([p.depart_s[:-2], [math.inf]]), p.leg[:-1])
    _expect(tm, problem, {**paths, "a": short}, "goal", "a")


def test_missing_vehicle_and_bad_times(crossing):
    tm, problem, paths = crossing
    _expect(tm, problem, {"a": paths["a"]}, "path", "b")
    p = paths["b"]
    depart = p.depart_s.copy()
    depart[-1] = 99.0
    _expect(tm, problem, {**paths, "b": _with(p, depart_s=depart)}, "path", "b")


def test_dwell_at_an_intermediate_goal_is_enforced():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], [["SIDING", "E"]], vehicle_ids=["v"], dwell_s=30.0)
    result = plan_routes(problem, PlanOptions(improve_time_s=0.0))
    validate_plan(tm, problem, result.paths)
    p = result.paths["v"]
    k = int(np.flatnonzero(p.cells == tm.station_cell_of("SIDING"))[0])
    early = p.depart_s.copy()
    arrive = p.arrive_s.copy()
    shift = p.depart_s[k] - p.arrive_s[k] - 5.0
    early[k:-1] -= shift
    arrive[k + 1 :] -= shift
    _expect(tm, problem, {"v": _with(p, arrive_s=arrive, depart_s=early)}, "goal", "v")


def test_parked_vehicles_are_obstacles_for_ever():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], ["E"], vehicle_ids=["v"])
    path = plan_routes(problem, PlanOptions(improve_time_s=0.0)).paths["v"]
    with_parked = Problem.from_stations(tm, ["W"], ["E"], vehicle_ids=["v"], parked={"p": "MID"})
    _expect(tm, with_parked, {"v": path}, "conflict", "v")
