"""``igv run``: the main job — core, simulated terminal and IGVs on the default map."""

from __future__ import annotations

import argparse

NAME = "run"
HELP = "run the whole border gate in simulation (core + terminal + IGVs in lockstep) and report KPIs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vehicles", type=int, default=30, help="IGVs in the fleet (default 30)")
    parser.add_argument("--duration-s", type=float, default=600.0, help="simulated seconds (default 600)")
    parser.add_argument("--scenario", default="day_2026", help="demand and faults from this bench scenario (default day_2026)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    parser.add_argument("--start-hour", type=int, default=7, metavar="H",
                        help="hour of the day the run starts at, 0-23 (default 7, the morning peak: a short run "
                             "shows the gate busy; the scenario's fault times stay relative to the start)")
    parser.add_argument("--headless", action="store_true", help="no window: run as fast as possible, print progress and a KPI summary")
    parser.add_argument("--speed", type=float, default=20.0, help="with the window: simulated seconds per wall second (default 20)")
    parser.add_argument("--frames", type=int, default=None, help=argparse.SUPPRESS)  # tests: close the window after N frames
    parser.add_argument("--out", default="out/run", metavar="DIR", help="where report.json, plots and the snapshot go (default out/run)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from bench.kpi import compute_report
    from bench.plots import draw_run_plots
    from bench.record import save_record
    from bench.runner import LOOPBACK, Run, STEP_S
    from bench.scenario import load_scenario
    from maps.errors import InputError
    from maps.render import render_map

    if args.vehicles < 1:
        raise InputError(f"--vehicles must be at least 1, got {args.vehicles}")
    if not args.duration_s > 0:
        raise InputError(f"--duration-s must be positive, got {args.duration_s}")
    if not 0 <= args.start_hour <= 23:
        raise InputError(f"--start-hour must be an hour 0-23, got {args.start_hour}")
    console = Console()
    scenario = load_scenario(args.scenario).with_duration(args.duration_s)
    # From midnight the first ten minutes of day_2026 had no container at all: the
    # default demo (600 s) showed 30 idle vehicles.
    scenario = dataclasses.replace(scenario, vehicles=args.vehicles, demand=dataclasses.replace(scenario.demand, start_hour=args.start_hour),
                                   **({"seed": args.seed} if args.seed is not None else {}))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import time

    started = time.perf_counter()
    # The control room (another context) reaches the control API over loopback TCP;
    # headless, it stays inproc and the run is reproducible.
    sim = Run(scenario, control_endpoint=None if args.headless else LOOPBACK)
    try:
        if args.headless or not _windowed(sim, args, console):
            steps = int(round(scenario.duration_s / STEP_S))
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task(f"{scenario.vehicles} IGVs, {scenario.name}", total=steps)
                while sim.clock.now_s() < scenario.duration_s - 1e-9:
                    sim.step()
                    bar.update(task, completed=int(round(sim.clock.now_s() / STEP_S)))
        record = sim.record(time.perf_counter() - started)
        poses = {v.serial: v.pose for v in sim.vehicles}
    finally:
        sim.close()
    report = compute_report(record)
    save_record(record, out)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    plots = draw_run_plots(record, out)
    render_map(sim.map, out / "snapshot.png", dpi=110, vehicles=poses,
               title=f"{sim.map.name} at t = {record.sim_duration_s:.0f} s: {len(poses)} IGVs")
    table = Table(title=f"igv run: {scenario.vehicles} IGVs, {record.sim_duration_s:.0f} simulated s in {record.wall_s:.1f} s")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key in ("containers_crossed", "moves_per_h", "clearance_time_h_p50", "clearance_time_h_p95", "vehicle_utilisation",
                "tick_ms_p99", "replan_ms_p99", "collisions_independent", "deadlocks", "containers_lost", "sim_speed_factor"):
        value = report.get(key)
        table.add_row(key, "-" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value)))
    console.print(table)
    console.print(f"wrote {out / 'report.json'}, {out / 'snapshot.png'} and {len(plots)} plots")
    return 1 if report.get("collisions_independent") or report.get("deadlocks") or report.get("containers_lost") else 0


def _windowed(sim, args: argparse.Namespace, console) -> bool:  # noqa: ANN001 - a bench.runner.Run
    """Run the simulation in a worker thread, paced at ``--speed``, with the control room
    in this one; False (nothing run) when no window can be opened."""
    import threading
    import time

    from bench.runner import STEP_S
    from visualizer.control import ZmqControlSender
    from visualizer.errors import VisualizerError
    from visualizer.source import ZmqSource

    if args.speed <= 0:
        from maps.errors import InputError

        raise InputError(f"--speed must be positive, got {args.speed}")
    speed = {"factor": float(args.speed)}
    sim.core.set_speed = lambda factor: speed.__setitem__("factor", factor)
    sim.core.speed_factor = speed["factor"]
    stop = threading.Event()

    def drive() -> None:
        # The worker owns the core's and the vehicles' sockets from here on.
        wall0, sim0, factor = time.monotonic(), sim.clock.now_s(), speed["factor"]
        while not stop.is_set() and sim.clock.now_s() < args.duration_s - 1e-9:
            if speed["factor"] != factor:  # operator changed the speed: pace from here
                wall0, sim0, factor = time.monotonic(), sim.clock.now_s(), speed["factor"]
            ahead_s = sim.clock.now_s() + STEP_S - (sim0 + (time.monotonic() - wall0) * factor)
            if ahead_s > 0:
                time.sleep(min(0.05, ahead_s / factor))
                continue
            sim.step()

    endpoints = sim.transport.endpoints
    worker = threading.Thread(target=drive, name="igv-run-sim", daemon=True)
    worker.start()
    try:
        from visualizer.app import run_control_room

        run_control_room(ZmqSource(endpoints.telemetry, endpoints.control), ZmqControlSender(endpoints.control),
                         track_map=sim.map, max_frames=args.frames)
    except VisualizerError as exc:
        stop.set()
        worker.join()
        if sim.clock.now_s() > 0:
            console.print(f"control room closed: {exc}")
            return True
        console.print(f"no control room ({exc}): running headless")
        return False
    stop.set()
    worker.join()
    return True
