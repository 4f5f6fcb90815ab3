"""A small road-network generator: straight one-way roads, turning arcs, dead-end bays.

Used by the parametric default-map layout (``maps/layout_bac_luan_2.py``) and handy for
synthetic maps in benchmarks. The model:

* A :class:`Road` is a straight, axis-aligned lane (horizontal ``"h"`` or vertical ``"v"``)
  with a direction of travel. Where a horizontal and a vertical road meet, both get a node
  ``turn_radius_m`` before and after the meeting point, and quarter-circle *turning arcs*
  join the approach node of one road to the exit node of the other in each allowed
  direction (so vehicles of 15 m never turn on the spot). Roads cross without a node at
  the crossing point itself; the conflict table keeps them apart there.
* A :class:`Bay` is a two-way dead-end spur leaving a road through a quarter-circle arc
  to one side and ending in a straight stretch with a station at its tip: crane transfer
  points, charger bays, parking spots. Vehicles drive in forward and reverse out, as
  bidirectional IGVs do, so a parked vehicle never blocks the road.
* Extra split points put a node (and so a station) in the middle of a road, e.g. a
  drive-through scanner bay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from maps.builder import MapBuilder


@dataclass(frozen=True)
class Road:
    id: str
    axis: str  # "h" (runs along x at y=fixed_m) or "v" (runs along y at x=fixed_m)
    fixed_m: float
    lo_m: float
    hi_m: float
    direction: int  # +1 towards hi, -1 towards lo
    speed_limit_mps: float
    width_m: float = 3.75
    stops: tuple[tuple[str, str, float], ...] = ()  # (station id, kind, coordinate along the road)

    def point(self, s: float) -> tuple[float, float]:
        return (s, self.fixed_m) if self.axis == "h" else (self.fixed_m, s)

    def tangent(self) -> tuple[float, float]:
        return (float(self.direction), 0.0) if self.axis == "h" else (0.0, float(self.direction))


@dataclass(frozen=True)
class Bay:
    station_id: str
    kind: str
    road: str
    at_m: float  # coordinate along the road where the bay leaves it
    side: int  # +1 left of the direction of travel, -1 right
    straight_m: float = 12.0
    speed_limit_mps: float = 2.0
    zone: str | None = None


@dataclass
class RoadNetwork:
    turn_radius_m: float = 15.0
    arc_segments: int = 9
    turn_speed_mps: float = 4.0
    roads: list[Road] = field(default_factory=list)
    bays: list[Bay] = field(default_factory=list)
    no_turns: set[tuple[str, str]] = field(default_factory=set)

    def add_road(self, road: Road) -> Road:
        self.roads.append(road)
        return road

    def add_bay(self, bay: Bay) -> Bay:
        self.bays.append(bay)
        return bay

    # ------------------------------------------------------------------------------
    def emit(self, builder: MapBuilder) -> None:
        """Add every node, lane and station of the network to ``builder``."""
        r = self.turn_radius_m
        by_id = {road.id: road for road in self.roads}
        splits: dict[str, set[float]] = {road.id: set() for road in self.roads}
        crossings = []
        for h in (x for x in self.roads if x.axis == "h"):
            for v in (x for x in self.roads if x.axis == "v"):
                if h.lo_m - 1e-9 <= v.fixed_m <= h.hi_m + 1e-9 and v.lo_m - 1e-9 <= h.fixed_m <= v.hi_m + 1e-9:
                    crossings.append((h, v))
                    for road, c in ((h, v.fixed_m), (v, h.fixed_m)):
                        for s in (c - r, c + r):
                            if road.lo_m - 1e-9 <= s <= road.hi_m + 1e-9:
                                splits[road.id].add(round(s, 3))
        for road in self.roads:
            for _, _, s in road.stops:
                splits[road.id].add(round(s, 3))
        for bay in self.bays:
            splits[bay.road].add(round(bay.at_m, 3))

        node_of: dict[tuple[str, float], str] = {}
        for road in self.roads:
            points = sorted(splits[road.id])
            if len(points) < 2:
                raise ValueError(f"road {road.id} has fewer than two nodes")
            for s in points:
                node_of[(road.id, s)] = builder.node(f"{road.id}:{s:g}", *road.point(s))
            ordered = points if road.direction > 0 else points[::-1]
            for k, (a, b) in enumerate(zip(ordered[:-1], ordered[1:])):
                builder.lane(f"{road.id}/{k:03d}", node_of[(road.id, a)], node_of[(road.id, b)],
                             speed_limit_mps=road.speed_limit_mps, width_m=road.width_m)
            for station_id, kind, s in road.stops:
                builder.station(station_id, kind, node_of[(road.id, round(s, 3))])

        for h, v in crossings:
            for first, second in ((h, v), (v, h)):
                if (first.id, second.id) in self.no_turns:
                    continue
                c_first, c_second = second.fixed_m, first.fixed_m
                a = round(c_first - r * first.direction, 3)
                b = round(c_second + r * second.direction, 3)
                if (first.id, a) not in node_of or (second.id, b) not in node_of:
                    continue
                start = np.array(first.point(a))
                end = np.array(second.point(b))
                # The arc's centre lies one radius from the approach node, on the side of the turn.
                center = start + r * _normal_towards(np.array(first.tangent()), end - start)
                via = _arc_points(center, start, end, self.arc_segments)
                builder.lane(f"turn:{first.id}>{second.id}", node_of[(first.id, a)], node_of[(second.id, b)],
                             speed_limit_mps=min(self.turn_speed_mps, first.speed_limit_mps, second.speed_limit_mps),
                             width_m=max(first.width_m, second.width_m), via=via)

        for bay in self.bays:
            road = by_id[bay.road]
            t = np.array(road.tangent())
            n = np.array([-t[1], t[0]]) * bay.side
            start = np.array(road.point(bay.at_m))
            center = start + r * n
            arc_end = start + r * t + r * n
            tip = arc_end + bay.straight_m * n
            tip_node = builder.node(f"{bay.station_id}:tip", *tip)
            via = _arc_points(center, start, arc_end, self.arc_segments) + [tuple(arc_end)]
            builder.lane(f"bay:{bay.station_id}", node_of[(road.id, round(bay.at_m, 3))], tip_node,
                         speed_limit_mps=bay.speed_limit_mps, width_m=road.width_m, two_way=True, via=via)
            builder.station(bay.station_id, bay.kind, tip_node, zone=bay.zone)


def _normal_towards(t: np.ndarray, d: np.ndarray) -> np.ndarray:
    n = np.array([-t[1], t[0]])
    return n if float(np.dot(n, d)) >= 0 else -n


def _arc_points(center: np.ndarray, start: np.ndarray, end: np.ndarray, segments: int) -> list[tuple[float, float]]:
    """Interior points of the short circular arc from ``start`` to ``end`` about ``center``."""
    a0 = math.atan2(start[1] - center[1], start[0] - center[0])
    a1 = math.atan2(end[1] - center[1], end[0] - center[0])
    sweep = math.atan2(math.sin(a1 - a0), math.cos(a1 - a0))
    radius = float(np.hypot(*(start - center)))
    return [
        (float(center[0] + radius * math.cos(a0 + sweep * k / segments)), float(center[1] + radius * math.sin(a0 + sweep * k / segments)))
        for k in range(1, segments)
    ]
