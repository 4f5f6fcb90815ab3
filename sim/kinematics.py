"""Longitudinal motion of one IGV along a polyline: speed limits, acceleration, braking.

A :class:`Mover` follows a route of points (the order's nodes), each segment with its
speed limit (the edge's ``maxSpeed``), and must stop at a *stop point*: the end of the
released base, or a node whose blocking action has not finished. It plans braking
ahead: a backward pass gives the **envelope** ``env[j]``, the highest speed at point ``j``
from which every later limit can still be met and the stop point reached at rest with
the service deceleration. Each step then picks the next speed as the largest value that

* rises by at most ``accel * dt`` (and falls by at most ``brake * dt`` when only a cap
  dropped, e.g. a ``slow`` fault),
* stays under the current segment's limit, and
* still allows the vehicle to brake at ``brake`` to the next point's envelope *after*
  moving this step (the quadratic in :func:`brake_feasible_speed`), which makes the
  discrete integration stop exactly at the stop point without overshoot.

Heading follows the segment being driven (vehicles drive along the track; corners are
cell-sized polyline kinks). The integration is exact for piecewise-constant
acceleration, so a route is driven identically for any step size up to rounding.

PERF: a step is scalar Python over lists (no NumPy scalars, no allocation); stepping a
driving vehicle costs a few microseconds (``python -m bench.sim_step``). The envelope is
recomputed only when the route or the stop point changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from maps.errors import InputError

_EPS_M = 1e-6


@dataclass(frozen=True)
class MotionLimits:
    """Vehicle motion limits (``site.md``).

    Attributes
    ----------
    accel_mps2 : float
        Acceleration (0.5 m/s^2).
    brake_mps2 : float
        Service braking, used for all planned stops (1.0 m/s^2).
    emergency_brake_mps2 : float
        Braking on an emergency stop or a drive fault (estimate: 2.5 m/s^2).
    laden_max_mps, unladen_max_mps : float
        Top speeds with and without a container (5.6 and 8.3 m/s).
    """

    accel_mps2: float = 0.5
    brake_mps2: float = 1.0
    emergency_brake_mps2: float = 2.5
    laden_max_mps: float = 5.6
    unladen_max_mps: float = 8.3

    def __post_init__(self) -> None:
        if min(self.accel_mps2, self.brake_mps2, self.laden_max_mps, self.unladen_max_mps) <= 0:
            raise InputError("motion limits must be positive")
        if self.emergency_brake_mps2 < self.brake_mps2:
            raise InputError("emergency braking must be at least the service braking")


def brake_feasible_speed(v_mps: float, d_m: float, v_end_mps: float, dt_s: float, brake_mps2: float) -> float:
    """Highest speed ``w`` to hold at the end of a step of ``dt_s`` such that, having moved
    ``(v + w) / 2 * dt`` this step, the vehicle can still brake at ``brake_mps2`` to
    ``v_end_mps`` within the remaining distance (``d_m`` before the step).

    Solves ``w^2 <= v_end^2 + 2 b (d - (v + w) dt / 2)`` for the largest ``w >= 0``.
    """
    bdt = brake_mps2 * dt_s
    q = v_end_mps * v_end_mps + 2.0 * brake_mps2 * d_m - bdt * v_mps
    disc = bdt * bdt + 4.0 * q
    if disc <= 0.0:
        return 0.0
    w = 0.5 * (math.sqrt(disc) - bdt)
    return w if w > 0.0 else 0.0


class Mover:
    """Position, speed and route of one vehicle (see the module docstring).

    Route points are indexed from 0 (the vehicle's position when the route started);
    ``next_index`` is the first point not yet reached. A point is *reached* when the
    distance driven reaches its distance along the route; reaching the stop point means
    standing on it.
    """

    __slots__ = (
        "limits", "x", "y", "heading_rad", "v_mps", "s_m", "cap_mps",
        "_xs", "_ys", "_cum", "_ux", "_uy", "_hd", "_lim", "_env", "_next", "_stop", "_dirty",
    )

    def __init__(self, x: float, y: float, heading_rad: float, limits: MotionLimits | None = None) -> None:
        self.limits = limits or MotionLimits()
        self.x = float(x)
        self.y = float(y)
        self.heading_rad = float(heading_rad)
        self.v_mps = 0.0
        self.s_m = 0.0
        self.cap_mps = self.limits.unladen_max_mps
        self._xs: list[float] = [self.x]
        self._ys: list[float] = [self.y]
        self._cum: list[float] = [0.0]
        self._ux: list[float] = []
        self._uy: list[float] = []
        self._hd: list[float] = []
        self._lim: list[float] = []
        self._env: list[float] = [0.0]
        self._next = 1
        self._stop = 0
        self._dirty = False

    # ------------------------------------------------------------------ route
    @property
    def n_points(self) -> int:
        return len(self._xs)

    @property
    def next_index(self) -> int:
        return self._next

    @property
    def stop_index(self) -> int:
        return self._stop

    def point_s_m(self, index: int) -> float:
        """Distance of route point ``index`` along the route."""
        return self._cum[index]

    def clear_route(self) -> None:
        """Forget the route; the vehicle stays where it is (it must be at rest)."""
        self._xs, self._ys, self._cum = [self.x], [self.y], [0.0]
        self._ux, self._uy, self._hd, self._lim = [], [], [], []
        self._env = [0.0]
        self.s_m = 0.0
        self._next, self._stop = 1, 0
        self._dirty = False

    def start_route(self, points: Sequence[tuple[float, float]], limits_mps: Sequence[float]) -> None:
        """A new route from the vehicle's position through ``points[1:]``.

        ``points[0]`` stands for the vehicle's position (the order's first node);
        ``limits_mps[k]`` is the limit from point ``k`` to ``k + 1``. The stop point is
        set to the start; call :meth:`set_stop` to release driving.
        """
        if len(limits_mps) != len(points) - 1:
            raise InputError(f"{len(points)} route points need {len(points) - 1} segment limits, got {len(limits_mps)}")
        self.clear_route()
        self._append(points[1:], limits_mps)

    def extend_route(self, keep: int, points: Sequence[tuple[float, float]], limits_mps: Sequence[float]) -> None:
        """Keep points ``0 .. keep`` and append ``points`` after them (an order update).

        ``keep`` must not be behind the vehicle: points already reached stay as they are.
        """
        if not self._next - 1 <= keep < len(self._xs):
            raise InputError(f"cannot cut the route at point {keep}: the vehicle has reached point {self._next - 1}")
        if len(limits_mps) != len(points):
            raise InputError(f"{len(points)} new route points need {len(points)} segment limits, got {len(limits_mps)}")
        del self._xs[keep + 1:], self._ys[keep + 1:], self._cum[keep + 1:], self._env[keep + 1:]
        del self._ux[keep:], self._uy[keep:], self._hd[keep:], self._lim[keep:]
        self._stop = min(self._stop, keep)
        self._append(points, limits_mps)

    def _append(self, points: Sequence[tuple[float, float]], limits_mps: Sequence[float]) -> None:
        xs, ys, cum = self._xs, self._ys, self._cum
        heading = self._hd[-1] if self._hd else self.heading_rad
        for (x, y), limit in zip(points, limits_mps):
            if not limit > 0.0:
                raise InputError(f"segment speed limit must be positive, got {limit}")
            dx, dy = float(x) - xs[-1], float(y) - ys[-1]
            length = math.hypot(dx, dy)
            if length > _EPS_M:
                ux, uy = dx / length, dy / length
                heading = math.atan2(dy, dx)
            else:
                ux = uy = 0.0
            xs.append(float(x))
            ys.append(float(y))
            cum.append(cum[-1] + length)
            self._ux.append(ux)
            self._uy.append(uy)
            self._hd.append(heading)
            self._lim.append(float(limit))
            self._env.append(0.0)
        self._dirty = True

    def set_stop(self, index: int) -> None:
        """Stop at route point ``index`` (not behind the vehicle's last reached point)."""
        if not 0 <= index < len(self._xs):
            raise InputError(f"stop point {index} is outside the route of {len(self._xs)} points")
        if index != self._stop:
            self._stop = index
            self._dirty = True

    def set_cap(self, cap_mps: float) -> None:
        """The vehicle's own speed cap (laden / unladen, times a slow-down factor)."""
        if not cap_mps > 0.0:
            raise InputError(f"speed cap must be positive, got {cap_mps}")
        self.cap_mps = cap_mps

    def stopping_distance_m(self) -> float:
        return self.v_mps * self.v_mps / (2.0 * self.limits.brake_mps2)

    def first_stoppable_index(self) -> int:
        """The first point ahead at which the vehicle can stop with service braking
        (limited to the current stop point)."""
        need = self.s_m + self.stopping_distance_m() - _EPS_M
        for j in range(self._next - 1 if self.v_mps == 0.0 else self._next, self._stop + 1):
            if self._cum[j] >= need:
                return j
        return self._stop

    def _envelope(self) -> None:
        """Backward pass: highest admissible speed at each point up to the stop point."""
        # The vehicle's own cap is left out on purpose: when it drops (a slow fault) the
        # vehicle slows at the service rate where it is, it does not brake hard to meet
        # the new cap at the next point.
        env, cum, lim = self._env, self._cum, self._lim
        two_b = 2.0 * self.limits.brake_mps2
        stop = self._stop
        env[stop] = 0.0
        after = 0.0
        for j in range(stop - 1, max(self._next, 1) - 1, -1):
            reach = math.sqrt(after * after + two_b * (cum[j + 1] - cum[j]))
            limit = min(lim[j - 1], lim[j])
            after = reach if reach < limit else limit
            env[j] = after
        self._dirty = False

    # ------------------------------------------------------------------ motion
    def step(self, dt_s: float, halt_mps2: float = 0.0) -> float:
        """Advance ``dt_s`` seconds; return the distance driven.

        ``halt_mps2 > 0`` means stop as soon as possible with that deceleration (pause,
        emergency stop, drive fault); the stop point is never passed either way.
        """
        v = self.v_mps
        i = self._next
        stop = self._stop
        if i > stop and v == 0.0:
            return 0.0
        if self._dirty:
            self._envelope()
        lim = self.limits
        if i > stop:
            # Past the stop point and still rolling (the stop was moved behind it): it
            # cannot back up, so it brakes as hard as it can where it is.
            w = max(0.0, v - lim.emergency_brake_mps2 * dt_s)
        else:
            cap = self._lim[i - 1]
            if self.cap_mps < cap:
                cap = self.cap_mps
            w = v + lim.accel_mps2 * dt_s
            if w > cap:
                w = max(cap, v - lim.brake_mps2 * dt_s)
            feasible = brake_feasible_speed(v, self._cum[i] - self.s_m, self._env[i], dt_s, lim.brake_mps2)
            if w > feasible:
                w = feasible
        if halt_mps2 > 0.0:
            floor = v - halt_mps2 * dt_s
            w = min(w, floor if floor > 0.0 else 0.0)
        ds = 0.5 * (v + w) * dt_s
        cum = self._cum
        s_new = self.s_m + ds
        if i <= stop and s_new >= cum[stop] - _EPS_M:
            # Arrived: snap onto the stop point (the feasible-speed bound makes this a
            # rounding-sized correction, never a jump).
            ds = max(0.0, cum[stop] - self.s_m)
            s_new = cum[stop]
            w = 0.0
        self.s_m = s_new
        self.v_mps = w
        while i < len(cum) and s_new >= cum[i] - _EPS_M:
            i += 1
        self._next = i
        self._place()
        return ds

    def _place(self) -> None:
        k = self._next - 1
        if k >= len(self._hd):
            k = len(self._xs) - 1
            self.x, self.y = self._xs[k], self._ys[k]
            if self._hd:
                self.heading_rad = self._hd[-1]
            return
        along = self.s_m - self._cum[k]
        self.x = self._xs[k] + self._ux[k] * along
        self.y = self._ys[k] + self._uy[k] * along
        self.heading_rad = self._hd[k]

    def teleport(self, x: float, y: float, heading_rad: float) -> None:
        """Put the vehicle at rest at a pose and forget the route (``initPosition``)."""
        self.x, self.y, self.heading_rad = float(x), float(y), float(heading_rad)
        self.v_mps = 0.0
        self.clear_route()

    def segment_limit_mps(self) -> float:
        """The limit in force where the vehicle is (0 without a segment ahead)."""
        k = self._next - 1
        if k >= len(self._lim):
            return 0.0
        return min(self._lim[k], self.cap_mps)
