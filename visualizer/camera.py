"""The map camera: world metres (x east, y north) to screen pixels, pan and zoom.

Zoom moves in discrete levels, six per doubling (``scale = 2 ** (level / 6)`` pixels per
metre), so that the static map can be drawn once per level and reused
(:mod:`visualizer.static_layer`). The screen position of a fixed world anchor is kept in
whole pixels: panning shifts it by whole pixels, so cached map tiles and the vehicles
drawn over them never drift apart by rounding.
"""

from __future__ import annotations

import math

import numpy as np

MIN_LEVEL = -24
MAX_LEVEL = 30
LEVELS_PER_DOUBLING = 6


def level_scale(level: int) -> float:
    """Pixels per metre at zoom ``level``."""
    return 2.0 ** (level / LEVELS_PER_DOUBLING)


class Camera:
    """Maps world metres to pixels inside a viewport rectangle.

    Parameters
    ----------
    viewport : tuple of int
        ``(x, y, width, height)`` of the map area on the screen.
    anchor : tuple of float
        A fixed world point (the top-left corner of the map's bounds): tiles are aligned
        to it.
    """

    def __init__(self, viewport: tuple[int, int, int, int], anchor: tuple[float, float]) -> None:
        self.viewport = viewport
        self.anchor_x, self.anchor_y = anchor
        self.level = 0
        self.off_x = viewport[0]
        self.off_y = viewport[1]

    @property
    def scale(self) -> float:
        return level_scale(self.level)

    def world_to_screen(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        s = self.scale
        return self.off_x + (np.asarray(x) - self.anchor_x) * s, self.off_y + (self.anchor_y - np.asarray(y)) * s

    def screen_to_world(self, sx: float, sy: float) -> tuple[float, float]:
        s = self.scale
        return self.anchor_x + (sx - self.off_x) / s, self.anchor_y - (sy - self.off_y) / s

    def centre_world(self) -> tuple[float, float]:
        vx, vy, vw, vh = self.viewport
        return self.screen_to_world(vx + vw / 2, vy + vh / 2)

    def look_at(self, x: float, y: float) -> None:
        """Put world point ``(x, y)`` at the centre of the viewport."""
        vx, vy, vw, vh = self.viewport
        s = self.scale
        self.off_x = round(vx + vw / 2 - (x - self.anchor_x) * s)
        self.off_y = round(vy + vh / 2 - (self.anchor_y - y) * s)

    def pan(self, dx_px: int, dy_px: int) -> None:
        self.off_x += int(dx_px)
        self.off_y += int(dy_px)

    def zoom(self, steps: int, at_px: tuple[float, float] | None = None) -> None:
        """Zoom by ``steps`` levels, keeping the world point under ``at_px`` (default: centre) still."""
        vx, vy, vw, vh = self.viewport
        sx, sy = at_px if at_px is not None else (vx + vw / 2, vy + vh / 2)
        wx, wy = self.screen_to_world(sx, sy)
        self.level = int(np.clip(self.level + steps, MIN_LEVEL, MAX_LEVEL))
        s = self.scale
        self.off_x = round(sx - (wx - self.anchor_x) * s)
        self.off_y = round(sy - (self.anchor_y - wy) * s)

    def fit(self, bounds: tuple[float, float, float, float], margin_px: int = 12, *, bottom: bool = False) -> None:
        """The largest zoom level showing ``bounds`` (min x, min y, max x, max y) whole.

        Centred, or with ``bottom`` set at the bottom of the viewport (the space above is
        left to the minimap).
        """
        x0, y0, x1, y1 = bounds
        _, _, vw, vh = self.viewport
        need = min((vw - 2 * margin_px) / max(x1 - x0, 1e-6), (vh - 2 * margin_px) / max(y1 - y0, 1e-6))
        self.level = int(np.clip(math.floor(LEVELS_PER_DOUBLING * math.log2(need)), MIN_LEVEL, MAX_LEVEL))
        self.look_at((x0 + x1) / 2, (y0 + y1) / 2)
        if bottom:
            _, vy, _, vh = self.viewport
            self.off_y += round(vy + vh - margin_px - float(self.world_to_screen(x0, y0)[1]))

    def visible_world(self) -> tuple[float, float, float, float]:
        """World bounds of the viewport: (min x, min y, max x, max y)."""
        vx, vy, vw, vh = self.viewport
        x0, y1 = self.screen_to_world(vx, vy)
        x1, y0 = self.screen_to_world(vx + vw, vy + vh)
        return x0, y0, x1, y1
