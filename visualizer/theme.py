"""Colours, fonts, sizes and the screen layout of the control room.

One place for the look, so that the legend, the map and the panels always agree.
Colours are chosen for a dark control-room screen: state colours are distinct for the
common forms of colour blindness where possible and always paired with a text label.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
import pygame  # noqa: E402

Colour = tuple[int, int, int]

BACKGROUND: Colour = (22, 26, 32)
MAP_GROUND: Colour = (38, 44, 52)
PANEL: Colour = (30, 35, 43)
PANEL_EDGE: Colour = (62, 70, 82)
TEXT: Colour = (226, 230, 236)
TEXT_DIM: Colour = (150, 158, 170)
ACCENT: Colour = (90, 170, 255)
LANE: Colour = (92, 100, 112)
LANE_BAY: Colour = (78, 86, 98)
LANE_ARROW: Colour = (150, 158, 170)
BLOCKED: Colour = (235, 60, 60)
RESERVED: Colour = (190, 140, 40)
PLANNED: Colour = (120, 150, 190)
SELECTED: Colour = (255, 255, 255)
OK_GREEN: Colour = (80, 200, 120)
WARN_AMBER: Colour = (240, 180, 60)
CRIT_RED: Colour = (235, 70, 70)

VEHICLE_STATES: dict[str, tuple[Colour, str]] = {
    "moving": ((70, 200, 110), "moving"),
    "waiting": ((240, 200, 60), "waiting (dependency)"),
    "loading": ((80, 160, 255), "loading / unloading"),
    "charging": ((60, 215, 215), "charging"),
    "idle": ((165, 170, 180), "idle"),
    "paused": ((200, 130, 230), "paused"),
    "manual": ((205, 120, 60), "manual (out of service)"),
    "fault": ((240, 60, 60), "fault"),
    "offline": ((110, 110, 118), "offline"),
}
UNKNOWN_STATE: Colour = (255, 0, 255)

ZONE_STYLE: dict[str, tuple[Colour, str]] = {
    "yard_block": ((92, 80, 58), "yard block"),
    "scanner": ((120, 60, 66), "scanner"),
    "lab": ((88, 70, 120), "laboratory"),
    "inspection": ((122, 86, 50), "inspection hold"),
    "charging": ((48, 100, 74), "charging"),
    "parking": ((56, 66, 80), "parking"),
    "handover": ((52, 92, 84), "handover yard"),
    "bridge": ((110, 110, 116), "bridge"),
    "gate": ((112, 104, 52), "e-Gate"),
    "building": ((70, 70, 74), "building (no go)"),
    "no_go": ((34, 62, 96), "river / no go"),
}
ZONE_DEFAULT: Colour = (70, 70, 70)
STATION_COLOURS: dict[str, Colour] = {
    "crane_transfer": (230, 170, 60),
    "scanner_bay": (240, 110, 110),
    "lab_bay": (190, 150, 240),
    "inspection_bay": (240, 160, 90),
    "charger": (90, 230, 150),
    "parking": (120, 132, 148),
    "truck_exchange": (230, 220, 100),
    "handover": (110, 210, 190),
}
SEVERITY: dict[str, Colour] = {"info": ACCENT, "warning": WARN_AMBER, "critical": CRIT_RED}
YARD_FILL: Colour = (200, 160, 80)
YARD_FILL_MAP: Colour = (150, 118, 62)
REEFER: Colour = (100, 200, 255)
PERISHABLE: Colour = (120, 220, 90)

CLEARANCE_TARGET_H = (4.0, 6.0)
"""The smart gate's clearance-time target (design.md §1): p95 above 6 h is a problem."""


@dataclass(frozen=True)
class Layout:
    """Rectangles of the screen regions; panels never overlap the map or each other."""

    width: int = 1280
    height: int = 800
    top_h: int = 44
    bottom_h: int = 26
    left_w: int = 240
    right_w: int = 316

    @property
    def top(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.width, self.top_h)

    @property
    def bottom(self) -> pygame.Rect:
        return pygame.Rect(0, self.height - self.bottom_h, self.width, self.bottom_h)

    @property
    def left(self) -> pygame.Rect:
        return pygame.Rect(0, self.top_h, self.left_w, self.height - self.top_h - self.bottom_h)

    @property
    def right(self) -> pygame.Rect:
        return pygame.Rect(self.width - self.right_w, self.top_h, self.right_w, self.height - self.top_h - self.bottom_h)

    @property
    def map(self) -> pygame.Rect:
        return pygame.Rect(self.left_w, self.top_h, self.width - self.left_w - self.right_w,
                           self.height - self.top_h - self.bottom_h)


@lru_cache(maxsize=None)
def font(size: int, bold: bool = False) -> pygame.font.Font:
    """DejaVu Sans when installed (clear at small sizes), else pygame's own font."""
    if not pygame.font.get_init():
        pygame.font.init()
    path = pygame.font.match_font("dejavusans,dejavusanscondensed,freesans,arial", bold=bold)
    return pygame.font.Font(path, size) if path else pygame.font.Font(None, size + 4)


def state_colour(state: str) -> Colour:
    entry = VEHICLE_STATES.get(state)
    return entry[0] if entry else UNKNOWN_STATE
