"""Priority-based search: conflicts resolved by ordering pairs, infeasible orders pruned."""

from __future__ import annotations

import time

import numpy as np
import pytest

from planner.pbs import plan_pbs
from planner.prioritized import make_session
from planner.scenarios import corridor_map, crossing_map
from planner.sipp import RoutingGraph
from planner.types import Problem
from planner.validate import validate_plan


def _solve(tm, problem, **kwargs):
    session = make_session(RoutingGraph(tm), problem)
    return session, plan_pbs(session, time.perf_counter() + 10.0, **kwargs)


def test_random_vehicles_on_the_default_map(default_map):
    problem = Problem.random_stations(default_map, 15, np.random.default_rng(4))
    _, result = _solve(default_map, problem)
    assert result.paths is not None, result.reason
    validate_plan(default_map, problem, dict(zip(problem.vehicle_ids, result.paths)))


def test_a_conflict_at_the_root_is_resolved_by_ordering_the_pair():
    # planned alone, both vehicles reach the crossing at the same moment
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"], vehicle_ids=["x", "y"])
    _, result = _solve(tm, problem)
    assert result.paths is not None and result.nodes > 1
    validate_plan(tm, problem, dict(zip(problem.vehicle_ids, result.paths)))


def test_initial_priorities_decide_who_waits_at_a_crossing():
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"])
    for high, low in ((0, 1), (1, 0)):
        session, result = _solve(tm, problem, initial_priorities=[(high, low)])
        assert result.paths is not None
        assert result.paths[high].end_s == pytest.approx(session.lower_bounds_s[high])
        assert result.paths[low].end_s > session.lower_bounds_s[low]


def test_a_swap_without_a_siding_has_no_priority_order():
    tm = corridor_map(siding=False)
    problem = Problem.from_stations(tm, ["W", "E"], ["E", "W"])
    _, result = _solve(tm, problem)
    assert result.paths is None
    assert result.reason.startswith("no priority order")
