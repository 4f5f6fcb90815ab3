"""The control room, headless: what the operator sees and what a click sends.

Frames are drawn from scripted or recorded telemetry with the SDL dummy driver; the checks
read the frame's own record (where vehicles were drawn, the panels' text, the commands
sent) and, where it matters, the colour of the pixel where a vehicle must be.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pygame
import pytest

from visualizer import theme
from visualizer.app import ControlRoom
from visualizer.layers import Selection
from visualizer.source import RecordedSource, Snapshot

LANE = "R7/002"  # 450 m, east to west along the south of the terminal


def vehicle(x_m: float, y_m: float, state: str = "moving", **extra: Any) -> dict[str, Any]:
    return {"x_m": x_m, "y_m": y_m, "heading_rad": math.pi, "speed_mps": 4.0, "state": state, "battery_pct": 64.5,
            "laden": False, "container": None, "job": None, "station": None, "released_path": [], "planned_path": [],
            "reserved_cells": [], "errors": [], **extra}


def lane_point(tm: Any, lane_id: str, fraction: float = 0.5) -> tuple[float, float]:
    g = tm.lane_geometry[tm.lane_ids.index(lane_id)]
    return tuple(g[0] + (g[-1] - g[0]) * fraction)


def base_state(tm: Any, vehicles: dict[str, Any]) -> dict[str, Any]:
    return {"map": tm.name, "clock": {"t_s": 3600.0, "speed_factor": 20.0, "paused": False}, "vehicles": vehicles,
            "containers": {}, "yard": {}, "queues": {}, "blocked": {"lanes": [], "zones": []}, "kpi": {}, "alerts": []}


def click(room: ControlRoom, pos: tuple[float, float], button: int = 1) -> None:
    p = (int(round(pos[0])), int(round(pos[1])))
    room.frame([pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=p, button=button),
                pygame.event.Event(pygame.MOUSEBUTTONUP, pos=p, button=button)])


def key(room: ControlRoom, k: int, mod: int = 0) -> None:
    room.frame([pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod)])


def button(room: ControlRoom, action: str) -> Any:
    return next(b for b in room.buttons() if b.action == action)


def screen_of(room: ControlRoom, x: float, y: float) -> tuple[float, float]:
    sx, sy = room.camera.world_to_screen(x, y)
    return float(sx), float(sy)


@pytest.fixture
def scripted(screen: pygame.Surface, default_map: Any, capture: Any, make_source: Any) -> Any:
    """A room on a two-vehicle snapshot on lane R7/002."""
    x, y = lane_point(default_map, LANE)
    state = base_state(default_map, {"igv-001": vehicle(x, y), "igv-002": vehicle(x + 60.0, y, "charging")})
    source = make_source(Snapshot(5, state))
    room = ControlRoom(source, capture, screen, threaded_commands=False)  # the map is loaded by its name
    room.frame()
    yield room, source, (x, y)
    room.close()


def test_vehicles_appear_where_the_telemetry_puts_them(scripted: Any) -> None:
    room, source, (x, y) = scripted
    room.camera.zoom(12)  # about 4 px/m: a 15.5 m vehicle is 60 px long
    room.camera.look_at(x, y)
    room.frame()
    cx, cy = pygame.Rect(room.camera.viewport).center
    s = room.camera.scale
    assert room.drawn.vehicle_px["igv-001"] == pytest.approx((cx, cy), abs=1.0)
    assert room.screen.get_at((cx, cy))[:3] == theme.VEHICLE_STATES["moving"][0]
    assert room.screen.get_at((round(cx + 60 * s), cy))[:3] == theme.VEHICLE_STATES["charging"][0]
    # The next patch moves igv-001 30 m north and drops igv-002.
    source.push({"seq": 6, "t_s": 3601.0, "changes": {"vehicles": {"igv-001": vehicle(x, y + 30.0), "igv-002": None}}})
    room.frame()
    assert room.screen.get_at((cx, round(cy - 30 * s)))[:3] == theme.VEHICLE_STATES["moving"][0]
    assert room.screen.get_at((cx, cy))[:3] != theme.VEHICLE_STATES["moving"][0]
    assert set(room.drawn.vehicle_px) == {"igv-001"}
    assert "igv-001" in room.drawn.labelled  # ids are written when zoomed in


def test_recorded_fleet_is_drawn_at_its_positions(screen: pygame.Surface, recording: Any, capture: Any) -> None:
    room = ControlRoom(RecordedSource(recording, per_poll=3), capture, screen, threaded_commands=False)
    for _ in range(4):
        room.frame()
    vehicles = room.mirror.state["vehicles"]
    assert room.mirror.seq == json.loads(recording.read_text().splitlines()[-1])["seq"] and len(vehicles) == 30
    vx, vy, vw, vh = room.camera.viewport
    for vid, v in vehicles.items():
        sx, sy = screen_of(room, v["x_m"], v["y_m"])
        inside = vx <= sx < vx + vw and vy <= sy < vy + vh
        if inside:
            assert room.drawn.vehicle_px[vid] == pytest.approx((sx, sy))
        elif vid in room.drawn.vehicle_px:  # drawn just outside: clipped at the edge
            assert not pygame.Rect(room.camera.viewport).inflate(-60, -60).collidepoint(sx, sy)
    fleet_rows = room.panels["left"].rows
    assert "FLEET 30 vehicles" in fleet_rows
    room.close()


def test_selected_vehicle_details_match_the_telemetry(screen: pygame.Surface, recording: Any,
                                                     capture: Any) -> None:
    room = ControlRoom(RecordedSource(recording, per_poll=9), capture, screen, threaded_commands=False)
    room.frame()
    drawn = room.drawn.vehicle_px
    vehicles = room.mirror.state["vehicles"]

    def clearance(vid: str) -> float:
        return min(math.dist(drawn[vid], p) for other, p in drawn.items() if other != vid)

    vid = max((v for v in drawn if vehicles[v].get("container")), key=clearance)
    click(room, drawn[vid])
    assert room.selection == Selection("vehicle", vid)
    v = vehicles[vid]
    rows = room.panels["right"].rows
    assert f"VEHICLE {vid} {v['state']}" in rows
    assert f"Battery {v['battery_pct']:.1f} %" in rows
    assert f"Job {v['job']}" in rows
    assert f"Container {v['container']} ›" in rows
    assert f"Reserved cells {len(v['reserved_cells'])}" in rows
    assert f"State {theme.VEHICLE_STATES[v['state']][1]}" in rows
    # Its container's details are one click further.
    link = next(b for b in room.buttons() if b.args.get("id") == v["container"])
    click(room, link.rect.center)
    assert room.selection == Selection("container", v["container"])
    assert f"Location on {vid} ›" in room.panels["right"].rows
    room.close()


def test_an_alert_appears_when_a_tamper_event_arrives(scripted: Any) -> None:
    room, source, _ = scripted
    assert "no alerts" in room.panels["right"].rows
    container = {"direction": "export", "size_ft": 40, "reefer": False, "perishable": True, "deadline_s": 9000.0,
                 "location_kind": "yard", "location": "E1-T1", "customs": "hold", "gate_in_s": 1200.0,
                 "cleared_s": None, "eseal": "tamper"}
    alert = {"id": "A-000007", "t_s": 3601.0, "kind": "tamper", "severity": "critical", "subject": "CNT-000042",
             "text": "e-seal tamper on CNT-000042: sent to inspection hold"}
    source.push({"seq": 6, "t_s": 3601.0, "changes": {"containers": {"CNT-000042": container}, "alerts": [alert]}})
    room.frame()
    rows = room.panels["right"].rows
    assert "ALERTS 1 critical · 1 kept" in rows
    assert "E-SEAL TAMPER 01:00:01" in rows
    assert alert["text"] in rows
    click(room, next(b for b in room.buttons() if b.args.get("id") == "CNT-000042").rect.center)
    assert "E-seal tamper" in room.panels["right"].rows and "Customs hold" in room.panels["right"].rows


def test_clicking_a_lane_sends_a_block_command(scripted: Any, capture: Any, default_map: Any) -> None:
    room, source, _ = scripted
    x, y = lane_point(default_map, LANE, 0.25)  # away from the vehicles
    click(room, button(room, "tool_lane").rect.center)
    assert room.tool == "lane"
    click(room, screen_of(room, x, y))
    assert capture.sent == [{"cmd": "block_lane", "lane": LANE}]
    assert room.status == ("block_lane R7/002: ok", False)
    source.push({"seq": 6, "t_s": 3601.0, "changes": {"blocked": {"lanes": [LANE], "zones": []}}})
    room.frame()
    assert room.drawn.blocked_lanes == [LANE]
    click(room, screen_of(room, x, y))  # a blocked lane is unblocked
    assert capture.sent[-1] == {"cmd": "unblock_lane", "lane": LANE}
    key(room, pygame.K_ESCAPE)
    assert room.tool == ""
    click(room, screen_of(room, x, y))  # without the tool a click selects the lane; nothing is sent
    assert room.selection == Selection("lane", LANE) and len(capture.sent) == 2
    assert "LANE R7/002 BLOCKED" in room.panels["right"].rows
    click(room, button(room, "unblock_lane").rect.center)
    assert capture.sent[-1] == {"cmd": "unblock_lane", "lane": LANE}


def test_emergency_stop_needs_confirmation(scripted: Any, capture: Any) -> None:
    room, _, _ = scripted
    click(room, button(room, "estop").rect.center)
    assert room.dialog is not None and capture.sent == []
    key(room, pygame.K_ESCAPE)
    assert room.dialog is None and capture.sent == []
    click(room, button(room, "estop").rect.center)
    click(room, button(room, "tool_lane").rect.center)  # the dialog is modal: the toolbar does nothing
    assert room.tool == "" and room.dialog is not None
    key(room, pygame.K_RETURN)
    assert capture.sent == [{"cmd": "estop", "confirm": True}]
    assert "E-STOP" in room.panels["top"].rows and "[Release E-STOP]" in room.panels["top"].rows
    click(room, button(room, "estop_release").rect.center)
    click(room, room.dialog_buttons[0].rect.center)
    assert capture.sent[-1] == {"cmd": "estop_release", "confirm": True}


def test_a_refused_command_is_shown_as_an_error(screen: pygame.Surface, default_map: Any, make_source: Any,
                                                make_capture: Any) -> None:
    refusing = make_capture({"ok": False, "error": "forbidden: viewer keys may not 'pause'"})
    room = ControlRoom(make_source(Snapshot(0, base_state(default_map, {}))), refusing, screen,
                       threaded_commands=False)
    room.frame()
    key(room, pygame.K_SPACE)
    assert refusing.sent == [{"cmd": "pause"}]
    assert room.status == ("pause: refused: forbidden: viewer keys may not 'pause'", True)
    room.close()


def test_speed_and_pause_commands(scripted: Any, capture: Any) -> None:
    room, source, _ = scripted
    click(room, button(room, "speed_up").rect.center)
    click(room, button(room, "speed_down").rect.center)
    click(room, button(room, "pause_all").rect.center)
    assert capture.sent == [{"cmd": "set_speed", "factor": 40.0}, {"cmd": "set_speed", "factor": 10.0}, {"cmd": "pause"}]
    source.push({"seq": 6, "t_s": 3601.0, "changes": {"clock": {"t_s": 3601.0, "speed_factor": 20.0, "paused": True}}})
    room.frame()
    assert "PAUSED" in room.panels["top"].rows
    click(room, button(room, "resume_all").rect.center)
    assert capture.sent[-1] == {"cmd": "resume"}


def test_a_gap_shows_stale_until_the_next_snapshot(scripted: Any) -> None:
    room, source, _ = scripted
    assert "LIVE" in room.panels["top"].rows
    source.snapshot = None  # the core does not answer at once
    source.push({"seq": 9, "t_s": 3700.0, "changes": {}})
    room.frame()
    assert room.mirror.needs_snapshot and "STALE" in room.panels["top"].rows
    source.snapshot = Snapshot(9, base_state(room.geo.tm, {}))
    room.frame()
    assert room.mirror.seq == 9 and "LIVE" in room.panels["top"].rows and room.drawn.vehicle_px == {}


def test_yard_block_selection_lists_its_containers(screen: pygame.Surface, recording: Any, capture: Any) -> None:
    room = ControlRoom(RecordedSource(recording, per_poll=9), capture, screen, threaded_commands=False)
    room.frame()
    zone = room.geo.zones[room.geo.zone_index["E2"]]
    x0, y0, x1, y1 = zone.bounds
    click(room, screen_of(room, (x0 + x1) / 2, y0 + 0.3 * (y1 - y0)))
    assert room.selection == Selection("block", "E2")
    entry = room.mirror.state["yard"]["E2"]
    rows = room.panels["right"].rows
    assert f"Occupancy {entry['occupied']} / {entry['capacity']} ({100 * entry['occupied'] / entry['capacity']:.0f} %)" in rows
    assert f"{entry['occupied']} containers, most urgent first:" in rows
    assert room.panels["right"].used_px <= room.layout.right.height
    room.close()


def test_inject_job_picks_two_stations_and_confirms(scripted: Any, capture: Any) -> None:
    room, _, _ = scripted
    geo = room.geo
    a, b = geo.station_ids.index("E1-T1"), geo.station_ids.index("SCN-2")
    key(room, pygame.K_j)
    click(room, screen_of(room, *geo.station_xy[a]))
    click(room, screen_of(room, *geo.station_xy[b]))
    assert room.dialog is not None and capture.sent == []
    key(room, pygame.K_KP_ENTER)
    sent = capture.sent[0]
    assert (sent["cmd"], sent["from_station"], sent["to_station"]) == ("inject_job", "E1-T1", "SCN-2")
    assert sent["container"].startswith("OP-")


def test_pan_zoom_fit_and_minimap(scripted: Any) -> None:
    room, _, _ = scripted
    cam = room.camera
    assert room.drawn.minimap  # the terminal view leaves the rest of the map to the minimap
    centre = pygame.Rect(cam.viewport).center
    before = cam.screen_to_world(*centre)
    room.frame([pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=centre, button=1),
                pygame.event.Event(pygame.MOUSEMOTION, pos=(centre[0] + 50, centre[1]), rel=(50, 0), buttons=(1, 0, 0)),
                pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(centre[0] + 50, centre[1]), button=1)])
    assert cam.screen_to_world(*centre)[0] == pytest.approx(before[0] - 50 / cam.scale)
    assert room.selection is None  # a drag is not a click
    scale = cam.scale
    room.frame([pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=2)])
    assert cam.scale == pytest.approx(scale * 2 ** (2 / 6))
    mx, my = room.minimap.rect.center
    click(room, (mx, my))
    assert cam.centre_world() == pytest.approx(room.minimap.world_at((mx, my)), abs=2 / cam.scale)
    key(room, pygame.K_f)
    assert room.view == "map" and not room.drawn.minimap


def test_panels_fit_and_do_not_overlap(scripted: Any, recording: Any) -> None:
    room, _, _ = scripted
    rects = [getattr(room.layout, name) for name in ("top", "bottom", "left", "right", "map")]
    screen = pygame.Rect((0, 0), room.screen.get_size())
    for i, a in enumerate(rects):
        assert screen.contains(a)
        assert all(not a.colliderect(b) for b in rects[i + 1:])
    for name in ("left", "right"):
        assert room.panels[name].used_px <= getattr(room.layout, name).height


def test_an_unknown_map_is_reported_not_raised(screen: pygame.Surface, capture: Any, make_source: Any) -> None:
    state = {"map": "atlantis", "vehicles": {}}
    room = ControlRoom(make_source(Snapshot(0, state)), capture, screen, threaded_commands=False)
    room.frame()
    room.frame()
    text, error = room.status
    assert error and text.startswith("cannot show map 'atlantis': no map 'atlantis'")
    assert room.camera is None
    room.close()
