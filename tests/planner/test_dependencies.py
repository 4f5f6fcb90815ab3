"""The action dependency graph: executed with random delays, plans never collide or deadlock."""

from __future__ import annotations

import heapq

import numpy as np
import pytest

from planner.dependencies import build_dependency_graph, plan_dependency_graph, releasable
from planner.routing import plan_routes
from planner.scenarios import corridor_map, crossing_map
from planner.types import PlanOptions, Problem, VehiclePath


def conflict_matrix(tm, paths):
    """Cells used by ``paths`` (index map) and which of them conflict, as a dense matrix."""
    used = np.unique(np.concatenate([p.cells for p in paths]))
    clash = np.zeros((used.shape[0], used.shape[0]), dtype=bool)
    for k, c in enumerate(used):
        clash[k] = np.isin(used, tm.cell_conflicts(int(c)))
    return {int(c): k for k, c in enumerate(used)}, clash


def execute(paths, graph, cells, rng, *, honour_graph=True, slow_max=4.0, stop_probability=0.15, stop_max_s=60.0):
    """Event-driven execution with random slow-downs and stops.

    Each move is two halves; at the midpoint the vehicle enters the next cell's stretch
    (a step of the graph). A vehicle starts a move only when the step is released.
    Returns ``(conflicts, deadlocked)``: pairs of vehicles found in conflicting stretches,
    and whether execution stopped with steps left and nobody able to move.
    """
    local, clash = cells
    n = len(paths)
    holding = np.array([local[int(p.cells[0])] for p in paths])
    done = np.zeros(n, dtype=np.int64)  # steps done: stretch entries
    at_node = np.zeros(n, dtype=np.int64)
    moving = np.zeros(n, dtype=bool)
    released = np.zeros(n, dtype=np.int64)
    heap: list = []
    counter = 0
    conflicts = []

    def release():
        nonlocal released
        released = releasable(graph, done, released) if honour_graph else np.array([p.n_steps for p in paths])

    def try_start(v, t):
        nonlocal counter
        p = paths[v]
        k = at_node[v]
        if moving[v] or k >= p.n_steps or released[v] <= k:
            return
        nominal = max(float(p.arrive_s[k + 1] - p.depart_s[k]), 1e-3)
        duration = nominal * rng.uniform(1.0, slow_max)
        pause = rng.uniform(0.0, stop_max_s) if rng.random() < stop_probability else 0.0
        moving[v] = True
        heapq.heappush(heap, (t + pause + duration / 2, counter, "mid", v))
        heapq.heappush(heap, (t + pause + duration, counter + 1, "node", v))
        counter += 2

    release()
    for v in range(n):
        try_start(v, 0.0)
    while heap:
        t, _, kind, v = heapq.heappop(heap)
        if kind == "mid":
            done[v] += 1
            holding[v] = local[int(paths[v].cells[done[v]])]
            others = np.flatnonzero(clash[holding[v], holding] & (np.arange(n) != v))
            conflicts.extend((t, v, int(w)) for w in others)
            release()
            for w in np.flatnonzero(~moving & (released > at_node)):
                try_start(int(w), t)
        else:
            at_node[v] += 1
            moving[v] = False
            try_start(v, t)
    deadlocked = any(at_node[v] < paths[v].n_steps for v in range(n))
    return conflicts, deadlocked


def _plan(tm, problem):
    result = plan_routes(problem, PlanOptions(time_limit_s=10.0, improve_time_s=0.0))
    assert result.solved, result.reason
    paths = [result.paths[v] for v in problem.vehicle_ids]
    return paths, plan_dependency_graph(tm, problem.vehicle_ids, result.paths), conflict_matrix(tm, paths)


def _plans(default_map):
    plans = []
    for seed in range(8):
        problem = Problem.random_stations(default_map, 8, np.random.default_rng(seed), laden_fraction=0.5)
        plans.append((default_map, *_plan(default_map, problem)))
    corridor = corridor_map()
    plans.append((corridor, *_plan(corridor, Problem.from_stations(corridor, ["W", "E"], ["E", "W"]))))
    crossing = crossing_map()
    plans.append((crossing, *_plan(crossing, Problem.from_stations(crossing, ["WEST", "SOUTH"], ["EAST", "NORTH"]))))
    return plans


def test_two_hundred_delayed_executions_have_no_conflict_and_no_deadlock(default_map):
    plans = _plans(default_map)
    rng = np.random.default_rng(2024)
    runs = 0
    for tm, paths, graph, cells in plans:
        for _ in range(20):
            conflicts, deadlocked = execute(paths, graph, cells, rng)
            assert not conflicts, f"conflict on {tm.name}: {conflicts[:3]}"
            assert not deadlocked, f"deadlock on {tm.name}"
            runs += 1
    assert runs >= 200


def test_without_the_graph_the_same_delays_do_collide(default_map):
    # the control: the delay model is harsh enough to break a plan executed by the clock
    problem = Problem.random_stations(default_map, 12, np.random.default_rng(0))
    paths, graph, cells = _plan(default_map, problem)
    rng = np.random.default_rng(7)
    assert any(execute(paths, graph, cells, rng, honour_graph=False)[0] for _ in range(10))


def test_dependencies_point_from_earlier_to_later_plan_times(default_map):
    problem = Problem.random_stations(default_map, 20, np.random.default_rng(3))
    paths, graph, _ = _plan(default_map, problem)
    assert graph.n_dependencies > 0
    for v, p in enumerate(paths):
        entry = p.stretch_entry_s()
        for k in range(1, p.n_steps + 1):
            for u, j in graph.dependencies(v, k):
                assert u != v
                assert paths[u].stretch_entry_s()[j] < entry[k]


def test_release_is_monotone_and_waits_for_the_crossing_vehicle():
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"], vehicle_ids=["a", "b"])
    paths, graph, _ = _plan(tm, problem)
    first = 0 if paths[0].end_s - paths[0].start_s <= paths[1].end_s - paths[1].start_s else 1
    second = 1 - first
    nothing_done = releasable(graph, np.zeros(2, dtype=np.int64))
    assert nothing_done[first] == paths[first].n_steps  # never waits for the other
    assert nothing_done[second] < paths[second].n_steps  # must wait before the crossing
    done = np.zeros(2, dtype=np.int64)
    done[first] = paths[first].n_steps
    all_done = releasable(graph, done, nothing_done)
    assert all_done[second] == paths[second].n_steps
    assert (all_done >= nothing_done).all()


def test_standing_vehicles_have_no_steps_but_order_others():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W", "SIDING"], ["E", "SIDING"], vehicle_ids=["mover", "stay"])
    result = plan_routes(problem, PlanOptions(improve_time_s=0.0))
    graph = build_dependency_graph(tm, problem.vehicle_ids, [result.paths["mover"], result.paths["stay"]])
    assert graph.n_steps.tolist()[1] == 0


def test_nobody_is_released_into_a_vehicle_that_stays_regression_disruption_collision():
    # A path cut short (its vehicle stays where its released steps end) under a path
    # planned before, to pass there later: the later one used to get no dependency at
    # all from a stay that never ends, and was released into the standing vehicle.
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], ["E"], vehicle_ids=["mover"])
    mover = plan_routes(problem, PlanOptions(improve_time_s=0.0)).paths["mover"]
    mid = tm.station_cell_of("MID")
    stays = VehiclePath.standing(mid, float(mover.arrive_s[0]))  # there before the mover comes
    graph = build_dependency_graph(tm, ["mover", "stays"], [mover, stays])
    limit = int(releasable(graph, np.zeros(2, dtype=np.int64))[0])
    blocked = set(tm.cell_conflicts(mid).tolist())
    first_blocked = min(k for k, c in enumerate(mover.cells.tolist()) if c in blocked)
    assert limit == first_blocked - 1
    assert graph.dependencies(0, first_blocked) == [(1, 1)]  # step 1 of a path with none: never done
    # one that stands there only after the mover has passed orders nobody
    late = VehiclePath.standing(mid, float(mover.arrive_s[-1]) + 10.0)
    graph = build_dependency_graph(tm, ["mover", "late"], [mover, late])
    assert int(releasable(graph, np.zeros(2, dtype=np.int64))[0]) == mover.n_steps


def test_release_rejects_wrong_shapes(default_map):
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST"], ["EAST"])
    paths, graph, _ = _plan(tm, problem)
    with pytest.raises(ValueError):
        releasable(graph, np.zeros(3, dtype=np.int64))
