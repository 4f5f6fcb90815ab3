"""Prioritized planning: priority heuristics, start holds, restarts and departure delays."""

from __future__ import annotations

import time

import numpy as np

from planner.prioritized import make_session, plan_prioritized, priority_order, run_order
from planner.scenarios import corridor_map, loop_with_bypass_map
from planner.sipp import RoutingGraph
from planner.types import Problem, VehiclePath
from planner.validate import validate_plan


def _session(tm, problem):
    return make_session(RoutingGraph(tm), problem)


def _paths(problem, paths):
    return {vid: p for vid, p in zip(problem.vehicle_ids, paths)}


def test_a_vehicle_standing_on_anothers_goal_goes_first(default_map):
    # b stands on a's goal and has the longer trip; shorter trips go first otherwise
    problem = Problem.from_stations(default_map, ["P-010", "P-020", "HO-30"], ["P-020", "HO-40", "P-011"], vehicle_ids=["a", "b", "c"])
    session = _session(default_map, problem)
    order = priority_order(session)
    assert order.index(1) < order.index(0)
    assert session.goal_sitters[0] == [1]


def test_shorter_trips_go_first_without_other_constraints(default_map):
    problem = Problem.from_stations(default_map, ["P-001", "P-002"], ["HO-50", "P-005"])
    session = _session(default_map, problem)
    assert priority_order(session) == [1, 0]


def test_thirty_random_vehicles_on_the_default_map(default_map):
    problem = Problem.random_stations(default_map, 30, np.random.default_rng(11), laden_fraction=0.5)
    session = _session(default_map, problem)
    result = plan_prioritized(session, np.random.default_rng(0), time.perf_counter() + 10.0)
    assert result.solved
    validate_plan(default_map, problem, _paths(problem, result.paths))


def test_nobody_plans_through_a_vehicle_that_has_not_moved_yet():
    # x drives W -> E first; y stands on MID, in x's way, and is planned after it. The
    # start hold keeps x from driving through y: x waits until y has left.
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W", "MID"], ["E", "SIDING"], vehicle_ids=["x", "y"])
    session = _session(tm, problem)
    attempt = run_order(session, [0, 1])
    if attempt.failed < 0:
        validate_plan(tm, problem, _paths(problem, attempt.paths))
    else:
        assert attempt.failed == 1 or attempt.paths[0] is None
    result = plan_prioritized(session, np.random.default_rng(0), time.perf_counter() + 10.0)
    assert result.solved
    validate_plan(tm, problem, _paths(problem, result.paths))


def test_a_swap_through_the_siding_needs_a_departure_delay():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W", "E"], ["E", "W"])
    session = _session(tm, problem)
    for order in ([0, 1], [1, 0]):
        assert run_order(session, order).failed >= 0  # neither order works by itself
    result = plan_prioritized(session, np.random.default_rng(0), time.perf_counter() + 10.0)
    assert result.solved
    paths = _paths(problem, result.paths)
    validate_plan(tm, problem, paths)
    siding_lane = tm.lane_ids.index("ms")
    assert any((tm.cell_lane[p.cells] == siding_lane).any() for p in paths.values())  # one ducked in
    assert max(p.depart_s[0] - p.arrive_s[0] for p in paths.values()) > 0  # one waited at its start


def test_standing_vehicles_stay_put_and_others_go_around():
    tm = loop_with_bypass_map()
    problem = Problem.from_stations(tm, ["A", "LINK"], ["D", "C"], vehicle_ids=["mover", "stuck"])
    session = _session(tm, problem)
    attempt = run_order(session, [0], standing=frozenset({1}))
    assert attempt.failed < 0
    paths = {"mover": attempt.paths[0], "stuck": VehiclePath.standing(tm.station_cell_of("LINK"), 0.0)}
    # the stuck vehicle blocks the link; the mover takes the long way round
    assert tm.station_cell_of("B") in paths["mover"].cells
    standing = Problem.from_stations(tm, ["A", "LINK"], ["D", "LINK"], vehicle_ids=["mover", "stuck"])
    validate_plan(tm, standing, paths)
