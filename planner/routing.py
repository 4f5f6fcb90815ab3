"""The routing front door: problem in, :class:`~planner.types.PlanResult` out.

``plan_routes`` runs the layers in order of cost, within one wall-time budget:

1. static checks that prove a problem unsolvable (no route, a goal under a parked
   vehicle or under another vehicle's goal, a parked vehicle cutting the only route) and
   name the blocking vehicles;
2. prioritized planning with SIPP and restarts (:mod:`planner.prioritized`), for up to
   ``pp_share`` of the budget;
3. priority-based search (:mod:`planner.pbs`) for the rest, if enabled;
4. once solved, the plan is shortened for ``improve_time_s``: a quarter of it samples
   perturbed priority orders (keeping the best plan), the rest is large neighbourhood
   search (:mod:`planner.lns`);
5. otherwise a partial plan: the vehicles that could not be routed stand still and the
   others are routed around them.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from planner.lns import improve
from planner.pbs import plan_pbs
from planner.prioritized import Attempt, RoutingSession, best_of_orders, make_session, plan_prioritized, run_order
from planner.sipp import RoutingGraph
from planner.types import PlanOptions, PlanResult, PlanStatus, Problem, VehiclePath


def _lone_path_cells(session: RoutingSession, i: int) -> list[int]:
    """Cells of vehicle ``i``'s shortest route through all its legs, ignoring everyone."""
    graph = session.graph
    task = session.problem.vehicles[i]
    h = session.heuristics[i]
    cells = [task.start_cell]
    cell = task.start_cell
    for leg_index, leg in enumerate(task.legs):
        row = h[leg_index]
        while cell != leg.goal_cell:
            lo, hi = graph.adj_indptr[cell], graph.adj_indptr[cell + 1]
            succ = graph.adj_to[lo:hi]
            steps = graph.adj_length_m[lo:hi] / np.minimum(graph.adj_limit_mps[lo:hi], leg.max_speed_mps)
            cell = int(succ[int(np.argmin(steps + row[succ]))])
            cells.append(cell)
    return cells


def static_check(session: RoutingSession) -> tuple[str, tuple[str, ...]] | None:
    """``(reason, blocking vehicle ids)`` when the problem provably has no plan, else None."""
    problem = session.problem
    tm = problem.track_map
    ids = problem.vehicle_ids
    for i, v in enumerate(problem.vehicles):
        if not math.isfinite(session.lower_bounds_s[i]):
            return f"vehicle {v.id!r}: no route from its start through its goals on the track", ()
    finals: dict[int, int] = {}
    for i, v in enumerate(problem.vehicles):
        for c in tm.cell_conflicts(v.goal_cell):
            j = finals.get(int(c))
            if j is not None:
                return f"vehicles {ids[j]!r} and {v.id!r} have overlapping final goals", (ids[j], v.id)
        finals[v.goal_cell] = i
    if not problem.parked:
        return None
    blocked_by: dict[int, list[str]] = {}
    for p in problem.parked:
        for c in tm.cell_conflicts(p.cell):
            blocked_by.setdefault(int(c), []).append(p.id)
    free = np.ones(tm.n_cells, dtype=bool)
    free[list(blocked_by)] = False
    graph = session.graph
    rows = np.repeat(np.arange(tm.n_cells), np.diff(graph.adj_indptr))
    keep = free[rows] & free[graph.adj_to]
    open_graph = csr_matrix((np.ones(int(keep.sum())), (rows[keep], graph.adj_to[keep])), shape=(tm.n_cells, tm.n_cells))
    for i, v in enumerate(problem.vehicles):
        for leg in v.legs:
            if not free[leg.goal_cell]:
                return f"vehicle {v.id!r}: goal {leg.goal_station or leg.goal_cell} is under a parked vehicle", tuple(blocked_by[leg.goal_cell])
        stops = [v.start_cell] + [leg.goal_cell for leg in v.legs]
        for a, b in zip(stops[:-1], stops[1:]):
            if not math.isfinite(dijkstra(open_graph, directed=True, indices=a, unweighted=True)[b]):
                culprits = sorted({pid for c in _lone_path_cells(session, i) for pid in blocked_by.get(c, [])})
                return f"vehicle {v.id!r}: parked vehicles cut every route to its goal", tuple(culprits)
    return None


def _result(
    session: RoutingSession, status: PlanStatus, paths: list[VehiclePath | None], started_s: float,
    now: Callable[[], float], reason: str = "", blocking: tuple[str, ...] = (), stats: dict | None = None,
    standing: frozenset[int] = frozenset(),
) -> PlanResult:
    problem = session.problem
    begin = session.start_times_s
    ids = problem.vehicle_ids
    planned = {ids[i]: p for i, p in enumerate(paths) if p is not None}
    unplanned = tuple(ids[i] for i, p in enumerate(paths) if p is None or i in standing)
    cost = {ids[i]: float(p.end_s - begin[i]) for i, p in enumerate(paths) if p is not None and i not in standing}
    lbs = {ids[i]: float(session.lower_bounds_s[i]) for i in range(problem.n_vehicles)}
    all_stats = {"searches": session.searches, "expansions": session.expansions, **(stats or {})}
    return PlanResult(status, planned, cost, lbs, blocking, unplanned, reason, now() - started_s, all_stats)


def _partial(
    session: RoutingSession, best: Attempt, deadline_s: float, now: Callable[[], float],
) -> tuple[list[VehiclePath | None], frozenset[int]] | None:
    """Route everyone who can be routed while the failures stand still on their starts."""
    standing = {best.failed} if best.failed >= 0 else set()
    order = [i for i in best.order if i not in standing]
    while now() < deadline_s:
        attempt = run_order(session, order, deadline_s, now, frozenset(standing))
        if attempt.failed < 0:
            return attempt.paths, frozenset(standing)
        standing.add(attempt.failed)
        order.remove(attempt.failed)
    return None


def plan_routes(
    problem: Problem,
    options: PlanOptions = PlanOptions(),
    *,
    graph: RoutingGraph | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> PlanResult:
    """Route every vehicle of ``problem`` to its goals without conflicts.

    Parameters
    ----------
    problem : Problem
    options : PlanOptions
        Budget, seed and which layers to use.
    graph : RoutingGraph, optional
        Reuse one per map to keep its heuristic cache warm.
    now : callable
        Wall clock for the budget (injected for tests).

    Returns
    -------
    PlanResult
        SOLVED with every path; PARTIAL (some vehicles stand still, named in
        ``unplanned``); TIMEOUT; or UNSOLVABLE with ``blocking`` naming the vehicles in
        the way (parked vehicles, other vehicles' goals).
    """
    started = now()
    graph = graph if graph is not None else RoutingGraph(problem.track_map)
    session = make_session(graph, problem, options.max_expansions)
    return solve(session, options, started, now)


def solve(session: RoutingSession, options: PlanOptions, started: float, now: Callable[[], float] = time.perf_counter) -> PlanResult:
    """The layers of :func:`plan_routes` on a prepared session (also used by replanning)."""
    problem = session.problem
    deadline = started + options.time_limit_s
    rng = np.random.default_rng(options.seed)
    if problem.n_vehicles == 0:
        return _result(session, PlanStatus.SOLVED, [], started, now)
    verdict = static_check(session)
    if verdict is not None:
        return _result(session, PlanStatus.UNSOLVABLE, [None] * problem.n_vehicles, started, now, verdict[0], verdict[1])

    pp_deadline = started + options.time_limit_s * (options.pp_share if options.use_pbs else 1.0)
    pp = plan_prioritized(session, rng, pp_deadline, now, max_restarts=max(20, problem.n_vehicles))
    stats: dict[str, float] = {"restarts": pp.restarts}
    paths: list[VehiclePath | None] | None = pp.paths if pp.solved else None
    fallback: tuple[list[VehiclePath | None], frozenset[int]] | None = None
    reason = ""
    if paths is None and options.partial:
        fallback = _partial(session, pp.best, deadline, now)
    if paths is None and options.use_pbs and now() < deadline:
        sitters = [(j, i) for i in range(problem.n_vehicles) for j in session.goal_sitters[i]]
        pbs = plan_pbs(session, deadline, now, initial_priorities=sitters)
        stats["pbs_nodes"] = pbs.nodes
        paths = pbs.paths
        reason = pbs.reason
        if paths is None and pbs.reason.startswith("no priority order"):
            blocking = tuple(problem.vehicle_ids[i] for i, p in enumerate(pp.best.paths) if p is None)
            return _result(session, PlanStatus.UNSOLVABLE, [None] * problem.n_vehicles, started, now,
                           pbs.reason, blocking, stats)
    if paths is None:
        reason = reason or "time limit reached"
        if fallback is not None:
            return _result(session, PlanStatus.PARTIAL, fallback[0], started, now, reason, stats=stats, standing=fallback[1])
        return _result(session, PlanStatus.TIMEOUT, [None] * problem.n_vehicles, started, now, reason, stats=stats)

    if options.improve_time_s > 0 and problem.n_vehicles > 1:
        # a quarter of the time samples other priority orders, the rest is LNS from the
        # best plan (the table holds the solution's paths: PP and PBS both leave it so)
        initial = float(sum(p.end_s - b for p, b in zip(paths, session.start_times_s)))
        restart_deadline = min(deadline, now() + 0.25 * options.improve_time_s)
        improve_deadline = min(deadline, now() + options.improve_time_s)
        paths = best_of_orders(session, list(paths), rng, restart_deadline, now)
        paths, lns = improve(session, paths, rng, improve_deadline, now)
        stats.update(lns_iterations=lns.iterations, lns_accepted=lns.accepted, initial_cost_s=initial)
    return _result(session, PlanStatus.SOLVED, list(paths), started, now, stats=stats)


def warm_up() -> None:
    """Compile (or load from the cache) every routing kernel on a tiny problem, so that
    the first real call's time budget is spent planning, not compiling.

    A fresh installation compiles for tens of seconds once; later processes load the
    cached code in a fraction of a second. Call it at start-up, before any deadline.
    """
    from planner.dependencies import plan_dependency_graph, releasable
    from planner.scenarios import corridor_map
    from planner.timing import plan_trajectories
    from planner.validate import validate_plan

    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W", "E"], ["E", "W"])
    result = plan_routes(problem, PlanOptions(time_limit_s=600.0, improve_time_s=0.05))
    validate_plan(tm, problem, result.paths)
    graph = plan_dependency_graph(tm, problem.vehicle_ids, result.paths)
    releasable(graph, graph.n_steps)
    plan_trajectories(tm, problem, [result.paths[v] for v in problem.vehicle_ids], graph)

