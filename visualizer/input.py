"""Operator input: mouse and keys become camera moves, selections and control-API commands.

Nothing here changes fleet state: an action that would (pause, e-stop, block a lane,
inject a job, change the speed) is a command dict of docs/telemetry.md handed to the
room's :class:`~visualizer.control.CommandRunner`; the emergency stop and job injection
are confirmed in a dialog first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pygame

from visualizer.layers import Selection
from visualizer.widgets import Dialog, fmt_clock

if TYPE_CHECKING:
    from visualizer.app import ControlRoom

DRAG_THRESHOLD_PX = 4
PICK_RADIUS_PX = 7
PAN_STEP_PX = 80
SPEED_STEP = 2.0


class InputHandler:
    def __init__(self, room: "ControlRoom") -> None:
        self.room = room
        self._press: tuple[int, int] | None = None
        self._dragging = False
        self._job_from: str | None = None
        self._job_count = 0

    # ------------------------------------------------------------------ events

    def handle(self, event: pygame.event.Event) -> None:
        room = self.room
        if event.type == pygame.MOUSEBUTTONDOWN and event.button in (1, 3):
            if room.dialog is not None:
                self._click_buttons(event.pos, room.dialog_buttons)
            elif self._click_buttons(event.pos, room.buttons()) or room.camera is None:
                return
            elif room.drawn.minimap and room.minimap is not None and room.minimap.world_at(event.pos) is not None:
                room.camera.look_at(*room.minimap.world_at(event.pos))
            elif pygame.Rect(room.camera.viewport).collidepoint(event.pos):
                self._press, self._dragging = event.pos, False
        elif event.type == pygame.MOUSEMOTION and self._press is not None and room.camera is not None:
            if self._dragging or max(abs(event.pos[0] - self._press[0]), abs(event.pos[1] - self._press[1])) >= DRAG_THRESHOLD_PX:
                self._dragging = True
                room.camera.pan(*event.rel)
        elif event.type == pygame.MOUSEBUTTONUP and event.button in (1, 3) and self._press is not None:
            if not self._dragging and event.button == 1:
                self.click_map(event.pos)
            self._press, self._dragging = None, False
        elif event.type == pygame.MOUSEWHEEL and room.camera is not None:
            pos = pygame.mouse.get_pos()
            at = pos if pygame.Rect(room.camera.viewport).collidepoint(pos) else None
            room.camera.zoom(int(event.y), at)
        elif event.type == pygame.KEYDOWN:
            self._key(event)

    def _key(self, event: pygame.event.Event) -> None:
        room, key = self.room, event.key
        if room.dialog is not None:
            if key in (pygame.K_RETURN, pygame.K_KP_ENTER):
                self.perform("dialog_confirm", {})
            elif key == pygame.K_ESCAPE:
                self.perform("dialog_cancel", {})
            return
        camera = room.camera
        actions = {
            pygame.K_l: ("tool_lane", {}), pygame.K_j: ("tool_job", {}), pygame.K_e: ("estop", {}),
            pygame.K_RIGHTBRACKET: ("speed_up", {}), pygame.K_LEFTBRACKET: ("speed_down", {}),
            pygame.K_SPACE: ("resume_all" if room.mirror.state["clock"].get("paused") else "pause_all", {}),
        }
        if key == pygame.K_ESCAPE:
            if room.tool:
                room.set_tool("")
            else:
                room.selection = None
        elif key == pygame.K_q and event.mod & pygame.KMOD_CTRL:
            room.running = False
        elif key in actions:
            self.perform(*actions[key])
        elif camera is None:
            return
        elif key == pygame.K_f:
            room.fit_camera()
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            camera.zoom(1)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
            camera.zoom(-1)
        elif key in (pygame.K_LEFT, pygame.K_RIGHT, pygame.K_UP, pygame.K_DOWN):
            dx = {pygame.K_LEFT: PAN_STEP_PX, pygame.K_RIGHT: -PAN_STEP_PX}.get(key, 0)
            dy = {pygame.K_UP: PAN_STEP_PX, pygame.K_DOWN: -PAN_STEP_PX}.get(key, 0)
            camera.pan(dx, dy)

    def _click_buttons(self, pos: tuple[int, int], buttons: list[Any]) -> bool:
        for button in buttons:
            if button.rect.collidepoint(pos):
                self.perform(button.action, button.args)
                return True
        return False

    # ------------------------------------------------------------------ the map

    def click_map(self, pos: tuple[int, int]) -> None:
        """A click (not a drag) on the map: the active tool's action, else a selection."""
        room = self.room
        if room.camera is None or room.geo is None:
            return
        wx, wy = room.camera.screen_to_world(*pos)
        tolerance_m = PICK_RADIUS_PX / room.camera.scale
        if room.tool == "lane":
            lane = room.geo.lane_near(wx, wy, tolerance_m)
            if lane is None:
                room.say("no lane there: click on a lane to block or unblock it", error=True)
                return
            lane_id = room.geo.lane_ids[lane]
            blocked = lane_id in room.mirror.state["blocked"].get("lanes", [])
            room.send({"cmd": "unblock_lane" if blocked else "block_lane", "lane": lane_id})
            return
        if room.tool == "job":
            self._pick_job_station(room.geo.station_near(wx, wy, 2 * tolerance_m))
            return
        room.selection = self.pick(pos, wx, wy, tolerance_m)

    def pick(self, pos: tuple[int, int], wx: float, wy: float, tolerance_m: float) -> Selection | None:
        """What is under the cursor: a vehicle, else a station, a yard block, a lane."""
        room = self.room
        drawn = room.drawn
        best, best_d = None, float("inf")
        for vid, (x, y) in drawn.vehicle_px.items():
            d = (x - pos[0]) ** 2 + (y - pos[1]) ** 2
            if d < best_d:
                best, best_d = vid, d
        if best is not None and best_d <= (drawn.vehicle_radius_px + 3) ** 2:
            return Selection("vehicle", best)
        station = room.geo.station_near(wx, wy, tolerance_m)
        if station is not None:
            return Selection("station", station)
        zone = room.geo.zone_at(wx, wy)
        if zone is not None and zone in room.geo.crane_point:
            return Selection("block", zone)
        lane = room.geo.lane_near(wx, wy, tolerance_m)
        if lane is not None:
            return Selection("lane", room.geo.lane_ids[lane])
        return None

    def _pick_job_station(self, station: str | None) -> None:
        room = self.room
        if station is None:
            room.say("no station there: click a station (the small squares)", error=True)
        elif self._job_from is None:
            self._job_from = station
            room.say(f"job from {station}: now click the destination station")
        elif station == self._job_from:
            room.say("the destination must differ from the origin", error=True)
        else:
            self._job_count += 1
            t = fmt_clock(float(room.mirror.state["clock"].get("t_s", 0.0))).replace(":", "").replace(" ", "")
            container = f"OP-{t}-{self._job_count:02d}"
            command = {"cmd": "inject_job", "container": container, "from_station": self._job_from, "to_station": station}
            room.dialog = Dialog("Inject a transport job?", [f"Container {container} (new, operator job)",
                                                              f"From {self._job_from} to {station}"], command, "Inject")
            self._job_from = None

    def reset_tool(self) -> None:
        self._job_from = None

    # ------------------------------------------------------------------ actions

    def perform(self, action: str, args: dict[str, Any]) -> None:
        room = self.room
        clock = room.mirror.state["clock"]
        n = len(room.mirror.state["vehicles"])
        simple = {
            "pause_all": {"cmd": "pause"}, "resume_all": {"cmd": "resume"},
            "pause_vehicle": {"cmd": "pause", **args}, "resume_vehicle": {"cmd": "resume", **args},
            "set_manual": {"cmd": "set_manual", **args},
            "block_lane": {"cmd": "block_lane", **args}, "unblock_lane": {"cmd": "unblock_lane", **args},
        }
        if action in simple:
            room.send(simple[action])
        elif action == "estop":
            room.dialog = Dialog("EMERGENCY STOP", [f"Stop all {n} vehicles at once (instant action).",
                                                    "They stay stopped until the stop is released."],
                                 {"cmd": "estop", "confirm": True}, "STOP ALL", danger=True)
        elif action == "estop_release":
            room.dialog = Dialog("Release the emergency stop?", ["Vehicles may move again once released."],
                                 {"cmd": "estop_release", "confirm": True}, "Release")
        elif action == "dialog_confirm" and room.dialog is not None:
            room.send(room.dialog.command)
            room.dialog = None
        elif action == "dialog_cancel":
            room.dialog = None
        elif action in ("tool_lane", "tool_job"):
            tool = action[5:]
            room.set_tool("" if room.tool == tool else tool)
        elif action in ("speed_up", "speed_down"):
            factor = float(clock.get("speed_factor", 1.0))
            factor = factor * SPEED_STEP if action == "speed_up" else factor / SPEED_STEP
            room.send({"cmd": "set_speed", "factor": round(factor, 6)})
        elif action == "select":
            room.selection = Selection(args["kind"], args["id"])
        elif action == "centre" and room.camera is not None:
            room.camera.look_at(args["x"], args["y"])
