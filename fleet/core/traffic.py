"""Lifelong traffic for the core: one path per vehicle, a reservation table, the dependency graph.

Each vehicle has exactly one current :class:`~planner.types.VehiclePath`: the leg it is
driving, or standing where its last leg ended (its last entry lasts for ever). A new leg
is one SIPP search (:func:`planner.sipp.plan_vehicle`) against everybody else's current
paths, so inserting a vehicle costs one search, not a replan of the fleet (RHCR-style
windowing is not needed at this fleet size; see docs/routing.md).

Execution follows the action dependency graph of :mod:`planner.dependencies`, rebuilt
whenever a path changes: every dependency goes from an earlier planned time to a later
one, so the graph is acyclic and a vehicle that waits never waits for ever. A vehicle
that falls behind its plan makes others wait; it never makes them collide, because the
order of passage through conflicting cells is the plan's whatever the clock says.

Old paths leave the table when a vehicle starts its next leg: a late vehicle's past
intervals no longer block searches, but the dependency graph still orders everybody
after it wherever its remaining steps were planned first.

A vehicle that cannot go on (fault, offline too long, taken out of service) is *frozen*:
it holds every cell it may stand on for ever, others' unreleased steps are replanned
around it, and nobody waits for its steps any more.
"""

from __future__ import annotations

import math

import numpy as np

from maps.trackmap import TrackMap
from fleet.core.advance import blocking_counts, lone_route, part_of_the_way, waiting_cells
from fleet.core.planning import LegRequest, plan_legs
from planner.dependencies import build_dependency_graph, releasable
from planner.reservations import ReservationTable
from planner.sipp import FOUND, SEPARATION_S, RoutingGraph, plan_vehicle, reserve_path
from planner.types import Leg, VehiclePath, VehicleTask

MAX_OWNERS = 2048
"""Vehicles one core can hold (owner ids of the reservation table; one more for blocks)."""
LONE_ROUTE_CACHE = 4096
"""Lone routes kept for moving up (start, goal, speed); the lot is dropped when full."""


class Traffic:
    """Paths, reservations and release limits of all vehicles of one core."""

    def __init__(self, track_map: TrackMap, *, max_expansions: int = 60_000,
                 unladen_speed_mps: float | None = None, laden_speed_mps: float | None = None,
                 release_ahead_steps: int = 12) -> None:
        self.map = track_map
        self.graph = RoutingGraph(track_map)
        self._lone_routes: dict[tuple[int, int, float], list[int] | None] = {}
        self.table = ReservationTable(track_map, MAX_OWNERS + 1)
        self.block_owner = MAX_OWNERS
        self.max_expansions = max_expansions
        # A short base bounds what a vehicle that goes silent may still be driving over
        # (so what must be held for it), at the price of more order updates.
        self.release_ahead_steps = release_ahead_steps
        self.unladen_mps = unladen_speed_mps or track_map.vehicle.max_speed_unladen_mps
        self.laden_mps = laden_speed_mps or track_map.vehicle.max_speed_laden_mps
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.paths: list[VehiclePath] = []
        self.done = np.zeros(0, dtype=np.int64)
        self.released = np.zeros(0, dtype=np.int64)
        self.goals: list[int] = []
        self.version: list[int] = []  # bumped whenever a vehicle's path changes (stale snapshot results)
        self.frozen: set[str] = set()
        self.hold: dict[str, np.ndarray] = {}
        self.blocked = np.zeros(0, dtype=np.int64)
        self.waiting = waiting_cells(track_map)
        self._graph = None
        self._limits: np.ndarray | None = None

    # ------------------------------------------------------------------ vehicles
    def add_vehicle(self, vid: str, cell: int, now: float) -> None:
        if vid in self.index:
            return
        i = len(self.ids)
        if i >= MAX_OWNERS:
            raise ValueError(f"a core holds at most {MAX_OWNERS} vehicles")
        self.ids.append(vid)
        self.index[vid] = i
        path = VehiclePath.standing(cell, now)
        self.paths.append(path)
        self.goals.append(cell)
        self.done = np.append(self.done, 0)
        self.released = np.append(self.released, 0)
        self.version.append(0)
        reserve_path(self.table, i, path)
        self._changed()

    def _changed(self, i: int | None = None) -> None:
        """Paths changed (vehicle ``i``'s, when given): the dependency graph is stale."""
        if i is not None:
            self.version[i] += 1
        self._graph = None
        self._limits = None

    def _speed(self, laden: bool) -> float:
        return self.laden_mps if laden else self.unladen_mps

    def leg_request(self, vid: str, goal_cell: int, now: float, *, laden: bool = False,
                    dwell_s: float = 0.0) -> LegRequest | None:
        """What planning ``vid``'s next leg needs, from where its current path ends; None
        for a frozen vehicle."""
        if vid in self.frozen:
            return None
        i = self.index[vid]
        old = self.paths[i]
        if int(self.done[i]) < old.n_steps:
            raise RuntimeError(f"{vid}: new leg requested before the current one is done")
        return LegRequest(vid, i, self.version[i], old.cells, int(old.cells[-1]), float(old.arrive_s[-1]), int(goal_cell),
                          now, self._speed(laden), dwell_s)

    def plan_now(self, request: LegRequest) -> tuple[list[int] | None, float]:
        """Plan ``request`` on the live table and commit it: the new path's cells (None when
        no path was found within the search limit) and the search's wall time in ms."""
        (result,) = plan_legs(self.graph, self.table, [request], max_expansions=self.max_expansions, reserve=False)
        if result.path is None:
            return None, result.elapsed_ms
        self._install(request.owner, request.goal_cell, result.path)
        return [int(c) for c in result.path.cells], result.elapsed_ms

    def plan_group(self, requests: list[LegRequest], max_orders: int = 16) -> list[tuple[LegRequest, list[int]]]:
        """Plan vehicles that block one another, together; the ones planned and their cells.

        Each vehicle stands on its cell for ever as far as the table knows, so two
        vehicles each standing in the other's way (after a breakdown, mid-lane) can never
        be planned one at a time. Here they are planned one after another on a copy of the
        table, each ignoring the group's standing reservations but seeing the new paths
        of those before it (:func:`~fleet.core.planning.plan_legs` with ``together``). The
        live table changes only when an order plans the whole group.

        An order breaks at the first vehicle whose search fails: the paths of those before
        it took its way. That vehicle goes first in the next order (prioritised planning's
        restart with the failed agent on top). Rotating the order instead jammed
        ``peak_2030`` from 01:55 to the end of the day: a vehicle queued on R1 for an
        import transfer point held by a vehicle whose only way out was that queue; the
        nine stuck vehicles planned together at once with the queue's head first, and no
        rotation put it there. A vehicle that fails even when planned first can go nowhere
        now (its goal stood on by a vehicle outside the group, its way shut by a
        breakdown): it is left out, standing where it is as the others then see, so that
        it does not keep the rest standing. At most ``max_orders`` orders (each costs up to
        one search per vehicle); empty when nothing could be planned (the table is then
        unchanged).
        """
        if any(r.version != self.version[r.owner] or r.vehicle in self.frozen for r in requests):
            return []
        group = list(requests)
        tried: set[tuple[int, ...]] = set()
        for _ in range(max_orders):
            if len(group) < 2:
                return []
            results = plan_legs(self.graph, self.table.copy(), group, max_expansions=self.max_expansions, together=True)
            if len(results) == len(group) and all(r.path is not None for r in results):
                for r in results:
                    self._install(r.request.owner, r.request.goal_cell, r.path)
                planned = {r.owner for r in group}
                return [(r, [int(c) for c in self.paths[r.owner].cells]) for r in requests if r.owner in planned]
            tried.add(tuple(r.owner for r in group))
            failed = results[-1].request
            promoted = [failed] + [r for r in group if r is not failed]
            if group[0] is failed or tuple(r.owner for r in promoted) in tried:
                group = promoted[1:]
            else:
                group = promoted
        return []

    def move_up(self, requests: list[LegRequest], tries: int = 4) -> list[tuple[LegRequest, list[int]]]:
        """Send stuck vehicles part of the way (:mod:`fleet.core.advance`), those in the
        way of the most others first, each seeing the paths of those before it; the ones
        moved and their cells."""
        if any(r.version != self.version[r.owner] or r.vehicle in self.frozen for r in requests):
            return []
        routes = [(r.owner, self._lone_route(r.start_cell, r.goal_cell, r.speed_mps)) for r in requests]
        counts = blocking_counts(self.table, len(self.ids), routes)
        moved = []
        for (_, route), r in sorted(zip(routes, requests), key=lambda x: (-int(counts[x[1].owner]), x[1].vehicle)):
            path = part_of_the_way(self.graph, self.table, r, route, self.waiting, max_expansions=self.max_expansions,
                                   tries=tries)
            if path is not None:
                self._install(r.owner, int(path.cells[-1]), path)
                moved.append((r, [int(c) for c in path.cells]))
        return moved

    def _lone_route(self, start_cell: int, goal_cell: int, speed_mps: float) -> list[int] | None:
        # PERF: the graph never changes (blocked lanes live in the table), and a stuck
        # vehicle asks for the same route every round it stands (advance.lone_route walks
        # it cell by cell in Python: 4.7 % of a peak_2030 hour before this).
        key = (int(start_cell), int(goal_cell), float(speed_mps))
        if key not in self._lone_routes:
            if len(self._lone_routes) >= LONE_ROUTE_CACHE:
                self._lone_routes.clear()
            self._lone_routes[key] = lone_route(self.graph, start_cell, goal_cell, speed_mps)
        return self._lone_routes[key]

    def snapshot(self) -> ReservationTable:
        """A copy of the reservation table for planning elsewhere (:mod:`fleet.core.planning`)."""
        return self.table.copy()

    def commit(self, request: LegRequest, path: VehiclePath) -> list[int] | None:
        """Install ``path`` planned on a snapshot if it still fits: the vehicle's path is the
        one it was planned from, and no reservation made since overlaps it. The new
        path's cells, or None (stale: ask again; nothing changed)."""
        i = request.owner
        if self.version[i] != request.version or request.vehicle in self.frozen:
            return None
        occ_start, occ_end = path.occupancy()
        if self.table.first_overlap(path.cells, occ_start, occ_end, skip_owner=i)[0] >= 0:
            return None
        self._install(i, request.goal_cell, path)
        return [int(c) for c in path.cells]

    def _install(self, i: int, goal_cell: int, path: VehiclePath) -> None:
        """``path`` replaces vehicle ``i``'s finished one. The vehicle stands on its first
        cell already, however early, so that cell is held from -inf (as a released step
        is, see :meth:`_reserve_released`), never from the planned arrival only."""
        self.table.remove(i, self.paths[i].cells)
        self.paths[i] = path
        self.goals[i] = int(goal_cell)
        self.done[i] = 0
        self.released[i] = 0
        reserve_path(self.table, i, path)
        self._reserve_released(i, 0, 0)
        self._changed(i)

    def report_progress(self, vid: str, step: int) -> None:
        i = self.index[vid]
        if step > self.done[i]:
            self.done[i] = min(step, self.paths[i].n_steps)
            self._limits = None

    def release_limit(self, vid: str) -> int:
        """The last step (node index of the current leg) ``vid`` may drive to now."""
        if self._limits is None:
            if self._graph is None:
                self._graph = build_dependency_graph(self.map, self.ids, self.paths)
            limits = releasable(self._graph, self.done, self.released)
            self._limits = np.maximum(self.released, np.minimum(limits, self.done + self.release_ahead_steps))
            for gone in self.frozen:
                # A frozen vehicle's path is dead (done is set past its end so that nobody
                # waits for it): releasing it would reserve its old route to the goal for
                # ever, beside the cells it holds (a leak that stranded the vehicles after it).
                self._limits[self.index[gone]] = self.released[self.index[gone]]
            for i in np.nonzero(self._limits > self.released)[0]:
                self._reserve_released(int(i), int(self.released[i]) + 1, int(self._limits[i]))
            self.released = self._limits.copy()
        return int(self._limits[self.index[vid]])

    def _reserve_released(self, i: int, first: int, last: int) -> None:
        """A released step may happen at any time from now on, however early its plan says:
        widen its occupancy back in time so that no later search slips in front of it.

        Without this, a vehicle running ahead of its plan could meet a path planned later
        into the gap the plan left before it (the dependency graph, built on planned times,
        would then order the new path first although the old step is already released).
        """
        path = self.paths[i]
        start, end = path.occupancy()
        cells = path.cells[first : last + 1]
        self.table.add(i, cells, np.full(cells.shape[0], -math.inf), end[first : last + 1] + SEPARATION_S)

    def finish_leg(self, vid: str, now: float) -> None:
        i = self.index[vid]
        self.done[i] = self.paths[i].n_steps
        self._limits = None

    def is_frozen(self, vid: str) -> bool:
        return vid in self.frozen

    def freeze(self, vid: str, now: float) -> None:
        """``vid`` stops for good where it may be; the others are routed around it."""
        if vid in self.frozen:
            return
        i = self.index[vid]
        path = self.paths[i]
        hold = path.cells[int(self.done[i]) : int(self.released[i]) + 1].astype(np.int32)
        if hold.size == 0:
            hold = path.cells[-1:].astype(np.int32)
        self.table.remove(i, path.cells)
        self.table.add(i, hold, np.zeros(hold.size), np.full(hold.size, math.inf))
        self.frozen.add(vid)
        self.hold[vid] = hold
        # Nobody waits for a frozen vehicle's steps any more, nor for it to leave its
        # path's end (step n + 1, see planner.dependencies): it holds ``hold`` instead.
        self.done[i] = path.n_steps + 1
        self._changed(i)
        self._reroute_around(hold, now)

    def thaw(self, vid: str, cell: int, now: float) -> None:
        """``vid`` is back, standing on ``cell`` (where it reports it is; usually a cell it held)."""
        if vid not in self.frozen:
            return
        i = self.index[vid]
        self.table.remove(i, self.hold.pop(vid))
        self.frozen.discard(vid)
        path = VehiclePath.standing(int(cell), now)
        self.paths[i] = path
        self.goals[i] = int(cell)
        self.done[i] = self.released[i] = 0
        reserve_path(self.table, i, path)
        self._changed(i)
        # It may come back where it was not held (a position jump, a fault's recovery):
        # whoever would pass there later is routed around.
        self._reroute_around(np.array([int(cell)]), now)

    def _reroute_around(self, cells: np.ndarray, now: float) -> None:
        """Replan the unreleased rest of every path that meets ``cells``."""
        conflict = np.zeros(self.map.n_cells, dtype=bool)
        for c in cells:
            conflict[self.map.cell_conflicts(int(c))] = True
        for j, other in enumerate(self.ids):
            if other in self.frozen:
                continue
            path = self.paths[j]
            keep = int(self.released[j])
            if keep >= path.n_steps or not conflict[path.cells[keep + 1 :]].any():
                continue
            self._replan_rest(j, keep, now)

    def _replan_rest(self, j: int, keep: int, now: float) -> None:
        """Keep steps ``0 .. keep`` of vehicle ``j`` (released: committed) and route the rest."""
        path = self.paths[j]
        self.table.remove(j, path.cells)
        prefix = VehiclePath(path.cells[: keep + 1], path.arrive_s[: keep + 1],
                             np.append(path.depart_s[:keep], math.inf), path.leg[: keep + 1])
        task = VehicleTask(self.ids[j], int(path.cells[keep]), (Leg(self.goals[j], self.unladen_mps),), ready_s=now)
        outcome = plan_vehicle(self.graph, self.table, task, start_time_s=float(path.arrive_s[keep]),
                               max_expansions=self.max_expansions)
        if outcome.code == FOUND and outcome.path is not None:
            rest = outcome.path
            new = VehiclePath(np.concatenate([prefix.cells, rest.cells[1:]]),
                              np.concatenate([prefix.arrive_s, rest.arrive_s[1:]]),
                              np.concatenate([path.depart_s[:keep], rest.depart_s]),
                              np.concatenate([prefix.leg, rest.leg[1:]]))
        else:
            new = prefix  # no way round yet: it stops at the end of what it was released
        self.paths[j] = new
        reserve_path(self.table, j, new)
        # The kept steps are released: the vehicle may be on any of them at any time.
        self._reserve_released(j, min(int(self.done[j]), keep), keep)
        self._changed(j)
        if new is prefix:
            # It now stays on its last released cell, where paths planned before may pass
            # later (the disruption bench: a vehicle cut short on the bridge, the one
            # behind released into it). Those are routed around it in turn; each cut is
            # to released steps, which no reroute touches again, so this ends.
            self._reroute_around(new.cells[-1:], now)

    def replanned_cells(self, vid: str) -> list[int]:
        return [int(c) for c in self.paths[self.index[vid]].cells]

    # ------------------------------------------------------------------ blocks
    def set_blocked_cells(self, cells: np.ndarray) -> None:
        """Cells no new path may use (blocked lanes and zones)."""
        if self.blocked.size:
            self.table.remove(self.block_owner, self.blocked.astype(np.int32))
        self.blocked = np.asarray(cells, dtype=np.int64)
        if self.blocked.size:
            n = self.blocked.size
            self.table.add(self.block_owner, self.blocked.astype(np.int32), np.full(n, -math.inf), np.full(n, math.inf))

    # ------------------------------------------------------------------ views
    def reserved_cells(self, vid: str, limit: int | None = None) -> list[int]:
        """Cells ``vid`` holds (its released, not yet passed steps), at most ``limit``."""
        i = self.index.get(vid)
        if i is None:
            return []
        if vid in self.frozen:
            return [int(c) for c in self.hold[vid][:limit]]
        path = self.paths[i]
        # PERF: sliced before the list is built (telemetry shows 60 of paths thousands long).
        return path.cells[int(self.done[i]) : int(self.released[i]) + 1][:limit].tolist()
