"""The reservation table: when is each cell blocked, and by whom.

When a vehicle occupies cell ``x`` over ``[s, e]`` (see :mod:`planner.types` for the
occupancy model), every cell ``y`` that conflicts with ``x`` is *blocked* for everyone
else over ``(s, e)``. The table stores these blocked intervals per cell, tagged with the
owner, so that a search asks one row ("is ``y`` free?") instead of a conflict-table
join per step, and so that one owner's intervals can be removed again (priority-based
search replans single vehicles).

Rows live in preallocated ``(cells, capacity)`` arrays sorted by interval start; a row
that would overflow doubles the capacity of the whole table. Intervals of one owner that
overlap or touch within a row are merged, so a vehicle driving past a cell leaves one
interval there, not one per cell of its path. Owners are small integers; searches pass
an ``active`` mask to see only some owners (the higher-priority vehicles in PBS).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from maps.trackmap import TrackMap

INITIAL_CAPACITY = 32
"""Intervals per row before the first growth."""


@njit(cache=True)
def _needed_capacity(conf_indptr, conf_idx, count, cells, scratch):
    """Largest row size after adding intervals for ``cells`` (before merging)."""
    best = 0
    for k in range(cells.shape[0]):
        x = cells[k]
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            scratch[conf_idx[j]] += 1
    for k in range(cells.shape[0]):
        x = cells[k]
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            y = conf_idx[j]
            if scratch[y] > 0:
                need = count[y] + scratch[y]
                if need > best:
                    best = need
                scratch[y] = 0
    return best


@njit(cache=True)
def _insert(r_start, r_end, r_owner, count, y, s, e, owner):
    """Insert ``(s, e, owner)`` into row ``y``, merging with the owner's touching intervals."""
    # PERF: merge in place: absorb every interval of this owner that overlaps or touches,
    # then shift the tail once; rows stay short (one interval per passing vehicle).
    n = count[y]
    k = 0
    while k < n:
        if r_owner[y, k] == owner and r_start[y, k] <= e and r_end[y, k] >= s:
            if r_start[y, k] < s:
                s = r_start[y, k]
            if r_end[y, k] > e:
                e = r_end[y, k]
            for m in range(k, n - 1):
                r_start[y, m] = r_start[y, m + 1]
                r_end[y, m] = r_end[y, m + 1]
                r_owner[y, m] = r_owner[y, m + 1]
            n -= 1
        else:
            k += 1
    pos = n
    while pos > 0 and r_start[y, pos - 1] > s:
        r_start[y, pos] = r_start[y, pos - 1]
        r_end[y, pos] = r_end[y, pos - 1]
        r_owner[y, pos] = r_owner[y, pos - 1]
        pos -= 1
    r_start[y, pos] = s
    r_end[y, pos] = e
    r_owner[y, pos] = owner
    count[y] = n + 1


@njit(cache=True)
def _add_occupancy(r_start, r_end, r_owner, count, conf_indptr, conf_idx, cells, occ_start, occ_end, owner):
    for k in range(cells.shape[0]):
        x = cells[k]
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            _insert(r_start, r_end, r_owner, count, conf_idx[j], occ_start[k], occ_end[k], owner)


@njit(cache=True)
def _remove_owner(r_start, r_end, r_owner, count, conf_indptr, conf_idx, cells, owner):
    for k in range(cells.shape[0]):
        x = cells[k]
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            y = conf_idx[j]
            n = count[y]
            w = 0
            for r in range(n):
                if r_owner[y, r] != owner:
                    r_start[y, w] = r_start[y, r]
                    r_end[y, w] = r_end[y, r]
                    r_owner[y, w] = r_owner[y, r]
                    w += 1
            count[y] = w


@njit(cache=True)
def row_gaps(r_start, r_end, r_owner, count, active, y, out_lo, out_hi):
    """Safe intervals of cell ``y``: the gaps between active owners' blocked intervals.

    Writes ``[lo, hi)`` pairs sorted by time into ``out_lo`` / ``out_hi`` (room for
    ``count[y] + 1``) and returns how many. The first gap starts at ``-inf``; the last ends
    at ``inf`` unless some interval is infinite.
    """
    m = 0
    cur = -math.inf
    for r in range(count[y]):
        if not active[r_owner[y, r]]:
            continue
        s = r_start[y, r]
        if s > cur:
            out_lo[m] = cur
            out_hi[m] = s
            m += 1
        e = r_end[y, r]
        if e > cur:
            cur = e
    if cur < math.inf:
        out_lo[m] = cur
        out_hi[m] = math.inf
        m += 1
    return m


@njit(cache=True)
def _first_overlap(r_start, r_end, r_owner, count, active, cells, occ_start, occ_end, skip_owner, tol):
    """First (entry, owner) whose own occupancy overlaps an active foreign interval; (-1, -1) if none."""
    for k in range(cells.shape[0]):
        y = cells[k]
        for r in range(count[y]):
            o = r_owner[y, r]
            if o == skip_owner or not active[o]:
                continue
            if r_start[y, r] < occ_end[k] - tol and occ_start[k] < r_end[y, r] - tol:
                return k, o
    return -1, -1


@njit(cache=True)
def _overlapping_owners(r_start, r_end, r_owner, count, active, cells, occ_start, occ_end, skip_owner, tol, out):
    for k in range(cells.shape[0]):
        y = cells[k]
        for r in range(count[y]):
            o = r_owner[y, r]
            if o == skip_owner or not active[o]:
                continue
            if r_start[y, r] < occ_end[k] - tol and occ_start[k] < r_end[y, r] - tol:
                out[o] = True


# PERF: fixed-width rows in 2-D arrays (not per-cell Python lists) let the Numba SIPP
# kernel read a cell's intervals with no indirection; bench/routing.py times insertion.
class ReservationTable:
    """Blocked intervals per cell of one track map, for ``n_owners`` owners (0 .. n-1).

    Parameters
    ----------
    track_map : TrackMap
        Supplies the conflict table.
    n_owners : int
        Owner ids that may be used; the ``active`` masks have this length.
    capacity : int
        Initial intervals per row (grows automatically).
    """

    def __init__(self, track_map: TrackMap, n_owners: int, capacity: int = INITIAL_CAPACITY) -> None:
        self.n_cells = track_map.n_cells
        self.conf_indptr = np.ascontiguousarray(track_map.conflict_indptr, dtype=np.int64)
        self.conf_idx = np.ascontiguousarray(track_map.conflict_indices, dtype=np.int32)
        self.n_owners = int(n_owners)
        self.start = np.zeros((self.n_cells, capacity), dtype=np.float64)
        self.end = np.zeros((self.n_cells, capacity), dtype=np.float64)
        self.owner = np.zeros((self.n_cells, capacity), dtype=np.int32)
        self.count = np.zeros(self.n_cells, dtype=np.int32)
        self._scratch = np.zeros(self.n_cells, dtype=np.int32)

    @property
    def capacity(self) -> int:
        return int(self.start.shape[1])

    def all_active(self) -> np.ndarray:
        return np.ones(self.n_owners, dtype=np.bool_)

    def clear(self) -> None:
        self.count[:] = 0

    def copy(self) -> "ReservationTable":
        """An independent copy (a snapshot for planning off the owner's thread)."""
        other = object.__new__(ReservationTable)
        other.n_cells, other.n_owners = self.n_cells, self.n_owners
        other.conf_indptr, other.conf_idx = self.conf_indptr, self.conf_idx  # read-only, shared
        other.start, other.end, other.owner, other.count = self.start.copy(), self.end.copy(), self.owner.copy(), self.count.copy()
        other._scratch = np.zeros(self.n_cells, dtype=np.int32)
        return other

    def _grow(self, needed: int) -> None:
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        for name in ("start", "end", "owner"):
            old = getattr(self, name)
            new = np.zeros((self.n_cells, capacity), dtype=old.dtype)
            new[:, : old.shape[1]] = old
            setattr(self, name, new)

    def add(self, owner: int, cells: np.ndarray, occ_start: np.ndarray, occ_end: np.ndarray) -> None:
        """Block every cell conflicting with ``cells[k]`` over ``(occ_start[k], occ_end[k])``."""
        if not 0 <= owner < self.n_owners:
            raise ValueError(f"owner {owner} outside 0..{self.n_owners - 1}")
        cells = np.ascontiguousarray(cells, dtype=np.int32)
        needed = _needed_capacity(self.conf_indptr, self.conf_idx, self.count, cells, self._scratch)
        if needed > self.capacity:
            self._grow(needed)
        _add_occupancy(
            self.start, self.end, self.owner, self.count, self.conf_indptr, self.conf_idx,
            cells, np.ascontiguousarray(occ_start, dtype=np.float64), np.ascontiguousarray(occ_end, dtype=np.float64), owner,
        )

    def remove(self, owner: int, cells: np.ndarray) -> None:
        """Remove ``owner``'s intervals from every row that ``cells`` can have touched."""
        _remove_owner(self.start, self.end, self.owner, self.count, self.conf_indptr, self.conf_idx,
                      np.ascontiguousarray(cells, dtype=np.int32), owner)

    def gaps(self, cell: int, active: np.ndarray | None = None) -> list[tuple[float, float]]:
        """The safe intervals of ``cell`` as ``[(lo, hi), ...]`` (for tests and tools)."""
        mask = self.all_active() if active is None else active
        n = int(self.count[cell]) + 1
        lo = np.empty(n)
        hi = np.empty(n)
        m = row_gaps(self.start, self.end, self.owner, self.count, mask, cell, lo, hi)
        return [(float(lo[k]), float(hi[k])) for k in range(m)]

    def first_overlap(
        self, cells: np.ndarray, occ_start: np.ndarray, occ_end: np.ndarray, skip_owner: int,
        active: np.ndarray | None = None, tol_s: float = 1e-6,
    ) -> tuple[int, int]:
        """First occupancy ``k`` that overlaps another active owner's interval: ``(k, owner)``,
        or ``(-1, -1)``. Overlaps shorter than ``tol_s`` at either end do not count."""
        mask = self.all_active() if active is None else active
        k, o = _first_overlap(self.start, self.end, self.owner, self.count, mask,
                              np.ascontiguousarray(cells, dtype=np.int32), np.ascontiguousarray(occ_start, dtype=np.float64),
                              np.ascontiguousarray(occ_end, dtype=np.float64), skip_owner, tol_s)
        return int(k), int(o)

    def overlapping_owners(
        self, cells: np.ndarray, occ_start: np.ndarray, occ_end: np.ndarray, skip_owner: int,
        active: np.ndarray | None = None, tol_s: float = 1e-6,
    ) -> np.ndarray:
        """Every active owner (sorted ids) with an interval overlapping one of the occupancies."""
        mask = self.all_active() if active is None else active
        out = np.zeros(self.n_owners, dtype=np.bool_)
        _overlapping_owners(self.start, self.end, self.owner, self.count, mask,
                            np.ascontiguousarray(cells, dtype=np.int32), np.ascontiguousarray(occ_start, dtype=np.float64),
                            np.ascontiguousarray(occ_end, dtype=np.float64), skip_owner, tol_s, out)
        return np.flatnonzero(out)

