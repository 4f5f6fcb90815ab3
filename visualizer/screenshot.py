"""Save a screenshot of the control room's main view with scripted telemetry.

Run: ``python -m visualizer.screenshot --vehicles 200 --out docs/img/control_room.png``.
The fleet of :mod:`visualizer.fake` runs for a while on the default map, an operator
blocks a lane through the control API, an e-seal tamper arrives and a laden vehicle is
selected, so that every part of the screen has something to show. Headless (SDL dummy
driver); the same seed gives the same picture.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MAX_BYTES = 1 << 20
BLOCKED_LANE = "R4/017"
"""A lane of the default map's terminal loop, blocked in the picture."""


def take_screenshot(out: Path, *, vehicles: int = 200, seed: int = 7, warmup_s: float = 1200.0,
                    size: tuple[int, int] = (1280, 800), map_name: str = "bac_luan_2") -> Path:
    """Draw one frame after ``warmup_s`` simulated seconds and save it as PNG to ``out``."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from maps import load_track_map
    from visualizer.app import ControlRoom
    from visualizer.fake import FakeFleet, FakeSource

    import pygame  # after visualizer, which silences pygame's banner

    pygame.display.init()
    pygame.font.init()
    try:
        screen = pygame.display.set_mode(size)
        tm = load_track_map(map_name)
        fleet = FakeFleet(tm, vehicles, seed=seed)
        for _ in range(int(warmup_s // 10.0)):
            fleet.step(10.0)
        now = [0.0]
        room = ControlRoom(FakeSource(fleet), fleet, screen, track_map=tm, link_label="DEMO", operator="desk-1",
                           threaded_commands=False, clock=lambda: now[0])
        room.frame()
        if BLOCKED_LANE in tm.lane_ids:
            room.send({"cmd": "block_lane", "lane": BLOCKED_LANE})
        _break_one_in_view(room, fleet)
        in_yard = sorted(c for c, v in fleet.containers.items() if v["location_kind"] == "yard")
        if in_yard:
            fleet.tamper(in_yard[len(in_yard) // 3])
        for _ in range(3):  # let the patches with the block and the tamper alert arrive
            now[0] += 0.5
            room.frame()
        room.selection = _pick_vehicle(room)
        room.fps = 0.0
        room.frame()
        out.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(screen, str(out))
    finally:
        pygame.display.quit()
    return out


def _break_one_in_view(room, fleet) -> None:  # noqa: ANN001 - typed loosely to keep imports lazy
    """A vehicle in view faults, so that the picture shows how a fault looks."""
    x0, y0, x1, y1 = room.camera.visible_world()
    for i, vid in enumerate(fleet.ids):
        v = room.mirror.state["vehicles"][vid]
        if v["state"] == "moving" and x0 + 150 < v["x_m"] < x1 - 150 and y0 + 100 < v["y_m"] < y1 - 300:
            fleet.break_down(i, "fault")
            return


def _pick_vehicle(room):  # noqa: ANN001, ANN202 - a ControlRoom; typed loosely to keep imports lazy
    """A laden, moving vehicle near the middle of the view (its path and details show well)."""
    from visualizer.layers import Selection

    cx, cy = room.layout.map.center
    best, best_d = None, float("inf")
    for vid, (x, y) in room.drawn.vehicle_px.items():
        v = room.mirror.state["vehicles"][vid]
        if v.get("state") == "moving" and v.get("laden") and len(v.get("released_path") or []) > 3:
            d = (x - cx) ** 2 + (y - cy) ** 2
            if d < best_d:
                best, best_d = vid, d
    return Selection("vehicle", best) if best else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m visualizer.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("docs/img/control_room.png"))
    args = parser.parse_args(argv)
    if args.vehicles < 1:
        parser.error("--vehicles must be at least 1")
    path = take_screenshot(args.out, vehicles=args.vehicles, seed=args.seed)
    size = path.stat().st_size
    print(f"wrote {path} ({size / 1024:.0f} KiB)")
    if size > MAX_BYTES:
        print(f"error: {path} is larger than {MAX_BYTES // 1024} KiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
