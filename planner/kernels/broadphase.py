"""Uniform-grid broad phase: candidate pairs of overlapping boxes in O(N) per query.

Each vehicle is bounded by an axis-aligned box (for a time window: the box of its
reference point's path, grown by the half diagonal of its footprint). Box centres are
hashed into square grid cells of side at least twice the largest half extent, so two
boxes that overlap have centres in the same or in adjacent cells. Cells are hashed into a
table of a power-of-two size >= 2N and bucketed by a counting sort, so building and
querying cost O(N) whatever the map extent.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# PERF: half stencil: each pair of adjacent cells is visited from one side only (own cell
# plus these four neighbours), so the neighbourhood costs 5 bucket look-ups, not 9.
_STENCIL_DX = np.array([1, -1, 0, 1], dtype=np.int64)
_STENCIL_DY = np.array([0, 1, 1, 1], dtype=np.int64)


@njit(cache=True)
def _cell_key(cx, cy, mask):
    # PERF: multiplicative hashing of the integer cell coordinates into the table; a
    # collision of two cells in one bucket only costs an extra coordinate comparison.
    return ((cx * 73856093) ^ (cy * 19349663)) & mask


@njit(cache=True)
def table_size(n):
    """Hash-table size for ``n`` discs: a power of two >= 2n (at least 16)."""
    size = 16
    while size < 2 * n:
        size *= 2
    return size


@njit(cache=True)
def candidate_pairs(x, y, ex, ey, cell_m, cx, cy, keys, bucket_start, order, pairs):
    """All pairs ``(i, j)``, ``i < j``, whose closed boxes overlap, into ``pairs``.

    Parameters
    ----------
    x, y, ex, ey : (N,) float64
        Box centres and half extents along x and y.
    cell_m : float
        Grid cell side, at least twice the largest half extent.
    cx, cy, keys, order : (N,) int64 scratch; bucket_start : (T + 1,) int64 scratch with
        ``T`` = :func:`table_size` (N).
    pairs : (P, 2) int64
        Output buffer; only its first P pairs are written.

    Returns
    -------
    count : int
        Number of pairs found. When it exceeds P, the caller grows ``pairs`` to at least
        ``count`` rows and calls again.

    # PERF: the buffer is not grown in here: reassigning an array deep inside these nested
    # loops more than doubles Numba's compile time, and a full buffer is rare.
    """
    n = x.shape[0]
    mask = bucket_start.shape[0] - 2
    bucket_start[:] = 0
    inv = 1.0 / cell_m
    for i in range(n):
        cx[i] = np.int64(math.floor(x[i] * inv))
        cy[i] = np.int64(math.floor(y[i] * inv))
        keys[i] = _cell_key(cx[i], cy[i], mask)
        bucket_start[keys[i] + 1] += 1
    for b in range(mask + 1):
        bucket_start[b + 1] += bucket_start[b]
    # counting sort: order[bucket_start[k]:bucket_start[k + 1]] are the discs of bucket k
    fill = bucket_start[:-1].copy()
    for i in range(n):
        order[fill[keys[i]]] = i
        fill[keys[i]] += 1
    count = 0
    for i in range(n):
        for stencil in range(5):
            if stencil == 4:
                ncx = cx[i]
                ncy = cy[i]
            else:
                ncx = cx[i] + _STENCIL_DX[stencil]
                ncy = cy[i] + _STENCIL_DY[stencil]
            key = _cell_key(ncx, ncy, mask)
            for slot in range(bucket_start[key], bucket_start[key + 1]):
                j = order[slot]
                if cx[j] != ncx or cy[j] != ncy:
                    continue
                if stencil == 4 and j <= i:
                    continue
                # PERF: box test before any exact test: most grid neighbours are rejected here
                if abs(x[j] - x[i]) > ex[i] + ex[j] or abs(y[j] - y[i]) > ey[i] + ey[j]:
                    continue
                if count < pairs.shape[0]:
                    pairs[count, 0] = min(i, j)
                    pairs[count, 1] = max(i, j)
                count += 1
    return count
