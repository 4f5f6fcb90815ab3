"""Simulation clocks: one protocol, a lockstep virtual clock and a scaled real-time clock.

Everything in ``sim/`` (and the core, when run with the simulator) reads time only
through a :class:`Clock`, so the same code runs

* in **lockstep** (:class:`VirtualClock`): time moves only when the harness calls
  :meth:`VirtualClock.advance`; core and simulator step together, as fast as the CPU
  allows, and a run is a pure function of its seed;
* in **real time** (:class:`RealtimeClock`): simulated seconds are monotonic wall seconds
  times a speed factor that can change while running (``set_speed`` from the control
  API) without a jump in simulated time.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Protocol, runtime_checkable

from maps.errors import InputError


@runtime_checkable
class Clock(Protocol):
    """A source of simulated time in seconds (starts near 0, never goes back)."""

    def now_s(self) -> float:
        """The current simulated time."""
        ...


class VirtualClock:
    """Lockstep time: it moves only when advanced, by exactly the amount asked.

    Parameters
    ----------
    start_s : float
        Simulated time at creation.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        if not math.isfinite(start_s):
            raise InputError(f"clock start must be finite, got {start_s}")
        self._now_s = float(start_s)
        self._steps = 0

    def now_s(self) -> float:
        return self._now_s

    def __call__(self) -> float:
        """The clock as a plain callable (for APIs that take ``clock=callable``)."""
        return self._now_s

    @property
    def steps(self) -> int:
        """How many times the clock was advanced."""
        return self._steps

    def advance(self, dt_s: float) -> float:
        """Move time forward by ``dt_s`` (> 0) and return the new time."""
        if not (dt_s > 0.0 and math.isfinite(dt_s)):
            raise InputError(f"a virtual clock advances by a positive finite step, got {dt_s}")
        self._now_s += dt_s
        self._steps += 1
        return self._now_s

    def advance_to(self, t_s: float) -> float:
        """Move time forward to ``t_s`` (not backwards) and return it."""
        if not math.isfinite(t_s) or t_s < self._now_s:
            raise InputError(f"a virtual clock cannot go back from {self._now_s} to {t_s}")
        self._now_s = float(t_s)
        self._steps += 1
        return self._now_s


class RealtimeClock:
    """Simulated time = monotonic wall time x speed factor, continuous across changes.

    Parameters
    ----------
    speed_factor : float
        Simulated seconds per wall second (> 0).
    start_s : float
        Simulated time at creation.
    monotonic : callable
        Wall-time source (``time.monotonic``; injected in tests).
    """

    def __init__(
        self,
        speed_factor: float = 1.0,
        *,
        start_s: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_speed(speed_factor)
        self._monotonic = monotonic
        self._speed = float(speed_factor)
        self._anchor_wall_s = monotonic()
        self._anchor_sim_s = float(start_s)
        self._paused = False

    @property
    def speed_factor(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def now_s(self) -> float:
        if self._paused:
            return self._anchor_sim_s
        return self._anchor_sim_s + (self._monotonic() - self._anchor_wall_s) * self._speed

    def __call__(self) -> float:
        return self.now_s()

    def _rebase(self) -> None:
        now_wall = self._monotonic()
        if not self._paused:
            self._anchor_sim_s += (now_wall - self._anchor_wall_s) * self._speed
        self._anchor_wall_s = now_wall

    def set_speed(self, speed_factor: float) -> None:
        """Change the speed from now on; simulated time does not jump."""
        _check_speed(speed_factor)
        self._rebase()
        self._speed = float(speed_factor)

    def pause(self) -> None:
        """Freeze simulated time (a demo's pause button)."""
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        self._rebase()
        self._paused = False

    def wall_s_until(self, t_s: float) -> float:
        """Wall seconds until simulated time reaches ``t_s`` (0 if past; inf if paused)."""
        ahead_s = t_s - self.now_s()
        if ahead_s <= 0.0:
            return 0.0
        return math.inf if self._paused else ahead_s / self._speed


def _check_speed(speed_factor: float) -> None:
    if not (speed_factor > 0.0 and math.isfinite(speed_factor)):
        raise InputError(f"speed factor must be a positive finite number, got {speed_factor}")
