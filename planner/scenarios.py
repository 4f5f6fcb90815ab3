"""Tiny track maps with the classic hard cases of multi-vehicle routing.

Used by the routing tests, ``docs/routing.md`` and quick experiments. Each builder
returns a fully built :class:`~maps.trackmap.TrackMap` (through the real GeoJSON
pipeline) whose stations are named after the roles in the scenario. Lengths are chosen
for 15.5 m vehicles: a siding 40 m deep hides a vehicle from the corridor, and stations
at least 40 m apart do not overlap.
"""

from __future__ import annotations

import math

import numpy as np

from maps.builder import MapBuilder
from maps.trackmap import TrackMap


def corridor_map(siding: bool = True, length_m: float = 160.0) -> TrackMap:
    """A two-way single-lane corridor ``W`` - ``E``, optionally with a dead-end siding.

    Stations: ``W`` and ``E`` at the ends, ``MID`` in the middle of the corridor, and
    ``SIDING`` at the tip of a two-way spur leaving the middle (if ``siding``): a
    quarter circle of 15 m radius turning north out of the eastbound direction, then
    25 m straight, as the bays of :mod:`maps.roadnet`.
    """
    b = MapBuilder(name="corridor" if siding else "corridor-no-siding")
    half = length_m / 2.0
    b.node("w", 0.0, 0.0)
    b.node("m", half, 0.0)
    b.node("e", length_m, 0.0)
    b.lane("wm", "w", "m", speed_limit_mps=4.0, two_way=True)
    b.lane("me", "m", "e", speed_limit_mps=4.0, two_way=True)
    b.station("W", "parking", "w")
    b.station("E", "parking", "e")
    b.station("MID", "parking", "m")
    if siding:
        radius = 15.0
        arc = [(half + radius * math.sin(a), radius - radius * math.cos(a)) for a in np.linspace(0.0, math.pi / 2, 9)[1:-1]]
        b.node("s", half + radius, radius + 25.0)
        b.lane("ms", "m", "s", speed_limit_mps=2.0, two_way=True, via=[*arc, (half + radius, radius)])
        b.station("SIDING", "parking", "s")
    return b.build()


def crossing_map(arm_m: float = 80.0) -> TrackMap:
    """Two one-way roads crossing at a right angle without a junction.

    ``WEST`` -> ``EAST`` along y = 0 and ``SOUTH`` -> ``NORTH`` along x = 0; the conflict
    table keeps vehicles apart where they cross.
    """
    b = MapBuilder(name="crossing")
    b.node("w", -arm_m, 0.0)
    b.node("e", arm_m, 0.0)
    b.node("s", 0.0, -arm_m)
    b.node("n", 0.0, arm_m)
    b.lane("we", "w", "e", speed_limit_mps=8.3)
    b.lane("sn", "s", "n", speed_limit_mps=8.3)
    b.station("WEST", "parking", "w")
    b.station("EAST", "parking", "e")
    b.station("SOUTH", "parking", "s")
    b.station("NORTH", "parking", "n")
    return b.build(check=False)


def loop_with_bypass_map() -> TrackMap:
    """A one-way rectangle with a two-way cross-link: two routes between its sides.

    Stations ``A`` (south-west corner), ``B`` (south-east), ``C`` (north-east),
    ``D`` (north-west), ``LINK`` (middle of the cross-link). The south side ``A -> B``
    can be bypassed through the link.
    """
    b = MapBuilder(name="loop-bypass")
    for name, x, y in (("a", 0, 0), ("b", 200, 0), ("c", 200, 120), ("d", 0, 120), ("l", 100, 60), ("ls", 100, 0), ("ln", 100, 120)):
        b.node(name, x, y)
    b.lane("a-ls", "a", "ls", speed_limit_mps=8.3)
    b.lane("ls-b", "ls", "b", speed_limit_mps=8.3)
    b.lane("b-c", "b", "c", speed_limit_mps=8.3)
    b.lane("c-ln", "c", "ln", speed_limit_mps=8.3)
    b.lane("ln-d", "ln", "d", speed_limit_mps=8.3)
    b.lane("d-a", "d", "a", speed_limit_mps=8.3)
    b.lane("ls-l", "ls", "l", speed_limit_mps=4.0, two_way=True)
    b.lane("l-ln", "l", "ln", speed_limit_mps=4.0, two_way=True)
    for station, node in (("A", "a"), ("B", "b"), ("C", "c"), ("D", "d"), ("LINK", "l")):
        b.station(station, "parking", node)
    return b.build(check=False)
