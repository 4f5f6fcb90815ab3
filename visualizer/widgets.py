"""Small drawing helpers: cached text, buttons, bars, badges and the confirmation dialog."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import pygame

from visualizer import theme

MAX_TEXTS = 4000


class TextCache:
    """Rendered text surfaces by (text, size, bold, colour).

    # PERF: rendering a string with FreeType costs 20-60 µs; a control room shows the same
    # few hundred strings frame after frame, so each is rendered once.
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, int, bool, tuple[int, int, int]], pygame.Surface] = OrderedDict()

    def get(self, text: str, size: int = 13, colour: theme.Colour = theme.TEXT, bold: bool = False) -> pygame.Surface:
        key = (text, size, bold, colour)
        surf = self._cache.get(key)
        if surf is None:
            surf = theme.font(size, bold).render(text, True, colour)
            self._cache[key] = surf
            if len(self._cache) > MAX_TEXTS:
                self._cache.popitem(last=False)
        return surf

    def draw(self, target: pygame.Surface, text: str, pos: tuple[int, int], size: int = 13,
             colour: theme.Colour = theme.TEXT, bold: bool = False, anchor: str = "topleft") -> pygame.Rect:
        surf = self.get(text, size, colour, bold)
        rect = surf.get_rect(**{anchor: pos})
        target.blit(surf, rect)
        return rect

    def fit(self, text: str, width_px: int, size: int = 13, bold: bool = False) -> str:
        """``text`` shortened with an ellipsis to fit ``width_px``."""
        f = theme.font(size, bold)
        if f.size(text)[0] <= width_px:
            return text
        while text and f.size(text + "…")[0] > width_px:
            text = text[:-1]
        return text + "…"

    def wrap(self, text: str, width_px: int, size: int = 13, max_lines: int = 2) -> list[str]:
        """Words of ``text`` in lines of at most ``width_px``; the last line is shortened to fit."""
        f = theme.font(size)
        lines: list[str] = []
        current = ""
        words = text.split()
        for k, word in enumerate(words):
            trial = f"{current} {word}".strip()
            if f.size(trial)[0] <= width_px or not current:
                current = trial
                continue
            lines.append(current)
            current = word
            if len(lines) == max_lines - 1:
                current = " ".join(words[k:])
                break
        if current:
            lines.append(current)
        if len(lines) > max_lines - 1:
            lines[-1] = self.fit(lines[-1], width_px, size)
        return lines[:max_lines]


@dataclass
class Button:
    """A clickable rectangle; ``action`` and ``args`` say what a click does."""

    rect: pygame.Rect
    label: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    style: str = "normal"  # normal, active, danger, link


BUTTON_COLOURS = {
    "normal": ((52, 60, 72), theme.TEXT),
    "active": ((40, 110, 190), theme.TEXT),
    "danger": ((180, 40, 40), (255, 255, 255)),
    "link": (None, theme.ACCENT),
}


def draw_button(target: pygame.Surface, texts: TextCache, button: Button, size: int = 13) -> None:
    fill, colour = BUTTON_COLOURS.get(button.style, BUTTON_COLOURS["normal"])
    if fill is not None:
        pygame.draw.rect(target, fill, button.rect, border_radius=4)
        pygame.draw.rect(target, theme.PANEL_EDGE, button.rect, 1, border_radius=4)
        texts.draw(target, button.label, button.rect.center, size, colour, bold=True, anchor="center")
    else:
        texts.draw(target, button.label, button.rect.midleft, size, colour, anchor="midleft")


def draw_bar(target: pygame.Surface, rect: pygame.Rect, fraction: float, colour: theme.Colour,
             back: theme.Colour = (50, 56, 66)) -> None:
    """A horizontal bar filled to ``fraction`` (clipped to [0, 1])."""
    pygame.draw.rect(target, back, rect)
    filled = rect.copy()
    filled.width = int(round(rect.width * max(0.0, min(1.0, fraction))))
    if filled.width > 0:
        pygame.draw.rect(target, colour, filled)


def draw_badge(target: pygame.Surface, texts: TextCache, text: str, pos: tuple[int, int], fill: theme.Colour,
               size: int = 11, anchor: str = "center") -> pygame.Rect:
    """Text in a rounded box (queue lengths on the map)."""
    surf = texts.get(text, size, (16, 18, 22), bold=True)
    rect = surf.get_rect().inflate(8, 2)
    setattr(rect, anchor, pos)
    pygame.draw.rect(target, fill, rect, border_radius=5)
    target.blit(surf, surf.get_rect(center=rect.center))
    return rect


@dataclass
class Dialog:
    """A modal question; ``command`` is sent when the operator confirms."""

    title: str
    lines: list[str]
    command: dict[str, Any]
    confirm_label: str = "Confirm"
    danger: bool = False


def draw_dialog(target: pygame.Surface, texts: TextCache, dialog: Dialog, area: pygame.Rect) -> list[Button]:
    """Draw ``dialog`` centred in ``area`` over a dimmed screen; return its two buttons."""
    shade = pygame.Surface(target.get_size(), pygame.SRCALPHA)
    shade.fill((0, 0, 0, 140))
    target.blit(shade, (0, 0))
    box = pygame.Rect(0, 0, 460, 150 + 20 * len(dialog.lines))
    box.center = area.center
    pygame.draw.rect(target, theme.PANEL, box, border_radius=8)
    pygame.draw.rect(target, theme.CRIT_RED if dialog.danger else theme.ACCENT, box, 2, border_radius=8)
    texts.draw(target, dialog.title, (box.x + 20, box.y + 16), 18, theme.CRIT_RED if dialog.danger else theme.TEXT, bold=True)
    y = box.y + 52
    for line in dialog.lines:
        texts.draw(target, texts.fit(line, box.width - 40), (box.x + 20, y), 14)
        y += 20
    confirm = Button(pygame.Rect(box.right - 250, box.bottom - 50, 130, 34), f"{dialog.confirm_label} (Enter)",
                     "dialog_confirm", style="danger" if dialog.danger else "active")
    cancel = Button(pygame.Rect(box.right - 110, box.bottom - 50, 90, 34), "Cancel (Esc)", "dialog_cancel")
    for button in (confirm, cancel):
        draw_button(target, texts, button, 12)
    return [confirm, cancel]


EPOCH_FROM_S = 10 * 365 * 86400.0
"""Clock values from here on are Unix time (a core on a real clock), shown as local time."""


def fmt_clock(t_s: float) -> str:
    """Simulation time as ``HH:MM:SS``, with the day from the second day on; Unix time as local time."""
    if t_s >= EPOCH_FROM_S:
        return time.strftime("%H:%M:%S", time.localtime(t_s))
    t = max(0, int(t_s))
    day, rest = divmod(t, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"day {day + 1} {text}" if day else text


def fmt_span(seconds: float) -> str:
    """A duration as ``1 h 05 min``, ``12 min`` or ``40 s`` (negative: ``-12 min``)."""
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    if s >= 3600:
        return f"{sign}{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{sign}{s // 60} min"
    return f"{sign}{s} s"


class Writer:
    """Lays out rows of a panel top-down and records every text and button.

    ``rows`` keeps the text drawn (tests read it instead of pixels); ``buttons`` are in
    screen coordinates (the panel surface is blitted at ``origin``).
    """

    def __init__(self, surface: pygame.Surface, texts: TextCache, origin: tuple[int, int], pad: int = 12) -> None:
        self.surface = surface
        self.texts = texts
        self.origin = origin
        self.x = pad
        self.y = 8
        self.width = surface.get_width() - 2 * pad
        self.rows: list[str] = []
        self.buttons: list[Button] = []

    def heading(self, text: str, right: str = "", right_colour: theme.Colour = theme.TEXT_DIM) -> None:
        self.y += 4
        self.texts.draw(self.surface, text, (self.x, self.y), 12, theme.ACCENT, bold=True)
        if right:
            self.texts.draw(self.surface, right, (self.x + self.width, self.y), 12, right_colour, anchor="topright")
        pygame.draw.line(self.surface, theme.PANEL_EDGE, (self.x, self.y + 18), (self.x + self.width, self.y + 18))
        self.rows.append(f"{text} {right}".strip())
        self.y += 24

    def line(self, text: str, colour: theme.Colour = theme.TEXT, *, size: int = 13, bold: bool = False, indent: int = 0,
             right: str = "", right_colour: theme.Colour = theme.TEXT, swatch: theme.Colour | None = None,
             height: int = 18) -> pygame.Rect:
        x = self.x + indent
        if swatch is not None:
            pygame.draw.rect(self.surface, swatch, (x, self.y + 3, 12, 11), border_radius=2)
            x += 18
        right_w = self.texts.get(right, size, right_colour).get_width() + 8 if right else 0
        shown = self.texts.fit(text, self.x + self.width - x - right_w, size, bold)
        rect = self.texts.draw(self.surface, shown, (x, self.y), size, colour, bold)
        if right:
            self.texts.draw(self.surface, right, (self.x + self.width, self.y), size, right_colour, anchor="topright")
        self.rows.append(f"{text} {right}".strip())
        self.y += height
        return rect.move(self.origin)

    def bar(self, fraction: float, colour: theme.Colour, *, indent: int = 0, height: int = 6) -> None:
        draw_bar(self.surface, pygame.Rect(self.x + indent, self.y, self.width - indent, height), fraction, colour)
        self.y += height + 6

    def buttons_row(self, specs: list[tuple[str, str, dict[str, Any], str]], height: int = 26) -> None:
        """Buttons side by side: (label, action, args, style) each."""
        gap = 6
        width = (self.width - gap * (len(specs) - 1)) // max(len(specs), 1)
        for k, (label, action, args, style) in enumerate(specs):
            rect = pygame.Rect(self.x + k * (width + gap), self.y, width, height)
            button = Button(rect, label, action, args, style)
            draw_button(self.surface, self.texts, button, 12)
            self.buttons.append(Button(rect.move(self.origin), label, action, args, style))
            self.rows.append(f"[{label}]")
        self.y += height + 6

    def link(self, text: str, action: str, args: dict[str, Any], colour: theme.Colour = theme.ACCENT, *,
             size: int = 13, indent: int = 0, right: str = "", height: int = 18) -> None:
        """A text row that acts as a button (e.g. a container listed in a block)."""
        rect = self.line(text, colour, size=size, indent=indent, right=right, right_colour=theme.TEXT_DIM, height=height)
        full = pygame.Rect(self.origin[0] + self.x, rect.y, self.width, rect.height)
        self.buttons.append(Button(full, text, action, args, "link"))

    def gap(self, px: int = 6) -> None:
        self.y += px
