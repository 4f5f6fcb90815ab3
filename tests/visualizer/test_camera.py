"""The camera: metres to pixels and back, zoom about a point, fit."""

from __future__ import annotations

import pytest

from visualizer.camera import Camera, level_scale

VIEW = (240, 44, 724, 730)


def test_world_screen_round_trip_and_north_up() -> None:
    cam = Camera(VIEW, (1000.0, 2000.0))
    cam.zoom(6)  # 2 px/m
    assert cam.scale == pytest.approx(2.0)
    cam.look_at(1100.0, 1900.0)
    sx, sy = cam.world_to_screen(1100.0, 1900.0)
    assert (float(sx), float(sy)) == pytest.approx((240 + 362, 44 + 365), abs=0.5)
    ex, ny = cam.world_to_screen([1110.0, 1100.0], [1900.0, 1910.0])
    assert ex[0] - sx == pytest.approx(20.0) and ny[1] - sy == pytest.approx(-20.0)  # east right, north up
    assert cam.screen_to_world(float(sx) + 20, float(sy)) == pytest.approx((1110.0, 1900.0))


def test_zoom_keeps_the_point_under_the_cursor() -> None:
    cam = Camera(VIEW, (0.0, 0.0))
    cam.look_at(50.0, -50.0)
    at = (300, 500)
    before = cam.screen_to_world(*at)
    cam.zoom(5, at)
    assert cam.screen_to_world(*at) == pytest.approx(before, abs=1.0 / cam.scale)
    cam.zoom(-9, at)
    assert cam.scale == pytest.approx(level_scale(-4))
    assert cam.screen_to_world(*at) == pytest.approx(before, abs=1.0 / cam.scale)


def test_fit_shows_the_bounds_whole_at_the_largest_level() -> None:
    cam = Camera(VIEW, (0.0, 1000.0))
    bounds = (0.0, 0.0, 900.0, 1000.0)
    cam.fit(bounds, bottom=True)
    x0, y0, x1, y1 = cam.visible_world()
    assert x0 <= 0.0 and y0 <= 0.0 and x1 >= 900.0 and y1 >= 1000.0
    cam.zoom(1)
    x0, y0, x1, y1 = cam.visible_world()
    assert x0 > 0.0 or y0 > 0.0 or x1 < 900.0 or y1 < 1000.0  # one level closer no longer fits


def test_pan_moves_by_whole_pixels() -> None:
    cam = Camera(VIEW, (0.0, 0.0))
    cam.look_at(10.0, 10.0)
    wx, wy = cam.screen_to_world(400, 400)
    cam.pan(30, -12)
    assert cam.screen_to_world(430, 388) == pytest.approx((wx, wy))
