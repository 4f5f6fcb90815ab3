"""An overview of the whole map in a corner of the map view, shown while zoomed in.

It shows every vehicle as a dot in its state colour and the main view's rectangle;
clicking it centres the main view there. The map picture is drawn once.
"""

from __future__ import annotations

import numpy as np
import pygame

from visualizer import theme
from visualizer.camera import Camera
from visualizer.geometry import MapGeometry
from visualizer.layers import VehicleArrays

MAX_SIZE_PX = (150, 230)
MARGIN_PX = 10


class Minimap:
    def __init__(self, geo: MapGeometry, viewport: tuple[int, int, int, int]) -> None:
        self.geo = geo
        x0, y0, x1, y1 = geo.bounds
        self.scale = min(MAX_SIZE_PX[0] / max(x1 - x0, 1.0), MAX_SIZE_PX[1] / max(y1 - y0, 1.0))
        size = (max(1, int((x1 - x0) * self.scale)), max(1, int((y1 - y0) * self.scale)))
        self.rect = pygame.Rect(viewport[0] + MARGIN_PX, viewport[1] + MARGIN_PX, *size)
        self.picture = pygame.Surface(size)
        self.picture.fill(theme.MAP_GROUND)
        for zone in geo.zones:
            colour = theme.ZONE_STYLE.get(zone.kind, (theme.ZONE_DEFAULT, ""))[0]
            pts = self._local(zone.exterior)
            if len(pts) >= 3:
                pygame.draw.polygon(self.picture, colour, pts.tolist())
        for lane in geo.lanes:
            pygame.draw.lines(self.picture, theme.LANE, False, self._local(lane).tolist(), 1)

    def _local(self, xy: np.ndarray) -> np.ndarray:
        x0, _, _, y1 = self.geo.bounds
        return np.column_stack(((xy[:, 0] - x0) * self.scale, (y1 - xy[:, 1]) * self.scale))

    def needed(self, camera: Camera) -> bool:
        """Shown only when the main view does not show the whole map."""
        vx0, vy0, vx1, vy1 = camera.visible_world()
        x0, y0, x1, y1 = self.geo.bounds
        return x0 < vx0 or y0 < vy0 or x1 > vx1 or y1 > vy1

    def draw(self, target: pygame.Surface, camera: Camera, vehicles: VehicleArrays) -> None:
        frame = self.rect.inflate(6, 6)
        target.fill(theme.PANEL_EDGE, frame)
        target.blit(self.picture, self.rect)
        if len(vehicles.ids):
            pts = self._local(vehicles.xy).astype(int) + np.array(self.rect.topleft)
            for (x, y), state in zip(pts.tolist(), vehicles.states):
                target.fill(theme.state_colour(state), (x - 1, y - 1, 3, 3))
        vx0, vy0, vx1, vy1 = camera.visible_world()
        corners = self._local(np.array([[vx0, vy1], [vx1, vy0]])) + np.array(self.rect.topleft)
        view = pygame.Rect(corners[0].tolist(), (corners[1] - corners[0]).tolist()).clip(self.rect)
        pygame.draw.rect(target, theme.SELECTED, view, 1)

    def world_at(self, pos: tuple[int, int]) -> tuple[float, float] | None:
        """The world point under a click on the minimap, or None if the click missed it."""
        if not self.rect.collidepoint(pos):
            return None
        x0, _, _, y1 = self.geo.bounds
        return x0 + (pos[0] - self.rect.x) / self.scale, y1 - (pos[1] - self.rect.y) / self.scale
