"""Clocks: lockstep virtual time and scaled real time."""

from __future__ import annotations

import math

import pytest

from maps.errors import InputError
from sim.clock import Clock, RealtimeClock, VirtualClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_virtual_clock_moves_only_when_advanced():
    clock = VirtualClock(5.0)
    assert isinstance(clock, Clock)
    assert clock.now_s() == clock() == 5.0
    assert clock.advance(0.5) == 5.5
    assert clock.advance_to(7.0) == 7.0
    assert clock.now_s() == 7.0 and clock.steps == 2


@pytest.mark.parametrize("dt", [0.0, -1.0, math.inf, math.nan])
def test_virtual_clock_rejects_bad_steps(dt):
    with pytest.raises(InputError):
        VirtualClock().advance(dt)


def test_virtual_clock_never_goes_back():
    clock = VirtualClock(10.0)
    with pytest.raises(InputError, match="cannot go back"):
        clock.advance_to(9.0)


def test_virtual_clock_lockstep_sum_is_deterministic():
    a, b = VirtualClock(), VirtualClock()
    for _ in range(1000):
        a.advance(0.1)
        b.advance(0.1)
    assert a.now_s() == b.now_s()


def test_realtime_clock_scales_wall_time():
    wall = FakeMonotonic()
    clock = RealtimeClock(20.0, start_s=3.0, monotonic=wall)
    assert clock.now_s() == 3.0
    wall.t += 1.5
    assert clock.now_s() == pytest.approx(33.0)
    assert clock() == pytest.approx(33.0)


def test_realtime_speed_change_has_no_jump():
    wall = FakeMonotonic()
    clock = RealtimeClock(10.0, monotonic=wall)
    wall.t += 2.0
    before = clock.now_s()
    clock.set_speed(1.0)
    assert clock.now_s() == pytest.approx(before)
    wall.t += 2.0
    assert clock.now_s() == pytest.approx(before + 2.0)
    assert clock.speed_factor == 1.0


def test_realtime_pause_freezes_time_and_resume_continues():
    wall = FakeMonotonic()
    clock = RealtimeClock(2.0, monotonic=wall)
    wall.t += 1.0
    clock.pause()
    wall.t += 50.0
    assert clock.paused and clock.now_s() == pytest.approx(2.0)
    assert clock.wall_s_until(3.0) == math.inf
    clock.resume()
    wall.t += 1.0
    assert clock.now_s() == pytest.approx(4.0)
    assert clock.wall_s_until(10.0) == pytest.approx(3.0)
    assert clock.wall_s_until(1.0) == 0.0


@pytest.mark.parametrize("speed", [0.0, -2.0, math.inf, math.nan])
def test_realtime_rejects_bad_speed(speed):
    with pytest.raises(InputError, match="speed factor"):
        RealtimeClock(speed)
    clock = RealtimeClock(1.0)
    with pytest.raises(InputError, match="speed factor"):
        clock.set_speed(speed)


def test_realtime_clock_runs_on_the_real_monotonic_clock():
    clock = RealtimeClock(1000.0)
    first = clock.now_s()
    while clock.now_s() == first:
        pass
    assert clock.now_s() > first
