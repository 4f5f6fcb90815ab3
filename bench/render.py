"""Frames per second of the control room with 50, 200 and 400 vehicles at 1280 x 800.

Run: ``python -m bench.render``. Software rendering (SDL dummy video driver), the default
map in the default (terminal) view, scripted telemetry from :mod:`visualizer.fake`
generated before timing and fed at the core's rate of 2 patches per second of a 30 fps
screen, so that a frame costs what it costs in the control room: applying patches,
drawing the map, the live layers and the panels. Target (issue 11): >= 30 fps with 200
vehicles. The baseline in the same run paints the static map every frame instead of
blitting its cached tiles (the ``# PERF`` trick of :mod:`visualizer.static_layer`).
Results go to ``bench/results/render.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SIZE = (1280, 800)
FLEETS = (50, 200, 400)
TARGET_FPS = 30.0
TARGET_VEHICLES = 200


def main() -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from maps import load_track_map
    from visualizer.benchmark import FRAMES, close_display, measure, open_display

    open_display(SIZE)
    tm = load_track_map("bac_luan_2")
    rows = []
    print(f"control room at {SIZE[0]}x{SIZE[1]}, software rendering, {FRAMES} frames, 2 patches/s at 30 fps")
    print(f"{'vehicles':>8} {'fps':>8} {'baseline fps':>13} {'speed-up':>9}  (baseline: static map painted every frame)")
    for n in FLEETS:
        fps = measure(tm, n, cached=True)
        base = measure(tm, n, cached=False)
        rows.append({"vehicles": n, "fps": round(fps, 1), "baseline_fps": round(base, 1), "speedup": round(fps / base, 2)})
        print(f"{n:>8} {fps:>8.1f} {base:>13.1f} {fps / base:>8.2f}x")
    close_display()
    out = Path(__file__).resolve().parent / "results" / "render.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"size": SIZE, "frames": FRAMES, "rows": rows}, indent=2))
    at_target = next(r for r in rows if r["vehicles"] == TARGET_VEHICLES)
    ok = at_target["fps"] >= TARGET_FPS
    print(f"{TARGET_VEHICLES} vehicles: {at_target['fps']:.1f} fps, target >= {TARGET_FPS:.0f}: {'met' if ok else 'MISSED'}")
    print(f"wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
