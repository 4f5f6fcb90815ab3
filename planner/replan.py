"""Lifelong operation: replan around what is already released, insert single vehicles.

A fleet executes a plan through its dependency graph and releases each vehicle's steps
ahead of it. Released steps are *committed*: the vehicle may be driving them right now,
so a new plan keeps them (cells and plan times) and only plans what follows. Plan time is
the plan's own clock; execution delays do not matter because dependencies keep the
order, not the times. Two rules make the new plan safe to switch to mid-execution:

* every committed occupancy blocks its conflicting cells from the replanning time on
  (not only from its planned start), so no new step is ordered before a step that may
  already be happening;
* a vehicle's continuation starts at the end of its prefix, no earlier than the
  replanning time, and its prefix's last cell is held for it until it is planned.

:func:`replan` replans every vehicle's remainder (new goals included) with the full
routing stack within a time budget. :class:`LivePlan` keeps a running plan in a
reservation table so that one new vehicle (or one vehicle's new job) is inserted with a
single SIPP search, fast enough for the fleet's tick.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable, Mapping

import numpy as np

from maps.trackmap import TrackMap
from planner.errors import PlanError
from planner.prioritized import make_session
from planner.reservations import ReservationTable
from planner.routing import solve
from planner.sipp import FOUND, SEPARATION_S, RoutingGraph, plan_vehicle
from planner.types import PlanOptions, PlanResult, Problem, VehiclePath, VehicleTask


def committed_prefix(path: VehiclePath, done_steps: int, released_steps: int) -> VehiclePath:
    """The part of ``path`` from the vehicle's position to the end of its released steps.

    ``done_steps`` steps are behind it (it stands at or beyond entry ``done_steps``);
    ``released_steps`` steps may be driven. The last entry's departure is left open (inf).
    """
    n = path.n_steps
    if not 0 <= done_steps <= released_steps <= n:
        raise PlanError(f"need 0 <= done ({done_steps}) <= released ({released_steps}) <= steps ({n})")
    sl = slice(done_steps, released_steps + 1)
    depart = path.depart_s[sl].copy()
    depart[-1] = math.inf
    return VehiclePath(path.cells[sl], path.arrive_s[sl], depart, path.leg[sl])


def _committed_occupancy(prefix: VehiclePath, now_s: float, until_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupancy of the prefix, blocking from ``now_s`` at the latest; the last entry is
    held until ``until_s``, when the continuation takes over."""
    start, end = prefix.occupancy()
    end = end.copy()
    end[-1] = until_s
    return prefix.cells, np.minimum(start, now_s) - SEPARATION_S, end + SEPARATION_S


def replan(
    problem: Problem,
    prefixes: Mapping[str, VehiclePath],
    options: PlanOptions = PlanOptions(),
    *,
    graph: RoutingGraph | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> PlanResult:
    """Keep every vehicle's committed prefix and plan the rest from ``problem.start_time_s``.

    Parameters
    ----------
    problem : Problem
        All vehicles with the legs that remain after their prefixes (new goals
        included). A vehicle's ``start_cell`` is where it is now: the first cell of its
        prefix. ``start_time_s`` is the replanning time, in plan time.
    prefixes : mapping of vehicle id to VehiclePath
        Committed prefixes (:func:`committed_prefix`): the steps the dependency graph
        has released (:func:`planner.dependencies.releasable`), or fewer. Vehicles
        without one stand on their start from ``problem.start_time_s``.
    options : PlanOptions
        Budget and layers, as for :func:`planner.routing.plan_routes`.

    Returns
    -------
    PlanResult
        Paths that begin with the prefixes (validate with ``check_start_time=False``);
        costs count from the end of each prefix.
    """
    started = now()
    t_now = problem.start_time_s
    unknown = sorted(set(prefixes) - set(problem.vehicle_ids))
    if unknown:
        raise PlanError(f"prefix for vehicle {unknown[0]!r}, which is not in the problem")
    tasks: list[VehicleTask] = []
    starts = np.full(problem.n_vehicles, t_now)
    committed = []
    for i, task in enumerate(problem.vehicles):
        prefix = prefixes.get(task.id)
        if prefix is None:
            tasks.append(task)
            continue
        if int(prefix.cells[0]) != task.start_cell:
            raise PlanError(f"vehicle {task.id!r}: prefix begins on cell {int(prefix.cells[0])}, the vehicle is on cell {task.start_cell}")
        starts[i] = max(float(prefix.arrive_s[-1]), t_now)
        tasks.append(replace(task, start_cell=int(prefix.cells[-1])))
        committed.append((i, *_committed_occupancy(prefix, t_now, float(starts[i]))))
    inner = Problem(problem.track_map, tuple(tasks), problem.parked, t_now, tuple(starts.tolist()))
    graph = graph if graph is not None else RoutingGraph(problem.track_map)
    session = make_session(graph, inner, options.max_expansions, tuple(committed))
    result = solve(session, options, started, now)
    merged = {vid: tail if vid not in prefixes else _join(prefixes[vid], tail) for vid, tail in result.paths.items()}
    return replace(result, paths=merged)


def _join(prefix: VehiclePath, tail: VehiclePath) -> VehiclePath:
    """Prefix entries, then the tail whose first entry continues the prefix's last."""
    k = prefix.cells.shape[0] - 1
    cells = np.concatenate([prefix.cells[:k], tail.cells])
    arrive = np.concatenate([prefix.arrive_s[:k], [prefix.arrive_s[k]], tail.arrive_s[1:]])
    depart = np.concatenate([prefix.depart_s[:k], tail.depart_s])
    # the legs are what remains after the prefix, so the prefix drives the first of them
    legs = np.concatenate([np.full(k, tail.leg[0]), tail.leg])
    return VehiclePath(cells, arrive, depart, legs)


class LivePlan:
    """A plan under execution, kept in a reservation table for fast insertion.

    Parameters
    ----------
    track_map : TrackMap
    graph : RoutingGraph, optional
        Shared heuristic cache.
    capacity : int
        Vehicles (and parked vehicles) the table has owner slots for; grows as needed.
    """

    def __init__(self, track_map: TrackMap, graph: RoutingGraph | None = None, capacity: int = 256) -> None:
        self.track_map = track_map
        self.graph = graph if graph is not None else RoutingGraph(track_map)
        self.table = ReservationTable(track_map, capacity)
        self.owner: dict[str, int] = {}
        self.paths: dict[str, VehiclePath] = {}
        self._released: dict[str, int] = {}

    def _owner_of(self, vehicle_id: str) -> int:
        owner = self.owner.get(vehicle_id)
        if owner is None:
            owner = len(self.owner)
            if owner >= self.table.n_owners:
                self._regrow(2 * self.table.n_owners)
            self.owner[vehicle_id] = owner
        return owner

    def _regrow(self, n_owners: int) -> None:
        table = ReservationTable(self.track_map, n_owners, self.table.capacity)
        table.start, table.end, table.owner, table.count = self.table.start, self.table.end, self.table.owner, self.table.count
        self.table = table

    def set_path(self, vehicle_id: str, path: VehiclePath, released_steps: int = 0, now_s: float | None = None) -> None:
        """Put ``vehicle_id``'s path into the plan (replacing any previous one).

        Occupancies of its first ``released_steps`` steps block from ``now_s`` on (see
        the module docstring); the rest block over their planned times.
        """
        owner = self._owner_of(vehicle_id)
        self.remove(vehicle_id)
        start, end = path.occupancy()
        if now_s is not None and released_steps > 0:
            start = start.copy()
            start[: released_steps + 1] = np.minimum(start[: released_steps + 1], now_s)
        self.table.add(owner, path.cells, start - SEPARATION_S, end + SEPARATION_S)
        self.paths[vehicle_id] = path
        self._released[vehicle_id] = released_steps

    def remove(self, vehicle_id: str) -> None:
        path = self.paths.pop(vehicle_id, None)
        if path is not None:
            self.table.remove(self.owner[vehicle_id], path.cells)

    def insert(self, task: VehicleTask, start_time_s: float, max_expansions: int = 50_000) -> VehiclePath | None:
        """Route ``task`` against every path of the plan; on success add and return its path.

        The vehicle stands on ``task.start_cell`` from ``start_time_s``; if it has a
        path in the plan already (a new job for a vehicle at its goal), that path is
        replaced. Returns None when SIPP finds no path within ``max_expansions``.
        """
        owner = self._owner_of(task.id)
        previous = self.paths.get(task.id)
        if previous is not None:
            self.remove(task.id)
        mask = np.ones(self.table.n_owners, dtype=np.bool_)
        mask[owner] = False
        outcome = plan_vehicle(self.graph, self.table, task, start_time_s=start_time_s, active=mask, max_expansions=max_expansions)
        if outcome.code != FOUND or outcome.path is None:
            if previous is not None:
                self.set_path(task.id, previous, self._released.get(task.id, 0))
            return None
        self.set_path(task.id, outcome.path)
        return outcome.path

    @classmethod
    def from_result(cls, track_map: TrackMap, result: PlanResult, graph: RoutingGraph | None = None) -> "LivePlan":
        live = cls(track_map, graph, capacity=max(2 * len(result.paths), 16))
        for vid, path in result.paths.items():
            live.set_path(vid, path)
        return live
