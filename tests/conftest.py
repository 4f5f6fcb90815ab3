"""Shared fixtures: tiny track maps built through the real GeoJSON pipeline."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from maps.builder import MapBuilder  # noqa: E402


def loop_builder(name: str = "loop") -> MapBuilder:
    """A 60 m x 40 m one-way loop with a two-way side lane and three stations."""
    b = MapBuilder(name=name)
    b.node("a", 0, 0)
    b.node("b", 60, 0)
    b.node("c", 60, 40)
    b.node("d", 0, 40)
    b.node("e", 30, -30)
    b.lane("ab", "a", "b", speed_limit_mps=4.0)
    b.lane("bc", "b", "c", speed_limit_mps=4.0)
    b.lane("cd", "c", "d", speed_limit_mps=4.0)
    b.lane("da", "d", "a", speed_limit_mps=4.0)
    b.lane("ae", "a", "e", speed_limit_mps=2.0, two_way=True)
    b.zone("park", "parking", [(-10, -40), (70, -40), (70, -20), (-10, -20)])
    b.station("s-a", "parking", "a")
    b.station("s-c", "charger", "c")
    b.station("s-e", "parking", "e", zone="park")
    return b


@pytest.fixture
def loop_map():
    return loop_builder().build()


@pytest.fixture(scope="session")
def default_map():
    from maps import load_track_map

    return load_track_map("bac_luan_2")
