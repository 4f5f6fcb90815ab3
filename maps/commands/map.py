"""``igv map validate|show``: check a track map, or draw it."""

from __future__ import annotations

import argparse
import sys

NAME = "map"
HELP = "validate a track map (built-in name or GeoJSON file) or draw it to a PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="map_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    validate = sub.add_parser("validate", help="check every rule; print a summary (exit 0) or the problems (exit 1)")
    validate.add_argument("map", metavar="NAME|FILE", help="a built-in map name (e.g. bac_luan_2), a GeoJSON file or a MovingAI .map")
    show = sub.add_parser("show", help="draw the map to scale: lanes with direction, zones, stations, legend, scale bar")
    show.add_argument("map", metavar="NAME|FILE")
    show.add_argument("--png", required=True, metavar="OUT", help="PNG file to write")
    show.add_argument("--dpi", type=int, default=150)


def _print_summary(summary: dict, seconds: float) -> None:
    print(f"map {summary['map']} ({summary['crs']}): valid, built in {seconds:.2f} s")
    for key in ("nodes", "lanes", "lane_km", "cells", "conflict_pairs", "stations"):
        print(f"  {key.replace('_', ' '):<15} {summary[key]}")
    print("  stations by kind: " + ", ".join(f"{k} {v}" for k, v in summary["stations_by_kind"].items()))
    print("  zones by kind:    " + ", ".join(f"{k} {v}" for k, v in summary["zones_by_kind"].items()))


def run(args: argparse.Namespace) -> int:
    import time

    from maps import load_track_map
    from maps.errors import MapValidationError

    started = time.perf_counter()
    try:
        tm = load_track_map(args.map)
    except MapValidationError as exc:
        print(f"map {args.map}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    if args.map_command == "validate":
        _print_summary(tm.summary(), elapsed)
        return 0
    from maps.render import render_map

    out = render_map(tm, args.png, dpi=args.dpi)
    print(f"wrote {out}")
    return 0
