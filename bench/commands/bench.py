"""``igv bench``: run bench scenarios, compare results, size fleets, sweep seeds on Ray.

Forms (options may come anywhere; docs/bench.md has the details)::

    igv bench SCENARIO... [--duration-s D] [--start-hour H] [--out DIR] [--no-record]
    igv bench compare A B
    igv bench fleet-size SCENARIO --vehicles 20,40,60 [--duration-s D] [--out DIR] [--reuse]
    igv bench sweep SCENARIO --seeds 1-32 [--address ADDR] [--duration-s D] [--out DIR]
    igv bench mapf [-- ARGS...]

SCENARIO is a shipped scenario name or a TOML file. Runs exit with 1 when a run has a
collision, a deadlock or a lost container (fleet-size: when no size meets the demand).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any, Callable

NAME = "bench"
HELP = "run bench scenarios (KPIs, plots), compare results, size the fleet, sweep seeds on Ray, run MovingAI MAPF"
ACTIONS = ("compare", "fleet-size", "sweep", "mapf")
DEFAULT_OUT = "bench/results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "igv bench SCENARIO... [--duration-s D] [--start-hour H] [--out DIR] [--no-record]\n"
        "       igv bench compare A B\n"
        "       igv bench fleet-size SCENARIO --vehicles 20,40,...\n"
        "       igv bench sweep SCENARIO --seeds 1-32 [--address ADDR]\n"
        "       igv bench mapf [-- ARGS...]"
    )
    parser.add_argument("words", nargs="+", metavar="SCENARIO|ACTION",
                        help="shipped scenario names or TOML files to run, or an action: compare A B, fleet-size SCENARIO, sweep SCENARIO, mapf")
    parser.add_argument("--duration-s", type=float, metavar="D", help="simulated seconds, overriding each scenario's duration_s")
    parser.add_argument("--start-hour", type=int, metavar="H",
                        help="hour of the day (0-23) the run starts at, overriding each scenario's start_hour; the result folder is <name>_from_<HH>h")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--no-record", action="store_true", help="write report.json and plots only, not record.npz/record.json")
    parser.add_argument("--vehicles", metavar="LIST", help="fleet-size: fleet sizes to try, e.g. 20,40,60 or 20-100:20")
    parser.add_argument("--reuse", action="store_true",
                        help="fleet-size: take the report of a size already run in --out (same scenario, seed, fleet and duration) instead of running it again")
    parser.add_argument("--seeds", metavar="LIST", help="sweep: seeds, e.g. 1-32 or 1,2,5-8")
    parser.add_argument("--address", metavar="ADDR", help="sweep: Ray cluster address (default: start a local Ray instance)")


def parse_int_list(text: str, option: str) -> list[int]:
    """``"1-4,7,10-30:10"`` -> ``[1, 2, 3, 4, 7, 10, 20, 30]``; one-line error if malformed."""
    from bench.harness import BenchError

    values: list[int] = []
    for item in text.split(","):
        item = item.strip()
        try:
            span, _, step = item.partition(":")
            first, dash, last = span.partition("-")
            lo, hi, by = int(first), int(last) if dash else int(first), int(step) if step else 1
        except ValueError:
            raise BenchError(f"{option}: {item!r} is not an integer, a range a-b or a range a-b:step (in {text!r})") from None
        if hi < lo or by < 1:
            raise BenchError(f"{option}: empty range {item!r} (in {text!r})")
        values.extend(range(lo, hi + 1, by))
    return values


def _runner() -> Callable[..., Any]:
    """``bench.runner.run_scenario``, the lockstep simulation run."""
    from bench.harness import BenchError

    try:
        module = importlib.import_module("bench.runner")
    except ModuleNotFoundError as exc:
        if exc.name == "bench.runner":
            raise BenchError("the simulation runner is not available") from None
        raise
    run = getattr(module, "run_scenario", None)
    if run is None:
        raise BenchError("the simulation runner is not available (bench.runner has no run_scenario)")
    return run


def _scenarios(names: list[str], duration_s: float | None, start_hour: int | None = None) -> list:
    from bench.scenario import check_against_map, load_scenario
    from maps import load_track_map

    scenarios = [load_scenario(name) for name in names]
    for scenario in scenarios:
        check_against_map(scenario, load_track_map(scenario.map))
    if duration_s is not None:
        scenarios = [s.with_duration(duration_s) for s in scenarios]
    if start_hour is not None:
        scenarios = [s.with_start_hour(start_hour) for s in scenarios]
    return scenarios


def _reject(args: argparse.Namespace, action: str, allowed: tuple[str, ...]) -> None:
    from bench.harness import BenchError

    for option in ("duration_s", "start_hour", "no_record", "vehicles", "reuse", "seeds", "address"):
        if option not in allowed and getattr(args, option) not in (None, False):
            raise BenchError(f"--{option.replace('_', '-')} does not apply to '{action}'")


def run(args: argparse.Namespace) -> int:
    from bench.harness import BenchError

    action, rest = args.words[0], args.words[1:]
    if action == "mapf":
        _reject(args, action, ())
        try:
            mapf = importlib.import_module("bench.mapf")
        except ModuleNotFoundError as exc:
            if exc.name == "bench.mapf":
                raise BenchError("the MovingAI runs (bench.mapf) are not available") from None
            raise
        return int(mapf.main(rest) or 0)
    if action == "compare":
        _reject(args, action, ())
        if len(rest) != 2:
            raise BenchError(f"compare needs two result folders A B, got {len(rest)}")
        from bench.harness import compare

        compare(rest[0], rest[1])
        return 0
    if action in ("fleet-size", "sweep"):
        if len(rest) != 1:
            raise BenchError(f"{action} needs one scenario, got {len(rest)}")
        option = "vehicles" if action == "fleet-size" else "seeds"
        _reject(args, action, ("duration_s", "start_hour", option, *(("address",) if action == "sweep" else ("reuse",))))
        if getattr(args, option) is None:
            raise BenchError(f"{action} needs --{option}")
        values = parse_int_list(getattr(args, option), f"--{option}")
        (scenario,) = _scenarios(rest, args.duration_s, args.start_hour)
        run_fn = _runner()
        if action == "fleet-size":
            from bench.harness import FleetSizeStatus, fleet_size

            result = fleet_size(scenario, values, run_fn, args.out, reuse=args.reuse)
            return 0 if result.status is FleetSizeStatus.FOUND else 1
        from bench.harness import SAFETY_KEYS, sweep

        result = sweep(scenario, values, run_fn, args.address, out_dir=args.out)
        return 1 if any(r.get(k) for r in result.reports for k in SAFETY_KEYS) else 0
    _reject(args, "a scenario run", ("duration_s", "start_hour", "no_record"))
    scenarios = _scenarios(args.words, args.duration_s, args.start_hour)
    run_fn = _runner()
    from bench.harness import run_scenarios, unsafe_runs

    reports = run_scenarios(scenarios, run_fn, args.out, keep_record=not args.no_record)
    return 1 if unsafe_runs(reports) else 0
