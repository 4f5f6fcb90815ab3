"""The control room: telemetry in, a picture and operator commands out.

:class:`ControlRoom` owns the mirror, the camera and the UI state and draws one frame per
call to :meth:`ControlRoom.frame`; :func:`run_control_room` opens a window and loops.
``igv view`` and ``igv run`` both call :func:`run_control_room`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pygame

from maps.errors import IgvError
from maps.trackmap import TrackMap
from visualizer import theme
from visualizer.camera import Camera
from visualizer.control import CommandRunner, ControlSender
from visualizer.errors import VisualizerError
from visualizer.geometry import MapGeometry
from visualizer.input import InputHandler
from visualizer.layers import DrawnMap, DynamicLayers, Selection
from visualizer.minimap import Minimap
from visualizer.mirror import StateMirror
from visualizer.panels import PanelOutput, TopStatus, left_panel, right_panel, top_bar
from visualizer.source import RecordingWriter, TelemetrySource, feed
from visualizer.static_layer import StaticLayer
from visualizer.widgets import Button, Dialog, TextCache, draw_dialog

HELP = "drag: pan · wheel: zoom · F: whole map / terminal · click: details · Space: pause all · L: lanes · J: job · E: e-stop · [ ]: speed"
TOOL_HINTS = {
    "lane": "BLOCK LANES: click a lane to block it, a red one to unblock it · Esc: done",
    "job": "INJECT JOB: click the origin station, then the destination · Esc: cancel",
}


class ControlRoom:
    """One control-room screen; see the module docstring.

    Parameters
    ----------
    source : TelemetrySource
    control : ControlSender
        Where operator commands go (the core's control API with the operator's key).
    screen : pygame.Surface
        Drawn on by :meth:`frame` (the display, or any surface in tests and benches).
    track_map : TrackMap, optional
        The map; loaded by the name in the telemetry when not given.
    link_label : str
        Shown while telemetry flows: LIVE, REPLAY or DEMO.
    operator : str
        Who is at the desk (the key name), shown in the status bar.
    threaded_commands : bool
        Send commands from a worker thread (interactive use) or at once (tests).
    """

    def __init__(self, source: TelemetrySource, control: ControlSender, screen: pygame.Surface, *,
                 track_map: TrackMap | None = None, link_label: str = "LIVE", operator: str = "",
                 threaded_commands: bool = True, recorder: RecordingWriter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.runner = CommandRunner(control, threaded=threaded_commands)
        self.screen = screen
        self.layout = theme.Layout(*screen.get_size())
        self.mirror = StateMirror()
        self.texts = TextCache()
        self.recorder = recorder
        self.clock = clock
        self.link_label = link_label
        self.operator = operator
        self.selection: Selection | None = None
        self.tool = ""
        self.dialog: Dialog | None = None
        self.dialog_buttons: list[Button] = []
        self.estop_sent = False
        self.running = True
        self.status = ("", False)
        self.fps = 0.0
        self.geo: MapGeometry | None = None
        self.camera: Camera | None = None
        self.minimap: Minimap | None = None
        self.view = "terminal"
        self.static: StaticLayer | None = None
        self.layers: DynamicLayers | None = None
        self.drawn = DrawnMap()
        self.panels: dict[str, PanelOutput] = {}
        self._panel_keys: dict[str, Any] = {}
        self._map_error = ""
        self.input = InputHandler(self)
        if track_map is not None:
            self._use_map(track_map)

    # ------------------------------------------------------------------ state

    def _use_map(self, tm: TrackMap) -> None:
        self.geo = MapGeometry(tm)
        self.static = StaticLayer(self.geo)
        self.layers = DynamicLayers(self.geo, self.texts)
        self.camera = Camera(tuple(self.layout.map), (self.geo.bounds[0], self.geo.bounds[3]))
        self.minimap = Minimap(self.geo, tuple(self.layout.map))
        self.fit_camera("terminal")

    def _ensure_map(self) -> None:
        name = self.mirror.state.get("map")
        if self.geo is not None or not name or self._map_error:
            return
        from maps import load_track_map

        try:
            self._use_map(load_track_map(name))
        except IgvError as exc:
            self._map_error = f"cannot show map {name!r}: {exc}"
            self.say(self._map_error, error=True)

    def fit_camera(self, view: str = "") -> None:
        """Show the whole ``map`` or the ``terminal`` (its yards, scanner, parking...); default: the other one."""
        if self.camera is None or self.geo is None:
            return
        self.view = view or ("map" if self.view == "terminal" else "terminal")
        if self.view == "terminal":
            self.camera.fit(self.geo.terminal_bounds, bottom=True)
        else:
            self.camera.fit(self.geo.bounds)

    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self.input.reset_tool()
        if tool:
            self.say(TOOL_HINTS[tool])

    def say(self, text: str, *, error: bool = False) -> None:
        """Show one line in the status bar."""
        self.status = (text, error)

    def send(self, command: dict[str, Any]) -> None:
        """Hand an operator command to the control API (the reply shows in the status bar)."""
        self.runner.submit(command)
        self.say(f"{command['cmd']} sent…")

    def buttons(self) -> list[Button]:
        return [b for name in ("top", "left", "right") if name in self.panels for b in self.panels[name].buttons]

    # ------------------------------------------------------------------ one frame

    def frame(self, events: list[pygame.event.Event] = ()) -> None:
        """Take in telemetry, replies and ``events``; draw everything on ``screen``."""
        now = self.clock()
        result = feed(self.mirror, self.source.poll(self.mirror.needs_snapshot, now), self.recorder)
        if result.errors:
            self.say(f"telemetry: {result.errors[-1]}", error=True)
        self._ensure_map()
        for event in events:
            if event.type == pygame.QUIT:
                self.running = False
            else:
                self.input.handle(event)
        for done in self.runner.results():
            if done.ok and done.command.get("cmd") in ("estop", "estop_release"):
                self.estop_sent = done.command["cmd"] == "estop"
            self.say(done.describe(), error=not done.ok)
        self.draw()

    def draw(self) -> None:
        screen, layout = self.screen, self.layout
        screen.fill(theme.BACKGROUND)
        hover = None
        if self.camera is not None and self.static is not None and self.layers is not None:
            self.static.draw(screen, self.camera)
            if self.tool == "lane" and self.geo is not None:
                pos = pygame.mouse.get_pos() if pygame.display.get_init() and pygame.display.get_surface() else None
                if pos is not None and pygame.Rect(self.camera.viewport).collidepoint(pos):
                    hover = self.geo.lane_near(*self.camera.screen_to_world(*pos), 7 / self.camera.scale)
            show_minimap = self.minimap is not None and self.minimap.needed(self.camera)
            self.drawn = self.layers.draw(screen, self.camera, self.mirror.state, self.mirror.version, self.selection, hover,
                                          self.minimap.rect.inflate(6, 6) if show_minimap else None)
            if show_minimap:
                self.minimap.draw(screen, self.camera, self.layers.arrays(self.mirror.state, self.mirror.version))
                self.drawn.minimap = True
        else:
            text = self._map_error or self.source.status.detail
            self.texts.draw(screen, self.texts.fit(text, layout.map.width - 40, 16), layout.map.center, 16, theme.TEXT_DIM,
                            anchor="center")
        self._panels()
        for name in ("top", "left", "right"):
            rect = getattr(layout, name)
            screen.blit(self.panels[name].surface, rect)
        self._bottom()
        self.dialog_buttons = draw_dialog(screen, self.texts, self.dialog, layout.map) if self.dialog is not None else []

    def _link(self) -> str:
        status = self.source.status
        if self.mirror.seq is None and not self.mirror.stale:
            return "NO DATA"
        if self.mirror.stale:
            return "STALE"
        return self.link_label if status.connected else "NO DATA"

    def _panels(self) -> None:
        """Redraw a panel only when what it shows changed.

        # PERF: a panel is some 60 text rows; telemetry changes twice a second, so most
        # frames just blit the three cached panel surfaces.
        """
        layout, state, version = self.layout, self.mirror.state, self.mirror.version
        status = TopStatus(self._link(), self.source.status.detail, self.tool, self.estop_sent, self.operator)
        wanted = {
            "top": ((version, status), lambda: top_bar(layout.top, self.texts, state, status)),
            "left": (version, lambda: left_panel(layout.left, self.texts, state)),
        }
        if self.geo is not None:
            wanted["right"] = ((version, self.selection), lambda: right_panel(layout.right, self.texts, state, self.geo,
                                                                              self.selection))
        else:
            wanted["right"] = (None, lambda: PanelOutput(_blank(layout.right)))
        for name, (key, make) in wanted.items():
            if self._panel_keys.get(name, object()) != key or name not in self.panels:
                self.panels[name] = make()
                self._panel_keys[name] = key

    def _bottom(self) -> None:
        rect = self.layout.bottom
        self.screen.fill(theme.PANEL, rect)
        pygame.draw.line(self.screen, theme.PANEL_EDGE, rect.topleft, rect.topright)
        text, error = self.status
        if self.tool and not text:
            text = TOOL_HINTS[self.tool]
        right = f"seq {self.mirror.seq if self.mirror.seq is not None else '–'}" + (f" · {self.fps:.0f} fps" if self.fps else "")
        if self.operator:
            right = f"operator {self.operator} · {right}"
        right_w = self.texts.get(right, 12, theme.TEXT_DIM).get_width()
        self.texts.draw(self.screen, right, (rect.right - 10, rect.centery), 12, theme.TEXT_DIM, anchor="midright")
        shown = text or HELP
        colour = theme.CRIT_RED if error else theme.TEXT if text else theme.TEXT_DIM
        self.texts.draw(self.screen, self.texts.fit(shown, rect.width - right_w - 40, 12), (10, rect.centery), 12, colour,
                        anchor="midleft")

    def close(self) -> None:
        self.runner.close()
        self.source.close()
        if self.recorder is not None:
            self.recorder.close()


def _blank(rect: pygame.Rect) -> pygame.Surface:
    surface = pygame.Surface(rect.size)
    surface.fill(theme.PANEL)
    return surface


def run_control_room(source: TelemetrySource, control: ControlSender, *, track_map: TrackMap | None = None,
                     size: tuple[int, int] = (1280, 800), link_label: str = "LIVE", operator: str = "",
                     recorder: RecordingWriter | None = None, max_frames: int | None = None, fps_cap: int = 60) -> int:
    """Open the control-room window and run it until closed (or ``max_frames``).

    Returns the exit code (0). The source, the control sender and the recorder are closed
    on the way out.
    """
    try:
        pygame.display.init()
        pygame.font.init()
        screen = pygame.display.set_mode(size)
    except pygame.error as exc:
        pygame.display.quit()
        for part in (source, control, recorder):
            if part is not None:
                part.close()
        raise VisualizerError(f"cannot open the control-room window: {exc} (headless: set SDL_VIDEODRIVER=dummy)") from None
    try:
        pygame.display.set_caption("IGV control room · Bac Luan II")
        room = ControlRoom(source, control, screen, track_map=track_map, link_label=link_label, operator=operator,
                           recorder=recorder)
        ticker = pygame.time.Clock()
        frames, window_start, window_frames = 0, time.monotonic(), 0
        try:
            while room.running and (max_frames is None or frames < max_frames):
                room.frame(pygame.event.get())
                pygame.display.flip()
                ticker.tick(fps_cap)
                frames += 1
                window_frames += 1
                elapsed = time.monotonic() - window_start
                if elapsed >= 0.5:
                    room.fps, window_start, window_frames = window_frames / elapsed, time.monotonic(), 0
        finally:
            room.close()
    finally:
        pygame.display.quit()
    return 0
