"""Leg planning off the tick loop: requests, a pure batch planner and a one-thread worker.

The tick plans what fits in its budget itself (:meth:`fleet.core.traffic.Traffic.plan_now`);
the rest goes to :class:`PlanWorker` as one batch on a *snapshot* of the reservation
table. The worker plans the batch one request after the other, each reserving its path
in the snapshot so that the batch's paths are conflict-free among themselves, and hands
the paths back. The loop never waits for it: it polls for a finished batch at the start
of its planning phase and commits each path only if it is still valid against the live
table (:meth:`~fleet.core.traffic.Traffic.commit`) — optimistic concurrency, so whatever
changed while the worker ran (a block, a freeze, an inline plan) can only cost a retry,
never a conflict.

The SIPP kernel releases the GIL (``nogil``), so the worker's searches run beside the
loop, not just interleaved with it.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from planner.reservations import ReservationTable
from planner.sipp import FOUND, RoutingGraph, plan_vehicle, reserve_path
from planner.types import Leg, VehiclePath, VehicleTask


@dataclass(frozen=True)
class LegRequest:
    """One vehicle's next leg, as known when it was asked for.

    ``version`` is the vehicle's path version at that moment: a result for an older
    version is stale (the vehicle's path changed meanwhile) and is dropped.
    """

    vehicle: str
    owner: int
    version: int
    old_cells: np.ndarray
    start_cell: int
    start_time_s: float
    goal_cell: int
    ready_s: float
    speed_mps: float
    dwell_s: float = 0.0

    def task(self) -> VehicleTask:
        return VehicleTask(self.vehicle, self.start_cell, (Leg(self.goal_cell, self.speed_mps, self.dwell_s),), ready_s=self.ready_s)


@dataclass(frozen=True)
class LegResult:
    """The path found for ``request`` (None when the search gave up) and its wall time."""

    request: LegRequest
    path: VehiclePath | None
    elapsed_ms: float


def held_for_ever(table: ReservationTable, cell: int, active: np.ndarray) -> bool:
    """Whether an ``active`` owner blocks ``cell`` with no end (its path ends there or next to it).

    A search to such a goal can only fail, and only after its whole expansion budget.
    """
    n = int(table.count[cell])
    return bool(np.any((table.end[cell, :n] == math.inf) & active[table.owner[cell, :n]]))


def holders_for_ever(table: ReservationTable, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``cells`` (k,), its reservations' owners (k, capacity) and which of them
    hold it with no end (k, capacity) bool; slots past a cell's count are False.

    PERF: one array pass over a whole route for :func:`fleet.core.advance.blocking_counts`,
    which reads every cell (``python -m bench.move_up`` prints it against the cell-by-cell
    scan). ``first_stood_on`` stops at the first stood cell and stays a loop: the array
    pass was slower there (the same bench).
    """
    counts = table.count[cells]
    used = np.arange(table.end.shape[1])[None, :] < counts[:, None]
    return table.owner[cells], used & (table.end[cells] == math.inf)


def plan_legs(graph: RoutingGraph, table: ReservationTable, requests: list[LegRequest], *, max_expansions: int,
              reserve: bool = True, together: bool = False,
              perf: Callable[[], float] = time.perf_counter) -> list[LegResult]:
    """Plan ``requests`` in order on ``table``.

    Each search ignores the vehicle's own reservations (its finished path), so nothing
    is taken out of the table for it; with ``reserve`` each found path then replaces the
    vehicle's old one in ``table`` (a snapshot: the batch stays conflict-free in itself).
    A failed search leaves the table as it was.

    With ``together`` (vehicles standing in one another's way) every requesting vehicle's
    old reservations are ignored until its new path is reserved, so a later vehicle must
    leave its cell before an earlier one passes; the batch stops at the first failure.
    """
    results = []
    active = table.all_active()
    if together:
        active[[r.owner for r in requests]] = False
    for request in requests:
        started = perf()
        path = None
        active[request.owner] = False
        if not held_for_ever(table, request.goal_cell, active):
            outcome = plan_vehicle(graph, table, request.task(), start_time_s=request.start_time_s, active=active,
                                   max_expansions=max_expansions)
            path = outcome.path if outcome.code == FOUND else None
        if path is not None and reserve:
            table.remove(request.owner, request.old_cells)
            reserve_path(table, request.owner, path)
        active[request.owner] = path is not None or not together
        results.append(LegResult(request, path, (perf() - started) * 1000.0))
        if together and path is None:
            break
    return results


class PlanWorker:
    """One background thread that plans batches of leg requests on table snapshots.

    Parameters
    ----------
    graph : RoutingGraph
        The worker's own graph (its heuristic cache is not shared with the loop's).
    max_expansions : int
        Search limit per request.
    """

    def __init__(self, graph: RoutingGraph, *, max_expansions: int) -> None:
        self.graph = graph
        self.max_expansions = max_expansions
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="igv-plan")
        self._future: Future[list[LegResult]] | None = None
        self.vehicles_in_flight: frozenset[str] = frozenset()

    @property
    def busy(self) -> bool:
        return self._future is not None

    def submit(self, snapshot: ReservationTable, requests: list[LegRequest]) -> None:
        if self._future is not None:
            raise RuntimeError("the planning worker already has a batch")
        self.vehicles_in_flight = frozenset(r.vehicle for r in requests)
        self._future = self._pool.submit(plan_legs, self.graph, snapshot, list(requests), max_expansions=self.max_expansions)

    def poll(self) -> list[LegResult] | None:
        """The finished batch's results, or None while it runs (or when idle).

        A failure inside the worker is re-raised here, in the loop: never silent.
        """
        future = self._future
        if future is None or not future.done():
            return None
        self._future = None
        self.vehicles_in_flight = frozenset()
        return future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
