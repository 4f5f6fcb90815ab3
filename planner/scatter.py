"""Space-utilisation optimisation ("scatter") for PIBT, as in LaCAM3 (Okumura 2024).

Before the search, every agent gets a path of near-shortest length (at most ``margin``
moves longer than its distance) that crosses the other agents' paths as rarely as
possible: repeated single-agent A* over the cells, ordered first by the number of
collisions with everybody else's current path (vertex, swap, standing on a goal after
its owner arrived), then by length. Rounds in random order repeat while the collision
count drops. PIBT then tries, at each cell of its agent's scatter path, the next cell of
that path first. This spreads the agents over parallel corridors and makes LaCAM's
first solution much cheaper on warehouse-like maps.

The table handed to PIBT maps ``(agent, cell) -> next cell`` by open addressing, see
:func:`planner.pibt.preferred_next`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from planner.distance import settled
from planner.pibt import pref_slot, rand_below

_V_BITS = 24
_F_BITS = 20


@njit(cache=True)
def _collision(cnt, who, goal_end, v_from, v_to, t_from, horizon) -> int:
    t_to = t_from + 1
    c = 0
    if t_to < horizon:
        c += cnt[v_to, t_to]
        if cnt[v_from, t_to] > 0 and cnt[v_to, t_from] > 0 and who[v_from, t_to] == who[v_to, t_from]:
            c += 1  # swap (``who`` remembers one agent per cell and time: an estimate)
    if goal_end[v_to] >= 0 and t_to > goal_end[v_to]:
        c += 1
    return c


@njit(cache=True)
def _enroll(i, path, length, cnt, who, goal_end, goals, sign) -> int:
    """Add (sign 1) or remove (sign -1) a path; returns the change of the collision count."""
    horizon = cnt.shape[1]
    delta = 0
    if sign < 0:
        goal_end[goals[i]] = -1
        for t in range(length):
            cnt[path[t], t] -= 1
    for t in range(length):
        if t > 0:
            delta += _collision(cnt, who, goal_end, path[t - 1], path[t], t - 1, horizon)
    if sign > 0:
        for t in range(length):
            cnt[path[t], t] += 1
            who[path[t], t] = i
        goal_end[goals[i]] = length - 1
    g = goals[i]
    for t in range(length, horizon):
        delta += cnt[g, t]
    return delta if sign > 0 else -delta


@njit(cache=True)
def _heap_push(key, pg, pp, size, k, g, par) -> int:
    p = size
    while p > 0:
        q = (p - 1) >> 1
        if key[q] <= k:
            break
        key[p] = key[q]
        pg[p] = pg[q]
        pp[p] = pp[q]
        p = q
    key[p] = k
    pg[p] = g
    pp[p] = par
    return size + 1


@njit(cache=True)
def _heap_pop(key, pg, pp, size) -> int:
    size -= 1
    k = key[size]
    g = pg[size]
    par = pp[size]
    p = 0
    while True:
        c = 2 * p + 1
        if c >= size:
            break
        if c + 1 < size and key[c + 1] < key[c]:
            c += 1
        if key[c] >= k:
            break
        key[p] = key[c]
        pg[p] = pg[c]
        pp[p] = pp[c]
        p = c
    key[p] = k
    pg[p] = g
    pp[p] = par
    return size


@njit(cache=True)
def _astar(i, start, goal, cost_ub, indptr, adj_to, dist1, cnt, who, goal_end, closed, sid, parent, depth, key, pg, pp, out) -> int:
    """Fewest collisions, then shortest; each cell closed once (no waits, as LaCAM3).

    Writes the path to ``out`` and returns its number of cells, or -1.
    """
    horizon = cnt.shape[1]
    vmask = np.int64((1 << _V_BITS) - 1)
    fmask = np.int64((1 << _F_BITS) - 1)
    size = _heap_push(key, pg, pp, 0, (np.int64(settled(dist1, i, start)) << _V_BITS) | start, 0, -1)
    while size > 0:
        k = key[0]
        g = pg[0]
        par = pp[0]
        size = _heap_pop(key, pg, pp, size)
        v = int(k & vmask)
        if closed[v] == sid:
            continue
        closed[v] = sid
        parent[v] = par
        depth[v] = g
        coll = k >> (_V_BITS + _F_BITS)
        if v == goal:
            c = v
            for t in range(g, -1, -1):
                out[t] = c
                c = parent[c]
            return g + 1
        for e in range(indptr[v], indptr[v + 1]):
            u = adj_to[e]
            if u == start or closed[u] == sid:
                continue
            h = settled(dist1, i, u)
            if h + g + 1 > cost_ub:
                continue
            c_new = coll + _collision(cnt, who, goal_end, v, u, g, horizon)
            f = min(np.int64(g + 1 + h), fmask)
            kk = (np.int64(c_new) << (_V_BITS + _F_BITS)) | (f << _V_BITS) | u
            size = _heap_push(key, pg, pp, size, kk, g + 1, v)
    return -1


@njit(cache=True)
def scatter_round(starts, goals, indptr, adj_to, dist1, margin, paths, lengths, cnt, who, goal_end, closed, parent, depth, key, pg, pp, rng, ctr) -> int:
    """One round: every agent (random order) replans against the others' current paths.

    ``ctr[0]`` is the search id, ``ctr[1]`` the collision count; returns the count.
    """
    n = starts.shape[0]
    order = np.arange(n)
    for a in range(n - 1, 0, -1):
        b = rand_below(rng, a + 1)
        tmp = order[a]
        order[a] = order[b]
        order[b] = tmp
    buf = np.empty(paths.shape[1], dtype=np.int32)
    for a in range(n):
        i = order[a]
        if lengths[i] > 0:
            ctr[1] += _enroll(i, paths[i], lengths[i], cnt, who, goal_end, goals, -1)
        ctr[0] += 1
        cost_ub = settled(dist1, i, starts[i]) + margin
        m = _astar(i, starts[i], goals[i], cost_ub, indptr, adj_to, dist1, cnt, who, goal_end, closed, ctr[0], parent, depth, key, pg, pp, buf)
        if m > 0:
            paths[i, :m] = buf[:m]
            lengths[i] = m
        if lengths[i] > 0:
            ctr[1] += _enroll(i, paths[i], lengths[i], cnt, who, goal_end, goals, 1)
    return ctr[1]


@njit(cache=True)
def _build_table(paths, lengths, n_cells):
    total = 0
    for i in range(lengths.shape[0]):
        total += max(0, lengths[i] - 1)
    size = 1
    while size < 2 * total + 2:
        size <<= 1
    keys = np.full(size, -1, dtype=np.int64)
    nxt = np.full(size, -1, dtype=np.int32)
    mask = size - 1
    for i in range(lengths.shape[0]):
        for t in range(lengths[i] - 1):
            key = np.int64(i) * n_cells + paths[i, t]
            p = pref_slot(key, mask)
            while keys[p] != -1 and keys[p] != key:
                p = (p + 1) & mask
            keys[p] = key
            nxt[p] = paths[i, t + 1]
    return keys, nxt


def scatter(
    indptr: np.ndarray,
    adj_to: np.ndarray,
    starts: np.ndarray,
    goals: np.ndarray,
    dist1: np.ndarray,
    rng_state: np.ndarray,
    deadline: float,
    now: Callable[[], float],
    margin: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Scatter paths as a PIBT preference table ``(keys, next_cell)``.

    ``dist1`` must hold complete distance rows. Rounds stop when the collision count no
    longer drops or at ``deadline`` (on ``now``); the last complete round is used.
    """
    n = starts.shape[0]
    n_cells = indptr.shape[0] - 1
    lbs = np.array([dist1[i, starts[i]] - 1 for i in range(n)], dtype=np.int64)
    horizon = int(lbs.max(initial=0)) + margin + 1
    paths = np.empty((n, horizon), dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int64)
    cnt = np.zeros((n_cells, horizon), dtype=np.int32)
    who = np.full((n_cells, horizon), -1, dtype=np.int32)
    goal_end = np.full(n_cells, -1, dtype=np.int64)
    closed = np.zeros(n_cells, dtype=np.int64)
    parent = np.empty(n_cells, dtype=np.int32)
    depth = np.empty(n_cells, dtype=np.int32)
    cap = adj_to.shape[0] + 1
    key = np.empty(cap, dtype=np.int64)
    pg = np.empty(cap, dtype=np.int32)
    pp = np.empty(cap, dtype=np.int32)
    ctr = np.zeros(2, dtype=np.int64)
    best_paths, best_lengths = paths.copy(), lengths.copy()
    last = np.iinfo(np.int64).max
    rounds = 0
    while now() < deadline:
        count = scatter_round(starts, goals, indptr, adj_to, dist1, margin, paths, lengths, cnt, who, goal_end, closed, parent, depth, key, pg, pp, rng_state, ctr)
        rounds += 1
        if rounds > 1 and count >= last:
            break
        best_paths, best_lengths = paths.copy(), lengths.copy()
        last = count
        if count == 0:
            break
    return _build_table(best_paths, best_lengths, n_cells)
