"""Multi-vehicle routing on ``bac_luan_2``: success, planning time, quality, insertion time.

Run: ``python -m bench.routing`` (options: ``--sizes``, ``--seeds``, ``--time-limit-s``,
``--laden-fraction``, ``--inserts``, ``--no-exec``). For every size and seed it plans
random distinct start/goal stations (as ``igv plan`` does) with ``plan_routes`` and checks
the plan with the independent validator, then prints per size:

* success rate (SOLVED and valid within the time limit) and planning time p50 / max;
* quality: sum of travel times / sum of the vehicles' lone shortest travel times, both
  from the same run (the lower bound is the baseline);
* executed quality: the same ratio after trajectory timing (acceleration, braking,
  dependency-graph execution) against each vehicle driven alone on its lone shortest
  path with the same kinematics;
* insertion: p50 / p99 time to route one more vehicle into the running plan of N
  (``LivePlan.insert``: heuristic, SIPP, reservation), against the baseline of rebuilding
  the reservation table of the plan from scratch, which insertion avoids.

Targets (issue 4): 100 % success up to 100 vehicles and >= 95 % at 200 within 10 s;
quality <= 1.15 at 50 vehicles; insertion p99 <= 20 ms at 100 vehicles. Results are
written to ``bench/results/routing.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

TARGETS = {"success_up_to_100": 1.0, "success_200": 0.95, "quality_50": 1.15, "insert_p99_ms_100": 20.0}


def _insertions(track_map, graph, problem, result, rng, count):
    """Insert ``count`` random extra vehicles one at a time (each removed again)."""
    from planner.replan import LivePlan
    from planner.types import Leg, VehicleTask

    live = LivePlan.from_result(track_map, result, graph)
    busy = set()
    for v in problem.vehicles:
        for cell in (v.start_cell, v.goal_cell):
            busy.update(int(c) for c in track_map.cell_conflicts(cell))
    free = [s.id for s in track_map.stations if track_map.station_cell_of(s.id) not in busy]
    times_ms, rebuild_ms, failures = [], [], 0
    for k in range(count if len(free) >= 2 else 0):
        start, goal = rng.choice(free, size=2, replace=False)
        task = VehicleTask(f"extra-{k}", track_map.station_cell_of(start),
                           (Leg(track_map.station_cell_of(goal), track_map.vehicle.max_speed_unladen_mps, 0.0, goal),), 0.0, start)
        t0 = time.perf_counter()
        path = live.insert(task, problem.start_time_s)
        times_ms.append(1000.0 * (time.perf_counter() - t0))
        failures += path is None
        live.remove(task.id)
        if k < 3:
            t0 = time.perf_counter()
            LivePlan.from_result(track_map, result, graph)
            rebuild_ms.append(1000.0 * (time.perf_counter() - t0))
    return times_ms, rebuild_ms, failures


def _executed_ratio(track_map, graph, problem, result, geometry):
    """Executed (kinematic) travel time over lone executed travel time on lone shortest paths."""
    from planner.dependencies import build_dependency_graph, plan_dependency_graph
    from planner.reservations import ReservationTable
    from planner.sipp import plan_vehicle
    from planner.timing import schedule_plan
    from planner.types import Problem

    paths = [result.paths[v] for v in problem.vehicle_ids]
    schedule = schedule_plan(track_map, problem, paths, plan_dependency_graph(track_map, problem.vehicle_ids, result.paths), geometry=geometry)
    empty = ReservationTable(track_map, 1)
    lone = 0.0
    for task in problem.vehicles:
        alone = plan_vehicle(graph, empty, task, start_time_s=problem.start_time_s).path
        single = Problem(track_map, (task,), (), problem.start_time_s)
        lone += float(schedule_plan(track_map, single, [alone], build_dependency_graph(track_map, [task.id], [alone]), geometry=geometry).arrival_s[0])
    t0 = problem.start_time_s
    return float((schedule.arrival_s - t0).sum() / (lone - t0 * problem.n_vehicles))


def run(sizes, seeds, time_limit_s, laden_fraction, inserts, executed):
    from maps import load_track_map
    from planner.routing import plan_routes, warm_up
    from planner.sipp import RoutingGraph
    from planner.timing import EdgeGeometry
    from planner.types import PlanOptions, PlanStatus, Problem
    from planner.validate import validate_plan

    track_map = load_track_map("bac_luan_2")
    graph = RoutingGraph(track_map)
    geometry = EdgeGeometry(track_map)
    warm_up()  # compiled kernels load once, outside the measurements
    improve_s = min(0.3 * time_limit_s, 3.0)  # as igv plan
    rows = []
    for n in sizes:
        runs = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            problem = Problem.random_stations(track_map, n, rng, laden_fraction=laden_fraction)
            result = plan_routes(problem, PlanOptions(time_limit_s=time_limit_s, seed=seed, improve_time_s=improve_s), graph=graph)
            ok = result.status is PlanStatus.SOLVED and result.planning_time_s <= time_limit_s
            if ok:
                validate_plan(track_map, problem, result.paths)
            run_row = {"seed": seed, "status": result.status.value, "solved": ok, "planning_time_s": result.planning_time_s,
                       "quality": result.quality_ratio if ok else None, "stats": dict(result.stats)}
            if ok:
                ins, rebuild, failed = _insertions(track_map, graph, problem, result, rng, inserts)
                run_row.update(insert_ms=ins, rebuild_ms=rebuild, insert_failures=failed)
                if executed:
                    run_row["executed_quality"] = _executed_ratio(track_map, graph, problem, result, geometry)
            runs.append(run_row)
        solved = [r for r in runs if r["solved"]]
        times = [r["planning_time_s"] for r in runs]
        inserts_ms = [t for r in solved for t in r.get("insert_ms", [])]
        rebuild = [t for r in solved for t in r.get("rebuild_ms", [])]
        row = {
            "vehicles": n,
            "success": len(solved) / len(runs),
            "plan_s_p50": float(np.median(times)),
            "plan_s_max": float(np.max(times)),
            "quality": float(np.mean([r["quality"] for r in solved])) if solved else None,
            "executed_quality": float(np.mean([r["executed_quality"] for r in solved])) if solved and executed else None,
            "insert_ms_p50": float(np.percentile(inserts_ms, 50)) if inserts_ms else None,
            "insert_ms_p99": float(np.percentile(inserts_ms, 99)) if inserts_ms else None,
            "rebuild_ms_p50": float(np.median(rebuild)) if rebuild else None,
            "insert_failures": sum(r.get("insert_failures", 0) for r in solved),
            "runs": runs,
        }
        rows.append(row)
        _print_row(row)
    return rows


def _fmt(value, spec):
    return format(value, spec) if value is not None else "-"


def _print_row(row):
    if row["vehicles"] == _print_row.first:
        print(f"{'vehicles':>8} {'success':>8} {'plan p50 s':>10} {'plan max s':>10} {'quality':>8} {'exec q':>7} "
              f"{'ins p50 ms':>10} {'ins p99 ms':>10} {'rebuild ms':>10} {'speed-up':>8}")
    speedup = row["rebuild_ms_p50"] / row["insert_ms_p50"] if row["insert_ms_p50"] and row["rebuild_ms_p50"] else None
    print(f"{row['vehicles']:>8} {row['success']:>8.0%} {row['plan_s_p50']:>10.2f} {row['plan_s_max']:>10.2f} "
          f"{_fmt(row['quality'], '.3f'):>8} {_fmt(row['executed_quality'], '.3f'):>7} {_fmt(row['insert_ms_p50'], '.2f'):>10} "
          f"{_fmt(row['insert_ms_p99'], '.2f'):>10} {_fmt(row['rebuild_ms_p50'], '.1f'):>10} {_fmt(speedup, '.0f'):>7}x", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,50,100,200", help="vehicle counts (default 25,50,100,200)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per size (default 5)")
    parser.add_argument("--time-limit-s", type=float, default=10.0)
    parser.add_argument("--laden-fraction", type=float, default=0.0, help="share of laden (slower) vehicles (default 0)")
    parser.add_argument("--inserts", type=int, default=40, help="insertions timed per plan (default 40)")
    parser.add_argument("--no-exec", action="store_true", help="skip the executed (trajectory) quality")
    parser.add_argument("--out", type=Path, default=Path("bench/results/routing.json"))
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    _print_row.first = sizes[0]
    rows = run(sizes, args.seeds, args.time_limit_s, args.laden_fraction, args.inserts, not args.no_exec)
    by_n = {r["vehicles"]: r for r in rows}
    verdicts = []
    if all(n in by_n for n in (25, 50, 100)):
        verdicts.append(("100 % success up to 100 vehicles", min(by_n[n]["success"] for n in (25, 50, 100)) >= TARGETS["success_up_to_100"]))
    if 200 in by_n:
        verdicts.append(("≥ 95 % success at 200", by_n[200]["success"] >= TARGETS["success_200"]))
    if 50 in by_n and by_n[50]["quality"] is not None:
        verdicts.append(("quality ≤ 1.15 at 50", by_n[50]["quality"] <= TARGETS["quality_50"]))
    if 100 in by_n and by_n[100]["insert_ms_p99"] is not None:
        verdicts.append(("insertion p99 ≤ 20 ms at 100", by_n[100]["insert_ms_p99"] <= TARGETS["insert_p99_ms_100"]))
    for name, ok in verdicts:
        print(f"{'met   ' if ok else 'MISSED'} {name}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"laden_fraction": args.laden_fraction, "time_limit_s": args.time_limit_s, "sizes": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
