"""LaCAM* (Okumura, AAAI 2023 / IJCAI 2023 / AAMAS 2024): anytime, eventually optimal MAPF.

LaCAM searches over *configurations* (one cell per agent). A high-level node is a
configuration; its successors are produced lazily, one per visit, by PIBT
(:mod:`planner.pibt`) under constraints taken from a low-level breadth-first tree ("agent
``order[0]`` goes to ``v``, agent ``order[1]`` goes to ``w``, ...") that grows by one
level per visit, so that every successor configuration is eventually generated. The
high level is a depth-first search with an OPEN stack and a hash table of explored
configurations. LaCAM* keeps searching after the first solution: nodes are pruned by
``f = g + h`` against the best cost, known configurations reached again add an edge and
trigger a Dijkstra-style rewiring of ``g`` and parents, so the best solution improves
with time and is optimal (sum of loss) once OPEN is empty. As in LaCAM3, OPEN sometimes
restarts from the root or from a random entry to diversify.

Objective: sum of loss, LaCAM3's: per agent, the time steps not spent resting at its goal
(an edge costs the number of agents not at their goal at both ends). ``h`` is the sum
of the agents' goal distances.

PERF: the whole search loop is one ``@njit`` function over preallocated arrays: all
configurations live in one int32 arena (row = node), explored configurations are found
through an open-addressing hash table of node ids, the low-level trees are linked lists
in another arena, and the rewiring graph is an edge arena. Python only slices time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from planner.distance import DistanceTable, dist, settled
from planner.pibt import NO_CELL, PibtWork, pibt_next, rand_below, rand_float, settle_rows

# counters in SearchState.ctr
N_NODES = 0
N_LNODES = 1
N_EDGES = 2
OPEN_SIZE = 3
GOAL = 4
ITERATIONS = 5
FULL_FLAG = 6
SWAP = 7
UNDIRECTED = 8
N_PIBT = 9
N_COUNTERS = 10

# search() return codes
RUNNING = 0
FOUND_FIRST = 1
EXHAUSTED = 2
FULL = 3

_PRIO_MAX = 65535


class SearchState(NamedTuple):
    """Everything the LaCAM* loop reads and writes; arenas are preallocated.

    Capacities: ``cfg.shape[0]`` nodes, ``ln_where.shape[0]`` low-level nodes,
    ``e_to.shape[0]`` rewiring edges, ``open_.shape[0]`` OPEN entries, ``slots.shape[0]``
    hash slots (a power of two, at least twice the node capacity).
    """

    indptr: np.ndarray
    adj_to: np.ndarray
    goals: np.ndarray
    tie: np.ndarray  # (N,) float64 in [0, 1): fixed fractional priority per agent
    table: DistanceTable
    work: PibtWork
    cfg: np.ndarray  # (M, N) int32 configurations
    order: np.ndarray  # (M, N) int32 agents by decreasing priority
    prio: np.ndarray  # (M, N) uint16 steps since the agent was last at its goal
    parent: np.ndarray  # (M,) int32
    g: np.ndarray  # (M,) int64 sum of loss from the start
    h: np.ndarray  # (M,) int64 sum of goal distances
    hval: np.ndarray  # (M,) uint64 configuration hash
    ll_head: np.ndarray  # (M,) int32 first queued low-level node
    ll_tail: np.ndarray  # (M,) int32
    nb_head: np.ndarray  # (M,) int32 first rewiring edge
    in_queue: np.ndarray  # (M,) uint8 Dijkstra queue membership
    ring: np.ndarray  # (M,) int32 Dijkstra FIFO
    ln_parent: np.ndarray  # (L,) int32
    ln_where: np.ndarray  # (L,) int32
    ln_depth: np.ndarray  # (L,) int32
    ln_next: np.ndarray  # (L,) int32 FIFO link
    e_to: np.ndarray  # (E,) int32
    e_next: np.ndarray  # (E,) int32
    e_cost: np.ndarray  # (E,) int64
    slots: np.ndarray  # (S,) int32 node id + 1, 0 = empty
    open_: np.ndarray  # (O,) int32 stack, top = last
    q_to: np.ndarray  # (N,) int32 scratch
    q_best: np.ndarray  # (N,) int32 scratch
    cand: np.ndarray  # (max_degree + 1,) int32 scratch
    key: np.ndarray  # (N,) float64 scratch
    ctr: np.ndarray  # (N_COUNTERS,) int64


def node_capacity(n_agents: int, memory_limit_mb: float) -> int:
    """How many high-level nodes fit in ``memory_limit_mb`` (all arenas included)."""
    per_node = n_agents * (4 + 4 + 2) + 8 * 4 + 4 * 6 * 4 + 4 * 16 + 8 * 4 + 4 * 8
    return int(max(16, min(8_000_000, memory_limit_mb * 1e6 // per_node)))


def make_search_state(
    indptr: np.ndarray,
    adj_to: np.ndarray,
    starts: np.ndarray,
    goals: np.ndarray,
    tie: np.ndarray,
    table: DistanceTable,
    work: PibtWork,
    max_nodes: int,
    swap: bool,
    undirected: bool,
    pibt_runs: int = 1,
) -> SearchState:
    """Allocate the arenas (untouched pages cost nothing) and insert the start node."""
    n = starts.shape[0]
    max_degree = int(np.diff(indptr).max(initial=0))
    n_slots = 1 << int(np.ceil(np.log2(2 * max_nodes + 1)))
    ln_cap = 6 * max_nodes + 64
    edge_cap = 6 * max_nodes + 64
    open_cap = 8 * max_nodes + 64
    s = SearchState(
        indptr=indptr,
        adj_to=adj_to,
        goals=goals,
        tie=tie,
        table=table,
        work=work,
        cfg=np.empty((max_nodes, n), dtype=np.int32),
        order=np.empty((max_nodes, n), dtype=np.int32),
        prio=np.empty((max_nodes, n), dtype=np.uint16),
        parent=np.empty(max_nodes, dtype=np.int32),
        g=np.empty(max_nodes, dtype=np.int64),
        h=np.empty(max_nodes, dtype=np.int64),
        hval=np.empty(max_nodes, dtype=np.uint64),
        ll_head=np.empty(max_nodes, dtype=np.int32),
        ll_tail=np.empty(max_nodes, dtype=np.int32),
        nb_head=np.empty(max_nodes, dtype=np.int32),
        in_queue=np.zeros(max_nodes, dtype=np.uint8),
        ring=np.empty(max_nodes, dtype=np.int32),
        ln_parent=np.empty(ln_cap, dtype=np.int32),
        ln_where=np.empty(ln_cap, dtype=np.int32),
        ln_depth=np.empty(ln_cap, dtype=np.int32),
        ln_next=np.empty(ln_cap, dtype=np.int32),
        e_to=np.empty(edge_cap, dtype=np.int32),
        e_next=np.empty(edge_cap, dtype=np.int32),
        e_cost=np.empty(edge_cap, dtype=np.int64),
        slots=np.zeros(n_slots, dtype=np.int32),
        open_=np.empty(open_cap, dtype=np.int32),
        q_to=np.empty(n, dtype=np.int32),
        q_best=np.empty(n, dtype=np.int32),
        cand=np.empty(max_degree + 1, dtype=np.int32),
        key=np.empty(n, dtype=np.float64),
        ctr=np.zeros(N_COUNTERS, dtype=np.int64),
    )
    s.ctr[GOAL] = -1
    s.ctr[SWAP] = int(swap)
    s.ctr[UNDIRECTED] = int(undirected)
    s.ctr[N_PIBT] = max(1, int(pibt_runs))
    _insert_root(s, np.ascontiguousarray(starts, dtype=np.int32))
    return s


@njit(cache=True)
def _hash(q: np.ndarray) -> np.uint64:
    h = np.uint64(0xCBF29CE484222325)
    for i in range(q.shape[0]):
        h = (h ^ np.uint64(q[i])) * np.uint64(0x100000001B3)
    return h ^ (h >> np.uint64(29))


@njit(cache=True)
def _lookup(s: SearchState, q: np.ndarray, hv: np.uint64) -> int:
    mask = s.slots.shape[0] - 1
    p = np.int64(hv & np.uint64(mask))
    n = q.shape[0]
    while True:
        k = s.slots[p] - 1
        if k < 0:
            return -1
        if s.hval[k] == hv:
            same = True
            row = s.cfg[k]
            for i in range(n):
                if row[i] != q[i]:
                    same = False
                    break
            if same:
                return k
        p = (p + 1) & mask


@njit(cache=True)
def _store(s: SearchState, k: int, hv: np.uint64) -> None:
    mask = s.slots.shape[0] - 1
    p = np.int64(hv & np.uint64(mask))
    while s.slots[p] != 0:
        p = (p + 1) & mask
    s.slots[p] = k + 1


@njit(cache=True)
def edge_cost(goals: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Agents not resting at their goal across the step ``a -> b``."""
    c = 0
    for i in range(goals.shape[0]):
        if a[i] != goals[i] or b[i] != goals[i]:
            c += 1
    return c


@njit(cache=True)
def _push_open(s: SearchState, k: int) -> None:
    size = s.ctr[OPEN_SIZE]
    if size >= s.open_.shape[0]:
        s.ctr[FULL_FLAG] = 1
        return
    s.open_[size] = k
    s.ctr[OPEN_SIZE] = size + 1


@njit(cache=True)
def _add_edge(s: SearchState, a: int, b: int, cost: int) -> None:
    e = s.nb_head[a]
    while e >= 0:
        if s.e_to[e] == b:
            return
        e = s.e_next[e]
    e = s.ctr[N_EDGES]
    if e >= s.e_to.shape[0]:
        s.ctr[FULL_FLAG] = 1
        return
    s.ctr[N_EDGES] = e + 1
    s.e_to[e] = b
    s.e_cost[e] = cost
    s.e_next[e] = s.nb_head[a]
    s.nb_head[a] = e


@njit(cache=True)
def _new_lnode(s: SearchState, parent: int, where: int, depth: int) -> int:
    k = s.ctr[N_LNODES]
    s.ctr[N_LNODES] = k + 1
    s.ln_parent[k] = parent
    s.ln_where[k] = where
    s.ln_depth[k] = depth
    s.ln_next[k] = -1
    return k


@njit(cache=True)
def _set_order(s: SearchState, k: int) -> None:
    key = s.key
    for i in range(key.shape[0]):
        key[i] = -(float(s.prio[k, i]) + s.tie[i])
    s.order[k, :] = np.argsort(key).astype(np.int32)


@njit(cache=True)
def _new_node(s: SearchState, q: np.ndarray, hv: np.uint64, parent: int) -> int:
    """Append configuration ``q`` reached from ``parent``; -1 when an arena is full.

    The cells of ``q`` must be settled in the distance rows (PIBT settles them).
    """
    k = s.ctr[N_NODES]
    if k >= s.cfg.shape[0] or s.ctr[N_LNODES] >= s.ln_where.shape[0]:
        s.ctr[FULL_FLAG] = 1
        return -1
    s.ctr[N_NODES] = k + 1
    n = q.shape[0]
    s.cfg[k, :] = q
    s.hval[k] = hv
    hsum = 0
    dist1 = s.table.dist1
    for i in range(n):
        hsum += settled(dist1, i, q[i])
    s.h[k] = hsum
    s.nb_head[k] = -1
    s.parent[k] = parent
    pc = s.cfg[parent]
    cost = edge_cost(s.goals, pc, q)
    s.g[k] = s.g[parent] + cost
    # dynamic priorities as in PIBT: grow while away from the goal, reset there
    for i in range(n):
        if q[i] == s.goals[i]:
            s.prio[k, i] = 0
        else:
            p = s.prio[parent, i]
            s.prio[k, i] = p + 1 if p < _PRIO_MAX else p
    _set_order(s, k)
    root = _new_lnode(s, -1, NO_CELL, 0)
    s.ll_head[k] = root
    s.ll_tail[k] = root
    _add_edge(s, parent, k, cost)
    if s.ctr[UNDIRECTED] != 0:
        _add_edge(s, k, parent, cost)
    _store(s, k, hv)
    return k


@njit(cache=True)
def _insert_root(s: SearchState, starts: np.ndarray) -> None:
    n = starts.shape[0]
    s.cfg[0, :] = starts
    hv = _hash(starts)
    s.hval[0] = hv
    hsum = 0
    for i in range(n):
        hsum += dist(s.table, i, starts[i])
        s.prio[0, i] = 0
    s.h[0] = hsum
    s.g[0] = 0
    s.parent[0] = -1
    s.nb_head[0] = -1
    _set_order(s, 0)
    root = _new_lnode(s, -1, NO_CELL, 0)
    s.ll_head[0] = root
    s.ll_tail[0] = root
    s.ctr[N_NODES] = 1
    _store(s, 0, hv)
    _push_open(s, 0)


@njit(cache=True)
def _next_lnode(s: SearchState, hnode: int) -> int:
    """Pop the next low-level node of ``hnode`` and queue its children; -1 when none."""
    lnode = s.ll_head[hnode]
    if lnode < 0:
        return -1
    s.ll_head[hnode] = s.ln_next[lnode]
    if s.ln_next[lnode] < 0:
        s.ll_tail[hnode] = -1
    depth = s.ln_depth[lnode]
    n = s.cfg.shape[1]
    if depth < n:
        i = s.order[hnode, depth]
        v = s.cfg[hnode, i]
        lo = s.indptr[v]
        m = s.indptr[v + 1] - lo + 1
        if s.ctr[N_LNODES] + m > s.ln_where.shape[0]:
            s.ctr[FULL_FLAG] = 1
            return lnode
        cand = s.cand
        for a in range(m - 1):
            cand[a] = s.adj_to[lo + a]
        cand[m - 1] = v
        for a in range(m - 1, 0, -1):  # shuffle: successors in random order
            b = rand_below(s.work.rng, a + 1)
            t = cand[a]
            cand[a] = cand[b]
            cand[b] = t
        for a in range(m):
            c = _new_lnode(s, lnode, cand[a], depth + 1)
            if s.ll_tail[hnode] < 0:
                s.ll_head[hnode] = c
            else:
                s.ln_next[s.ll_tail[hnode]] = c
            s.ll_tail[hnode] = c
    return lnode


@njit(cache=True)
def _rewrite(s: SearchState, h_from: int, h_to: int) -> None:
    """Add the edge ``h_from -> h_to`` and propagate shorter ``g`` (label-correcting)."""
    _add_edge(s, h_from, h_to, edge_cost(s.goals, s.cfg[h_from], s.cfg[h_to]))
    ring = s.ring
    cap = ring.shape[0]
    head = 0
    size = 1
    ring[0] = h_from
    s.in_queue[h_from] = 1
    goal = s.ctr[GOAL]
    while size > 0:
        a = ring[head]
        head = (head + 1) % cap
        size -= 1
        s.in_queue[a] = 0
        e = s.nb_head[a]
        while e >= 0:
            b = s.e_to[e]
            gv = s.g[a] + s.e_cost[e]
            if gv < s.g[b]:
                s.g[b] = gv
                s.parent[b] = a
                if s.in_queue[b] == 0:
                    ring[(head + size) % cap] = b
                    size += 1
                    s.in_queue[b] = 1
                if goal >= 0 and gv + s.h[b] < s.g[goal]:
                    _push_open(s, b)
            e = s.e_next[e]


@njit(cache=True)
def _successor(s: SearchState, hn: int, ln: int, swap: bool) -> bool:
    """Fill ``q_to`` with PIBT's successor of node ``hn`` under low-level node ``ln``.

    With ``ctr[N_PIBT] > 1`` PIBT runs that often (random tie-breaks differ) and the
    successor with the lowest ``edge cost + h`` wins (LaCAM3's Monte-Carlo generation).
    """
    q_to = s.q_to
    q_best = s.q_best
    runs = s.ctr[N_PIBT]
    best_f = -1
    dist1 = s.table.dist1
    for _ in range(runs):
        q_to[:] = NO_CELL
        k = ln
        while s.ln_depth[k] > 0:
            q_to[s.order[hn, s.ln_depth[k] - 1]] = s.ln_where[k]
            k = s.ln_parent[k]
        if not pibt_next(s.cfg[hn], q_to, s.order[hn], s.indptr, s.adj_to, s.goals, s.table, s.work, swap):
            continue
        if runs == 1:
            return True
        f = edge_cost(s.goals, s.cfg[hn], q_to)
        for i in range(q_to.shape[0]):
            f += settled(dist1, i, q_to[i])
        if best_f < 0 or f < best_f:
            best_f = f
            q_best[:] = q_to
    if best_f < 0:
        return False
    q_to[:] = q_best
    return True


@njit(cache=True)
def search(s: SearchState, max_iterations: int, p_restart: float, p_random: float) -> int:
    """Run up to ``max_iterations`` iterations of the LaCAM* loop.

    Returns RUNNING (budget used), FOUND_FIRST (the first solution was just found; its
    node is ``ctr[GOAL]``), EXHAUSTED (OPEN is empty: the best solution is optimal, or
    there is none) or FULL (an arena is full; the search cannot go on).
    """
    c = s.ctr
    rng = s.work.rng
    q_to = s.q_to
    swap = c[SWAP] != 0
    for _ in range(max_iterations):
        if c[FULL_FLAG] != 0:
            return FULL
        size = c[OPEN_SIZE]
        if size == 0:
            return EXHAUSTED
        c[ITERATIONS] += 1
        goal = c[GOAL]
        on_top = True
        hn = s.open_[size - 1]
        if goal >= 0 and rand_float(rng) < p_random:
            hn = s.open_[rand_below(rng, size)]
            on_top = False
        if goal >= 0 and s.g[hn] + s.h[hn] >= s.g[goal]:
            if on_top:
                c[OPEN_SIZE] = size - 1
            continue
        if goal < 0 and s.h[hn] == 0:
            c[GOAL] = hn
            return FOUND_FIRST
        ln = _next_lnode(s, hn)
        if ln < 0:
            if on_top:
                c[OPEN_SIZE] = size - 1
            continue
        if not _successor(s, hn, ln, swap):
            continue
        hv = _hash(q_to)
        known = _lookup(s, q_to, hv)
        if known >= 0:
            _rewrite(s, hn, known)
            if goal >= 0 and rand_float(rng) < p_restart:
                _push_open(s, 0)  # LaCAM3: sometimes restart from the root
            else:
                _push_open(s, known)
        else:
            k = _new_node(s, q_to, hv, hn)
            if k >= 0:
                _push_open(s, k)
    return RUNNING


@njit(cache=True)
def backtrack(s: SearchState, node: int) -> np.ndarray:
    """Configurations from the root to ``node``, (T + 1, N) int32."""
    length = 0
    k = node
    while k >= 0:
        length += 1
        k = s.parent[k]
    out = np.empty((length, s.cfg.shape[1]), dtype=np.int32)
    k = node
    for t in range(length - 1, -1, -1):
        out[t, :] = s.cfg[k]
        k = s.parent[k]
    return out


@njit(cache=True)
def inject_plan(s: SearchState, plan: np.ndarray) -> None:
    """Merge a solution found elsewhere (e.g. the refiner) into the search graph, as
    LaCAM3 does: its configurations become nodes or edges, and rewiring lowers ``g``."""
    h_from = 0
    for t in range(1, plan.shape[0]):
        q = plan[t]
        hv = _hash(q)
        k = _lookup(s, q, hv)
        if k == h_from:
            continue
        if k >= 0:
            _rewrite(s, h_from, k)
        else:
            settle_rows(q, s.indptr, s.adj_to, s.table, False)
            k = _new_node(s, q, hv, h_from)
            if k < 0:
                return
            _push_open(s, k)
        h_from = k
