"""The details of the selected vehicle, container, yard block, lane or station.

Written into the right panel with a :class:`~visualizer.widgets.Writer`; the buttons it
adds (pause a vehicle, take it out of service, block a lane, ...) are turned into
control-API commands by :mod:`visualizer.input`.
"""

from __future__ import annotations

from typing import Any

from visualizer import theme
from visualizer.geometry import MapGeometry
from visualizer.layers import Selection
from visualizer.widgets import Writer, fmt_clock, fmt_span

CONTAINERS_LISTED = 8


def write_details(w: Writer, state: dict[str, Any], geo: MapGeometry, selection: Selection | None) -> None:
    if selection is None:
        w.heading("DETAILS")
        for text in ("Click a vehicle, yard block, lane or station",
                     "on the map, or an alert, for its details.",
                     "Drag to pan, wheel to zoom, F to fit."):
            w.line(text, theme.TEXT_DIM, size=12, height=16)
        return
    writer = {"vehicle": _vehicle, "container": _container, "block": _block, "lane": _lane, "station": _station}[selection.kind]
    writer(w, state, geo, selection.id)


def _gone(w: Writer, what: str, ident: str) -> None:
    w.heading(f"{what.upper()} {ident}")
    w.line(f"{ident} is no longer in the telemetry.", theme.TEXT_DIM)


def _vehicle(w: Writer, state: dict[str, Any], geo: MapGeometry, vid: str) -> None:
    v = state["vehicles"].get(vid)
    if v is None:
        _gone(w, "vehicle", vid)
        return
    mode = str(v.get("state", ""))
    w.heading(f"VEHICLE {vid}", mode, theme.state_colour(mode))
    w.line("State", right=theme.VEHICLE_STATES.get(mode, (None, mode or "unknown"))[1], right_colour=theme.state_colour(mode))
    battery = float(v.get("battery_pct") or 0.0)
    w.line("Battery", right=f"{battery:.1f} %",
           right_colour=theme.OK_GREEN if battery >= 30 else theme.WARN_AMBER if battery >= 20 else theme.CRIT_RED)
    w.bar(battery / 100.0, theme.OK_GREEN if battery >= 30 else theme.WARN_AMBER if battery >= 20 else theme.CRIT_RED, height=5)
    w.line("Speed", right=f"{float(v.get('speed_mps') or 0.0):.1f} m/s")
    w.line("Position", right=f"{float(v['x_m']):.1f} E  {float(v['y_m']):.1f} N", size=12)
    container = v.get("container")
    if container and container in state["containers"]:
        w.link("Container", "select", {"kind": "container", "id": container}, theme.TEXT, right=f"{container} ›")
    else:
        w.line("Container", right=str(container) if container else ("laden" if v.get("laden") else "empty"))
    w.line("Job", right=str(v.get("job") or "–"))
    if v.get("station"):
        w.line("At station", right=str(v["station"]))
    w.line("Released / planned", right=f"{len(v.get('released_path') or [])} / {len(v.get('planned_path') or [])} points")
    w.line("Reserved cells", right=str(len(v.get("reserved_cells") or [])))
    for error in (v.get("errors") or [])[:3]:
        w.line(str(error), theme.CRIT_RED, size=12)
    paused = mode == "paused"
    manual = mode == "manual"
    w.gap(2)
    w.buttons_row([
        ("Resume" if paused else "Pause", "resume_vehicle" if paused else "pause_vehicle", {"vehicle": vid}, "normal"),
        ("Back in service" if manual else "Out of service", "set_manual", {"vehicle": vid, "manual": not manual}, "normal"),
        ("Centre", "centre", {"x": float(v["x_m"]), "y": float(v["y_m"])}, "normal"),
    ])


def _container(w: Writer, state: dict[str, Any], geo: MapGeometry, cid: str) -> None:
    c = state["containers"].get(cid)
    if c is None:
        _gone(w, "container", cid)
        return
    now = float(state["clock"].get("t_s", 0.0))
    seal = str(c.get("eseal", "?"))
    w.heading(f"CONTAINER {cid}", str(c.get("direction", "")))
    flags = [f"{c.get('size_ft', '?')} ft"] + (["reefer"] if c.get("reefer") else []) + (["perishable"] if c.get("perishable") else [])
    w.line("Type", right=" · ".join(flags))
    w.line("Customs", right=str(c.get("customs", "?")),
           right_colour=theme.CRIT_RED if c.get("customs") == "hold" else theme.TEXT)
    w.line("E-seal", right=seal, right_colour=theme.CRIT_RED if seal == "tamper" else theme.WARN_AMBER if seal == "opened" else theme.OK_GREEN)
    kind, location = str(c.get("location_kind", "?")), str(c.get("location") or "")
    if kind == "igv" and location in state["vehicles"]:
        w.link("Location", "select", {"kind": "vehicle", "id": location}, theme.TEXT, right=f"on {location} ›")
    else:
        block = geo.block_of(location) if kind == "yard" else None
        w.line("Location", right=f"{kind} {location}".strip() + (f" (block {block})" if block and block != location else ""))
    gate_in = c.get("gate_in_s")
    if isinstance(gate_in, (int, float)):
        in_system = now - float(gate_in)
        limit_s = theme.CLEARANCE_TARGET_H[1] * 3600.0
        w.line("Gate-in", right=f"{fmt_clock(float(gate_in))} ({fmt_span(in_system)} ago)",
               right_colour=theme.CRIT_RED if in_system > limit_s and not c.get("cleared_s") else theme.TEXT)
    cleared = c.get("cleared_s")
    if isinstance(cleared, (int, float)):
        w.line("Cleared", right=fmt_clock(float(cleared)))
    deadline = c.get("deadline_s")
    if isinstance(deadline, (int, float)):
        left = float(deadline) - now
        w.line("Deadline", right=f"{fmt_clock(float(deadline))} (in {fmt_span(left)})" if left >= 0 else f"missed by {fmt_span(-left)}",
               right_colour=theme.CRIT_RED if left < 3600 else theme.WARN_AMBER if left < 2 * 3600 else theme.TEXT)


def _block(w: Writer, state: dict[str, Any], geo: MapGeometry, block: str) -> None:
    entry = state["yard"].get(block) or {}
    occupied, capacity = int(entry.get("occupied", 0)), int(entry.get("capacity", 0))
    w.heading(f"YARD BLOCK {block}", f"crane queue {state['queues'].get(f'crane:{block}', 0)}")
    w.line("Occupancy", right=f"{occupied} / {capacity} ({100 * occupied / max(capacity, 1):.0f} %)")
    w.bar(occupied / max(capacity, 1), theme.YARD_FILL, height=6)
    w.line("Reefer", theme.REEFER, right=str(entry.get("reefer", 0)))
    w.line("Perishable", theme.PERISHABLE, right=str(entry.get("perishable", 0)))
    now = float(state["clock"].get("t_s", 0.0))
    here = [(cid, c) for cid, c in state["containers"].items()
            if c.get("location_kind") == "yard" and geo.block_of(str(c.get("location") or "")) == block]
    here.sort(key=lambda item: (item[1].get("deadline_s") is None, item[1].get("deadline_s") or 0.0, item[0]))
    w.line(f"{len(here)} containers, most urgent first:", theme.TEXT_DIM, size=12)
    for cid, c in here[:CONTAINERS_LISTED]:
        marks = ("R" if c.get("reefer") else "") + ("P" if c.get("perishable") else "")
        deadline = c.get("deadline_s")
        due = f"due {fmt_span(float(deadline) - now)}" if isinstance(deadline, (int, float)) else str(c.get("customs", ""))
        w.link(f"{cid} {marks}".strip(), "select", {"kind": "container", "id": cid}, size=12, right=due, height=16)


def _lane(w: Writer, state: dict[str, Any], geo: MapGeometry, lane_id: str) -> None:
    lane = geo.lane_index.get(lane_id)
    if lane is None:
        _gone(w, "lane", lane_id)
        return
    tm = geo.tm
    blocked = lane_id in state["blocked"].get("lanes", [])
    w.heading(f"LANE {lane_id}", "BLOCKED" if blocked else "open", theme.CRIT_RED if blocked else theme.OK_GREEN)
    w.line("Length", right=f"{float(tm.lane_length_m[lane]):.1f} m")
    w.line("Speed limit", right=f"{float(tm.lane_speed_limit_mps[lane]):.1f} m/s")
    w.line("Width", right=f"{float(tm.lane_width_m[lane]):.2f} m")
    w.line("Direction", right="two-way" if tm.lane_two_way[lane] else "one-way")
    w.buttons_row([("Unblock lane" if blocked else "Block lane", "unblock_lane" if blocked else "block_lane",
                    {"lane": lane_id}, "normal" if blocked else "danger")])


def _station(w: Writer, state: dict[str, Any], geo: MapGeometry, station_id: str) -> None:
    tm = geo.tm
    if station_id not in tm.station_index:
        _gone(w, "station", station_id)
        return
    st = tm.station(station_id)
    w.heading(f"STATION {station_id}", st.kind)
    w.line("Kind", right=st.kind.replace("_", " "))
    w.line("Zone", right=str(st.zone_id or "–"))
    here = [vid for vid, v in state["vehicles"].items() if v.get("station") == station_id]
    w.line("Vehicles at it", right=", ".join(here) or "none")
