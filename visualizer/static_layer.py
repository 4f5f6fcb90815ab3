"""The static map (zones, lanes with direction, stations), drawn once per zoom level.

# PERF: the map never changes while the control room runs, so it is painted into
# 512-pixel tiles per zoom level and each frame only blits the tiles in view (a few
# blits instead of ~650 polylines, their arrows and ~20 polygons). Tiles are made on first
# sight and kept in a small LRU cache; ``python -m bench.render`` compares this with
# painting the map every frame (:meth:`StaticLayer.draw_uncached`).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pygame

from visualizer import theme
from visualizer.camera import Camera
from visualizer.geometry import MapGeometry

TILE_PX = 512
MAX_TILES = 64
"""64 tiles of 512 x 512 x 4 bytes: 64 MiB at most."""
ARROW_SPACING_PX = 70.0


class StaticLayer:
    """Paints the static map; see the module docstring."""

    def __init__(self, geo: MapGeometry) -> None:
        self.geo = geo
        self._tiles: OrderedDict[tuple[int, int, int], pygame.Surface] = OrderedDict()
        order = sorted(range(len(geo.zones)), key=lambda i: -geo.zone_polygons[i].area)
        self._zone_order = order  # big zones first, so that smaller ones lie on top

    def draw(self, target: pygame.Surface, camera: Camera) -> None:
        """Blit the tiles that cover ``camera``'s viewport."""
        vx, vy, vw, vh = camera.viewport
        tx0 = math.floor((vx - camera.off_x) / TILE_PX)
        tx1 = math.floor((vx + vw - 1 - camera.off_x) / TILE_PX)
        ty0 = math.floor((vy - camera.off_y) / TILE_PX)
        ty1 = math.floor((vy + vh - 1 - camera.off_y) / TILE_PX)
        clip = target.get_clip()
        target.set_clip(pygame.Rect(camera.viewport))
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                tile = self._tile(camera.level, tx, ty, camera.scale)
                target.blit(tile, (camera.off_x + tx * TILE_PX, camera.off_y + ty * TILE_PX))
        target.set_clip(clip)

    def draw_uncached(self, target: pygame.Surface, camera: Camera) -> None:
        """Paint the map straight into the viewport (the baseline of the render bench)."""
        vx, vy, vw, vh = camera.viewport
        view = target.subsurface(pygame.Rect(camera.viewport))
        self._paint(view, camera.scale, (vx - camera.off_x, vy - camera.off_y))

    def _tile(self, level: int, tx: int, ty: int, scale: float) -> pygame.Surface:
        key = (level, tx, ty)
        tile = self._tiles.get(key)
        if tile is not None:
            self._tiles.move_to_end(key)
            return tile
        tile = pygame.Surface((TILE_PX, TILE_PX))
        if pygame.display.get_surface() is not None:
            tile = tile.convert()  # the display's pixel format blits fastest
        self._paint(tile, scale, (tx * TILE_PX, ty * TILE_PX))
        self._tiles[key] = tile
        while len(self._tiles) > MAX_TILES:
            self._tiles.popitem(last=False)
        return tile

    def _paint(self, surface: pygame.Surface, scale: float, origin_px: tuple[float, float]) -> None:
        """Paint the map into ``surface`` whose top-left is ``origin_px`` in map pixels.

        Map pixels are ``((x - anchor_x) * scale, (anchor_y - y) * scale)`` with the anchor
        at the map's top-left corner, the same as the camera's.
        """
        geo = self.geo
        ax, ay = geo.bounds[0], geo.bounds[3]
        ox, oy = origin_px
        w, h = surface.get_size()
        surface.fill(theme.MAP_GROUND)

        def to_px(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(((xy[:, 0] - ax) * scale - ox, (ay - xy[:, 1]) * scale - oy))

        # The tile's world box, to skip what is not in it.
        x0, x1 = ax + ox / scale, ax + (ox + w) / scale
        y1, y0 = ay - oy / scale, ay - (oy + h) / scale
        for i in self._zone_order:
            zone = geo.zones[i]
            bx0, by0, bx1, by1 = zone.bounds
            if bx1 < x0 or bx0 > x1 or by1 < y0 or by0 > y1:
                continue
            colour = theme.ZONE_STYLE.get(zone.kind, (theme.ZONE_DEFAULT, ""))[0]
            pts = to_px(zone.exterior).tolist()
            pygame.draw.polygon(surface, colour, pts)
            edge = tuple(min(255, c + 28) for c in colour)
            pygame.draw.polygon(surface, edge, pts, 1)
        pad_m = 10.0 / scale
        lanes = geo.lanes_in(x0, y0, x1, y1, pad_m)
        width_px = np.maximum(1, np.round(geo.lane_width_m * scale * 0.8)).astype(int)
        for lane in lanes:
            pts = to_px(geo.lanes[lane])
            colour = theme.LANE if not geo.lane_two_way[lane] else theme.LANE_BAY
            pygame.draw.lines(surface, colour, False, pts.tolist(), int(width_px[lane]))
        spacing_m = ARROW_SPACING_PX / scale
        size_px = float(np.clip(scale * 2.2, 2.5, 7.0))
        for lane in lanes:
            if not geo.lane_two_way[lane]:
                self._arrows(surface, to_px(geo.lanes[lane]), spacing_m * scale, size_px)
        r = int(np.clip(round(scale * 1.6), 2, 6))
        if len(geo.station_xy):
            pts = to_px(geo.station_xy)
            inside = (pts[:, 0] > -r) & (pts[:, 0] < w + r) & (pts[:, 1] > -r) & (pts[:, 1] < h + r)
            for k in np.flatnonzero(inside):
                colour = theme.STATION_COLOURS.get(geo.station_kinds[k], theme.TEXT_DIM)
                px, py = int(round(pts[k, 0])), int(round(pts[k, 1]))
                pygame.draw.rect(surface, colour, (px - r // 2 - 1, py - r // 2 - 1, r + 1, r + 1))

    @staticmethod
    def _arrows(surface: pygame.Surface, pts: np.ndarray, spacing_px: float, size_px: float) -> None:
        """Chevrons pointing along the polyline every ``spacing_px``, the first half a spacing in."""
        seg = np.diff(pts, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        total = float(seg_len.sum())
        if total < spacing_px * 0.5:
            if total < 3 * size_px:
                return
            marks = np.array([total / 2])
        else:
            marks = np.arange(spacing_px / 2, total, spacing_px)
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        idx = np.clip(np.searchsorted(cum, marks, side="right") - 1, 0, len(seg) - 1)
        f = (marks - cum[idx]) / np.maximum(seg_len[idx], 1e-9)
        at = pts[idx] + seg[idx] * f[:, None]
        u = seg[idx] / np.maximum(seg_len[idx], 1e-9)[:, None]
        n = np.column_stack((-u[:, 1], u[:, 0]))
        tip = at + u * size_px
        left = at - u * size_px + n * size_px * 0.8
        right = at - u * size_px - n * size_px * 0.8
        for k in range(len(marks)):
            pygame.draw.lines(surface, theme.LANE_ARROW, False,
                              (left[k].tolist(), tip[k].tolist(), right[k].tolist()), 1)
