"""The live layers over the static map: yard occupancy, blocked lanes, reserved cells,
paths, vehicles, queues, labels, the selection, the scale bar.

Vehicle data is turned into NumPy arrays once per telemetry change (the mirror's
``version``) and projected to the screen with one array operation per frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pygame

from visualizer import theme
from visualizer.camera import Camera
from visualizer.geometry import MapGeometry
from visualizer.widgets import TextCache, draw_badge

MIN_VEHICLE_PX = (10.0, 4.0)
"""Smallest footprint drawn (length, width): a vehicle stays visible when zoomed out."""
LABEL_ALL_SCALE = 1.4
"""From this many pixels per metre every vehicle gets its id label (below: faults and the selection)."""


@dataclass(frozen=True)
class Selection:
    kind: str  # vehicle, container, block, lane, station
    id: str


@dataclass
class VehicleArrays:
    ids: list[str]
    xy: np.ndarray
    heading: np.ndarray
    states: list[str]
    laden: np.ndarray
    battery: np.ndarray
    colours: list[theme.Colour]
    path_xy: np.ndarray  # every released and planned path point, one after the other
    paths: list[tuple[int, int, int, bool]]  # (vehicle, start, stop, released) slices of path_xy
    path_box: np.ndarray  # (len(paths), 4) min x, min y, max x, max y of each path
    reserved: np.ndarray  # unique reserved cells

    @classmethod
    def build(cls, vehicles: dict[str, dict[str, Any]]) -> VehicleArrays:
        ids = sorted(vehicles)
        vs = [vehicles[i] for i in ids]
        cells = {c for v in vs for c in v.get("reserved_cells", ())}
        chunks, paths, boxes, at = [], [], [], 0
        for i, v in enumerate(vs):
            for key, released in (("planned_path", False), ("released_path", True)):
                pts = v.get(key) or ()
                if len(pts) >= 2:
                    chunks.append(np.asarray(pts, dtype=np.float64).reshape(-1, 2))
                    boxes.append((*chunks[-1].min(axis=0), *chunks[-1].max(axis=0)))
                    paths.append((i, at, at + len(pts), released))
                    at += len(pts)
        states = [str(v.get("state", "")) for v in vs]
        return cls(
            ids=ids,
            xy=np.array([[v["x_m"], v["y_m"]] for v in vs], dtype=np.float64).reshape(-1, 2),
            heading=np.array([v["heading_rad"] for v in vs], dtype=np.float64),
            states=states,
            colours=[theme.state_colour(s) for s in states],
            laden=np.array([bool(v.get("laden")) for v in vs], dtype=bool),
            battery=np.array([float(v.get("battery_pct") or 0.0) for v in vs]),
            path_xy=np.concatenate(chunks) if chunks else np.zeros((0, 2)),
            paths=paths,
            path_box=np.array(boxes, dtype=np.float64).reshape(-1, 4),
            reserved=np.array(sorted(cells), dtype=np.int64),
        )


@dataclass
class DrawnMap:
    """What the last frame drew where (for picking and for tests)."""

    vehicle_px: dict[str, tuple[float, float]] = field(default_factory=dict)
    vehicle_radius_px: float = 6.0
    labelled: list[str] = field(default_factory=list)
    blocked_lanes: list[str] = field(default_factory=list)
    queue_badges: dict[str, str] = field(default_factory=dict)
    minimap: bool = False


class DynamicLayers:
    def __init__(self, geo: MapGeometry, texts: TextCache) -> None:
        self.geo = geo
        self.texts = texts
        self._arrays: VehicleArrays | None = None
        self._version = -1
        self._plates: dict[tuple[Any, ...], pygame.Surface] = {}

    def arrays(self, state: dict[str, Any], version: int) -> VehicleArrays:
        # PERF: built once per telemetry change, not per frame (patches come twice a second).
        if version != self._version or self._arrays is None:
            self._arrays = VehicleArrays.build(state["vehicles"])
            self._version = version
        return self._arrays

    def draw(self, target: pygame.Surface, camera: Camera, state: dict[str, Any], version: int,
             selection: Selection | None, hover_lane: int | None = None, avoid: pygame.Rect | None = None) -> DrawnMap:
        """Draw every live layer; zone labels keep clear of ``avoid`` (the minimap)."""
        # PERF: no clip rectangle: clipped drawing is about twice as slow in pygame, and the
        # panels, drawn after the map, cover whatever spills out of the viewport.
        drawn = DrawnMap()
        va = self.arrays(state, version)
        self._yard(target, camera, state)
        self._blocked(target, camera, state, drawn)
        if hover_lane is not None:
            self._lane(target, camera, hover_lane, theme.WARN_AMBER, 3)
        self._reserved(target, camera, va)
        self._paths(target, camera, va, selection)
        self._vehicles(target, camera, va, selection, drawn)
        self._zone_labels(target, camera, state, drawn, avoid)
        self._selection(target, camera, state, selection, drawn)
        self._scale_bar(target, camera)
        return drawn

    # ------------------------------------------------------------------ layers

    def _lane(self, target: pygame.Surface, camera: Camera, lane: int, colour: theme.Colour, width: int) -> None:
        g = self.geo.lanes[lane]
        sx, sy = camera.world_to_screen(g[:, 0], g[:, 1])
        pygame.draw.lines(target, colour, False, np.column_stack((sx, sy)).tolist(), width)

    def _yard(self, target: pygame.Surface, camera: Camera, state: dict[str, Any]) -> None:
        for zone in self.geo.zones:
            entry = state["yard"].get(zone.id)
            if zone.kind != "yard_block" or not isinstance(entry, dict):
                continue
            x0, y0, x1, y1 = zone.bounds
            sx0, sy1 = camera.world_to_screen(x0, y1)
            sx1, sy0 = camera.world_to_screen(x1, y0)
            rect = pygame.Rect(round(float(sx0)), round(float(sy1)), round(float(sx1 - sx0)), round(float(sy0 - sy1)))
            frac = min(1.0, entry.get("occupied", 0) / max(entry.get("capacity", 0), 1))
            fill = rect.copy()
            if rect.height >= rect.width:  # fill from the landside (south) end up
                fill.height = round(rect.height * frac)
                fill.bottom = rect.bottom
            else:
                fill.width = round(rect.width * frac)
            pygame.draw.rect(target, theme.YARD_FILL_MAP, fill)
            pygame.draw.rect(target, (150, 130, 90), rect, 1)

    def _blocked(self, target: pygame.Surface, camera: Camera, state: dict[str, Any], drawn: DrawnMap) -> None:
        width = max(3, int(camera.scale * 3))
        for lane_id in state["blocked"].get("lanes", []):
            lane = self.geo.lane_index.get(lane_id)
            if lane is None:
                continue
            self._lane(target, camera, lane, theme.BLOCKED, width)
            g = self.geo.lanes[lane]
            mx, my = camera.world_to_screen(*g[len(g) // 2] if len(g) > 2 else g.mean(axis=0))
            c, r = (round(float(mx)), round(float(my))), 5
            pygame.draw.line(target, (255, 255, 255), (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), 2)
            pygame.draw.line(target, (255, 255, 255), (c[0] - r, c[1] + r), (c[0] + r, c[1] - r), 2)
            drawn.blocked_lanes.append(lane_id)

    def _reserved(self, target: pygame.Surface, camera: Camera, va: VehicleArrays) -> None:
        cells = va.reserved[(va.reserved >= 0) & (va.reserved < len(self.geo.cell_xy))]
        if not len(cells):
            return
        xy = self.geo.cell_xy[cells]
        sx, sy = camera.world_to_screen(xy[:, 0], xy[:, 1])
        size = max(2, int(self.geo.cell_length_m * camera.scale * 0.45))
        vx, vy, vw, vh = camera.viewport
        inside = (sx > vx - size) & (sx < vx + vw) & (sy > vy - size) & (sy < vy + vh)
        half = size // 2
        fill = target.fill
        for x, y in zip(sx[inside].astype(int).tolist(), sy[inside].astype(int).tolist()):
            fill(theme.RESERVED, (x - half, y - half, size, size))

    def _paths(self, target: pygame.Surface, camera: Camera, va: VehicleArrays, selection: Selection | None) -> None:
        if not va.paths:
            return
        chosen = va.ids.index(selection.id) if selection is not None and selection.id in va.ids else -1
        wide = 2 if camera.scale >= 1.0 else 1
        # PERF: one projection of every path point per frame, then list slices per path
        # (two NumPy calls per path cost 3x more with 200 vehicles).
        sx, sy = camera.world_to_screen(va.path_xy[:, 0], va.path_xy[:, 1])
        pts = np.column_stack((sx, sy)).tolist()
        x0, y0, x1, y1 = camera.visible_world()
        b = va.path_box
        in_view = ((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)).tolist()
        lines = pygame.draw.lines
        for (i, start, stop, released), seen in zip(va.paths, in_view):
            if not seen:
                continue
            colour, width = (va.colours[i], wide) if released else (theme.PLANNED, 1)
            lines(target, colour, False, pts[start:stop], width + (2 if i == chosen else 0))

    def _vehicles(self, target: pygame.Surface, camera: Camera, va: VehicleArrays, selection: Selection | None,
                  drawn: DrawnMap) -> None:
        if not va.ids:
            return
        s = camera.scale
        length = max(self.geo.vehicle_length_m * s, MIN_VEHICLE_PX[0])
        width = max(self.geo.vehicle_width_m * s, MIN_VEHICLE_PX[1])
        sx, sy = camera.world_to_screen(va.xy[:, 0], va.xy[:, 1])
        u = np.column_stack((np.cos(va.heading), -np.sin(va.heading)))  # screen y points down
        n = np.column_stack((-u[:, 1], u[:, 0]))
        c = np.column_stack((sx, sy))
        front, back = c + u * length / 2, c - u * length / 2
        corners = np.stack((front + n * width / 2, front - n * width / 2, back - n * width / 2, back + n * width / 2), axis=1)
        inner = np.stack((c + u * length * 0.3 + n * width * 0.22, c + u * length * 0.3 - n * width * 0.22,
                          c - u * length * 0.35 - n * width * 0.22, c - u * length * 0.35 + n * width * 0.22), axis=1)
        vx, vy, vw, vh = camera.viewport
        margin = length
        visible = (sx > vx - margin) & (sx < vx + vw + margin) & (sy > vy - margin) & (sy < vy + vh + margin)
        drawn.vehicle_radius_px = max(length / 2, 6.0)
        label_all = s >= LABEL_ALL_SCALE
        chosen = selection.id if selection is not None and selection.kind == "vehicle" else None
        shown = np.flatnonzero(visible).tolist()
        # PERF: one tolist() per array instead of one per vehicle.
        corner_pts, inner_pts, centres = corners.tolist(), inner.tolist(), c.tolist()
        polygon, line, edge = pygame.draw.polygon, pygame.draw.line, 2 if length >= 16 else 1
        for i in shown:
            pts = corner_pts[i]
            polygon(target, va.colours[i], pts)
            polygon(target, (12, 14, 18), pts, 1)
            if va.laden[i]:
                polygon(target, (30, 32, 38), inner_pts[i])
            line(target, (255, 255, 255), pts[0], pts[1], edge)
            x, y = centres[i]
            drawn.vehicle_px[va.ids[i]] = (x, y)
            if va.battery[i] < 20.0:
                pygame.draw.circle(target, theme.CRIT_RED, (int(x + width), int(y - width)), 3)
        # Labels: the selection, then faults, then the rest where they do not cover another label.
        def rank(i: int) -> int:
            return 0 if va.ids[i] == chosen else 1 if va.states[i] in ("fault", "offline") else 2

        placed: list[pygame.Rect] = []
        for i in sorted(shown, key=rank):
            vid, state = va.ids[i], va.states[i]
            if rank(i) == 2 and not label_all:
                break
            broken = state in ("fault", "offline")
            pos = (int(sx[i]), int(sy[i] - length / 2 - 3))
            surf = self.texts.get(vid, 11, theme.state_colour(state) if broken else theme.TEXT, bold=broken)
            rect = surf.get_rect(midbottom=pos)
            if rank(i) == 2 and rect.inflate(4, 2).collidelist(placed) != -1:
                continue
            placed.append(rect.inflate(4, 2))
            target.fill((16, 18, 22), rect.inflate(4, 0))
            target.blit(surf, rect)
            drawn.labelled.append(vid)
            if s >= 2.5:  # battery bar under the label
                bar = pygame.Rect(rect.x, rect.bottom, rect.width, 3)
                pct = va.battery[i] / 100.0
                target.fill((60, 60, 60), bar)
                bar.width = max(1, int(bar.width * pct))
                target.fill(theme.OK_GREEN if pct >= 0.3 else theme.WARN_AMBER if pct >= 0.2 else theme.CRIT_RED, bar)

    def _zone_labels(self, target: pygame.Surface, camera: Camera, state: dict[str, Any], drawn: DrawnMap,
                     avoid: pygame.Rect | None) -> None:
        texts = self.texts
        queues = state["queues"]
        for zone in self.geo.zones:
            x0, y0, x1, y1 = zone.bounds
            sx0, sy0 = camera.world_to_screen(x0, y1)
            sx1, sy1 = camera.world_to_screen(x1, y0)
            w_px, h_px = float(sx1 - sx0), float(sy1 - sy0)
            if zone.kind == "yard_block":
                self._block_label(target, camera, zone, state["yard"].get(zone.id), (sx0 + sx1) / 2, (sy0 + sy1) / 2, w_px, h_px)
            elif w_px >= 20:
                name = zone.name if texts.get(zone.name, 12).get_width() <= w_px * 1.3 else zone.id
                label = self._label(((name, (236, 238, 242)),), False)
                rect = label.get_rect(center=self._label_point(camera, zone, sx0, sy0, sx1, sy1))
                if avoid is not None and rect.colliderect(avoid):
                    rect.left = avoid.right + 8
                target.blit(label, rect)
            queue = queues.get(zone.kind if zone.kind in ("scanner", "lab", "inspection") else "")
            if isinstance(queue, int):
                drawn.queue_badges[zone.kind] = str(queue)
                draw_badge(target, texts, f"Q {queue}", (int(sx1), int(sy0)), _queue_colour(queue), anchor="midleft")
        for block, (px, py) in self.geo.crane_point.items():
            queue = queues.get(f"crane:{block}")
            if isinstance(queue, int):
                sx, sy = camera.world_to_screen(px, py)
                drawn.queue_badges[f"crane:{block}"] = str(queue)
                draw_badge(target, texts, f"C {queue}", (int(sx), int(sy) - 8), _queue_colour(queue), size=10, anchor="midbottom")

    @staticmethod
    def _label_point(camera: Camera, zone: Any, sx0: float, sy0: float, sx1: float, sy1: float) -> tuple[int, int]:
        """The zone's label point; for a zone larger than the view, the middle of its visible part."""
        vx, vy, vw, vh = camera.viewport
        if sx0 >= vx and sy0 >= vy and sx1 <= vx + vw and sy1 <= vy + vh:
            cx, cy = camera.world_to_screen(*zone.centroid)
            return int(cx), int(cy)
        x0, y0, x1, y1 = max(sx0, vx), max(sy0, vy), min(sx1, vx + vw), min(sy1, vy + vh)
        return int((x0 + x1) / 2), int((y0 + y1) / 2)

    def _block_label(self, target: pygame.Surface, camera: Camera, zone: Any, entry: Any, cx: float, cy: float,
                     w_px: float, h_px: float) -> None:
        """Block id, occupancy and reefer / perishable counts, along the block's long side."""
        parts = [(zone.id, theme.TEXT)]
        if isinstance(entry, dict):
            pct = 100.0 * entry.get("occupied", 0) / max(entry.get("capacity", 0), 1)
            parts += [(f" {pct:.0f}%", theme.TEXT), (f"  R{entry.get('reefer', 0)}", theme.REEFER),
                      (f" P{entry.get('perishable', 0)}", theme.PERISHABLE)]
        surf = self._label(tuple(parts), h_px >= w_px, bold=True, size=11)
        long_side = max(w_px, h_px)
        if max(surf.get_size()) <= long_side + 4:
            target.blit(surf, surf.get_rect(center=(int(cx), int(cy))))
        else:
            self.texts.draw(target, zone.id, (int(cx), int(cy)), 11, theme.TEXT, bold=True, anchor="center")

    def _label(self, parts: tuple[tuple[str, theme.Colour], ...], vertical: bool, *, bold: bool = False,
               size: int = 12) -> pygame.Surface:
        """Coloured text pieces on a dark translucent plate, turned upright when ``vertical`` (cached)."""
        key = (parts, vertical, bold, size)
        surf = self._plates.get(key)
        if surf is None:
            pieces = [self.texts.get(text, size, colour, bold=bold) for text, colour in parts]
            surf = pygame.Surface((sum(p.get_width() for p in pieces) + 6, max(p.get_height() for p in pieces)), pygame.SRCALPHA)
            surf.fill((16, 18, 22, 180))
            x = 3
            for p in pieces:
                surf.blit(p, (x, 0))
                x += p.get_width()
            if vertical:
                surf = pygame.transform.rotate(surf, 90)
            if len(self._plates) > 512:
                self._plates.clear()
            self._plates[key] = surf
        return surf

    def _selection(self, target: pygame.Surface, camera: Camera, state: dict[str, Any], selection: Selection | None,
                   drawn: DrawnMap) -> None:
        if selection is None:
            return
        if selection.kind == "vehicle" and selection.id in drawn.vehicle_px:
            x, y = drawn.vehicle_px[selection.id]
            pygame.draw.circle(target, theme.SELECTED, (int(x), int(y)), int(drawn.vehicle_radius_px + 6), 2)
        elif selection.kind == "block" and selection.id in self.geo.zone_index:
            zone = self.geo.zones[self.geo.zone_index[selection.id]]
            sx, sy = camera.world_to_screen(zone.exterior[:, 0], zone.exterior[:, 1])
            pygame.draw.polygon(target, theme.SELECTED, np.column_stack((sx, sy)).tolist(), 2)
        elif selection.kind == "lane" and selection.id in self.geo.lane_index:
            self._lane(target, camera, self.geo.lane_index[selection.id], theme.SELECTED, 2)
        elif selection.kind == "station" and selection.id in self.geo.station_ids:
            x, y = self.geo.station_xy[self.geo.station_ids.index(selection.id)]
            sx, sy = camera.world_to_screen(x, y)
            pygame.draw.circle(target, theme.SELECTED, (int(sx), int(sy)), 8, 2)

    def _scale_bar(self, target: pygame.Surface, camera: Camera) -> None:
        vx, vy, vw, vh = camera.viewport
        metres = _nice_length(110.0 / camera.scale)
        px = int(metres * camera.scale)
        x, y = vx + 14, vy + vh - 16
        target.fill((16, 18, 22), (x - 6, y - 20, px + 12, 28))
        pygame.draw.line(target, theme.TEXT, (x, y), (x + px, y), 2)
        for tick in (x, x + px):
            pygame.draw.line(target, theme.TEXT, (tick, y - 5), (tick, y + 3), 2)
        label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
        self.texts.draw(target, label, (x + px // 2, y - 4), 12, theme.TEXT, anchor="midbottom")
        nx, ny = vx + vw - 22, vy + 30
        pygame.draw.polygon(target, theme.TEXT, [(nx, ny - 14), (nx - 6, ny + 2), (nx + 6, ny + 2)])
        self.texts.draw(target, "N", (nx, ny + 4), 12, theme.TEXT, bold=True, anchor="midtop")


def _queue_colour(n: int) -> theme.Colour:
    return (150, 158, 170) if n == 0 else theme.WARN_AMBER if n <= 3 else theme.CRIT_RED


def _nice_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``metres``."""
    power = 10.0 ** math.floor(math.log10(max(metres, 1e-9)))
    for k in (5.0, 2.0, 1.0):
        if k * power <= metres:
            return k * power
    return power
