"""Lifelong operation: replanning around committed prefixes, inserting single vehicles."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planner.dependencies import plan_dependency_graph, releasable
from planner.errors import PlanError
from planner.replan import LivePlan, committed_prefix, replan
from planner.routing import plan_routes
from planner.scenarios import corridor_map
from planner.sipp import RoutingGraph
from planner.timing import schedule_plan
from planner.types import Leg, PlanOptions, PlanStatus, Problem, VehicleTask
from planner.validate import validate_plan

OPTIONS = PlanOptions(time_limit_s=10.0, improve_time_s=0.2)


@pytest.fixture(scope="module")
def running(default_map):
    problem = Problem.random_stations(default_map, 30, np.random.default_rng(5))
    result = plan_routes(problem, OPTIONS)
    assert result.solved
    return problem, result


def _mid_execution(tm, problem, result, t_now, lookahead, rng):
    """Prefixes at plan time ``t_now`` (what the dependency graph releases, at most
    ``lookahead`` steps ahead) and new jobs for vehicles that are done."""
    busy = {v.start_cell for v in problem.vehicles} | {v.goal_cell for v in problem.vehicles}
    free = [s.id for s in tm.stations if tm.station_cell_of(s.id) not in busy]
    rng.shuffle(free)
    graph = plan_dependency_graph(tm, problem.vehicle_ids, result.paths)
    paths = [result.paths[v] for v in problem.vehicle_ids]
    done = np.array([int(np.searchsorted(p.stretch_entry_s(), t_now, side="right") - 1) for p in paths])
    released = np.minimum(releasable(graph, done), done + lookahead)
    prefixes, tasks = {}, []
    for k, v in enumerate(problem.vehicles):
        prefix = committed_prefix(paths[k], int(done[k]), int(released[k]))
        prefixes[v.id] = prefix
        legs = v.legs
        if prefix.cells[-1] == v.goal_cell:
            goal = free.pop()
            legs = (Leg(tm.station_cell_of(goal), tm.vehicle.max_speed_laden_mps, 0.0, goal),)
        tasks.append(replace(v, start_cell=int(prefix.cells[0]), legs=legs))
    return Problem(tm, tuple(tasks), (), t_now), prefixes


def test_committed_prefix_slices_the_released_part():
    tm = corridor_map()
    path = plan_routes(Problem.from_stations(tm, ["W"], ["E"]), OPTIONS).paths["igv-001"]
    prefix = committed_prefix(path, 3, 7)
    assert prefix.cells.tolist() == path.cells[3:8].tolist()
    assert prefix.arrive_s.tolist() == path.arrive_s[3:8].tolist()
    assert prefix.depart_s[-1] == np.inf
    with pytest.raises(PlanError):
        committed_prefix(path, 5, 4)


@pytest.mark.parametrize("t_now,lookahead", [(60.0, 3), (150.0, 8)])
def test_replanning_keeps_prefixes_and_stays_valid(default_map, running, t_now, lookahead):
    problem, result = running
    new_problem, prefixes = _mid_execution(default_map, problem, result, t_now, lookahead, np.random.default_rng(1))
    again = replan(new_problem, prefixes, OPTIONS)
    assert again.status is PlanStatus.SOLVED, again.reason
    validate_plan(default_map, new_problem, again.paths, check_start_time=False)
    for vid, prefix in prefixes.items():
        path = again.paths[vid]
        k = prefix.cells.shape[0]
        assert path.cells[:k].tolist() == prefix.cells.tolist()
        assert np.allclose(path.arrive_s[:k], prefix.arrive_s)
        assert np.allclose(path.depart_s[: k - 1], prefix.depart_s[:-1])
        assert path.depart_s[k - 1] >= max(t_now, prefix.arrive_s[-1]) - 1e-9
    # the new plan executes: its dependency graph is acyclic and runs to the end
    paths = [again.paths[v] for v in new_problem.vehicle_ids]
    graph = plan_dependency_graph(default_map, new_problem.vehicle_ids, again.paths)
    assert (releasable(graph, graph.n_steps) == graph.n_steps).all()
    schedule = schedule_plan(default_map, new_problem, paths, graph)
    assert np.isfinite(schedule.arrival_s).all()


def test_a_prefix_must_start_where_the_vehicle_is(default_map, running):
    problem, result = running
    new_problem, prefixes = _mid_execution(default_map, problem, result, 60.0, 3, np.random.default_rng(1))
    vid = new_problem.vehicle_ids[0]
    other = new_problem.vehicle_ids[1]
    with pytest.raises(PlanError):
        replan(new_problem, {**prefixes, vid: prefixes[other]}, OPTIONS)
    with pytest.raises(PlanError):
        replan(new_problem, {**prefixes, "ghost": prefixes[vid]}, OPTIONS)


def test_inserting_a_vehicle_into_a_running_plan(default_map, running):
    problem, result = running
    live = LivePlan.from_result(default_map, result, RoutingGraph(default_map))
    busy = {v.start_cell for v in problem.vehicles} | {v.goal_cell for v in problem.vehicles}
    free = [s.id for s in default_map.stations if default_map.station_cell_of(s.id) not in busy]
    start, goal = free[0], free[-1]
    task = VehicleTask("new-1", default_map.station_cell_of(start),
                       (Leg(default_map.station_cell_of(goal), 8.3, 0.0, goal),), 0.0, start)
    path = live.insert(task, 0.0)
    assert path is not None and path.cells[-1] == default_map.station_cell_of(goal)
    everyone = Problem(default_map, (*problem.vehicles, task))
    validate_plan(default_map, everyone, {**result.paths, "new-1": path})
    # a new job for a vehicle already in the plan replaces its path
    first = problem.vehicles[0]
    job = VehicleTask(first.id, first.goal_cell, (Leg(default_map.station_cell_of(free[1]), 8.3, 0.0, free[1]),), 0.0)
    late = float(result.paths[first.id].end_s) + 400.0
    new_path = live.insert(job, late)
    assert new_path is not None and live.paths[first.id] is new_path


def test_an_impossible_insertion_leaves_the_plan_unchanged():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], ["E"], vehicle_ids=["a"])
    result = plan_routes(problem, OPTIONS)
    live = LivePlan.from_result(tm, result)
    blocked = VehicleTask("b", tm.station_cell_of("SIDING"), (Leg(tm.station_cell_of("E"), 4.0),))
    assert live.insert(blocked, 0.0) is None
    assert set(live.paths) == {"a"}
