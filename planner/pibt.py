"""PIBT: Priority Inheritance with BackTracking (Okumura et al., AIJ 2022), in Numba.

One call of :func:`pibt_next` turns a configuration (one cell per agent) into the next
one, agent by agent in priority order. An agent takes the free neighbour (or its own cell)
closest to its goal; if an agent with lower priority sits there, that agent inherits the
priority and must move first, recursively; if it cannot, the first agent backtracks to its
next candidate. Ties are broken by random noise so that repeated calls differ.

The *swap* extension of LaCAM3 (Okumura 2024, ``lacam3/src/pibt.cpp``) detects a
head-on meeting in a corridor that plain PIBT cannot resolve and lets the two agents trade
places through the nearest branching cell ("push & swap" emulation). It needs reversible
moves, so callers enable it on undirected cell graphs only.

The conflict model is that of the grid and of design section 4 with "each cell conflicts
only with itself": no two agents in one cell, no two agents swapping along an edge.
Everything here works on plain arrays: the CSR cell graph, a lazy
:class:`~planner.distance.DistanceTable` and a preallocated :class:`PibtWork`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from planner.distance import DistanceTable, advance_row, make_distance_table, settled

NO_AGENT = -1
NO_CELL = -1


class PibtWork(NamedTuple):
    """Scratch arrays for :func:`pibt_next`, allocated once per problem.

    ``occ_now`` / ``occ_next`` (V,) hold the agent in each cell now / next and are all
    ``NO_AGENT`` between calls; ``cand`` (N, max_degree + 1) holds each agent's sorted
    candidates while it is on the explicit recursion ``stack``.
    """

    occ_now: np.ndarray
    occ_next: np.ndarray
    cand: np.ndarray
    ncand: np.ndarray
    kpos: np.ndarray
    swap_with: np.ndarray
    stack: np.ndarray
    key: np.ndarray
    rng: np.ndarray
    pref_keys: np.ndarray
    pref_next: np.ndarray


def make_pibt_work(
    n_cells: int, n_agents: int, max_degree: int, seed: int, preferences: tuple[np.ndarray, np.ndarray] | None = None
) -> PibtWork:
    """Allocate the scratch arrays; ``seed`` starts the xorshift generator.

    ``preferences`` is a :mod:`planner.scatter` table ``(keys, next_cell)``: the cell each
    agent tries first from a given cell.
    """
    k = max_degree + 1
    pref_keys, pref_next = preferences if preferences is not None else empty_preferences()
    return PibtWork(
        occ_now=np.full(n_cells, NO_AGENT, dtype=np.int32),
        occ_next=np.full(n_cells, NO_AGENT, dtype=np.int32),
        cand=np.empty((n_agents, k), dtype=np.int32),
        ncand=np.zeros(n_agents, dtype=np.int32),
        kpos=np.zeros(n_agents, dtype=np.int32),
        swap_with=np.full(n_agents, NO_AGENT, dtype=np.int32),
        stack=np.empty(max(n_agents, 1), dtype=np.int32),
        key=np.empty(k, dtype=np.float64),
        rng=seed_state(seed),
        pref_keys=pref_keys,
        pref_next=pref_next,
    )


def seed_state(seed: int) -> np.ndarray:
    """A one-word xorshift64* state from any integer seed (never zero)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    return np.array([x or 1], dtype=np.uint64)


# PERF: an xorshift64* generator in a one-element array: no Python objects, no global
# Numba RNG state, reproducible per seed, and a few cycles per draw.
@njit(cache=True, inline="always")
def rand_u64(state: np.ndarray) -> np.uint64:
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, inline="always")
def rand_float(state: np.ndarray) -> float:
    """Uniform in [0, 1)."""
    return float(rand_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def rand_below(state: np.ndarray, n: int) -> int:
    """Uniform integer in [0, n)."""
    return np.int64(rand_u64(state) % np.uint64(n))


def empty_preferences() -> tuple[np.ndarray, np.ndarray]:
    """A preference table with no entries (PIBT then ignores it)."""
    return np.full(1, -1, dtype=np.int64), np.full(1, -1, dtype=np.int32)


@njit(cache=True)
def pref_slot(key: np.int64, mask: int) -> np.int64:
    """Home slot of ``key = agent * V + cell`` in a preference table of ``mask + 1`` slots."""
    return ((key * np.int64(0x9E3779B1)) >> np.int64(7)) & mask


# PERF: a plain (LLVM-inlined) call: Numba-IR inlining of this array-taking lookup into
# the PIBT loop broke reference-count pruning and tripled the cost of a PIBT step.
@njit(cache=True)
def preferred_next(keys: np.ndarray, next_cell: np.ndarray, n_cells: int, agent: int, cell: int) -> int:
    """The cell ``agent`` should try first from ``cell`` (a scatter successor), or -1.

    ``keys[p] = agent * V + cell`` (-1 empty) and ``next_cell[p]``, open addressing with
    linear probing (see :mod:`planner.scatter`).
    """
    mask = keys.shape[0] - 1
    if mask == 0:
        return -1
    key = np.int64(agent) * n_cells + cell
    p = pref_slot(key, mask)
    while keys[p] != -1:
        if keys[p] == key:
            return next_cell[p]
        p = (p + 1) & mask
    return -1


@njit(cache=True, inline="always")
def _degree(indptr: np.ndarray, v: int) -> int:
    return indptr[v + 1] - indptr[v]


@njit(cache=True, inline="always")
def _corridor_step(indptr, adj_to, goals, occ_now, v_pusher, v_puller):
    """Count the ways on from ``v_puller`` (not back to ``v_pusher``, not into a dead end
    held by an agent resting at its goal); return (count, one such cell)."""
    n = _degree(indptr, v_puller)
    nxt = NO_CELL
    for e in range(indptr[v_puller], indptr[v_puller + 1]):
        u = adj_to[e]
        a = occ_now[u]
        if u == v_pusher or (_degree(indptr, u) == 1 and a != NO_AGENT and goals[a] == u):
            n -= 1
        else:
            nxt = u
    return n, nxt


@njit(cache=True, inline="always")
def _swap_required(indptr, adj_to, goals, dist1, occ_now, pusher, puller, v_pusher0, v_puller0) -> bool:
    v_pusher = v_pusher0
    v_puller = v_puller0
    while settled(dist1, pusher, v_puller) < settled(dist1, pusher, v_pusher):
        n, nxt = _corridor_step(indptr, adj_to, goals, occ_now, v_pusher, v_puller)
        if n >= 2:
            return False  # a branch: the two can pass each other without a swap
        if n <= 0:
            break
        v_pusher = v_puller
        v_puller = nxt
    d_pusher = settled(dist1, pusher, v_pusher)
    return settled(dist1, puller, v_pusher) < settled(dist1, puller, v_puller) and (
        d_pusher == 0 or settled(dist1, pusher, v_puller) < d_pusher
    )


@njit(cache=True, inline="always")
def _swap_possible(indptr, adj_to, goals, occ_now, v_pusher0, v_puller0) -> bool:
    v_pusher = v_pusher0
    v_puller = v_puller0
    while v_puller != v_pusher0:  # walking round a loop means no branch
        n, nxt = _corridor_step(indptr, adj_to, goals, occ_now, v_pusher, v_puller)
        if n >= 2:
            return True
        if n <= 0:
            return False
        v_pusher = v_puller
        v_puller = nxt
    return False


@njit(cache=True)
def settle_rows(q_from, indptr, adj_to, table, full) -> None:
    """Advance each agent's lazy BFS row until its cell and neighbours are settled
    (``full``: until the row is complete, as the swap's corridor walks need).

    PERF: PIBT then reads ``dist1`` directly. A lazy lookup inside the PIBT loop (a call
    on a cold path) defeats Numba's reference-count pruning and made PIBT 4x slower.
    """
    dist1 = table.dist1
    for i in range(q_from.shape[0]):
        if full:
            if table.head[i] < table.tail[i]:
                advance_row(table, i, -1)
            continue
        v = q_from[i]
        if dist1[i, v] == 0:
            advance_row(table, i, v)
        for e in range(indptr[v], indptr[v + 1]):
            u = adj_to[e]
            if dist1[i, u] == 0:
                advance_row(table, i, u)


@njit(cache=True, inline="always")
def _swap_partner(i, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, cand) -> int:
    """LaCAM3's ``is_swap_required_and_possible``: the agent ``i`` should swap with."""
    best = cand[i, 0]
    j = occ_now[best]
    if (
        j != NO_AGENT
        and j != i
        and q_to[j] == NO_CELL
        and _swap_required(indptr, adj_to, goals, dist1, occ_now, i, j, q_from[i], q_from[j])
        and _swap_possible(indptr, adj_to, goals, occ_now, q_from[j], q_from[i])
    ):
        return j
    # "clear" operation of push & swap, emulated one step ahead
    if best != q_from[i]:
        for e in range(indptr[q_from[i]], indptr[q_from[i] + 1]):
            k = occ_now[adj_to[e]]
            if (
                k != NO_AGENT
                and best != q_from[k]
                and _swap_required(indptr, adj_to, goals, dist1, occ_now, k, i, q_from[i], best)
                and _swap_possible(indptr, adj_to, goals, occ_now, best, q_from[i])
            ):
                return k
    return NO_AGENT


@njit(cache=True, inline="always")
def _prepare(i, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, cand, ncand, kpos, swap_with, key, rng, swap, pk, pn):
    """Sort agent ``i``'s candidates (neighbours and its own cell) by distance + noise,
    the scatter successor (if any) first."""
    v = q_from[i]
    n = 0
    lo = indptr[v]
    hi = indptr[v + 1]
    for e in range(lo, hi + 1):
        u = adj_to[e] if e < hi else v
        kk = float(settled(dist1, i, u)) + rand_float(rng)  # settled by settle_rows
        # insertion sort: at most max_degree + 1 entries
        p = n
        while p > 0 and key[p - 1] > kk:
            key[p] = key[p - 1]
            cand[i, p] = cand[i, p - 1]
            p -= 1
        key[p] = kk
        cand[i, p] = u
        n += 1
    w = preferred_next(pk, pn, dist1.shape[1], i, v)
    if w >= 0:
        p = 0
        while p < n and cand[i, p] != w:
            p += 1
        while 0 < p < n:
            cand[i, p] = cand[i, p - 1]
            p -= 1
            cand[i, p] = w
    ncand[i] = n
    kpos[i] = 0
    swap_with[i] = NO_AGENT
    if swap:
        s = _swap_partner(i, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, cand)
        if s != NO_AGENT:
            swap_with[i] = s
            # reverse the preference: step aside so that ``s`` can be pulled through
            for a in range(n // 2):
                tmp = cand[i, a]
                cand[i, a] = cand[i, n - 1 - a]
                cand[i, n - 1 - a] = tmp


@njit(cache=True, inline="always")
def _pull_swap_partner(i, q_from, q_to, occ_next, swap_with) -> None:
    s = swap_with[i]
    if s != NO_AGENT and q_to[s] == NO_CELL and occ_next[q_from[i]] == NO_AGENT:
        occ_next[q_from[i]] = s
        q_to[s] = q_from[i]


@njit(cache=True)
def _plan_agent(
    i0, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, occ_next, cand, ncand, kpos, swap_with, stack, key, rng, swap, pk, pn
) -> bool:
    """PIBT for agent ``i0`` (``funcPIBT``), with an explicit stack instead of recursion.

    Each agent is on the stack at most once: it is pushed only while it has no next cell,
    and it takes one before it pushes anybody else.
    """
    sp = 0
    stack[0] = i0
    _prepare(i0, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, cand, ncand, kpos, swap_with, key, rng, swap, pk, pn)
    child_result = False
    returning = False  # True when the frame on top just got its child's result
    while sp >= 0:
        i = stack[sp]
        if returning:
            returning = False
            if child_result:
                if swap and kpos[i] == 0:
                    _pull_swap_partner(i, q_from, q_to, occ_next, swap_with)
                sp -= 1
                returning = True
                continue
            kpos[i] += 1  # the inheriting agent failed: backtrack to the next candidate
        called = False
        while kpos[i] < ncand[i]:
            u = cand[i, kpos[i]]
            if occ_next[u] != NO_AGENT:  # vertex conflict
                kpos[i] += 1
                continue
            j = occ_now[u]
            if j != NO_AGENT and q_to[j] == q_from[i]:  # swap conflict
                kpos[i] += 1
                continue
            occ_next[u] = i
            q_to[i] = u
            if j != NO_AGENT and u != q_from[i] and q_to[j] == NO_CELL:
                sp += 1  # priority inheritance: j must make room first
                stack[sp] = j
                _prepare(
                    j, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, cand, ncand, kpos, swap_with, key, rng, swap, pk, pn
                )
                called = True
                break
            if swap and kpos[i] == 0:
                _pull_swap_partner(i, q_from, q_to, occ_next, swap_with)
            called = True
            child_result = True
            returning = True
            sp -= 1
            break
        if not called:
            # no candidate left: stay (the caller that pushed us will look elsewhere)
            occ_next[q_from[i]] = i
            q_to[i] = q_from[i]
            child_result = False
            returning = True
            sp -= 1
    return child_result


@njit(cache=True)
def pibt_next(
    q_from: np.ndarray,
    q_to: np.ndarray,
    order: np.ndarray,
    indptr: np.ndarray,
    adj_to: np.ndarray,
    goals: np.ndarray,
    table: DistanceTable,
    work: PibtWork,
    swap: bool,
) -> bool:
    """Fill ``q_to`` with the next configuration after ``q_from``.

    Parameters
    ----------
    q_from : (N,) int32
        Current cell of each agent (pairwise distinct).
    q_to : (N,) int32
        ``NO_CELL`` for free agents; other entries are constraints (LaCAM's low level)
        and are kept. Filled in place.
    order : (N,) int
        Agents by decreasing priority.
    swap : bool
        Enable LaCAM3's swap emulation (undirected graphs only).

    Returns
    -------
    bool
        False when the constraints collide or PIBT cannot honour them; ``q_to`` is then
        partly filled and must be discarded.
    """
    # PERF: fields are read out of the NamedTuples once; reading them inside the hot loops
    # next to a (cold) call costs reference-count traffic on every access (~4x slower).
    n = q_from.shape[0]
    occ_now = work.occ_now
    occ_next = work.occ_next
    cand = work.cand
    ncand = work.ncand
    kpos = work.kpos
    swap_with = work.swap_with
    stack = work.stack
    key = work.key
    rng = work.rng
    pk = work.pref_keys
    pn = work.pref_next
    dist1 = table.dist1
    settle_rows(q_from, indptr, adj_to, table, swap)
    ok = True
    for i in range(n):
        occ_now[q_from[i]] = i
    for i in range(n):
        v = q_to[i]
        if v != NO_CELL:
            if occ_next[v] != NO_AGENT:
                ok = False
                break
            j = occ_now[v]
            if j != NO_AGENT and j != i and q_to[j] == q_from[i]:
                ok = False
                break
            occ_next[v] = i
    if ok:
        for k in range(n):
            i = order[k]
            if q_to[i] == NO_CELL and not _plan_agent(
                i, q_from, q_to, indptr, adj_to, goals, dist1, occ_now, occ_next, cand, ncand, kpos, swap_with,
                stack, key, rng, swap, pk, pn,
            ):
                ok = False
                break
    for i in range(n):
        occ_now[q_from[i]] = NO_AGENT
        if q_to[i] != NO_CELL:
            occ_next[q_to[i]] = NO_AGENT
    return ok


@njit(cache=True)
def _pibt_run(starts, goals, indptr, adj_to, table, work, swap, max_steps, out) -> int:
    """Run PIBT from ``starts`` with PIBT's own dynamic priorities; configurations go to
    ``out[t]``. Returns the number of steps to reach ``goals`` or -1."""
    n = starts.shape[0]
    prio = np.empty(n, dtype=np.float64)
    for i in range(n):
        prio[i] = rand_float(work.rng)  # tie-break, kept as the fractional part
    out[0, :] = starts
    for t in range(max_steps):
        q = out[t]
        at_goal = 0
        for i in range(n):
            if q[i] == goals[i]:
                prio[i] -= np.floor(prio[i])
                at_goal += 1
            else:
                prio[i] += 1.0
        if at_goal == n:
            return t
        order = np.argsort(-prio)
        nxt = out[t + 1]
        nxt[:] = NO_CELL
        if not pibt_next(q, nxt, order, indptr, adj_to, goals, table, work, swap):
            return -1
    for i in range(n):
        if out[max_steps, i] != goals[i]:
            return -1
    return max_steps


def pibt_solve(
    indptr: np.ndarray,
    adj_to: np.ndarray,
    starts: np.ndarray,
    goals: np.ndarray,
    max_steps: int,
    rng: np.random.Generator,
    swap: bool = True,
) -> np.ndarray | None:
    """Plain PIBT (no search on top): configurations from ``starts`` to ``goals``.

    Parameters
    ----------
    indptr, adj_to : ndarray
        CSR cell graph.
    starts, goals : (N,) int
        Start and goal cell of each agent.
    max_steps : int
        Give up after this many time steps.
    rng : numpy.random.Generator
        Source of the tie-break seed.
    swap : bool
        LaCAM3's swap emulation; use only on undirected graphs.

    Returns
    -------
    (T + 1, N) int32 array or None
        Row ``t`` is the configuration at time ``t``; None when the goals were not all
        reached within ``max_steps`` (PIBT alone is incomplete).
    """
    # PERF: private writable copies: a read-only TrackMap array is another Numba type
    # and would load a second compiled specialisation of every kernel (~0.15 s)
    indptr = np.array(indptr, dtype=np.int64)
    adj_to = np.array(adj_to, dtype=np.int32)
    starts = np.array(starts, dtype=np.int32)
    goals = np.array(goals, dtype=np.int32)
    n_cells = indptr.shape[0] - 1
    max_degree = int(np.diff(indptr).max(initial=0))
    table = make_distance_table(indptr, adj_to, goals)
    work = make_pibt_work(n_cells, starts.shape[0], max_degree, int(rng.integers(1 << 62)))
    out = np.empty((max_steps + 1, starts.shape[0]), dtype=np.int32)
    steps = _pibt_run(starts, goals, indptr, adj_to, table, work, swap, max_steps, out)
    if steps < 0:
        return None
    return out[: steps + 1].copy()
