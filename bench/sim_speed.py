"""Lockstep simulation speed: simulated seconds per wall second of the whole run.

    python -m bench.sim_speed [--sizes 50,100,200] [--baseline 10] [--warmup-s 1800]
                              [--duration-s 1200] [--scenario day_2026] [--profile 100] [--top 8]

Each fleet size runs the scenario (default ``day_2026``: its demand from midnight, its
seed) through the real lockstep runner (:class:`bench.runner.Run`: the core, the terminal
and the virtual IGVs on the wire, headless): ``--warmup-s`` simulated seconds untimed, so
that containers arrive and jobs flow, then ``--duration-s`` timed. Printed per size: the
set-up time, the wall time of the timed steps, the speed (simulated s per wall s) and its
ratio to the baseline, a ``--baseline``-IGV run measured in the same invocation (so a
loaded machine shows as a slow baseline, not as a slow fleet), the jobs finished in the
timed part, and the wall time per step split between the core's tick, the firmware (wire
clients, vehicles and terminal) and the recording. The target of issue #10 is at least
50x real time with 100 IGVs.

With ``--profile N`` the N-IGV run runs again under cProfile; its timed part is split by
component (by the module a function lives in; shared code such as the codec counts for
its callers) and the ``--top`` functions of each by own time are printed. Profiling slows
the run; its figures are shares, not speeds.

Results also go to ``bench/results/sim_speed.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import pstats
import time
from pathlib import Path
from typing import Any

from bench.runner import STEP_S, Run
from bench.scenario import Scenario, load_scenario
from maps.argtypes import non_negative_float, positive_float

RESULTS = Path("bench/results/sim_speed.json")
ROOT = f"{Path(__file__).resolve().parents[1]}/"
TARGET_SPEED = 50.0
"""Issue #10: at least 50x real time with 100 IGVs."""
TARGET_VEHICLES = 100

COMPONENTS = (
    ("core", ("fleet/core/", "planner/", "maps/")),
    ("core's wire side", ("fleet/transport.py", "fleet/control_service.py")),
    ("vehicles' wire side", ("fleet/vehicle_client.py",)),
    ("vehicles", ("sim/vehicle.py", "sim/kinematics.py", "sim/battery.py", "sim/order_rules.py", "sim/faults.py",
                  "sim/service.py")),
    ("terminal", ("sim/terminal.py", "sim/equipment.py", "sim/demand.py", "sim/customs_model.py")),
    ("firmware loop", ("sim/firmware.py",)),
    ("recording", ("bench/",)),
)
"""Profile components, by the path of a function's file (first match wins). Shared code
(the link layer, codec and message classes of ``fleet/``, ZeroMQ, msgpack, the standard
library) counts for its callers."""
OTHER = "other (Python, numpy)"


def timed_run(scenario: Scenario, warmup_s: float) -> dict[str, Any]:
    """Run ``scenario`` for ``warmup_s`` untimed (the terminal fills, jobs start flowing),
    then time its steps to the end, split by phase."""
    started = time.perf_counter()
    run = Run(scenario)
    setup_s = time.perf_counter() - started
    timed_s = scenario.duration_s - warmup_s
    steps = int(round(timed_s / STEP_S))
    try:
        for _ in range(int(round(warmup_s / STEP_S))):
            run.step()
        done_before = _jobs_done(run)
        run.phase_wall_s = dict.fromkeys(run.phase_wall_s, 0.0)
        begin = time.perf_counter()
        for _ in range(steps):
            run.step()
        wall_s = time.perf_counter() - begin
        phases = dict(run.phase_wall_s)
        jobs_done = _jobs_done(run) - done_before
    finally:
        run.close()
    return {"vehicles": scenario.vehicles, "warmup_s": warmup_s, "sim_s": timed_s, "setup_s": setup_s,
            "wall_s": wall_s, "speed": timed_s / wall_s, "jobs_done": jobs_done,
            "ms_per_step": {k: 1000.0 * v / steps for k, v in phases.items()}}


def _jobs_done(run: Run) -> int:
    return sum(1 for _, kind, _ in run.core.event_log if kind == "job_done")


def component_of(filename: str) -> str:
    """The component of a profiled function, from its file's path."""
    path = filename.replace("\\", "/")
    for name, markers in COMPONENTS:
        if any(m in path for m in markers):
            return name
    return OTHER


def _owners(key: tuple, stats: dict, memo: dict, active: frozenset = frozenset()) -> dict[str, float]:
    """Shares of the components a profiled function works for: its own, or for built-ins
    and the standard library, its callers' (recursively, weighted by the time each caller
    spent in it)."""
    if key in memo:
        return memo[key]
    component = component_of(key[0])
    callers = stats[key][4]
    if component != OTHER or not callers or key in active:
        memo[key] = {component: 1.0}
        return memo[key]
    total = sum(c[2] for c in callers.values()) or 1.0
    shares: dict[str, float] = {}
    for caller, c in callers.items():
        if caller not in stats:
            continue
        for name, share in _owners(caller, stats, memo, active | {key}).items():
            shares[name] = shares.get(name, 0.0) + share * (c[2] or total / len(callers)) / total
    memo[key] = shares or {OTHER: 1.0}
    return memo[key]


def profile_run(scenario: Scenario, warmup_s: float, top: int) -> dict[str, Any]:
    """Profile the timed steps of one run (after ``warmup_s``); own time per component and
    its top functions."""
    run = Run(scenario)
    profiler = cProfile.Profile()
    try:
        for _ in range(int(round(warmup_s / STEP_S))):
            run.step()
        profiler.enable()
        for _ in range(int(round((scenario.duration_s - warmup_s) / STEP_S))):
            run.step()
        profiler.disable()
    finally:
        run.close()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total_s = sum(row[2] for row in stats.values())
    by_component: dict[str, list[tuple[float, str]]] = {}
    memo: dict[tuple, dict[str, float]] = {}
    for key, (_, _, own_s, _, _) in stats.items():
        filename, line, func = key
        short = filename.removeprefix(ROOT).split("site-packages/")[-1]
        for component, share in _owners(key, stats, memo).items():
            by_component.setdefault(component, []).append((own_s * share, f"{short}:{line}({func})"))
    for rows in by_component.values():
        merged: dict[str, float] = {}
        for own_s, name in rows:
            merged[name] = merged.get(name, 0.0) + own_s
        rows[:] = [(own_s, name) for name, own_s in merged.items()]
    out: dict[str, Any] = {"total_s": total_s, "components": {}}
    for name, rows in sorted(by_component.items(), key=lambda kv: -sum(r[0] for r in kv[1])):
        rows.sort(reverse=True)
        own = sum(r[0] for r in rows)
        out["components"][name] = {"own_s": own, "share": own / total_s,
                                   "top": [{"function": f, "own_s": s} for s, f in rows[:top]]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sim_speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,100,200", help="fleet sizes, comma-separated (default 50,100,200)")
    parser.add_argument("--baseline", type=int, default=10, help="fleet size of the baseline run (default 10)")
    parser.add_argument("--duration-s", type=positive_float, default=1200.0, help="simulated seconds per run (default 1200)")
    parser.add_argument("--warmup-s", type=non_negative_float, default=1800.0,
                        help="simulated seconds run untimed first, so that jobs flow (default 1800)")
    parser.add_argument("--scenario", default="day_2026", help="demand, seed and map from this scenario (default day_2026)")
    parser.add_argument("--profile", type=int, default=None, metavar="N", help="profile the N-IGV run too")
    parser.add_argument("--top", type=int, default=8, help="functions listed per profiled component (default 8)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    base = load_scenario(args.scenario).with_duration(args.warmup_s + args.duration_s)

    def sized(n: int) -> Scenario:
        return dataclasses.replace(base, vehicles=n)

    print(f"scenario {base.name}: {args.warmup_s:.0f} simulated s of warm-up, then {args.duration_s:.0f} s timed "
          f"per run; lockstep step {STEP_S} s")
    baseline = timed_run(sized(args.baseline), args.warmup_s)
    rows = [baseline] + [timed_run(sized(n), args.warmup_s) for n in sizes]
    print(f"{'IGVs':>5} {'setup s':>8} {'wall s':>8} {'speed':>8} {'vs base':>8} {'jobs done':>9} "
          f"{'core ms':>8} {'fw ms':>8} {'rec ms':>8}   (ms per step)")
    for row in rows:
        row["ratio_to_baseline"] = row["speed"] / baseline["speed"]
        ms = row["ms_per_step"]
        print(f"{row['vehicles']:>5} {row['setup_s']:>8.2f} {row['wall_s']:>8.2f} {row['speed']:>7.1f}x "
              f"{row['ratio_to_baseline']:>8.2f} {row['jobs_done']:>9} {ms['core_tick']:>8.2f} {ms['firmware']:>8.2f} "
              f"{ms['recording']:>8.2f}")
    target = next((r for r in rows[1:] if r["vehicles"] == TARGET_VEHICLES), None)
    if target is not None:
        verdict = "met" if target["speed"] >= TARGET_SPEED else "NOT met"
        print(f"target >= {TARGET_SPEED:.0f}x real time with {TARGET_VEHICLES} IGVs: {verdict} ({target['speed']:.1f}x)")
    result: dict[str, Any] = {"scenario": base.name, "warmup_s": args.warmup_s, "duration_s": args.duration_s, "step_s": STEP_S,
                              "baseline_vehicles": args.baseline, "runs": rows}
    if args.profile is not None:
        prof = profile_run(sized(args.profile), args.warmup_s, args.top)
        result["profile"] = {"vehicles": args.profile, **prof}
        print(f"\nprofile of the {args.profile}-IGV run ({prof['total_s']:.1f} s profiled; own time per component):")
        for name, comp in prof["components"].items():
            print(f"  {name}: {comp['own_s']:.2f} s ({100 * comp['share']:.0f} %)")
            for f in comp["top"]:
                if f["own_s"] >= 0.0005:  # what rounds to 0.000 s says nothing
                    print(f"      {f['own_s']:7.3f} s  {f['function']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
