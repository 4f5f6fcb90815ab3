"""Priority-Based Search (Ma, Harabor, Stuckey, Li & Koenig, AAAI 2019) with SIPP.

Prioritized planning commits to one total order; PBS searches over *partial* orders.
A node holds a set of "``a`` before ``b``" pairs and one path per vehicle, each planned
against the paths of all vehicles above it in the partial order (plus parked vehicles).
When two paths conflict, the node gets two children, one per order of the pair; the
vehicle that becomes lower is replanned, and so is every vehicle below it whose path now
runs into a higher one (in topological order). A child where some vehicle finds no path
is dropped. The search is depth-first, trying the child with the smaller total travel
time first, and stops at the first node without conflicts.

One reservation table is shared by all nodes: moving from one node to another swaps in
the paths that differ, so a node costs a list of path references, not a table copy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from planner.prioritized import RoutingSession
from planner.sipp import FOUND, reserve_path
from planner.types import VehiclePath


@dataclass
class PbsNode:
    higher: tuple[frozenset[int], ...]  # higher[v]: vehicles directly above v
    paths: list[VehiclePath]
    cost_s: float


@dataclass
class PbsResult:
    paths: list[VehiclePath] | None
    nodes: int
    reason: str = ""


def _ancestors(higher: tuple[frozenset[int], ...], v: int) -> set[int]:
    seen: set[int] = set()
    stack = list(higher[v])
    while stack:
        u = stack.pop()
        if u not in seen:
            seen.add(u)
            stack.extend(higher[u])
    return seen


def _topological(higher: tuple[frozenset[int], ...], members: set[int]) -> list[int]:
    """``members`` in a topological order of the partial order (higher first)."""
    n = len(higher)
    lower: list[list[int]] = [[] for _ in range(n)]
    for w in members:
        for u in higher[w]:
            if u in members:
                lower[u].append(w)
    indegree = {w: sum(1 for u in higher[w] if u in members) for w in members}
    ready = sorted(w for w in members if indegree[w] == 0)
    order: list[int] = []
    while ready:
        u = ready.pop(0)
        order.append(u)
        for w in sorted(lower[u]):
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return order


def _descendants_in_order(higher: tuple[frozenset[int], ...], v: int) -> list[int]:
    """``v`` and every vehicle below it, in a topological order (higher first)."""
    n = len(higher)
    lower: list[list[int]] = [[] for _ in range(n)]
    for w in range(n):
        for u in higher[w]:
            lower[u].append(w)
    reach = {v}
    stack = [v]
    while stack:
        u = stack.pop()
        for w in lower[u]:
            if w not in reach:
                reach.add(w)
                stack.append(w)
    return _topological(higher, reach)


class _TableState:
    """Keeps the shared table equal to one node's paths."""

    def __init__(self, session: RoutingSession) -> None:
        self.session = session
        self.paths: list[VehiclePath | None] = [None] * session.n_vehicles

    def set(self, v: int, path: VehiclePath) -> None:
        current = self.paths[v]
        if current is path:
            return
        if current is not None:
            self.session.table.remove(v, current.cells)
        reserve_path(self.session.table, v, path)
        self.paths[v] = path

    def load(self, paths: list[VehiclePath]) -> None:
        for v, p in enumerate(paths):
            self.set(v, p)


def _mask(session: RoutingSession, vehicles: set[int]) -> np.ndarray:
    return session.active_mask(sorted(vehicles))


def _vehicles_only(session: RoutingSession, vehicles: set[int] | None = None) -> np.ndarray:
    """Mask of vehicle owners only: parked vehicles and commitments never conflict with a
    SIPP path, and a vehicle's own commitments would hide its real conflicts."""
    mask = np.zeros(session.table.n_owners, dtype=np.bool_)
    if vehicles is None:
        mask[: session.n_vehicles] = True
    else:
        mask[sorted(vehicles)] = True
    return mask


def _first_conflict(session: RoutingSession, paths: list[VehiclePath]) -> tuple[int, int] | None:
    """The earliest conflict between two vehicles' paths, as a pair, or None."""
    everyone = _vehicles_only(session)
    best: tuple[float, int, int] | None = None
    for v, p in enumerate(paths):
        start, end = p.occupancy()
        k, o = session.table.first_overlap(p.cells, start, end, v, everyone)
        if k >= 0:
            t = float(start[k])
            if best is None or t < best[0]:
                best = (t, v, o)
    if best is None:
        return None
    return best[1], best[2]


def _replan(session: RoutingSession, state: _TableState, node: PbsNode, low: int) -> PbsNode | None:
    """Replan ``low`` and the vehicles below it that now collide with higher ones."""
    paths = list(node.paths)
    state.load(paths)
    for v in _descendants_in_order(node.higher, low):
        above = _ancestors(node.higher, v)
        mask = _mask(session, above)
        if v != low:
            p = paths[v]
            start, end = p.occupancy()
            k, _ = session.table.first_overlap(p.cells, start, end, v, _vehicles_only(session, above))
            if k < 0:
                continue
        outcome = session.search(v, mask)
        if outcome.code != FOUND:
            return None
        paths[v] = outcome.path
        state.set(v, outcome.path)
    t0 = session.problem.start_time_s
    return PbsNode(node.higher, paths, float(sum(p.end_s - t0 for p in paths)))


def plan_pbs(
    session: RoutingSession,
    deadline_s: float,
    now: Callable[[], float] = time.perf_counter,
    initial_priorities: list[tuple[int, int]] | None = None,
    max_nodes: int = 100_000,
) -> PbsResult:
    """Run PBS until a conflict-free node, the deadline or ``max_nodes``.

    Parameters
    ----------
    session : RoutingSession
        Its table is reset and left holding the returned paths.
    initial_priorities : list of (high, low), optional
        Pairs the root already orders (e.g. "leave the start before the other arrives").
    """
    n = session.n_vehicles
    session.reset()
    higher_sets: list[set[int]] = [set() for _ in range(n)]
    for hi, lo in initial_priorities or []:
        if hi != lo and lo not in _ancestors(tuple(frozenset(s) for s in higher_sets), hi):
            higher_sets[lo].add(hi)
    higher = tuple(frozenset(s) for s in higher_sets)
    state = _TableState(session)
    paths: list[VehiclePath | None] = [None] * n
    # Root: every vehicle against its ancestors only, in topological order.
    for v in _topological(higher, set(range(n))):
        outcome = session.search(v, _mask(session, _ancestors(higher, v)))
        if outcome.code != FOUND:
            if initial_priorities:
                return plan_pbs(session, deadline_s, now, None, max_nodes)
            return PbsResult(None, 0, f"vehicle {session.problem.vehicles[v].id!r} has no path even alone")
        paths[v] = outcome.path
        state.set(v, outcome.path)
    t0 = session.problem.start_time_s
    root = PbsNode(higher, list(paths), float(sum(p.end_s - t0 for p in paths)))
    stack = [root]
    nodes = 1
    while stack:
        if now() > deadline_s:
            return PbsResult(None, nodes, "time limit reached")
        if nodes >= max_nodes:
            return PbsResult(None, nodes, "node limit reached")
        node = stack.pop()
        state.load(node.paths)
        conflict = _first_conflict(session, node.paths)
        if conflict is None:
            return PbsResult(node.paths, nodes)
        a, b = conflict
        children = []
        for hi, lo in ((a, b), (b, a)):
            if lo in _ancestors(node.higher, hi):
                continue  # would make a cycle
            child_higher = list(node.higher)
            child_higher[lo] = node.higher[lo] | {hi}
            child = _replan(session, state, PbsNode(tuple(child_higher), node.paths, node.cost_s), lo)
            nodes += 1
            if child is not None:
                children.append(child)
        children.sort(key=lambda c: -c.cost_s)  # cheaper child on top of the stack
        stack.extend(children)
    return PbsResult(None, nodes, "no priority order resolves every conflict")

