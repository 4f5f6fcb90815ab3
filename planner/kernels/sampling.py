"""Trajectory interpolation at common sample times.

All trajectories of a check are packed into one array ``rows`` (R, 4) of
``[t_s, x_m, y_m, heading_rad]`` with CSR ``offsets`` (N + 1,): vehicle ``i`` owns rows
``offsets[i]:offsets[i + 1]``. Poses are linear in time between rows, the heading along
the shorter arc; before its first row a vehicle holds its first pose, after its last row
its last pose (design section 7).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from maps.errors import InputError


@njit(cache=True)
def wrap_angle(a):
    """``a`` folded into [-pi, pi)."""
    return a - 2.0 * math.pi * math.floor((a + math.pi) / (2.0 * math.pi))


@njit(cache=True)
def pose_at(rows, lo, hi, cursor, t):
    """Pose of the trajectory ``rows[lo:hi]`` at time ``t``.

    ``cursor`` is the row found by the previous call; it only moves forward while the
    sample times increase. Returns ``(x, y, heading, cursor)``.

    # PERF: a forward-only cursor per vehicle instead of a binary search per sample:
    # consecutive samples land in the same or the next row, so the lookup is O(1) amortised.
    """
    if t <= rows[lo, 0]:
        return rows[lo, 1], rows[lo, 2], rows[lo, 3], lo
    last = hi - 1
    if t >= rows[last, 0]:
        return rows[last, 1], rows[last, 2], rows[last, 3], last
    if rows[cursor, 0] > t:
        cursor = lo
    while rows[cursor + 1, 0] <= t:
        cursor += 1
    t0 = rows[cursor, 0]
    f = (t - t0) / (rows[cursor + 1, 0] - t0)
    x = rows[cursor, 1] + f * (rows[cursor + 1, 1] - rows[cursor, 1])
    y = rows[cursor, 2] + f * (rows[cursor + 1, 2] - rows[cursor, 2])
    h = rows[cursor, 3] + f * wrap_angle(rows[cursor + 1, 3] - rows[cursor, 3])
    return x, y, h, cursor


def sample_times(t_start_s: float, t_end_s: float, step_s: float) -> np.ndarray:
    """``t_start_s, t_start_s + step_s, ...`` up to ``t_end_s``, which is always included.

    Each time is computed as ``t_start_s + k * step_s`` (no accumulated rounding).
    """
    if not (step_s > 0.0 and math.isfinite(step_s)):
        raise InputError(f"step_s must be a positive finite number, got {step_s}")
    span = max(0.0, t_end_s - t_start_s)
    count = int(math.floor(span / step_s + 1e-9)) + 1
    times = np.minimum(t_start_s + step_s * np.arange(count, dtype=np.float64), t_end_s)
    if t_end_s - times[-1] > 1e-9 * max(1.0, abs(t_end_s)):
        times = np.append(times, t_end_s)
    return times
