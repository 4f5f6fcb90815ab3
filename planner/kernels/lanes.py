"""Lane-corridor and speed-limit checks against lane centrelines.

Lane centrelines are cut into segments held in a static uniform grid: each segment is
listed in every grid cell that its bounding box, grown by the largest corridor half width,
touches. A point then only looks at the segments of its own grid cell, and every segment
that could be within a corridor half width of the point is among them.

A point is *in the corridor* of lane ``l`` when its distance to the centreline is at most
``half_width[l] + tolerance_m``. The lane a point is *on* (for its speed limit) is the
nearest lane whose corridor contains it; at a junction, where distances tie within
:data:`TIE_M`, the higher limit wins.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from planner.kernels.episodes import continuing, new_index, new_records, open_record
from planner.kernels.geometry import point_segment_distance
from planner.kernels.sampling import pose_at

TIE_M = 1e-6
"""Distances to two lanes closer than this are a tie (a point on a shared node)."""

CORRIDOR_FLOATS = 5
"""Columns of a corridor record: x, y, heading, distance to the nearest centreline, its half width."""

SPEED_FLOATS = 6
"""Columns of a speed record: x, y, heading at the first row, speed there, the limit, the episode's max speed."""


class LaneIndex(NamedTuple):
    """Lane segments and their grid (a NamedTuple so Numba kernels can take it whole)."""

    seg: np.ndarray  # (S, 4) float64: ax, ay, bx, by
    seg_lane: np.ndarray  # (S,) int64
    half_width_m: np.ndarray  # (L,) float64
    speed_limit_mps: np.ndarray  # (L,) float64
    tolerance_m: float
    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int
    grid_indptr: np.ndarray  # (nx * ny + 1,) int64
    grid_seg: np.ndarray  # (K,) int64


def build_lane_index(
    lane_geometry: tuple[np.ndarray, ...] | list[np.ndarray],
    lane_width_m: np.ndarray,
    lane_speed_limit_mps: np.ndarray,
    tolerance_m: float,
    max_cells: int = 250_000,
) -> LaneIndex:
    """Cut lanes into segments and grid them (see the module docstring)."""
    pieces = [np.column_stack([g[:-1], g[1:]]) for g in lane_geometry if len(g) >= 2]
    seg = np.ascontiguousarray(np.concatenate(pieces) if pieces else np.empty((0, 4)), dtype=np.float64)
    seg_lane = np.concatenate([np.full(max(len(g) - 1, 0), lane, dtype=np.int64) for lane, g in enumerate(lane_geometry)] or [np.empty(0, np.int64)])
    # fresh writable arrays: read-only map arrays would make Numba compile another variant
    half_width = np.array(lane_width_m, dtype=np.float64) / 2.0
    limits = np.array(lane_speed_limit_mps, dtype=np.float64)
    reach = (float(half_width.max()) if half_width.size else 0.0) + tolerance_m
    if seg.shape[0]:
        xs = np.concatenate([seg[:, 0], seg[:, 2]])
        ys = np.concatenate([seg[:, 1], seg[:, 3]])
        x0 = float(xs.min() - reach)
        y0 = float(ys.min() - reach)
        width = float(xs.max() + reach) - x0
        height = float(ys.max() + reach) - y0
        # PERF: cells about the size of a corridor keep the candidate list of a point short;
        # the cell count is capped so a map kilometres wide still fits in memory.
        cell_m = max(2.0 * reach, 1e-3, math.sqrt(width * height / max_cells))
        nx = int(width // cell_m) + 1
        ny = int(height // cell_m) + 1
    else:
        x0, y0, cell_m, nx, ny = 0.0, 0.0, 1.0, 1, 1
    indptr, grid_seg = _grid_segments(seg, reach, x0, y0, cell_m, nx, ny)
    return LaneIndex(seg, seg_lane, half_width, limits, float(tolerance_m), x0, y0, cell_m, nx, ny, indptr, grid_seg)


@njit(cache=True)
def _cell_range(lo, hi, origin, cell_m, count):
    first = max(0, int(math.floor((lo - origin) / cell_m)))
    last = min(count - 1, int(math.floor((hi - origin) / cell_m)))
    return first, last


@njit(cache=True)
def _grid_segments(seg, reach, x0, y0, cell_m, nx, ny):
    counts = np.zeros(nx * ny + 1, dtype=np.int64)
    for fill_pass in range(2):
        if fill_pass == 1:
            for k in range(nx * ny):
                counts[k + 1] += counts[k]
            grid_seg = np.empty(counts[nx * ny], dtype=np.int64)
            fill = counts[:-1].copy()
        for s in range(seg.shape[0]):
            ix0, ix1 = _cell_range(min(seg[s, 0], seg[s, 2]) - reach, max(seg[s, 0], seg[s, 2]) + reach, x0, cell_m, nx)
            iy0, iy1 = _cell_range(min(seg[s, 1], seg[s, 3]) - reach, max(seg[s, 1], seg[s, 3]) + reach, y0, cell_m, ny)
            for iy in range(iy0, iy1 + 1):
                for ix in range(ix0, ix1 + 1):
                    cell = iy * nx + ix
                    if fill_pass == 0:
                        counts[cell + 1] += 1
                    else:
                        grid_seg[fill[cell]] = s
                        fill[cell] += 1
    return counts, grid_seg


@njit(cache=True)
def lane_query(index, px, py):
    """Where a point is relative to the lanes.

    Returns
    -------
    excess : float
        ``min over lanes (distance - half width)`` among the lanes of the point's grid cell
        (``inf`` when none is near; then the point is outside every corridor).
    excess_lane : int
        The lane achieving it, -1 if none.
    on_lane : int
        The lane the point is on for its speed limit (see the module docstring), -1 if the
        point is in no corridor.
    """
    excess = math.inf
    excess_lane = -1
    on_lane = -1
    on_distance = math.inf
    ix = int(math.floor((px - index.x0) / index.cell_m))
    iy = int(math.floor((py - index.y0) / index.cell_m))
    if ix < 0 or iy < 0 or ix >= index.nx or iy >= index.ny:
        return excess, excess_lane, on_lane
    cell = iy * index.nx + ix
    for k in range(index.grid_indptr[cell], index.grid_indptr[cell + 1]):
        s = index.grid_seg[k]
        lane = index.seg_lane[s]
        d = point_segment_distance(px, py, index.seg[s, 0], index.seg[s, 1], index.seg[s, 2], index.seg[s, 3])
        e = d - index.half_width_m[lane]
        if e < excess:
            excess = e
            excess_lane = lane
        if e > index.tolerance_m:
            continue
        if d < on_distance - TIE_M or (d <= on_distance + TIE_M and index.speed_limit_mps[lane] > index.speed_limit_mps[on_lane]):
            on_lane = lane
            on_distance = min(d, on_distance)
    return excess, excess_lane, on_lane


@njit(cache=True)
def _nearest_any(index, px, py):
    """Brute-force nearest centreline over all segments: ``(lane, distance)``, for reports."""
    best = math.inf
    best_lane = -1
    for s in range(index.seg.shape[0]):
        d = point_segment_distance(px, py, index.seg[s, 0], index.seg[s, 1], index.seg[s, 2], index.seg[s, 3])
        if d < best:
            best = d
            best_lane = index.seg_lane[s]
    return best_lane, best


@njit(cache=True)
def corridor_episodes(rows, offsets, times, index):
    """Episodes of reference points outside every lane corridor, sampled at ``times``.

    # PERF: conservative advancement: a point ``s`` metres inside a corridor cannot leave
    # it before it has moved ``s`` (the distance to a segment changes no faster than the
    # point moves), so the next ``s / v_max`` seconds are skipped (``v_max``: the
    # vehicle's top speed over its trajectory).

    Returns ``(ints, floats)``: ``ints[k] = [vehicle, nearest lane or -1, first_step,
    last_step]``, ``floats[k]`` as in :data:`CORRIDOR_FLOATS`.
    """
    n = offsets.shape[0] - 1
    records = new_index()
    ints, floats = new_records(CORRIDOR_FLOATS)
    count = 0
    cursor = offsets[:-1].copy()
    top_speed = np.zeros(n)
    for i in range(n):
        for r in range(offsets[i], offsets[i + 1] - 1):
            top_speed[i] = max(top_speed[i], math.hypot(rows[r + 1, 1] - rows[r, 1], rows[r + 1, 2] - rows[r, 2]) / (rows[r + 1, 0] - rows[r, 0]))
    safe_until = np.full(n, -math.inf)
    for step in range(times.shape[0]):
        t = times[step]
        for i in range(n):
            if t < safe_until[i]:
                continue
            px, py, ph, cursor[i] = pose_at(rows, offsets[i], offsets[i + 1], cursor[i], t)
            excess, lane, _ = lane_query(index, px, py)
            if excess <= index.tolerance_m:
                slack = index.tolerance_m - excess
                safe_until[i] = math.inf if top_speed[i] == 0.0 else t + (1.0 - 1e-9) * slack / top_speed[i]
                continue
            record = continuing(records, ints, i, step)
            if record >= 0:
                ints[record, 3] = step
                continue
            distance = math.inf
            if lane >= 0:
                distance = excess + index.half_width_m[lane]
            else:
                lane, distance = _nearest_any(index, px, py)
            ints, floats, record = open_record(records, ints, floats, count, i, i, lane, step)
            count += 1
            floats[record, 0] = px
            floats[record, 1] = py
            floats[record, 2] = ph
            floats[record, 3] = distance
            floats[record, 4] = index.half_width_m[lane] if lane >= 0 else math.nan
    return ints[:count], floats[:count]


@njit(cache=True)
def speed_episodes(rows, offsets, index, tolerance_mps):
    """Episodes of trajectory rows driven faster than the lane allows.

    The speed between rows ``r`` and ``r + 1`` is their distance over their time gap; it
    may not exceed the higher of the limits of the lanes the two rows are on (plus
    ``tolerance_mps``). Rows on no lane are left to the corridor check.

    Returns ``(ints, floats)``: ``ints[k] = [vehicle, lane, first_row, last_row]`` (row
    indices into ``rows``; the episode ends at ``rows[last_row + 1]``), ``floats[k]`` as in
    :data:`SPEED_FLOATS`.
    """
    n = offsets.shape[0] - 1
    records = new_index()
    ints, floats = new_records(SPEED_FLOATS)
    count = 0
    for i in range(n):
        lo = offsets[i]
        hi = offsets[i + 1]
        if hi - lo < 2:
            continue
        # PERF: each row's lane is looked up once and carried to the next segment
        _, _, lane_a = lane_query(index, rows[lo, 1], rows[lo, 2])
        for r in range(lo, hi - 1):
            _, _, lane_b = lane_query(index, rows[r + 1, 1], rows[r + 1, 2])
            # the higher of the two limits; on equal limits the lane being entered is named
            lane = lane_a
            if lane < 0 or (lane_b >= 0 and index.speed_limit_mps[lane_b] >= index.speed_limit_mps[lane]):
                lane = lane_b
            lane_a = lane_b
            if lane < 0:
                continue
            speed = math.hypot(rows[r + 1, 1] - rows[r, 1], rows[r + 1, 2] - rows[r, 2]) / (rows[r + 1, 0] - rows[r, 0])
            limit = index.speed_limit_mps[lane]
            if speed <= limit + tolerance_mps:
                continue
            record = continuing(records, ints, i, r)
            if record >= 0:
                ints[record, 3] = r
                floats[record, 5] = max(floats[record, 5], speed)
                continue
            ints, floats, record = open_record(records, ints, floats, count, i, i, lane, r)
            count += 1
            floats[record, 0] = rows[r, 1]
            floats[record, 1] = rows[r, 2]
            floats[record, 2] = rows[r, 3]
            floats[record, 3] = speed
            floats[record, 4] = limit
            floats[record, 5] = speed
    return ints[:count], floats[:count]
