"""Large neighbourhood search: it only ever shortens a plan, and the plan stays valid."""

from __future__ import annotations

import time

import numpy as np

from planner.lns import improve
from planner.prioritized import make_session, priority_order, run_order
from planner.sipp import RoutingGraph
from planner.types import Problem
from planner.validate import validate_plan


def test_improve_shortens_a_poor_plan_and_keeps_it_valid(default_map):
    graph = RoutingGraph(default_map)
    accepted = 0
    for seed in range(3):
        problem = Problem.random_stations(default_map, 40, np.random.default_rng(seed))
        session = make_session(graph, problem)
        # longest trips first: a poor order for the sum of travel times
        attempt = run_order(session, priority_order(session)[::-1])
        assert attempt.failed < 0
        before = sum(p.end_s for p in attempt.paths)
        paths, stats = improve(session, attempt.paths, np.random.default_rng(seed), time.perf_counter() + 0.7)
        after = sum(p.end_s for p in paths)
        assert after <= before + 1e-6
        assert stats.initial_cost_s >= stats.final_cost_s
        validate_plan(default_map, problem, dict(zip(problem.vehicle_ids, paths)))
        accepted += stats.accepted
    assert accepted > 0


def test_a_single_vehicle_has_nothing_to_improve(default_map):
    problem = Problem.from_stations(default_map, ["P-001"], ["HO-01"])
    session = make_session(RoutingGraph(default_map), problem)
    attempt = run_order(session, [0])
    paths, stats = improve(session, attempt.paths, np.random.default_rng(0), time.perf_counter() + 1.0)
    assert paths[0] is attempt.paths[0] and stats.iterations == 0
