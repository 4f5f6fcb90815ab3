"""Large neighbourhood search that shortens a valid plan (MAPF-LNS, Li et al., IJCAI 2021).

Prioritized planning leaves waiting where a late-planned vehicle had to let earlier ones
pass, typically a vehicle stuck in its bay while traffic streams by. Each LNS iteration
takes a small set of vehicles (the *neighbourhood*), removes their paths from the
reservation table and routes them again one by one with SIPP against everyone else, in a
random order that puts the seed vehicle first. The new paths replace the old ones only
if their summed travel time is smaller; otherwise the old paths go back. Every accepted
step keeps the plan conflict-free, so the search can stop at any time.

Neighbourhoods (chosen with adaptive weights, as in ALNS):

* *wait*: a vehicle picked with probability proportional to its delay, plus the vehicles
  whose reservations ended its longest wait;
* *path*: the same seed plus the vehicles in the way of its lone shortest path;
* *random*: vehicles drawn uniformly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from planner.prioritized import RoutingSession
from planner.sipp import FOUND, reserve_path
from planner.types import VehiclePath

NEIGHBOURHOODS = ("wait", "path", "random")


@dataclass
class LnsStats:
    iterations: int = 0
    accepted: int = 0
    initial_cost_s: float = 0.0
    final_cost_s: float = 0.0


def _wait_blockers(session: RoutingSession, i: int, path: VehiclePath) -> list[int]:
    """Vehicles whose reservations on the next cell overlap vehicle ``i``'s longest wait."""
    waits = path.depart_s[:-1] - path.arrive_s[:-1]
    if waits.size == 0 or float(waits.max()) <= 1e-9:
        return []
    k = int(np.argmax(waits))
    t0, t1 = float(path.arrive_s[k]), float(path.depart_s[k])
    table = session.table
    found: set[int] = set()
    for cell in (int(path.cells[k + 1]), int(path.cells[k])):
        for r in range(int(table.count[cell])):
            o = int(table.owner[cell, r])
            if o != i and o < session.n_vehicles and table.start[cell, r] < t1 and table.end[cell, r] > t0:
                found.add(o)
    return sorted(found)


def improve(
    session: RoutingSession,
    paths: list[VehiclePath],
    rng: np.random.Generator,
    deadline_s: float,
    now: Callable[[], float] = time.perf_counter,
    neighbourhood_size: int = 8,
    max_stall: int = 400,
) -> tuple[list[VehiclePath], LnsStats]:
    """Shorten a complete conflict-free plan until ``deadline_s`` or ``max_stall`` idle
    iterations (at most 20 per vehicle).

    ``session.table`` must hold exactly ``paths`` (and the parked vehicles); it holds the
    returned paths afterwards.
    """
    n = session.n_vehicles
    paths = list(paths)
    begin = session.start_times_s
    lb = session.lower_bounds_s
    cost = np.array([p.end_s - b for p, b in zip(paths, begin)])
    stats = LnsStats(initial_cost_s=float(cost.sum()))
    if n < 2:
        stats.final_cost_s = stats.initial_cost_s
        return paths, stats
    everyone = session.active_mask()
    max_stall = min(max_stall, 20 * n)
    weights = np.ones(len(NEIGHBOURHOODS))
    stall = 0
    while now() < deadline_s and stall < max_stall:
        stats.iterations += 1
        kind = int(rng.choice(len(NEIGHBOURHOODS), p=weights / weights.sum()))
        delay = np.maximum(cost - lb, 0.0) + 1e-6
        seed = int(rng.choice(n, p=delay / delay.sum()))
        if NEIGHBOURHOODS[kind] == "wait":
            others = _wait_blockers(session, seed, paths[seed])
        elif NEIGHBOURHOODS[kind] == "path":
            others, _ = session.blockers(seed, everyone)
        else:
            others = [int(v) for v in rng.choice(n, size=min(n, neighbourhood_size), replace=False) if v != seed]
        rng.shuffle(others)
        # a wait ends only when every vehicle that caused it yields: keep them all
        cap = 4 * neighbourhood_size if NEIGHBOURHOODS[kind] == "wait" else neighbourhood_size
        group = [seed] + others[: cap - 1]
        if len(group) < 2:
            stall += 1
            continue
        old = {v: paths[v] for v in group}
        for v in group:
            session.table.remove(v, paths[v].cells)
        new: dict[int, VehiclePath] = {}
        for v in group:
            outcome = session.search(v, everyone)
            if outcome.code != FOUND:
                break
            new[v] = outcome.path
            reserve_path(session.table, v, outcome.path)
        old_cost = sum(p.end_s for p in old.values())
        if len(new) == len(group) and sum(p.end_s for p in new.values()) < old_cost - 1e-6:
            for v, p in new.items():
                paths[v] = p
                cost[v] = p.end_s - begin[v]
            stats.accepted += 1
            weights[kind] = 0.9 * weights[kind] + 0.1 * 10.0
            stall = 0
        else:
            for v, p in new.items():
                session.table.remove(v, p.cells)
            for v, p in old.items():
                reserve_path(session.table, v, p)
            weights[kind] = max(0.9 * weights[kind], 0.1)
            stall += 1
    stats.final_cost_s = float(cost.sum())
    return paths, stats

