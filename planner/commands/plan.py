"""``igv plan``: route vehicles between random (or given) stations and write plan JSON.

Exit codes: 0 solved; 1 not solved (the reason on one line; the file is still written,
with status ``partial``, ``timeout`` or ``failed`` and unplanned vehicles standing still);
2 bad input (unknown map or station, a start in a no-go zone, two vehicles on one start).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from maps.argtypes import fraction, non_negative_float, positive_float, positive_int

NAME = "plan"
HELP = "plan conflict-free routes for vehicles between stations and write plan JSON"


def _stations(text: str) -> list[str]:
    items = [s.strip() for s in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"empty station id in {text!r}")
    return items


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", default="bac_luan_2", help="built-in map name or GeoJSON file (default bac_luan_2)")
    parser.add_argument("--vehicles", type=positive_int, help="number of vehicles on random distinct stations")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random stations and of the planner (default 0)")
    parser.add_argument("--time-limit-s", type=positive_float, default=10.0, help="planning budget in seconds (default 10)")
    parser.add_argument("--out", type=Path, required=True, help="plan JSON to write")
    parser.add_argument("--starts", type=_stations, help="comma-separated start stations instead of random ones")
    parser.add_argument("--goals", type=_stations, help="comma-separated goal stations (with --starts)")
    parser.add_argument("--laden-fraction", type=fraction, default=0.0,
                        help="share of random vehicles driving laden, at the laden top speed (default 0)")
    parser.add_argument("--improve-s", type=non_negative_float, default=None,
                        help="time to shorten a found plan (default: 30%% of the time limit, at most 3 s)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from maps import load_track_map
    from planner.dependencies import plan_dependency_graph
    from planner.errors import ProblemError
    from planner.plan_file import make_plan_file, write_plan_file
    from planner.routing import plan_routes, warm_up
    from planner.timing import plan_trajectories
    from planner.types import PlanOptions, PlanStatus, Problem, VehiclePath

    warm_up()  # compile before the clock starts
    started = time.perf_counter()
    track_map = load_track_map(args.map)
    rng = np.random.default_rng(args.seed)
    if (args.starts is None) != (args.goals is None):
        raise ProblemError("--starts and --goals go together")
    if args.starts is not None:
        if args.vehicles is not None and args.vehicles != len(args.starts):
            raise ProblemError(f"--vehicles {args.vehicles} but {len(args.starts)} start stations")
        problem = Problem.from_stations(track_map, args.starts, args.goals)
    else:
        if args.vehicles is None:
            raise ProblemError("give --vehicles N (or --starts and --goals)")
        problem = Problem.random_stations(track_map, args.vehicles, rng, laden_fraction=args.laden_fraction)
    improve_s = min(0.3 * args.time_limit_s, 3.0) if args.improve_s is None else args.improve_s
    result = plan_routes(problem, PlanOptions(time_limit_s=args.time_limit_s, seed=args.seed, improve_time_s=improve_s))
    paths = [result.paths.get(v.id) or VehiclePath.standing(v.start_cell, problem.start_time_s) for v in problem.vehicles]
    graph = plan_dependency_graph(track_map, problem.vehicle_ids, dict(zip(problem.vehicle_ids, paths)))
    trajectories, _ = plan_trajectories(track_map, problem, paths, graph)
    spec = track_map.vehicle
    plan = make_plan_file(
        track_map.name, track_map.crs, problem.vehicle_ids, trajectories,
        vehicle_length_m=spec.length_m, vehicle_width_m=spec.width_m,
        start_stations=[v.start_station for v in problem.vehicles],
        goal_stations=[v.legs[-1].goal_station for v in problem.vehicles],
        status=result.status.file_value, planning_time_s=time.perf_counter() - started,
    )
    write_plan_file(args.out, plan)
    if result.status is PlanStatus.SOLVED:
        print(f"solved: {problem.n_vehicles} vehicles in {result.planning_time_s:.2f} s, "
              f"travel time {result.quality_ratio:.3f} x lone shortest; wrote {args.out}")
        return 0
    detail = result.reason or result.status.value
    if result.blocking:
        detail += f" (blocking: {', '.join(result.blocking)})"
    if result.unplanned:
        detail += f"; {len(result.unplanned)} vehicle(s) not routed"
    print(f"igv plan: {result.status.value}: {detail}; wrote {args.out}", file=sys.stderr)
    return 1
