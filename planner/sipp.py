"""Safe Interval Path Planning (Phillips & Likhachev, ICRA 2011) on the cell graph.

One vehicle is routed against a :class:`~planner.reservations.ReservationTable`. A search
state is ``(leg, cell, safe interval)``: a safe interval is a maximal gap between blocked
intervals of the cell, and the state keeps the earliest time the vehicle can be there.
Waiting is implicit: from a state the vehicle may leave at any time inside its interval.

A move ``a -> b`` of duration ``d`` departing at ``tau`` crosses from ``a``'s stretch
into ``b``'s at ``tau + d / 2`` (the occupancy model of :mod:`planner.types`), so it is
allowed when ``a``'s interval lasts until ``tau + d / 2`` and one of ``b``'s intervals
starts by then and is still open at the arrival ``tau + d``. The earliest such ``tau``
per interval of ``b`` gives the successors. Multi-leg tasks add the leg to the state: reaching the leg's
goal spawns the next leg's state after the dwell, inside the same interval. The search
ends at the last goal in an interval that never closes (the vehicle stays there).

The heuristic is the lone travel time to the goal (Dijkstra on the reversed cell graph at
the leg's speed) plus the remaining legs' travel and dwell times: admissible and
consistent, so the first goal state popped is optimal for this table.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from maps.trackmap import TrackMap
from planner.reservations import ReservationTable, row_gaps
from planner.types import VehiclePath, VehicleTask

FOUND = 0
NO_PATH = 1
EXPANSION_LIMIT = 2
START_BLOCKED = 3


class RoutingGraph:
    """The arrays SIPP needs from a track map, and a cache of goal heuristics.

    Build one per map and share it between calls; it is read-only apart from the cache.
    """

    def __init__(self, track_map: TrackMap, cache_size: int = 2048) -> None:
        tm = track_map
        self.track_map = tm
        self.n_cells = tm.n_cells
        self.adj_indptr = np.ascontiguousarray(tm.cell_adj_indptr, dtype=np.int64)
        self.adj_to = np.ascontiguousarray(tm.cell_adj_to, dtype=np.int32)
        self.adj_length_m = np.ascontiguousarray(tm.cell_adj_length_m, dtype=np.float64)
        self.adj_limit_mps = np.ascontiguousarray(tm.cell_adj_speed_limit_mps, dtype=np.float64)
        self._rows = np.repeat(np.arange(self.n_cells, dtype=np.int64), np.diff(self.adj_indptr))
        self._reverse: dict[float, csr_matrix] = {}
        self._cache: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _reverse_graph(self, speed_mps: float) -> csr_matrix:
        graph = self._reverse.get(speed_mps)
        if graph is None:
            weights = self.adj_length_m / np.minimum(self.adj_limit_mps, speed_mps)
            n = self.n_cells
            # Parallel edges do not occur in a cell graph (one lane per pair of cells), so
            # the sparse constructor's summing of duplicates never changes a weight.
            graph = csr_matrix((weights, (self.adj_to.astype(np.int64), self._rows)), shape=(n, n))
            self._reverse[speed_mps] = graph
        return graph

    def time_to(self, goal_cell: int, speed_mps: float) -> np.ndarray:
        """Lone shortest travel time (s) from every cell to ``goal_cell``; ``inf`` if none."""
        key = (int(goal_cell), float(speed_mps))
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        dist = dijkstra(self._reverse_graph(float(speed_mps)), directed=True, indices=int(goal_cell))
        dist = np.ascontiguousarray(dist, dtype=np.float64)
        dist.setflags(write=False)
        self._cache[key] = dist
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return dist

    # PERF: one multi-source Dijkstra call per speed fills the heuristics of a whole
    # problem; per-goal calls cost scipy's set-up each time (bench/routing.py plan times).
    def prefetch(self, goals: list[tuple[int, float]]) -> None:
        """Fill the cache for many (goal cell, speed) pairs with one Dijkstra call per speed."""
        by_speed: dict[float, list[int]] = {}
        for cell, speed in goals:
            if (int(cell), float(speed)) not in self._cache:
                by_speed.setdefault(float(speed), []).append(int(cell))
        for speed, cells in by_speed.items():
            cells = sorted(set(cells))
            dist = dijkstra(self._reverse_graph(speed), directed=True, indices=np.asarray(cells, dtype=np.int64))
            for row, cell in zip(np.atleast_2d(dist), cells):
                row = np.ascontiguousarray(row, dtype=np.float64)
                row.setflags(write=False)
                self._cache[(cell, speed)] = row
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def leg_heuristics(self, task: VehicleTask) -> np.ndarray:
        """(legs, cells) admissible time-to-finish for each leg of ``task``."""
        legs = task.legs
        h = np.empty((len(legs), self.n_cells), dtype=np.float64)
        tail = 0.0
        for s in range(len(legs) - 1, -1, -1):
            h[s] = self.time_to(legs[s].goal_cell, legs[s].max_speed_mps) + tail
            if s > 0:
                tail = legs[s - 1].dwell_s + float(h[s, legs[s - 1].goal_cell])
        return h

    def lower_bound_s(self, task: VehicleTask, start_time_s: float) -> float:
        """Travel time of ``task`` alone on the map (waiting for ``ready_s`` included)."""
        h = self.leg_heuristics(task)
        return max(task.ready_s - start_time_s, 0.0) + float(h[0, task.start_cell])


@dataclass(frozen=True)
class SippOutcome:
    """Result of one search: ``path`` is None unless ``code == FOUND``."""

    code: int
    path: VehiclePath | None
    expansions: int


# ---- the kernel ---------------------------------------------------------------------------


@njit(cache=True)
def _grow(a, n):
    b = np.empty(n, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _heap_push(hf, ht, hi, size, f, t, idx):
    if size >= hf.shape[0]:
        hf = _grow(hf, 2 * hf.shape[0])
        ht = _grow(ht, 2 * ht.shape[0])
        hi = _grow(hi, 2 * hi.shape[0])
    k = size
    hf[k] = f
    ht[k] = t
    hi[k] = idx
    while k > 0:
        p = (k - 1) >> 1
        # smaller f first; on ties the later time (deeper state) first
        if hf[p] < hf[k] or (hf[p] == hf[k] and ht[p] >= ht[k]):
            break
        hf[p], hf[k] = hf[k], hf[p]
        ht[p], ht[k] = ht[k], ht[p]
        hi[p], hi[k] = hi[k], hi[p]
        k = p
    return hf, ht, hi, size + 1


@njit(cache=True)
def _heap_pop(hf, ht, hi, size):
    top = hi[0]
    topf = hf[0]
    size -= 1
    hf[0] = hf[size]
    ht[0] = ht[size]
    hi[0] = hi[size]
    k = 0
    while True:
        left = 2 * k + 1
        if left >= size:
            break
        c = left
        right = left + 1
        if right < size and (hf[right] < hf[left] or (hf[right] == hf[left] and ht[right] > ht[left])):
            c = right
        if hf[k] < hf[c] or (hf[k] == hf[c] and ht[k] >= ht[c]):
            break
        hf[c], hf[k] = hf[k], hf[c]
        ht[c], ht[k] = ht[k], ht[c]
        hi[c], hi[k] = hi[k], hi[c]
        k = c
    return top, topf, size


# PERF: the whole search is one Numba call over flat arrays: states live in growable
# parallel arrays with a per-(leg, cell) chain instead of a dict, the open list is an
# array heap, and safe intervals are computed from the reservation row when a cell is
# reached instead of being stored; bench/routing.py measures it (insertion p50/p99).
# PERF: nogil lets the core's planning worker thread search while the tick loop runs
# (fleet/core/planning.py); the kernel touches only its argument arrays.
@njit(cache=True, nogil=True)
def sipp_kernel(
    adj_indptr, adj_to, adj_len, adj_lim,
    r_start, r_end, r_owner, r_count, active,
    start_cell, t0, t_ready,
    goals, dwell, speed, h,
    max_expansions,
):
    """Search one path; returns ``(code, cells, arrive, depart, leg, expansions)``."""
    n_cells = adj_indptr.shape[0] - 1
    n_legs = goals.shape[0]
    cap = 1024
    st_cell = np.empty(cap, np.int32)
    st_leg = np.empty(cap, np.int32)
    st_lo = np.empty(cap, np.float64)
    st_hi = np.empty(cap, np.float64)
    st_t = np.empty(cap, np.float64)  # earliest time the vehicle can leave from this state
    st_arr = np.empty(cap, np.float64)  # when the vehicle reached the cell
    st_dep = np.empty(cap, np.float64)  # departure from the parent's cell (-1: same cell)
    st_parent = np.empty(cap, np.int32)
    st_next = np.empty(cap, np.int32)
    st_closed = np.empty(cap, np.bool_)
    head = np.full(n_legs * n_cells, -1, np.int32)
    n_states = 0
    hf = np.empty(1024, np.float64)
    ht = np.empty(1024, np.float64)
    hidx = np.empty(1024, np.int32)
    hsize = 0
    width = r_start.shape[1] + 2
    glo = np.empty(width, np.float64)
    ghi = np.empty(width, np.float64)

    empty_i = np.empty(0, np.int32)
    empty_f = np.empty(0, np.float64)

    m = row_gaps(r_start, r_end, r_owner, r_count, active, start_cell, glo, ghi)
    g0 = -1
    for k in range(m):
        if glo[k] <= t0 and t0 < ghi[k]:
            g0 = k
            break
    if g0 < 0 or ghi[g0] <= t_ready:
        return START_BLOCKED, empty_i, empty_f, empty_f, empty_i, 0
    st_cell[0] = start_cell
    st_leg[0] = 0
    st_lo[0] = glo[g0]
    st_hi[0] = ghi[g0]
    st_t[0] = max(t0, t_ready)
    st_arr[0] = t0
    st_dep[0] = -1.0
    st_parent[0] = -1
    st_next[0] = -1
    st_closed[0] = False
    head[start_cell] = 0
    n_states = 1
    hf, ht, hidx, hsize = _heap_push(hf, ht, hidx, hsize, st_t[0] + h[0, start_cell], st_t[0], 0)

    expansions = 0
    goal_state = -1
    while hsize > 0:
        cur, fcur, hsize = _heap_pop(hf, ht, hidx, hsize)
        if st_closed[cur]:
            continue
        st_closed[cur] = True
        expansions += 1
        if expansions > max_expansions:
            return EXPANSION_LIMIT, empty_i, empty_f, empty_f, empty_i, expansions
        a = st_cell[cur]
        leg = st_leg[cur]
        t = st_t[cur]
        hi_a = st_hi[cur]
        if a == goals[leg]:
            if leg == n_legs - 1:
                if hi_a == math.inf:
                    goal_state = cur
                    break
            else:
                t_next = t + dwell[leg]
                if t_next < hi_a:
                    # the next leg starts here after the dwell, in the same safe interval
                    key = (leg + 1) * n_cells + a
                    s = head[key]
                    while s >= 0 and st_lo[s] != st_lo[cur]:
                        s = st_next[s]
                    if s < 0 or (not st_closed[s] and t_next < st_t[s]):
                        if s < 0:
                            if n_states >= st_cell.shape[0]:
                                cap = 2 * st_cell.shape[0]
                                st_cell = _grow(st_cell, cap)
                                st_leg = _grow(st_leg, cap)
                                st_lo = _grow(st_lo, cap)
                                st_hi = _grow(st_hi, cap)
                                st_t = _grow(st_t, cap)
                                st_arr = _grow(st_arr, cap)
                                st_dep = _grow(st_dep, cap)
                                st_parent = _grow(st_parent, cap)
                                st_next = _grow(st_next, cap)
                                st_closed = _grow(st_closed, cap)
                            s = n_states
                            n_states += 1
                            st_cell[s] = a
                            st_leg[s] = leg + 1
                            st_lo[s] = st_lo[cur]
                            st_hi[s] = hi_a
                            st_next[s] = head[key]
                            st_closed[s] = False
                            head[key] = s
                        st_t[s] = t_next
                        st_arr[s] = st_arr[cur]
                        st_dep[s] = -1.0
                        st_parent[s] = cur
                        hf, ht, hidx, hsize = _heap_push(hf, ht, hidx, hsize, t_next + h[leg + 1, a], t_next, s)
        v = speed[leg]
        for e in range(adj_indptr[a], adj_indptr[a + 1]):
            b = adj_to[e]
            lim = adj_lim[e]
            d = adj_len[e] / (lim if lim < v else v)
            half = 0.5 * d
            latest = hi_a - half  # leave by then, or a's interval closes before the crossing
            if latest < t:
                continue
            hb = h[leg, b]
            if hb == math.inf:
                continue
            m = row_gaps(r_start, r_end, r_owner, r_count, active, b, glo, ghi)
            for k in range(m):
                lo_b = glo[k]
                if lo_b - half > latest:
                    break
                hi_b = ghi[k]
                tau = t if t > lo_b - half else lo_b - half
                arr = tau + d
                if arr >= hi_b:
                    continue
                key = leg * n_cells + b
                s = head[key]
                while s >= 0 and st_lo[s] != lo_b:
                    s = st_next[s]
                if s >= 0 and (st_closed[s] or arr >= st_t[s]):
                    continue
                if s < 0:
                    if n_states >= st_cell.shape[0]:
                        cap = 2 * st_cell.shape[0]
                        st_cell = _grow(st_cell, cap)
                        st_leg = _grow(st_leg, cap)
                        st_lo = _grow(st_lo, cap)
                        st_hi = _grow(st_hi, cap)
                        st_t = _grow(st_t, cap)
                        st_arr = _grow(st_arr, cap)
                        st_dep = _grow(st_dep, cap)
                        st_parent = _grow(st_parent, cap)
                        st_next = _grow(st_next, cap)
                        st_closed = _grow(st_closed, cap)
                    s = n_states
                    n_states += 1
                    st_cell[s] = b
                    st_leg[s] = leg
                    st_lo[s] = lo_b
                    st_hi[s] = hi_b
                    st_next[s] = head[key]
                    st_closed[s] = False
                    head[key] = s
                st_t[s] = arr
                st_arr[s] = arr
                st_dep[s] = tau
                st_parent[s] = cur
                hf, ht, hidx, hsize = _heap_push(hf, ht, hidx, hsize, arr + hb, arr, s)

    if goal_state < 0:
        return NO_PATH, empty_i, empty_f, empty_f, empty_i, expansions

    # Walk back, then forward: consecutive states on one cell (leg changes) collapse into
    # one entry whose leg is that of the last of them (the leg the vehicle leaves with).
    length = 0
    s = goal_state
    while s >= 0:
        length += 1
        s = st_parent[s]
    chain = np.empty(length, np.int32)
    s = goal_state
    for i in range(length - 1, -1, -1):
        chain[i] = s
        s = st_parent[s]
    n = 0
    for i in range(length):
        if i == 0 or st_dep[chain[i]] >= 0.0:
            n += 1
    cells = np.empty(n, np.int32)
    arrive = np.empty(n, np.float64)
    depart = np.empty(n, np.float64)
    legs = np.empty(n, np.int32)
    k = -1
    for i in range(length):
        s = chain[i]
        if i == 0 or st_dep[s] >= 0.0:
            k += 1
            cells[k] = st_cell[s]
            arrive[k] = st_arr[s]
            if k > 0:
                depart[k - 1] = st_dep[s]
        legs[k] = st_leg[s]
    depart[n - 1] = math.inf
    return FOUND, cells, arrive, depart, legs, expansions


def plan_vehicle(
    graph: RoutingGraph,
    table: ReservationTable,
    task: VehicleTask,
    *,
    start_time_s: float,
    active: np.ndarray | None = None,
    heuristics: np.ndarray | None = None,
    max_expansions: int = 200_000,
) -> SippOutcome:
    """Route one vehicle against ``table`` (only ``active`` owners count).

    Parameters
    ----------
    graph : RoutingGraph
    table : ReservationTable
    task : VehicleTask
        Start, legs and ready time.
    start_time_s : float
        The vehicle stands on its start from this time.
    active : bool array, optional
        Owners of ``table`` that block; all by default.
    heuristics : (legs, cells) array, optional
        :meth:`RoutingGraph.leg_heuristics` of ``task`` if already computed.
    max_expansions : int
        Give up (``EXPANSION_LIMIT``) after this many state expansions.
    """
    h = graph.leg_heuristics(task) if heuristics is None else heuristics
    goals = np.array([leg.goal_cell for leg in task.legs], dtype=np.int32)
    dwell = np.array([leg.dwell_s for leg in task.legs], dtype=np.float64)
    speed = np.array([leg.max_speed_mps for leg in task.legs], dtype=np.float64)
    mask = table.all_active() if active is None else active
    code, cells, arrive, depart, legs, expansions = sipp_kernel(
        graph.adj_indptr, graph.adj_to, graph.adj_length_m, graph.adj_limit_mps,
        table.start, table.end, table.owner, table.count, mask,
        task.start_cell, float(start_time_s), float(max(task.ready_s, start_time_s)),
        goals, dwell, speed, h, int(max_expansions),
    )
    if code != FOUND:
        return SippOutcome(int(code), None, int(expansions))
    return SippOutcome(FOUND, VehiclePath(cells, arrive, depart, legs), int(expansions))


SEPARATION_S = 1e-3
"""Gap kept between conflicting occupancies of different vehicles. Without it SIPP can
plan two vehicles to swap stretches at the very same instant, an exchange no execution
can reproduce (its dependency graph would have a cycle)."""


def reserve_path(table: ReservationTable, owner: int, path: VehiclePath) -> None:
    """Add ``path``'s occupancy to ``table`` under ``owner``, widened by :data:`SEPARATION_S`."""
    occ_start, occ_end = path.occupancy()
    table.add(owner, path.cells, occ_start - SEPARATION_S, occ_end + SEPARATION_S)
