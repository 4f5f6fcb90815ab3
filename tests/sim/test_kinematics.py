"""Kinematics: speed limits, acceleration, planned braking to the stop point, heading."""

from __future__ import annotations

import math

import pytest

from maps.errors import InputError
from sim.kinematics import MotionLimits, Mover, brake_feasible_speed

LIMITS = MotionLimits()


def drive(mover: Mover, dt: float, max_s: float = 600.0, halt_at: float | None = None, halt: float = 0.0):
    """Step until at rest at the stop point; return (t, samples of (s, v, limit))."""
    t, prev, samples = 0.0, 0.0, []
    while t < max_s:
        limit = mover.segment_limit_mps()
        h = halt if halt_at is not None and t >= halt_at else 0.0
        mover.step(dt, h)
        t += dt
        samples.append((mover.s_m, mover.v_mps, limit, (mover.v_mps - prev) / dt))
        prev = mover.v_mps
        if mover.v_mps == 0.0 and (mover.next_index > mover.stop_index or h > 0):
            break
    return t, samples


def straight(n: int, spacing: float = 8.0) -> list[tuple[float, float]]:
    return [(spacing * k, 0.0) for k in range(n)]


@pytest.mark.parametrize("dt", [0.05, 0.1, 0.5, 1.0])
def test_respects_limits_and_stops_exactly_at_the_stop_point(dt):
    m = Mover(0.0, 0.0, 0.0)
    limits = [8.3] * 10 + [4.0] * 5 + [8.3] * 14
    m.start_route(straight(30), limits)
    m.set_stop(25)
    _, samples = drive(m, dt)
    for s, v, limit, a in samples:
        assert v <= limit + 1e-9 or limit == 0.0
        assert a <= LIMITS.accel_mps2 + 1e-9
        assert a >= -LIMITS.brake_mps2 - 1e-9
    assert m.s_m == pytest.approx(25 * 8.0)
    assert (m.x, m.y) == pytest.approx((200.0, 0.0))
    assert m.v_mps == 0.0 and m.next_index == 26
    assert max(s for s, *_ in samples) <= 200.0 + 1e-9


def test_slows_down_before_a_slower_segment():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(21), [8.3] * 10 + [2.0] * 10)
    m.set_stop(20)
    _, samples = drive(m, 0.1)
    entering = [v for s, v, *_ in samples if 80.0 - 1e-6 <= s <= 80.5]
    assert entering and max(entering) <= 2.0 + 1e-6
    assert max(v for _, v, *_ in samples) > 7.0  # it did reach speed before


def test_travel_time_matches_the_trapezoid_profile():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(26), [8.3] * 25)
    m.set_stop(25)
    t, _ = drive(m, 0.05)
    v, a, b, d = 8.3, 0.5, 1.0, 200.0
    expected = v / a + v / b + (d - v * v / (2 * a) - v * v / (2 * b)) / v
    assert t == pytest.approx(expected, abs=0.2)


def test_extending_the_base_early_avoids_a_stop():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(40), [8.3] * 39)
    m.set_stop(20)
    min_v_after_speedup = math.inf
    for k in range(800):
        if k == 250:  # 25 s in: well before braking for point 20 must start
            m.set_stop(39)
        m.step(0.1)
        if k > 200 and m.next_index <= 30:
            min_v_after_speedup = min(min_v_after_speedup, m.v_mps)
    assert min_v_after_speedup > 5.0
    assert m.s_m == pytest.approx(39 * 8.0) and m.v_mps == 0.0


def test_emergency_halt_uses_the_emergency_deceleration():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(60), [8.3] * 59)
    m.set_stop(59)
    _, samples = drive(m, 0.1, halt_at=30.0, halt=LIMITS.emergency_brake_mps2)
    decels = [-a for *_, a in samples if a < 0]
    assert max(decels) == pytest.approx(LIMITS.emergency_brake_mps2, abs=1e-6)
    assert m.v_mps == 0.0 and m.s_m < 59 * 8.0


def test_lower_cap_brakes_at_the_service_rate():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(80), [8.3] * 79)
    m.set_stop(79)
    for _ in range(250):
        m.step(0.1)
    assert m.v_mps == pytest.approx(8.3)
    m.set_cap(4.0)
    previous = m.v_mps
    for _ in range(100):
        m.step(0.1)
        assert previous - m.v_mps <= LIMITS.brake_mps2 * 0.1 + 1e-9
        previous = m.v_mps
    assert m.v_mps == pytest.approx(4.0)


def test_heading_follows_the_segment():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (10.0, 20.0)], [4.0, 4.0, 4.0])
    m.set_stop(3)
    headings = []
    for _ in range(300):
        m.step(0.1)
        headings.append(round(m.heading_rad, 6))
    assert headings[0] == 0.0
    assert headings[-1] == pytest.approx(math.pi / 2)
    assert (m.x, m.y) == pytest.approx((10.0, 20.0))


def test_extend_route_keeps_the_reached_part():
    m = Mover(0.0, 0.0, 0.0)
    m.start_route(straight(6), [8.3] * 5)
    m.set_stop(3)
    for _ in range(400):
        m.step(0.1)
    assert m.next_index == 4
    with pytest.raises(InputError, match="cannot cut"):
        m.extend_route(1, [(99.0, 0.0)], [4.0])
    m.extend_route(3, [(32.0, 0.0), (40.0, 0.0)], [4.0, 4.0])
    m.set_stop(5)
    for _ in range(400):
        m.step(0.1)
    assert m.x == pytest.approx(40.0)


def test_bad_route_input_is_rejected():
    m = Mover(0.0, 0.0, 0.0)
    with pytest.raises(InputError):
        m.start_route(straight(3), [8.3])
    with pytest.raises(InputError, match="positive"):
        m.start_route(straight(3), [8.3, 0.0])
    with pytest.raises(InputError):
        m.set_stop(7)
    with pytest.raises(InputError):
        MotionLimits(emergency_brake_mps2=0.5)


@pytest.mark.parametrize("v,d,ve,dt", [(8.3, 50.0, 0.0, 0.1), (2.0, 0.5, 0.0, 0.5), (0.0, 10.0, 4.0, 1.0), (5.0, 0.0, 0.0, 0.1)])
def test_brake_feasible_speed_keeps_the_braking_distance(v, d, ve, dt):
    w = brake_feasible_speed(v, d, ve, dt, 1.0)
    moved = (v + w) / 2 * dt
    remaining = d - moved
    assert w >= 0.0
    if w > 0:
        assert w * w <= ve * ve + 2.0 * (remaining) + 1e-9
