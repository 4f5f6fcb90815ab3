"""``igv check``: geometric check of a plan file (collisions, zones, corridors, speeds).

Exit codes: 0 clean, 1 problems found (listed one per line, earliest first), 2 bad input
(unreadable plan or map, wrong CRS, bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maps.argtypes import non_negative_float, positive_float, positive_int

NAME = "check"
HELP = "check a plan file for collisions, zone intrusions, corridor and speed violations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", help="plan JSON file (design section 7)")
    parser.add_argument("--map", metavar="NAME|FILE", help="track map (default: the map named in the plan file)")
    parser.add_argument("--margin-m", type=non_negative_float, default=0.0, help="safety margin added to every side of every footprint (default 0)")
    # literal defaults (no import of planner.collision here); a test keeps them equal to its DEFAULT_*
    parser.add_argument("--step-s", type=positive_float, default=0.1, help="sampling step (default 0.1 s)")
    parser.add_argument("--corridor-tolerance-m", type=non_negative_float, default=0.25, help="allowed distance beyond half the lane width (default 0.25 m)")
    parser.add_argument("--speed-tolerance-mps", type=non_negative_float, default=0.05, help="allowed excess over lane speed limits (default 0.05 m/s)")
    parser.add_argument("--max-problems", type=positive_int, default=20, help="problems listed at most (default 20)")


def run(args: argparse.Namespace) -> int:
    from planner.collision import check_plan, forbidden_zones
    from planner.plan_file import check_plan_crs, read_plan_file

    plan = read_plan_file(args.plan)
    track_map = _load_map(args.map or plan.map, Path(args.plan).parent, explicit=args.map is not None)
    check_plan_crs(plan, track_map.crs, args.plan)
    report = check_plan(
        plan,
        track_map,
        margin_m=args.margin_m,
        step_s=args.step_s,
        corridor_tolerance_m=args.corridor_tolerance_m,
        speed_tolerance_mps=args.speed_tolerance_mps,
    )
    ids = plan.vehicle_ids
    zones = forbidden_zones(track_map)
    lanes = track_map.lane_ids
    out = sys.stdout
    print(
        f"igv check: {args.plan} on map {track_map.name}: {report.n_vehicles} vehicles, "
        f"{report.n_samples} samples at {report.step_s:g} s, margin {report.margin_m:g} m",
        file=out,
    )
    lines: list[tuple[float, str]] = []
    for c in report.collisions:
        mid_x = (c.pose_a.x_m + c.pose_b.x_m) / 2
        mid_y = (c.pose_a.y_m + c.pose_b.y_m) / 2
        lines.append((c.time_s, f"collision: {ids[c.vehicle_a]} and {ids[c.vehicle_b]} at t={c.time_s:.2f} s (until {c.end_time_s:.2f} s) near ({mid_x:.1f}, {mid_y:.1f}), depth {c.depth_m:.2f} m (max {c.max_depth_m:.2f} m)"))
    for z in report.zone_intrusions:
        zone = zones[z.zone]
        lines.append((z.time_s, f"zone: {ids[z.vehicle]} in {zone.kind} zone {zone.id!r} at t={z.time_s:.2f} s (until {z.end_time_s:.2f} s) at ({z.pose.x_m:.1f}, {z.pose.y_m:.1f})"))
    for v in report.corridor_violations:
        lane = f"lane {lanes[v.lane]!r}" if v.lane >= 0 else "any lane"
        lines.append((v.time_s, f"corridor: {ids[v.vehicle]} off the lanes at t={v.time_s:.2f} s (until {v.end_time_s:.2f} s) at ({v.pose.x_m:.1f}, {v.pose.y_m:.1f}): {v.distance_m:.2f} m from {lane} centreline (allowed {v.half_width_m:g} + {args.corridor_tolerance_m:g} m)"))
    for s in report.speed_violations:
        lines.append((s.time_s, f"speed: {ids[s.vehicle]} at {s.speed_mps:.2f} m/s on lane {lanes[s.lane]!r} (limit {s.limit_mps:g} m/s) at t={s.time_s:.2f} s (until {s.end_time_s:.2f} s, max {s.max_speed_mps:.2f} m/s) at ({s.pose.x_m:.1f}, {s.pose.y_m:.1f})"))
    if not lines:
        print("clean: no collisions, zone intrusions, corridor or speed violations", file=out)
        return 0
    lines.sort(key=lambda item: item[0])
    for _, line in lines[: args.max_problems]:
        print(line, file=out)
    if len(lines) > args.max_problems:
        print(f"... and {len(lines) - args.max_problems} more", file=out)
    print(
        f"problems: {len(report.collisions)} collisions, {len(report.zone_intrusions)} zone intrusions, "
        f"{len(report.corridor_violations)} corridor violations, {len(report.speed_violations)} speed violations",
        file=out,
    )
    return 1


def _load_map(name_or_path: str, plan_dir: Path, *, explicit: bool):
    """The map by name or path; a relative path named in a plan file may be relative to it."""
    from maps import load_track_map
    from maps.errors import MapError

    try:
        return load_track_map(name_or_path)
    except MapError:
        beside_plan = plan_dir / name_or_path
        if explicit or Path(name_or_path).is_absolute() or not beside_plan.is_file():
            raise
        return load_track_map(beside_plan)
