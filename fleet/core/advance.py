"""Part of the way: a leg towards a vehicle's goal that stops where the way is stood on.

A leg is planned whole (:func:`planner.sipp.plan_vehicle` must reach the goal and stand
there), and every vehicle without a leg stands for ever as far as the reservation table
knows. In a loop of queues no whole leg exists: in the ``disruption`` bench at 10:32, 33
vehicles had failed about 15,000 searches each, none blocked by a breakdown or a closed
lane any more. igv-028 stood on the north loop on the way of igv-021, and igv-021 on the
junction igv-028 had to pass; behind each stood a queue over the bridge, and the two
queues were each other's tail. No order of whole legs (:meth:`Traffic.plan_group
<fleet.core.traffic.Traffic.plan_group>`) gets anyone out: whoever goes first must go all
the way, through the other queue.

What gets them out is what drivers do: move up as far as the road is free. Here, a stuck
vehicle is sent along its lone shortest route to the farthest cell before the first one
another vehicle stands on for ever, and waits there, out of junctions; its next leg is
planned from there. igv-028 moving 31 cells down its lane freed the loop for igv-021 and
everything behind it. Every such leg ends strictly closer to the goal (along a shortest
route), so a vehicle cannot be moved up and back for ever.

Where a vehicle may wait (:func:`waiting_cells`): a lane cell of a one-way lane, no
station, and no part of it in conflict with a junction (a node cell): one waiting there
would close the crossing roads too. Two-way lanes are bays, where a waiting vehicle
closes the bay.
"""

from __future__ import annotations

import math

import numpy as np

from fleet.core.planning import LegRequest, held_for_ever, holders_for_ever
from maps.trackmap import TrackMap
from planner.reservations import ReservationTable
from planner.sipp import FOUND, RoutingGraph, plan_vehicle
from planner.types import Leg, VehiclePath, VehicleTask


def waiting_cells(track_map: TrackMap) -> np.ndarray:
    """(cells,) bool: where a vehicle part of the way may stop and wait (module docstring)."""
    m = track_map
    lane = np.asarray(m.cell_lane)
    ok = lane >= 0
    ok[ok] = ~np.asarray(m.lane_two_way)[lane[ok]]
    ok[np.asarray(m.station_cell)] = False
    junction = lane < 0
    for c in np.nonzero(ok)[0]:
        if junction[m.cell_conflicts(int(c))].any():
            ok[c] = False
    return ok


def lone_route(graph: RoutingGraph, start_cell: int, goal_cell: int, speed_mps: float) -> list[int] | None:
    """A shortest route from ``start_cell`` to ``goal_cell`` with nobody else on the map
    (down the exact lone travel times of :meth:`RoutingGraph.time_to`); None if there is none."""
    h = graph.time_to(goal_cell, speed_mps)
    if h[start_cell] == math.inf:
        return None
    route, cell = [int(start_cell)], int(start_cell)
    while cell != goal_cell:
        lo, hi = graph.adj_indptr[cell], graph.adj_indptr[cell + 1]
        to = graph.adj_to[lo:hi]
        cost = graph.adj_length_m[lo:hi] / np.minimum(graph.adj_limit_mps[lo:hi], speed_mps) + h[to]
        cell = int(to[int(np.argmin(cost))])
        route.append(cell)
    return route


def first_stood_on(table: ReservationTable, route: list[int], active: np.ndarray) -> int:
    """Index of the first cell of ``route`` after its start that an ``active`` owner holds
    for ever (stands on, or a blocked lane: :func:`~fleet.core.planning.held_for_ever`);
    ``len(route)`` if none."""
    return next((k for k in range(1, len(route)) if held_for_ever(table, route[k], active)), len(route))


def part_of_the_way(graph: RoutingGraph, table: ReservationTable, request: LegRequest, route: list[int] | None,
                    waiting: np.ndarray, *, max_expansions: int, tries: int = 4) -> VehiclePath | None:
    """A path for ``request``'s vehicle to the farthest cell where it may wait before its
    lone ``route`` to the goal (:func:`lone_route`) is stood on, searched from that cell
    backwards, at most ``tries`` searches; None when there is none, or nothing stands on
    the route (the whole leg waits only for vehicles passing: the next search will do).
    """
    if route is None:
        return None
    active = table.all_active()
    active[request.owner] = False
    stop = first_stood_on(table, route, active)
    if stop == len(route):
        return None
    searched = 0
    for k in range(stop - 1, 0, -1):
        cell = route[k]
        if not waiting[cell]:
            continue
        task = VehicleTask(request.vehicle, request.start_cell, (Leg(cell, request.speed_mps, 0.0),), ready_s=request.ready_s)
        outcome = plan_vehicle(graph, table, task, start_time_s=request.start_time_s, active=active,
                               max_expansions=max_expansions)
        if outcome.code == FOUND:
            return outcome.path
        searched += 1
        if searched >= tries:
            return None
    return None


def blocking_counts(table: ReservationTable, n_owners: int, routes: list[tuple[int, list[int] | None]]) -> np.ndarray:
    """(n_owners,) int: for each owner, on how many others' ``(owner, route)`` it holds a cell for ever.

    The vehicles moved up first are those in the way of the most others: the space in
    front of a vehicle that closes a loop must go to it, not to those queued behind it.
    """
    counts = np.zeros(n_owners, dtype=np.int64)
    for own, route in routes:
        if route is None:
            continue
        owners, forever = holders_for_ever(table, np.asarray(route[1:], dtype=np.int64))
        held = np.unique(owners[forever])
        held = held[(held < n_owners) & (held != own)]
        counts[held] += 1
    return counts
