"""Per-sample loops: vehicle-vehicle contacts and vehicle-zone contacts.

Both take the packed trajectories of :mod:`planner.kernels.sampling`, the half length and
half width of each vehicle's footprint *already grown by the safety margin*, and the sample
times, and return episode records (:mod:`planner.kernels.episodes`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from planner.kernels.broadphase import candidate_pairs, table_size
from planner.kernels.episodes import continuing, new_index, new_records, open_record
from planner.kernels.geometry import rect_overlap, rect_polygon_intersect
from planner.kernels.sampling import pose_at, wrap_angle

_DISC_SLACK_M = 1e-6
"""Added to the bounding-disc radii so rounding never drops a touching pair in the broad phase."""

CONTACT_FLOATS = 8
"""Columns of a contact record: x_a, y_a, h_a, x_b, y_b, h_b, depth at first contact, max depth."""

ZONE_FLOATS = 3
"""Columns of a zone record: x, y, heading at the first sample inside."""


@njit(cache=True)
def _swept_box(rows, lo, hi, cursor, ta, tb):
    """Where a vehicle can be over [ta, tb]: ``(cx, cy, ex, ey, speed, turn, cursor)``.

    The box (centre, half extents) holds the reference point's path; it is exact because
    poses are linear between rows, so the path lies in the convex hull of the poses at
    ``ta`` and ``tb`` and the rows in between. ``speed`` (m/s) and ``turn`` (rad/s) are the
    largest of the row segments overlapping the interval: bounds of how fast the vehicle
    moves and turns there (both 0 when it stands still).
    """
    xa, ya, _, cursor = pose_at(rows, lo, hi, cursor, ta)
    xmin = xa
    xmax = xa
    ymin = ya
    ymax = ya
    speed = 0.0
    turn = 0.0
    r = cursor
    while r + 1 < hi and rows[r, 0] < tb:
        dt = rows[r + 1, 0] - rows[r, 0]
        speed = max(speed, math.hypot(rows[r + 1, 1] - rows[r, 1], rows[r + 1, 2] - rows[r, 2]) / dt)
        turn = max(turn, abs(wrap_angle(rows[r + 1, 3] - rows[r, 3])) / dt)
        if rows[r + 1, 0] < tb:
            xmin = min(xmin, rows[r + 1, 1])
            xmax = max(xmax, rows[r + 1, 1])
            ymin = min(ymin, rows[r + 1, 2])
            ymax = max(ymax, rows[r + 1, 2])
        r += 1
    xb, yb, _, _ = pose_at(rows, lo, hi, cursor, tb)
    xmin = min(xmin, xb)
    xmax = max(xmax, xb)
    ymin = min(ymin, yb)
    ymax = max(ymax, yb)
    return 0.5 * (xmin + xmax), 0.5 * (ymin + ymax), 0.5 * (xmax - xmin), 0.5 * (ymax - ymin), speed, turn, cursor


@njit(cache=True)
def contact_episodes(rows, offsets, half_length_m, half_width_m, times, window):
    """Episodes of pairs of footprints in contact (closed rectangles intersecting).

    Samples are taken in windows of ``window`` consecutive times. Per window, each
    vehicle's swept box (path box grown by its footprint's half diagonal) goes through the
    uniform-grid broad phase once; candidate pairs are then tested exactly at the window's
    samples (bounding discs, then separating axes).

    # PERF: temporal coherence: the broad phase runs once per window, not once per sample,
    # and vehicles far from everyone are never interpolated sample by sample. The cost per
    # vehicle-sample falls roughly by the window length while the answer stays exact.
    # PERF: conservative advancement: a pair found ``g`` metres apart cannot touch sooner
    # than ``g / (rate_a + rate_b)`` seconds later, ``rate = speed + half diagonal * turn
    # rate`` (the fastest any point of the footprint moves), so those samples are skipped
    # and their poses never computed; a pair standing still is tested once per window.

    Returns ``(ints, floats)``: ``ints[k] = [a, b, first_step, last_step]`` with
    ``a < b``; ``floats[k]`` as in :data:`CONTACT_FLOATS`.
    """
    n = offsets.shape[0] - 1
    n_times = times.shape[0]
    index = new_index()
    ints, floats = new_records(CONTACT_FLOATS)
    count = 0
    if n < 2 or n_times == 0:
        return ints[:0], floats[:0]
    window = max(1, window)
    radius = np.sqrt(half_length_m**2 + half_width_m**2) + _DISC_SLACK_M
    cursor = offsets[:-1].copy()
    box_x = np.empty(n)
    box_y = np.empty(n)
    box_ex = np.empty(n)
    box_ey = np.empty(n)
    rate = np.empty(n)
    cx = np.empty(n, dtype=np.int64)
    cy = np.empty(n, dtype=np.int64)
    keys = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    bucket_start = np.empty(table_size(n) + 1, dtype=np.int64)
    pairs = np.empty((max(16, n), 2), dtype=np.int64)
    # poses at the window's samples, computed on demand (stamp says which window filled
    # them); one row per vehicle, so a pair walking through the samples reads contiguously
    px = np.empty((n, window))
    py = np.empty((n, window))
    pc = np.empty((n, window))
    ps = np.empty((n, window))
    ph = np.empty((n, window))
    stamp = np.full((n, window), -1, dtype=np.int64)
    last_trig = np.full((n, 3), np.nan)  # per vehicle: the last heading, its cos and sin
    for w0 in range(0, n_times, window):
        w1 = min(w0 + window, n_times)
        largest = 0.0
        for i in range(n):
            box_x[i], box_y[i], ex, ey, speed, turn, cursor[i] = _swept_box(rows, offsets[i], offsets[i + 1], cursor[i], times[w0], times[w1 - 1])
            rate[i] = speed + radius[i] * turn
            box_ex[i] = ex + radius[i]
            box_ey[i] = ey + radius[i]
            largest = max(largest, box_ex[i], box_ey[i])
        n_pairs = candidate_pairs(box_x, box_y, box_ex, box_ey, 2.0 * largest, cx, cy, keys, bucket_start, order, pairs)
        if n_pairs > pairs.shape[0]:
            pairs = np.empty((2 * n_pairs, 2), dtype=np.int64)
            n_pairs = candidate_pairs(box_x, box_y, box_ex, box_ey, 2.0 * largest, cx, cy, keys, bucket_start, order, pairs)
        for p in range(n_pairs):
            a = pairs[p, 0]
            b = pairs[p, 1]
            reach = radius[a] + radius[b]
            closing = rate[a] + rate[b]
            record = -1  # this pair's episode record, once looked up in this window
            j = 0
            while j < w1 - w0:
                k = w0 + j
                # PERF: the pose cache is filled inline: a helper taking these arrays costs
                # more in reference counting than the interpolation itself
                for v in (a, b):
                    if stamp[v, j] == w0:
                        continue
                    stamp[v, j] = w0
                    x, y, h, _ = pose_at(rows, offsets[v], offsets[v + 1], cursor[v], times[k])
                    px[v, j] = x
                    py[v, j] = y
                    ph[v, j] = h
                    # PERF: driving straight the heading repeats: reuse the last cos/sin
                    if h != last_trig[v, 0]:
                        last_trig[v, 0] = h
                        last_trig[v, 1] = math.cos(h)
                        last_trig[v, 2] = math.sin(h)
                    pc[v, j] = last_trig[v, 1]
                    ps[v, j] = last_trig[v, 2]
                dx = px[b, j] - px[a, j]
                dy = py[b, j] - py[a, j]
                distance2 = dx * dx + dy * dy
                if distance2 > reach * reach:
                    gap = math.sqrt(distance2) - reach  # the discs are apart, so are the footprints
                else:
                    depth, _, _ = rect_overlap(
                        px[a, j], py[a, j], pc[a, j], ps[a, j], half_length_m[a], half_width_m[a],
                        px[b, j], py[b, j], pc[b, j], ps[b, j], half_length_m[b], half_width_m[b],
                    )
                    gap = -depth  # a separating axis with this gap, or the overlap
                if gap <= 0.0:
                    # PERF: the dict is consulted once per pair and window; later samples of
                    # the window extend the record found or opened here
                    if record < 0 or ints[record, 3] != k - 1:
                        record = continuing(index, ints, a * n + b, k)
                    if record >= 0:
                        floats[record, 7] = max(floats[record, 7], -gap)
                    else:
                        ints, floats, record = open_record(index, ints, floats, count, a * n + b, a, b, k)
                        count += 1
                        floats[record, 0] = px[a, j]
                        floats[record, 1] = py[a, j]
                        floats[record, 2] = ph[a, j]
                        floats[record, 3] = px[b, j]
                        floats[record, 4] = py[b, j]
                        floats[record, 5] = ph[b, j]
                        floats[record, 6] = -gap
                        floats[record, 7] = -gap
                    ints[record, 3] = k
                if closing == 0.0:
                    # both stand still: the same answer at every sample of the window
                    if gap <= 0.0:
                        ints[record, 3] = w1 - 1
                    break
                j += 1
                if gap > 0.0:
                    safe_until = times[k] + (1.0 - 1e-9) * gap / closing
                    while j < w1 - w0 and times[w0 + j] < safe_until:
                        j += 1
    return ints[:count], floats[:count]


@njit(cache=True)
def zone_episodes(rows, offsets, half_length_m, half_width_m, times, window, zone_xy, ring_indptr, zone_ring_indptr, zone_bbox):
    """Episodes of footprints meeting zone polygons (closed sets).

    Zone ``z`` is made of rings ``zone_ring_indptr[z]:zone_ring_indptr[z + 1]`` (exterior
    first, then holes); ``zone_bbox[z] = [xmin, ymin, xmax, ymax]``.

    # PERF: per window of ``window`` samples, a vehicle's swept box is compared with the
    # zones' boxes; it is interpolated and tested exactly at each sample only when they
    # overlap. Forbidden zones are few and small, so nearly all vehicles stop at the box.

    Returns ``(ints, floats)``: ``ints[k] = [vehicle, zone, first_step, last_step]``,
    ``floats[k]`` as in :data:`ZONE_FLOATS`.
    """
    n = offsets.shape[0] - 1
    n_times = times.shape[0]
    n_zones = zone_bbox.shape[0]
    index = new_index()
    ints, floats = new_records(ZONE_FLOATS)
    count = 0
    if n == 0 or n_zones == 0 or n_times == 0:
        return ints[:0], floats[:0]
    window = max(1, window)
    radius = np.sqrt(half_length_m**2 + half_width_m**2) + _DISC_SLACK_M
    cursor = offsets[:-1].copy()
    for w0 in range(0, n_times, window):
        w1 = min(w0 + window, n_times)
        for i in range(n):
            bx, by, ex, ey, _, _, cursor[i] = _swept_box(rows, offsets[i], offsets[i + 1], cursor[i], times[w0], times[w1 - 1])
            ex += radius[i]
            ey += radius[i]
            for z in range(n_zones):
                if bx - ex > zone_bbox[z, 2] or bx + ex < zone_bbox[z, 0] or by - ey > zone_bbox[z, 3] or by + ey < zone_bbox[z, 1]:
                    continue
                c = cursor[i]
                for k in range(w0, w1):
                    px, py, ph, c = pose_at(rows, offsets[i], offsets[i + 1], c, times[k])
                    if not rect_polygon_intersect(px, py, math.cos(ph), math.sin(ph), half_length_m[i], half_width_m[i], zone_xy, ring_indptr, zone_ring_indptr[z], zone_ring_indptr[z + 1]):
                        continue
                    key = i * n_zones + z
                    record = continuing(index, ints, key, k)
                    if record < 0:
                        ints, floats, record = open_record(index, ints, floats, count, key, i, z, k)
                        count += 1
                        floats[record, 0] = px
                        floats[record, 1] = py
                        floats[record, 2] = ph
                    ints[record, 3] = k
    return ints[:count], floats[:count]
