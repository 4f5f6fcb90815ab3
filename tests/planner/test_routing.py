"""The routing front door: the classic hard cases and every result status."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.routing import plan_routes
from planner.scenarios import corridor_map, crossing_map, loop_with_bypass_map
from planner.types import ParkedVehicle, PlanOptions, PlanStatus, Problem
from planner.validate import validate_plan

QUICK = PlanOptions(time_limit_s=10.0, improve_time_s=0.0)


def _solved(tm, problem, options=QUICK):
    result = plan_routes(problem, options)
    assert result.status is PlanStatus.SOLVED, result.reason
    validate_plan(tm, problem, result.paths)
    return result


def test_crossing_vehicles_take_turns():
    tm = crossing_map()
    result = _solved(tm, Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"]))
    assert result.sum_of_costs_s > sum(result.lower_bound_s.values())


def test_head_on_on_a_two_way_lane():
    # both shortest routes use the two-way link, in opposite directions
    tm = loop_with_bypass_map()
    link = {tm.lane_ids.index("ls-l"), tm.lane_ids.index("l-ln")}
    for start, goal in (("A", "D"), ("C", "B")):
        alone = _solved(tm, Problem.from_stations(tm, [start], [goal])).paths["igv-001"]
        assert set(tm.cell_lane[alone.cells].tolist()) & link
    result = _solved(tm, Problem.from_stations(tm, ["A", "C"], ["D", "B"]))
    assert result.sum_of_costs_s > sum(result.lower_bound_s.values())


def test_single_lane_swap_uses_the_siding():
    tm = corridor_map()
    _solved(tm, Problem.from_stations(tm, ["W", "E"], ["E", "W"]))


def test_single_lane_swap_without_a_siding_is_unsolvable():
    tm = corridor_map(siding=False)
    result = plan_routes(Problem.from_stations(tm, ["W", "E"], ["E", "W"]), QUICK)
    assert result.status is PlanStatus.UNSOLVABLE
    assert result.blocking and set(result.blocking) <= {"igv-001", "igv-002"}
    assert result.paths == {}


def test_a_vehicle_parked_on_the_only_route_is_named():
    tm = corridor_map(siding=False)
    result = plan_routes(Problem.from_stations(tm, ["W"], ["E"], parked={"broken-7": "MID"}), QUICK)
    assert result.status is PlanStatus.UNSOLVABLE
    assert result.blocking == ("broken-7",)
    assert "parked" in result.reason


def test_a_parked_vehicle_on_the_shortest_route_is_driven_around():
    tm = loop_with_bypass_map()
    free = _solved(tm, Problem.from_stations(tm, ["A"], ["D"]))
    problem = Problem.from_stations(tm, ["A"], ["D"], parked={"p": "LINK"})
    around = _solved(tm, problem)
    assert around.cost_s["igv-001"] > free.cost_s["igv-001"] + 5.0
    assert tm.station_cell_of("B") in around.paths["igv-001"].cells


def test_goals_inside_other_vehicles_paths():
    # y's goal (MID) lies on x's only route: y must arrive after x has passed
    tm = corridor_map()
    _solved(tm, Problem.from_stations(tm, ["W", "SIDING"], ["E", "MID"], vehicle_ids=["x", "y"]))


def test_overlapping_final_goals_are_unsolvable():
    tm = corridor_map()
    result = plan_routes(Problem.from_stations(tm, ["W", "E"], ["MID", "MID"]), QUICK)
    assert result.status is PlanStatus.UNSOLVABLE
    assert set(result.blocking) == {"igv-001", "igv-002"}


def test_a_goal_under_a_parked_vehicle_is_unsolvable():
    tm = corridor_map()
    result = plan_routes(Problem.from_stations(tm, ["W"], ["SIDING"], parked={"p": "SIDING"}), QUICK)
    assert result.status is PlanStatus.UNSOLVABLE and result.blocking == ("p",)


def test_a_goal_that_cannot_be_reached_is_unsolvable():
    tm = crossing_map()
    result = plan_routes(Problem.from_stations(tm, ["EAST"], ["WEST"]), QUICK)
    assert result.status is PlanStatus.UNSOLVABLE and "no route" in result.reason


def test_out_of_time_gives_a_valid_partial_plan(default_map):
    clock = itertools.count(0.0, 0.02)
    problem = Problem.random_stations(default_map, 30, np.random.default_rng(2))
    result = plan_routes(problem, PlanOptions(time_limit_s=1.0, improve_time_s=0.0), now=lambda: next(clock))
    assert result.status is PlanStatus.PARTIAL
    standing = set(result.unplanned)
    assert standing and len(standing) < problem.n_vehicles
    moving = Problem(default_map, tuple(v for v in problem.vehicles if v.id not in standing),
                     tuple(ParkedVehicle(v.id, v.start_cell) for v in problem.vehicles if v.id in standing))
    validate_plan(default_map, moving, {v: p for v, p in result.paths.items() if v not in standing})
    assert set(result.paths) == set(problem.vehicle_ids)
    assert all(result.paths[v].n_steps == 0 for v in standing)


def test_improvement_never_makes_a_plan_worse(default_map):
    problem = Problem.random_stations(default_map, 40, np.random.default_rng(5))
    result = _solved(default_map, problem, PlanOptions(time_limit_s=10.0, improve_time_s=0.5))
    assert result.sum_of_costs_s <= result.stats["initial_cost_s"] + 1e-6
    assert result.quality_ratio >= 1.0


def test_an_empty_problem_is_solved_at_once():
    tm = corridor_map()
    assert plan_routes(Problem(tm, ()), QUICK).status is PlanStatus.SOLVED


@pytest.mark.parametrize("n_vehicles", [60, 200])
def test_many_vehicles_on_the_default_map(default_map, n_vehicles):
    problem = Problem.random_stations(default_map, n_vehicles, np.random.default_rng(n_vehicles))
    _solved(default_map, problem, PlanOptions(time_limit_s=10.0, improve_time_s=0.0))


def test_regression_conflicting_occupancies_never_touch(default_map):
    # Two vehicles swapping stretches at the very same instant made the dependency graph
    # cyclic (found with 50 vehicles); the planner now keeps them SEPARATION_S apart.
    from planner.sipp import SEPARATION_S

    problem = Problem.random_stations(default_map, 50, np.random.default_rng(1))
    result = _solved(default_map, problem, PlanOptions(time_limit_s=10.0, improve_time_s=0.3))
    occ = []
    for vid, p in result.paths.items():
        start, end = p.occupancy()
        occ.extend((int(c), float(s), float(e), vid) for c, s, e in zip(p.cells, start, end))
    by_cell: dict[int, list] = {}
    for item in occ:
        by_cell.setdefault(item[0], []).append(item)
    closest = np.inf
    for c, s, e, vid in occ:
        for other in default_map.cell_conflicts(c):
            for _, s2, e2, vid2 in by_cell.get(int(other), ()):
                if vid2 != vid and s2 >= e:
                    closest = min(closest, s2 - e)
    assert closest >= SEPARATION_S - 1e-9
