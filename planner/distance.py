"""Lazy breadth-first distance tables, one row per agent goal, in Numba.

PIBT and LaCAM ask "how many moves from cell ``v`` to agent ``i``'s goal" millions of times,
mostly for cells near the agents. Each row is a BFS from the goal over the *reversed* cell
graph (so one-way lanes give the distance *to* the goal), advanced only as far as the
cells asked for so far: the queue of the interrupted BFS is kept and resumed on the next
miss (the "lazy" distance table of LaCAM).

The cell graph is CSR: ``indptr`` (V + 1,) and ``adj_to`` (M,), moves ``v -> adj_to[k]``
for ``k in range(indptr[v], indptr[v + 1])``. Costs are unit moves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

UNREACHABLE = np.int32(1 << 29)
"""Distance reported for a cell from which the goal cannot be reached."""


class DistanceTable(NamedTuple):
    """State of the lazy BFS rows (a NamedTuple of arrays, so Numba code can take it).

    Attributes
    ----------
    dist1 : (A, V) int32
        Distance + 1 for the cells settled so far, 0 for cells not reached yet.
    queue : (A, V) int32
        Per row, the BFS queue; ``queue[i, head[i]:tail[i]]`` is still to expand.
    head, tail : (A,) int64
        Queue bounds per row.
    rev_indptr, rev_to : CSR of the reversed cell graph.
    goals : (A,) int32
        The goal cell of each row.
    """

    dist1: np.ndarray
    queue: np.ndarray
    head: np.ndarray
    tail: np.ndarray
    rev_indptr: np.ndarray
    rev_to: np.ndarray
    goals: np.ndarray


def reverse_csr(indptr: np.ndarray, adj_to: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the graph with every move reversed (same cell numbering)."""
    n = indptr.shape[0] - 1
    src = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    order = np.argsort(adj_to, kind="stable")
    rev_to = src[order].astype(np.int32)
    counts = np.bincount(adj_to, minlength=n)
    rev_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=rev_indptr[1:])
    return rev_indptr, rev_to


def is_symmetric(indptr: np.ndarray, adj_to: np.ndarray) -> bool:
    """True when every move ``u -> v`` has its reverse ``v -> u`` (an undirected graph)."""
    n = indptr.shape[0] - 1
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    forward = np.unique(src * n + adj_to.astype(np.int64))
    backward = np.unique(adj_to.astype(np.int64) * n + src)
    return forward.shape == backward.shape and bool(np.all(forward == backward))


def make_distance_table(indptr: np.ndarray, adj_to: np.ndarray, goals: np.ndarray) -> DistanceTable:
    """Set up the lazy rows for ``goals`` (one row per entry, duplicates allowed).

    Parameters
    ----------
    indptr, adj_to : ndarray
        CSR cell graph (moves), as in :attr:`maps.trackmap.TrackMap.cell_adj_indptr`.
    goals : (A,) int array
        Goal cell of each row.
    """
    n_cells = indptr.shape[0] - 1
    goals = np.ascontiguousarray(goals, dtype=np.int32)
    n_rows = goals.shape[0]
    rev_indptr, rev_to = reverse_csr(np.asarray(indptr, dtype=np.int64), np.asarray(adj_to, dtype=np.int32))
    # PERF: calloc'd / uninitialised rows cost nothing until a BFS touches them, so a
    # 1,000-agent table on a big map is paid for only where agents actually look.
    dist1 = np.zeros((n_rows, n_cells), dtype=np.int32)
    queue = np.empty((n_rows, n_cells), dtype=np.int32)
    rows = np.arange(n_rows)
    dist1[rows, goals] = 1
    queue[rows, 0] = goals
    head = np.zeros(n_rows, dtype=np.int64)
    tail = np.ones(n_rows, dtype=np.int64)
    return DistanceTable(dist1, queue, head, tail, rev_indptr, rev_to, goals)


@njit(cache=True)
def advance_row(table: DistanceTable, i: int, target: int) -> int:
    """Resume row ``i``'s BFS until ``target`` is settled (``-1``: to the end).

    Returns the distance of ``target`` or UNREACHABLE.
    """
    dist1 = table.dist1
    queue = table.queue
    h = table.head[i]
    t = table.tail[i]
    found = dist1[i, target] if target >= 0 else 0
    while h < t and found == 0:
        u = queue[i, h]
        h += 1
        du = dist1[i, u]
        # Expand ``u`` completely before stopping, or its other neighbours would be lost.
        for k in range(table.rev_indptr[u], table.rev_indptr[u + 1]):
            w = table.rev_to[k]
            if dist1[i, w] == 0:
                dist1[i, w] = du + 1
                queue[i, t] = w
                t += 1
        if target >= 0:
            found = dist1[i, target]
    table.head[i] = h
    table.tail[i] = t
    if found == 0:
        return UNREACHABLE
    return found - 1


@njit(cache=True)
def dist(table: DistanceTable, i: int, v: int) -> int:
    """Moves from cell ``v`` to the goal of row ``i`` (UNREACHABLE if none)."""
    d1 = table.dist1[i, v]
    if d1 > 0:
        return d1 - 1
    return advance_row(table, i, v)


@njit(cache=True, inline="always")
def settled(dist1: np.ndarray, i: int, v: int) -> int:
    """Distance of a cell already settled (or proven unreachable) in row ``i``.

    PERF: for hot loops that settled their cells beforehand: a plain read. A lazy lookup
    there (a call on a cold path) defeats Numba's reference-count pruning; PIBT ran 4x
    slower with it.
    """
    d1 = dist1[i, v]
    return d1 - 1 if d1 > 0 else UNREACHABLE


@njit(cache=True)
def dist_many(table: DistanceTable, cells: np.ndarray) -> np.ndarray:
    """``out[i] = dist(table, i, cells[i])`` for every row (e.g. starts -> lower bounds)."""
    out = np.empty(cells.shape[0], dtype=np.int64)
    for i in range(cells.shape[0]):
        out[i] = dist(table, i, cells[i])
    return out


def distance(table: DistanceTable, i: int, v: int) -> int:
    """Python-side lookup (same as the Numba :func:`dist`)."""
    return int(dist(table, int(i), int(v)))
