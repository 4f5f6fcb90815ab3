"""The panels around the map: top bar (clock, status, actions), left (legend, fleet,
queues, yard) and right (KPIs, alerts, details of the selection).

Each panel is drawn into its own surface and redrawn only when what it shows changed
(see :class:`visualizer.app.ControlRoom`); the text it drew is kept in ``rows`` so that
tests check what the operator reads, not pixels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pygame

from visualizer import theme
from visualizer.details import write_details
from visualizer.geometry import MapGeometry
from visualizer.layers import Selection
from visualizer.widgets import Button, TextCache, Writer, draw_button, fmt_clock

ALERT_KINDS = {
    "comm_loss": "COMM LOSS", "tamper": "E-SEAL TAMPER", "deadline_risk": "DEADLINE RISK",
    "vehicle_fault": "VEHICLE FAULT", "blocked_lane": "BLOCKED LANE", "battery_low": "BATTERY LOW",
}
ALERTS_SHOWN = 6


@dataclass
class PanelOutput:
    surface: pygame.Surface
    rows: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    used_px: int = 0
    """Height the content took (more than the surface's height means it was cut off)."""


@dataclass(frozen=True)
class TopStatus:
    """What the top bar shows besides telemetry."""

    link: str  # LIVE, STALE, NO DATA, REPLAY
    detail: str
    tool: str  # "", "lane", "job"
    estop_sent: bool
    operator: str


def _panel(rect: pygame.Rect) -> pygame.Surface:
    surface = pygame.Surface(rect.size)
    surface.fill(theme.PANEL)
    return surface


def top_bar(rect: pygame.Rect, texts: TextCache, state: dict[str, Any], status: TopStatus) -> PanelOutput:
    surface = _panel(rect)
    out = PanelOutput(surface)
    pygame.draw.line(surface, theme.PANEL_EDGE, (0, rect.height - 1), (rect.width, rect.height - 1))
    texts.draw(surface, "IGV CONTROL ROOM", (14, 5), 16, theme.TEXT, bold=True)
    texts.draw(surface, f"Bac Luan II · map {state.get('map') or '-'}", (14, 25), 11, theme.TEXT_DIM)
    clock = state["clock"]
    t_text = fmt_clock(float(clock.get("t_s", 0.0)))
    factor = float(clock.get("speed_factor", 1.0))
    texts.draw(surface, t_text, (245, 6), 22, theme.TEXT, bold=True)
    factor_rect = texts.draw(surface, f"sim ×{factor:g}", (245 + texts.get(t_text, 22, bold=True).get_width() + 10, 13), 13,
                             theme.TEXT_DIM)
    out.rows += [t_text, f"sim ×{factor:g}"]
    badges = [(status.link, theme.OK_GREEN if status.link in ("LIVE", "DEMO") else theme.ACCENT if status.link == "REPLAY"
               else theme.WARN_AMBER if status.link == "STALE" else theme.CRIT_RED)]
    if clock.get("paused"):
        badges.append(("PAUSED", theme.VEHICLE_STATES["paused"][0]))
    if status.estop_sent:
        badges.append(("E-STOP", theme.CRIT_RED))
    paused = bool(clock.get("paused"))
    specs = [
        ("Resume all" if paused else "Pause all", "resume_all" if paused else "pause_all", "normal", 96),
        ("Release E-STOP" if status.estop_sent else "E-STOP", "estop_release" if status.estop_sent else "estop", "danger", 116),
        ("Block lanes [L]", "tool_lane", "active" if status.tool == "lane" else "normal", 118),
        ("Inject job [J]", "tool_job", "active" if status.tool == "job" else "normal", 108),
        ("−", "speed_down", "normal", 28),
        ("+", "speed_up", "normal", 28),
    ]
    buttons_x = rect.width - 10 - sum(w for *_, w in specs) - 6 * (len(specs) - 1)
    x = max(470, factor_rect.right + 16)
    for text, colour in badges:
        surf = texts.get(text, 12, (16, 18, 22), bold=True)
        box = surf.get_rect().inflate(14, 8)
        box.midleft = (x, rect.height // 2)
        pygame.draw.rect(surface, colour, box, border_radius=4)
        surface.blit(surf, surf.get_rect(center=box.center))
        out.rows.append(text)
        x = box.right + 8
    if status.link == "NO DATA":  # say what it waits for
        texts.draw(surface, texts.fit(status.detail, buttons_x - x - 12, 11), (x, rect.height // 2), 11, theme.TEXT_DIM,
                   anchor="midleft")
    x = buttons_x
    for label, action, style, width in specs:
        button = Button(pygame.Rect(x, 8, width, rect.height - 16), label, action, style=style)
        draw_button(surface, texts, button, 12)
        out.buttons.append(Button(button.rect.move(rect.topleft), label, action, style=style))
        out.rows.append(f"[{label}]")
        x += width + 6
    return out


def left_panel(rect: pygame.Rect, texts: TextCache, state: dict[str, Any]) -> PanelOutput:
    surface = _panel(rect)
    pygame.draw.line(surface, theme.PANEL_EDGE, (rect.width - 1, 0), (rect.width - 1, rect.height))
    w = Writer(surface, texts, rect.topleft)
    vehicles = state["vehicles"]
    counts = Counter(str(v.get("state", "")) for v in vehicles.values())
    w.heading("FLEET", f"{len(vehicles)} vehicles")
    for key, (colour, label) in theme.VEHICLE_STATES.items():
        n = counts.get(key, 0)
        w.line(label, theme.TEXT if n else theme.TEXT_DIM, swatch=colour, right=str(n),
               right_colour=theme.TEXT if n else theme.TEXT_DIM, height=17)
    unknown = sum(n for k, n in counts.items() if k not in theme.VEHICLE_STATES)
    if unknown:
        w.line("unknown state", swatch=theme.UNKNOWN_STATE, right=str(unknown), height=17)
    w.gap(2)
    w.heading("LEGEND")
    _legend_symbols(w)
    kinds = [k for k in theme.ZONE_STYLE]
    half = (len(kinds) + 1) // 2
    top = w.y
    for col, chunk in enumerate((kinds[:half], kinds[half:])):
        w.y = top
        for kind in chunk:
            colour, label = theme.ZONE_STYLE[kind]
            w.line(label, theme.TEXT_DIM, size=11, swatch=colour, indent=col * (w.width // 2), height=15)
    w.y = top + half * 15
    w.gap(2)
    queues = state["queues"]
    w.heading("QUEUES")
    for key, label in (("scanner", "Scanner"), ("lab", "Laboratory"), ("inspection", "Inspection hold")):
        n = queues.get(key, 0)
        w.line(label, right=str(n), right_colour=_queue_colour(n), height=17)
    cranes = sorted((k[6:], n) for k, n in queues.items() if k.startswith("crane:"))
    for k in range(0, len(cranes), 3):
        chunk = cranes[k:k + 3]
        w.line("Cranes " + "  ".join(f"{b} {n}" for b, n in chunk), theme.TEXT, size=12, height=17)
    w.heading("YARD", "occupancy · reefer · perishable")
    for block, entry in sorted(state["yard"].items()):
        if not isinstance(entry, dict):
            continue
        occupied, capacity = int(entry.get("occupied", 0)), int(entry.get("capacity", 0))
        frac = occupied / capacity if capacity else 0.0
        w.line(f"{block}  {occupied}/{capacity}", size=12, right=f"R{entry.get('reefer', 0)}  P{entry.get('perishable', 0)}",
               right_colour=theme.TEXT_DIM, height=15)
        w.bar(frac, theme.YARD_FILL if frac < 0.85 else theme.CRIT_RED, height=5)
    return PanelOutput(surface, w.rows, w.buttons, w.y)


def _legend_symbols(w: Writer) -> None:
    moving = theme.VEHICLE_STATES["moving"][0]

    def line(colour: theme.Colour, width: int) -> Any:
        return lambda s, x, y: pygame.draw.line(s, colour, (x, y + 8), (x + 14, y + 8), width)

    def vehicle(mark: str) -> Any:
        def paint(s: pygame.Surface, x: int, y: int) -> None:
            s.fill(moving, (x, y + 5, 15, 7))
            s.fill((30, 32, 38), (x + 4, y + 7, 7, 3)) if mark == "laden" else s.fill((255, 255, 255), (x + 13, y + 5, 2, 7))
        return paint

    items = [
        ("released path", line(moving, 2)),
        ("planned horizon", line(theme.PLANNED, 1)),
        ("reserved cell", lambda s, x, y: s.fill(theme.RESERVED, (x + 4, y + 4, 6, 6))),
        ("blocked lane", line(theme.BLOCKED, 3)),
        ("laden (dark box)", vehicle("laden")),
        ("front (white edge)", vehicle("front")),
        ("battery < 20 %", lambda s, x, y: pygame.draw.circle(s, theme.CRIT_RED, (x + 7, y + 8), 3)),
        ("queue Q / crane C", lambda s, x, y: pygame.draw.rect(s, theme.WARN_AMBER, (x, y + 3, 15, 11), border_radius=4)),
    ]
    half = (len(items) + 1) // 2
    top = w.y
    for col, chunk in enumerate((items[:half], items[half:])):
        w.y = top
        shift = col * (w.width // 2)
        for label, paint in chunk:
            paint(w.surface, w.x + shift, w.y)
            w.line(label, theme.TEXT_DIM, size=11, indent=shift + 18, height=15)
    w.y = top + half * 15


def _queue_colour(n: int) -> theme.Colour:
    return theme.TEXT_DIM if n == 0 else theme.WARN_AMBER if n <= 3 else theme.CRIT_RED


def right_panel(rect: pygame.Rect, texts: TextCache, state: dict[str, Any], geo: MapGeometry,
                selection: Selection | None) -> PanelOutput:
    surface = _panel(rect)
    pygame.draw.line(surface, theme.PANEL_EDGE, (0, 0), (0, rect.height))
    w = Writer(surface, texts, rect.topleft)
    _kpis(w, state["kpi"])
    _alerts(w, state, geo)
    write_details(w, state, geo, selection)
    return PanelOutput(surface, w.rows, w.buttons, w.y)


def _kpis(w: Writer, kpi: dict[str, Any]) -> None:
    w.heading("KPIs", "last hour")
    per_h = kpi.get("crossings_per_h") or {}
    total = kpi.get("containers_crossed") or {}
    w.line("Crossings / h  ▲ north", right=f"{_num(per_h.get('northbound'))}   ({_num(total.get('northbound'), 0)} total)")
    w.line("Crossings / h  ▼ south", right=f"{_num(per_h.get('southbound'))}   ({_num(total.get('southbound'), 0)} total)")
    p50, p95 = kpi.get("clearance_time_h_p50"), kpi.get("clearance_time_h_p95")
    lo, hi = theme.CLEARANCE_TARGET_H
    colour = theme.TEXT_DIM if p95 is None else theme.OK_GREEN if p95 <= hi else theme.CRIT_RED
    w.line(f"Clearance p50 / p95 (target {lo:g}–{hi:g} h)", right=f"{_num(p50, 1)} / {_num(p95, 1)} h", right_colour=colour)
    _clearance_bar(w, p50, p95)
    util = kpi.get("vehicle_utilisation")
    w.line("Vehicle utilisation", right="–" if util is None else f"{100 * float(util):.0f} %")
    w.bar(float(util or 0.0), theme.ACCENT, height=5)
    w.line("Energy used", right=f"{_num(kpi.get('energy_kwh'), 0)} kWh")


def _clearance_bar(w: Writer, p50: Any, p95: Any, max_h: float = 8.0) -> None:
    """0–8 h with the 4–6 h target band, p50 and p95 marked."""
    x, y, width = w.x, w.y + 2, w.width
    lo, hi = theme.CLEARANCE_TARGET_H
    pygame.draw.rect(w.surface, (50, 56, 66), (x, y, width, 8))
    pygame.draw.rect(w.surface, (46, 100, 70), (x + int(width * lo / max_h), y, int(width * (hi - lo) / max_h), 8))
    for value, colour in ((p50, theme.TEXT), (p95, theme.WARN_AMBER)):
        if isinstance(value, (int, float)):
            px = x + int(width * min(float(value), max_h) / max_h)
            pygame.draw.line(w.surface, colour, (px, y - 2), (px, y + 9), 2)
    w.y += 16


def _alerts(w: Writer, state: dict[str, Any], geo: MapGeometry) -> None:
    alerts = state["alerts"]
    critical = sum(1 for a in alerts if a.get("severity") == "critical")
    w.heading("ALERTS", f"{critical} critical · {len(alerts)} kept", theme.CRIT_RED if critical else theme.TEXT_DIM)
    if not alerts:
        w.line("no alerts", theme.TEXT_DIM)
    for alert in reversed(alerts[-ALERTS_SHOWN:]):
        colour = theme.SEVERITY.get(str(alert.get("severity")), theme.TEXT_DIM)
        kind = ALERT_KINDS.get(str(alert.get("kind")), str(alert.get("kind", "alert")).upper())
        t = alert.get("t_s")
        when = fmt_clock(float(t)) if isinstance(t, (int, float)) else "--:--:--"
        subject = str(alert.get("subject", ""))
        w.line(f"{kind}", colour, size=12, bold=True, swatch=colour, right=when, right_colour=theme.TEXT_DIM, height=16)
        text = str(alert.get("text", ""))
        target = _subject_selection(subject, state, geo)
        if target is not None:
            w.link(text, "select", {"kind": target.kind, "id": target.id}, theme.TEXT, size=12, indent=18, height=17)
        else:
            w.line(text, theme.TEXT, size=12, indent=18, height=17)


def _subject_selection(subject: str, state: dict[str, Any], geo: MapGeometry) -> Selection | None:
    """What clicking an alert selects: its vehicle, container or lane."""
    if subject in state["vehicles"]:
        return Selection("vehicle", subject)
    if subject in state["containers"]:
        return Selection("container", subject)
    if subject in geo.lane_index:
        return Selection("lane", subject)
    return None


def _num(value: Any, digits: int = 1) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "–"
    return f"{float(value):.{digits}f}"
