"""Anytime refinement of a MAPF solution by large neighbourhood search, in Numba.

This is the "iterative refinement" of LaCAM3 (Okumura 2024, ``refiner.cpp``; Li et al.,
"Anytime multi-agent path finding via large neighborhood search", IJCAI 2021): take a
small group of agents, erase their paths, replan them one by one against everybody
else's, and keep the new paths when the group's sum of loss went down. Groups are drawn
at random (LaCAM3) or around one delayed agent: the agents that stand on its shortest
path or pass over its goal after it could have arrived (Li et al.'s agent-based
neighbourhood, simplified).

Each agent is replanned by SIPP (safe-interval path planning, Phillips & Likhachev 2011)
minimising its *loss* (waiting at its own goal is free, as in LaCAM3's ``sipp.cpp``), with
the distance table as heuristic and a bound that forces the group to improve.

The solution keeps its makespan ``T``: every path has ``T + 1`` cells and ends resting at
the agent's goal; after ``T`` the world stands still. Conflicts are those of
:mod:`planner.pibt` (vertex and swap).

PERF: occupancy is kept twice: ``occ[v, t]`` (who) for swap checks and a bitset
``busy[v, t / 64]`` whose bit scans (de Bruijn count of trailing zeros) give the safe
intervals in a few word operations; SIPP's closed set is stamped, so it is reset in O(1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from planner.distance import settled
from planner.pibt import rand_below, rand_float

# RefineState.ctr indices
POS = 0  # next index into the shuffled agent order (random neighbourhoods)
GROUP = 1  # size of the random groups of this pass
STAMP = 2  # search id for SIPP's closed set
TOTAL = 3  # current sum of loss
ACCEPTED = 4  # groups replanned (always to a strictly lower loss)
TRIED = 5  # groups tried
EXPANDED = 6  # SIPP expansions
N_CTR = 7

BIG = 1 << 30  # "never" for interval ends
_G_BITS = 24  # heap key = f << 24 | (2^24 - 1 - g): lowest f first, then deepest
_MAX_EXPANSIONS = 50_000  # per search: hopeless searches give up
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_TABLE = np.array(
    [0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
     63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6],
    dtype=np.int64,
)  # fmt: skip
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class RefineState(NamedTuple):
    """Solution under refinement and the search arrays (see module doc)."""

    indptr: np.ndarray
    adj_to: np.ndarray
    goals: np.ndarray
    dist1: np.ndarray  # complete distance rows (planner.distance), distance + 1
    paths: np.ndarray  # (T + 1, N) int32
    loss: np.ndarray  # (N,) int64
    occ: np.ndarray  # (V, T + 1) int32 agent or -1
    busy: np.ndarray  # (V, W) uint64 bit t set when occ[v, t] != -1
    best_stamp: np.ndarray  # (V, T + 1) int32, keyed by (cell, interval start)
    best_g: np.ndarray  # (V, T + 1) int32
    node_v: np.ndarray  # (P,) int32 SIPP node pool
    node_t: np.ndarray
    node_a: np.ndarray  # interval start
    node_e: np.ndarray  # interval end
    node_g: np.ndarray
    node_parent: np.ndarray
    heap_key: np.ndarray  # (P,) int64
    heap_node: np.ndarray  # (P,) int32
    new_paths: np.ndarray  # (K, T + 1) int32
    group: np.ndarray  # (K,) int32
    order: np.ndarray  # (N,) int32
    rng: np.ndarray
    ctr: np.ndarray


def make_refine_state(
    indptr: np.ndarray,
    adj_to: np.ndarray,
    goals: np.ndarray,
    dist1: np.ndarray,
    paths: np.ndarray,
    rng_state: np.ndarray,
    max_group: int = 30,
    pool_capacity: int = 1 << 19,
) -> RefineState:
    """Set up refinement of ``paths`` ((T + 1, N), rows are configurations)."""
    n_cells = indptr.shape[0] - 1
    horizon, n = paths.shape
    k = max(1, min(max_group, n))
    s = RefineState(
        indptr=indptr,
        adj_to=adj_to,
        goals=goals,
        dist1=dist1,
        paths=np.ascontiguousarray(paths, dtype=np.int32).copy(),
        loss=np.zeros(n, dtype=np.int64),
        occ=np.full((n_cells, horizon), -1, dtype=np.int32),
        busy=np.zeros((n_cells, (horizon + 63) // 64), dtype=np.uint64),
        best_stamp=np.zeros((n_cells, horizon), dtype=np.int32),
        best_g=np.empty((n_cells, horizon), dtype=np.int32),
        node_v=np.empty(pool_capacity, dtype=np.int32),
        node_t=np.empty(pool_capacity, dtype=np.int32),
        node_a=np.empty(pool_capacity, dtype=np.int32),
        node_e=np.empty(pool_capacity, dtype=np.int32),
        node_g=np.empty(pool_capacity, dtype=np.int32),
        node_parent=np.empty(pool_capacity, dtype=np.int32),
        heap_key=np.empty(pool_capacity, dtype=np.int64),
        heap_node=np.empty(pool_capacity, dtype=np.int32),
        new_paths=np.empty((k, horizon), dtype=np.int32),
        group=np.empty(k, dtype=np.int32),
        order=np.arange(n, dtype=np.int32),
        rng=rng_state,
        ctr=np.zeros(N_CTR, dtype=np.int64),
    )
    _init(s)
    return s


@njit(cache=True)
def path_loss(path: np.ndarray, goal: int) -> int:
    """Steps of ``path`` not spent resting at ``goal``."""
    c = 0
    for t in range(1, path.shape[0]):
        if path[t - 1] != goal or path[t] != goal:
            c += 1
    return c


@njit(cache=True, inline="always")
def _ctz(x: np.uint64) -> int:
    return _DEBRUIJN_TABLE[((x & (~x + np.uint64(1))) * _DEBRUIJN) >> np.uint64(58)]


@njit(cache=True, inline="always")
def _msb(x: np.uint64) -> int:
    x |= x >> np.uint64(1)
    x |= x >> np.uint64(2)
    x |= x >> np.uint64(4)
    x |= x >> np.uint64(8)
    x |= x >> np.uint64(16)
    x |= x >> np.uint64(32)
    return _ctz((x >> np.uint64(1)) + np.uint64(1))


@njit(cache=True, inline="always")
def _is_busy(busy: np.ndarray, v: int, t: int) -> bool:
    return (busy[v, t >> 6] >> np.uint64(t & 63)) & np.uint64(1) != 0


@njit(cache=True)
def _next_busy(busy: np.ndarray, v: int, t: int, T: int) -> int:
    """First busy time >= t at ``v`` (the state at T lasts forever); BIG if none."""
    if t > T:
        return t if _is_busy(busy, v, T) else BIG
    w = t >> 6
    word = busy[v, w] & (_ALL << np.uint64(t & 63))
    while word == 0:
        w += 1
        if w >= busy.shape[1]:
            return BIG
        word = busy[v, w]
    return (w << 6) + _ctz(word)


@njit(cache=True)
def _next_free(busy: np.ndarray, v: int, t: int, T: int) -> int:
    """First free time >= t at ``v``; BIG if busy from t on for ever."""
    if t > T:
        return BIG if _is_busy(busy, v, T) else t
    w = t >> 6
    word = ~busy[v, w] & (_ALL << np.uint64(t & 63))
    while word == 0:
        w += 1
        if w >= busy.shape[1]:
            return BIG
        word = ~busy[v, w]
    r = (w << 6) + _ctz(word)
    return r if r <= T else BIG  # bits past T are clear, but then v is busy at T for ever


@njit(cache=True)
def _prev_busy(busy: np.ndarray, v: int, t: int) -> int:
    """Last busy time <= t at ``v``; -1 if none."""
    w = t >> 6
    word = busy[v, w] & (_ALL >> np.uint64(63 - (t & 63)))
    while word == 0:
        w -= 1
        if w < 0:
            return -1
        word = busy[v, w]
    return (w << 6) + _msb(word)


@njit(cache=True)
def _set_path(s: RefineState, i: int, path: np.ndarray, on: bool) -> None:
    for t in range(path.shape[0]):
        v = path[t]
        bit = np.uint64(1) << np.uint64(t & 63)
        if on:
            s.occ[v, t] = i
            s.busy[v, t >> 6] |= bit
        else:
            s.occ[v, t] = -1
            s.busy[v, t >> 6] &= ~bit


@njit(cache=True)
def _init(s: RefineState) -> None:
    n = s.paths.shape[1]
    total = 0
    for i in range(n):
        _set_path(s, i, s.paths[:, i], True)
        s.loss[i] = path_loss(s.paths[:, i], s.goals[i])
        total += s.loss[i]
    s.ctr[TOTAL] = total
    s.ctr[POS] = n  # forces a reshuffle on the first group


@njit(cache=True)
def _heap_push(s: RefineState, size: int, key: np.int64, node: int) -> int:
    k = s.heap_key
    p = size
    while p > 0:
        q = (p - 1) >> 1
        if k[q] <= key:
            break
        k[p] = k[q]
        s.heap_node[p] = s.heap_node[q]
        p = q
    k[p] = key
    s.heap_node[p] = node
    return size + 1


@njit(cache=True)
def _heap_pop(s: RefineState, size: int) -> int:
    """Remove the root (read it before calling); returns the new size."""
    k = s.heap_key
    size -= 1
    key = k[size]
    node = s.heap_node[size]
    p = 0
    while True:
        c = 2 * p + 1
        if c >= size:
            break
        if c + 1 < size and k[c + 1] < k[c]:
            c += 1
        if k[c] >= key:
            break
        k[p] = k[c]
        s.heap_node[p] = s.heap_node[c]
        p = c
    k[p] = key
    s.heap_node[p] = node
    return size


@njit(cache=True)
def _sipp(s: RefineState, i: int, out: np.ndarray, f_limit: int, expansion_limit: int) -> int:
    """SIPP for agent ``i`` (its own path already erased); minimises the loss.

    Writes the path into ``out`` ((T + 1,) cells) and returns its loss, or -1 when no
    path with loss <= ``f_limit`` exists within the search limits (``_MAX_EXPANSIONS``
    for this search; ``ctr[EXPANDED]`` must stay below ``expansion_limit``).
    """
    T = s.paths.shape[0] - 1
    goal = s.goals[i]
    start = s.paths[0, i]
    s.ctr[EXPANDED] += 1  # every search counts as work, even one that stops at once
    busy = s.busy
    occ = s.occ
    dist1 = s.dist1
    if _is_busy(busy, goal, T):
        return -1  # somebody else rests on the goal
    arrive_from = _prev_busy(busy, goal, T) + 1  # the goal's last, endless safe interval
    h0 = settled(dist1, i, start)
    if h0 > f_limit:
        return -1
    s.ctr[STAMP] += 1
    stamp = np.int32(s.ctr[STAMP])
    g_max = (1 << _G_BITS) - 1
    cap = s.node_v.shape[0]
    s.node_v[0] = start
    s.node_t[0] = 0
    s.node_a[0] = 0
    s.node_e[0] = _next_busy(busy, start, 0, T) - 1
    s.node_g[0] = 0
    s.node_parent[0] = -1
    n_nodes = 1
    size = _heap_push(s, 0, np.int64(h0) << _G_BITS | g_max, 0)
    s.best_stamp[start, 0] = stamp
    s.best_g[start, 0] = 0
    expansions = 0
    while size > 0:
        k = s.heap_node[0]
        size = _heap_pop(s, size)
        v = s.node_v[k]
        a = s.node_a[k]
        g = s.node_g[k]
        if s.best_stamp[v, a] == stamp and s.best_g[v, a] < g:
            continue  # a cheaper node for this safe interval was queued later
        t = s.node_t[k]
        e = s.node_e[k]
        if v == goal and t >= arrive_from:
            for tt in range(t, T + 1):
                out[tt] = goal
            while k >= 0:  # waits fill the time up to the next arrival
                p = s.node_parent[k]
                t_from = s.node_t[p] if p >= 0 else 0
                for tt in range(t_from, s.node_t[k]):
                    out[tt] = s.node_v[p]
                out[s.node_t[k]] = s.node_v[k]
                k = p
            return g
        expansions += 1
        s.ctr[EXPANDED] += 1
        if expansions > _MAX_EXPANSIONS or s.ctr[EXPANDED] >= expansion_limit:
            return -1
        last_arrival = min(e + 1, T)
        for ed in range(s.indptr[v], s.indptr[v + 1]):
            u = s.adj_to[ed]
            h = settled(dist1, i, u)
            tt = _next_free(busy, u, t + 1, T)
            while tt <= last_arrival:
                ue = _next_busy(busy, u, tt, T) - 1
                ua = _prev_busy(busy, u, tt) + 1
                hi = min(last_arrival, ue)
                # arrival time in [tt, hi] without a swap; latest when leaving the own
                # goal (waiting there is free), earliest otherwise
                arr = -1
                if v != goal:
                    for x in range(tt, hi + 1):
                        j = occ[u, x - 1]
                        if j == -1 or occ[v, x] != j:
                            arr = x
                            break
                else:
                    for x in range(hi, tt - 1, -1):
                        j = occ[u, x - 1]
                        if j == -1 or occ[v, x] != j:
                            arr = x
                            break
                if arr >= 0:
                    g1 = g + (arr - t) if v != goal else g + 1
                    if g1 + h <= f_limit and arr + h <= T:
                        if not (s.best_stamp[u, ua] == stamp and s.best_g[u, ua] <= g1):
                            if n_nodes >= cap:
                                return -1
                            s.best_stamp[u, ua] = stamp
                            s.best_g[u, ua] = g1
                            s.node_v[n_nodes] = u
                            s.node_t[n_nodes] = arr
                            s.node_a[n_nodes] = ua
                            s.node_e[n_nodes] = ue
                            s.node_g[n_nodes] = g1
                            s.node_parent[n_nodes] = k
                            size = _heap_push(s, size, np.int64(g1 + h) << _G_BITS | (g_max - g1), n_nodes)
                            n_nodes += 1
                if ue >= T:
                    break
                tt = _next_free(busy, u, ue + 2, T)
    return -1


@njit(cache=True)
def _random_group(s: RefineState) -> int:
    """LaCAM3's groups: consecutive slices of a shuffled agent order, random size."""
    n = s.paths.shape[1]
    kmax = s.group.shape[0]
    if s.ctr[POS] + s.ctr[GROUP] > n or s.ctr[GROUP] == 0:
        for a in range(n - 1, 0, -1):
            b = rand_below(s.rng, a + 1)
            tmp = s.order[a]
            s.order[a] = s.order[b]
            s.order[b] = tmp
        s.ctr[GROUP] = max(1, min(1 + rand_below(s.rng, kmax), n // 4))
        s.ctr[POS] = 0
    k = s.ctr[GROUP]
    pos = s.ctr[POS]
    s.ctr[POS] = pos + k
    for a in range(k):
        s.group[a] = s.order[pos + a]
    return k


@njit(cache=True)
def _agent_group(s: RefineState) -> int:
    """A delayed agent first, then the agents in its way.

    The agent is the most delayed of a few drawn at random (delay = loss - distance). Its
    way: one shortest path from its start, timed as if nobody else moved, and its goal
    after the earliest arrival. Whoever occupies them joins, up to the group size.
    """
    n = s.paths.shape[1]
    kmax = s.group.shape[0]
    T = s.paths.shape[0] - 1
    best = -1
    best_delay = 0
    for _ in range(8):
        i = rand_below(s.rng, n)
        d = s.loss[i] - settled(s.dist1, i, s.paths[0, i])
        if d > best_delay:
            best = i
            best_delay = d
    if best < 0:
        return 0
    i = best
    s.group[0] = i
    k = 1
    limit = max(2, min(1 + rand_below(s.rng, kmax), n // 2))
    v = s.paths[0, i]
    goal = s.goals[i]
    t = 0
    while k < limit and t < T:
        if v != goal:  # one step down the distance field, random among equals
            dv = settled(s.dist1, i, v)
            nxt = v
            seen = 0
            for e in range(s.indptr[v], s.indptr[v + 1]):
                u = s.adj_to[e]
                if settled(s.dist1, i, u) < dv:
                    seen += 1
                    if rand_below(s.rng, seen) == 0:
                        nxt = u
            v = nxt
        t += 1
        j = s.occ[v, t]
        if j >= 0 and j != i:
            new = True
            for a in range(k):
                if s.group[a] == j:
                    new = False
                    break
            if new:
                s.group[k] = j
                k += 1
    return k


@njit(cache=True)
def _try_group(s: RefineState, k: int, keep_first: bool, expansion_limit: int) -> bool:
    """Replan ``group[:k]`` in random order (``group[0]`` first when ``keep_first``) and
    keep the result if it is cheaper."""
    for a in range(k - 1, 1 if keep_first else 0, -1):
        lo = 1 if keep_first else 0
        b = lo + rand_below(s.rng, a + 1 - lo)
        tmp = s.group[a]
        s.group[a] = s.group[b]
        s.group[b] = tmp
    old = 0
    for a in range(k):
        i = s.group[a]
        old += s.loss[i]
        _set_path(s, i, s.paths[:, i], False)
    new = 0
    planned = 0
    for a in range(k):
        i = s.group[a]
        c = _sipp(s, i, s.new_paths[a], old - new - 1, expansion_limit)  # the group must improve
        if c < 0:
            break
        new += c
        planned += 1
        _set_path(s, i, s.new_paths[a], True)
    s.ctr[TRIED] += 1
    if planned == k:
        for a in range(k):
            i = s.group[a]
            s.paths[:, i] = s.new_paths[a]
            s.loss[i] = path_loss(s.paths[:, i], s.goals[i])
        s.ctr[TOTAL] += new - old
        s.ctr[ACCEPTED] += 1
        return True
    for a in range(planned):
        _set_path(s, s.group[a], s.new_paths[a], False)
    for a in range(k):
        i = s.group[a]
        _set_path(s, i, s.paths[:, i], True)
    return False


@njit(cache=True)
def refine(s: RefineState, soft_expansions: int, hard_expansions: int) -> int:
    """Try groups while fewer than ``soft_expansions`` SIPP expansions are spent (a time
    slice); a group may run on up to ``hard_expansions`` (the time left), else it is
    rolled back. Returns the current sum of loss."""
    start = s.ctr[EXPANDED]
    limit = start + max(soft_expansions, hard_expansions)
    while s.ctr[EXPANDED] < start + soft_expansions:
        if rand_float(s.rng) < 0.5:
            k = _agent_group(s)
            if k > 1:
                _try_group(s, k, True, limit)
                continue
        k = _random_group(s)
        _try_group(s, k, False, limit)
    return s.ctr[TOTAL]
