"""The drawable geometry of a track map, prepared once: arrays the drawing and picking use.

Lanes become one segment table (for picking) plus polylines (for drawing), each with a
bounding box so that a tile or a click only looks at what is near it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from maps.trackmap import TrackMap

TERMINAL_KINDS = frozenset({"yard_block", "scanner", "lab", "inspection", "parking", "charging", "gate", "building"})
"""Zone kinds of the terminal proper: the default view shows them (the rest is in the minimap)."""


@dataclass(frozen=True)
class ZoneShape:
    id: str
    kind: str
    name: str
    exterior: np.ndarray  # (k, 2) world metres
    bounds: tuple[float, float, float, float]
    centroid: tuple[float, float]


class MapGeometry:
    """Everything the control room draws of a :class:`TrackMap` that never changes."""

    def __init__(self, tm: TrackMap) -> None:
        self.tm = tm
        self.name = tm.name
        self.lane_ids = tm.lane_ids
        self.lane_index = {lane: i for i, lane in enumerate(tm.lane_ids)}
        self.lanes = [np.asarray(g, dtype=np.float64) for g in tm.lane_geometry]
        self.lane_two_way = np.asarray(tm.lane_two_way, dtype=bool)
        self.lane_width_m = np.asarray(tm.lane_width_m, dtype=np.float64)
        self.lane_bounds = np.array([[g[:, 0].min(), g[:, 1].min(), g[:, 0].max(), g[:, 1].max()] for g in self.lanes]
                                    ) if self.lanes else np.zeros((0, 4))
        seg_a, seg_b, seg_lane = [], [], []
        for i, g in enumerate(self.lanes):
            seg_a.append(g[:-1])
            seg_b.append(g[1:])
            seg_lane.append(np.full(len(g) - 1, i, dtype=np.int32))
        self.seg_a = np.concatenate(seg_a) if seg_a else np.zeros((0, 2))
        self.seg_b = np.concatenate(seg_b) if seg_b else np.zeros((0, 2))
        self.seg_lane = np.concatenate(seg_lane) if seg_lane else np.zeros(0, dtype=np.int32)
        self.zones: list[ZoneShape] = []
        for z in tm.zones:
            poly = z.polygon
            c = poly.representative_point() if z.kind != "yard_block" else poly.centroid
            self.zones.append(ZoneShape(z.id, z.kind, z.name, np.asarray(poly.exterior.coords)[:-1],
                                        tuple(poly.bounds), (c.x, c.y)))
        self.zone_polygons = [z.polygon for z in tm.zones]
        self.zone_index = dict(tm.zone_index)
        self.station_ids = tuple(s.id for s in tm.stations)
        self.station_kinds = tuple(s.kind for s in tm.stations)
        self.station_xy = np.array([tm.node_xy[s.node] for s in tm.stations]) if tm.stations else np.zeros((0, 2))
        self.station_zone = {s.id: s.zone_id for s in tm.stations}
        self.cell_xy = np.asarray(tm.cell_xy, dtype=np.float64)
        self.cell_length_m = float(tm.cell_length_m)
        self.vehicle_length_m = float(tm.vehicle.length_m)
        self.vehicle_width_m = float(tm.vehicle.width_m)
        xs = [tm.node_xy[:, 0]] + [z.exterior[:, 0] for z in self.zones]
        ys = [tm.node_xy[:, 1]] + [z.exterior[:, 1] for z in self.zones]
        x = np.concatenate(xs) if tm.n_nodes or self.zones else np.zeros(1)
        y = np.concatenate(ys) if tm.n_nodes or self.zones else np.zeros(1)
        self.bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        terminal = [z.bounds for z in self.zones if z.kind in TERMINAL_KINDS]
        self.terminal_bounds = (min(b[0] for b in terminal), min(b[1] for b in terminal),
                                max(b[2] for b in terminal), max(b[3] for b in terminal)) if terminal else self.bounds
        # Where the crane queue of a yard block is shown: its crane transfer stations' middle.
        self.crane_point: dict[str, tuple[float, float]] = {}
        for z in self.zones:
            if z.kind == "yard_block":
                pts = [self.station_xy[i] for i, s in enumerate(tm.stations) if s.zone_id == z.id]
                self.crane_point[z.id] = tuple(np.mean(pts, axis=0)) if pts else (z.bounds[2], z.bounds[3])

    def lanes_in(self, x0: float, y0: float, x1: float, y1: float, pad_m: float = 0.0) -> np.ndarray:
        """Indices of lanes whose bounding box meets the box (grown by ``pad_m``)."""
        b = self.lane_bounds
        hit = (b[:, 2] >= x0 - pad_m) & (b[:, 0] <= x1 + pad_m) & (b[:, 3] >= y0 - pad_m) & (b[:, 1] <= y1 + pad_m)
        return np.flatnonzero(hit)

    def zone_at(self, x: float, y: float) -> str | None:
        """The smallest zone containing the point (a yard block before the site around it)."""
        hits = [(p.area, self.zones[i].id) for i, p in enumerate(self.zone_polygons) if shapely.contains_xy(p, x, y)]
        return min(hits)[1] if hits else None

    def lane_near(self, x: float, y: float, tolerance_m: float) -> int | None:
        """The lane nearest to the point within ``tolerance_m``, or None."""
        if not len(self.seg_a):
            return None
        p = np.array([x, y])
        d = self.seg_b - self.seg_a
        length2 = np.maximum((d * d).sum(axis=1), 1e-12)
        t = np.clip(((p - self.seg_a) * d).sum(axis=1) / length2, 0.0, 1.0)
        dist = np.hypot(*(self.seg_a + t[:, None] * d - p).T)
        k = int(np.argmin(dist))
        return int(self.seg_lane[k]) if dist[k] <= tolerance_m else None

    def station_near(self, x: float, y: float, tolerance_m: float) -> str | None:
        if not len(self.station_xy):
            return None
        dist = np.hypot(self.station_xy[:, 0] - x, self.station_xy[:, 1] - y)
        k = int(np.argmin(dist))
        return self.station_ids[k] if dist[k] <= tolerance_m else None

    def block_of(self, location: str) -> str | None:
        """The yard block of a container location (a block id or a station in a block)."""
        if location in self.zone_index and self.tm.zones[self.zone_index[location]].kind == "yard_block":
            return location
        zone = self.station_zone.get(location)
        return zone if zone in self.crane_point else None
