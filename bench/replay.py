"""The core's own view of a lockstep run at given times: what to look at when a run jams.

    python -m bench.replay SCENARIO --at 30640,37950

Runs ``SCENARIO`` in lockstep (:class:`bench.runner.Run`, the run of ``igv bench``, so the
same day to the step) and, at each time of ``--at`` (simulated seconds), prints one line
per vehicle: its mode, cell, station, job, whether it is laden, its searches failed in a
row, its leg (cells, progress, action) and agenda; and, for a vehicle that needs a leg, a
search of that leg on a copy of the live table: whether its goal is held for ever and by
whom, and whether the search finds a path. Then the frozen vehicles, the blocked lanes,
the number of station claims, the ``unstuck`` events so far, how many vehicles were moved
up part of the way (:mod:`fleet.core.advance`) and the jobs done.

The ``bench/README.md`` diagnosis of the ``disruption`` jam (33 vehicles failing every
search at 10:32, after the breakdowns had cleared) is ``--at 30590,30640,31200,37950``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bench.runner import Run
from bench.scenario import load_scenario
from fleet.core.planning import held_for_ever, plan_legs
from maps.errors import InputError


def dump_core(run: Run, out: TextIO) -> None:
    """Print the core's view of every vehicle of ``run`` at its current time."""
    core, traffic = run.core, run.core.traffic
    now = run.clock.now_s()
    active = traffic.table.all_active()
    print(f"===== t={now:.0f} frozen={sorted(traffic.frozen)} blocked_lanes={sorted(core.blocked_lanes)} "
          f"claims={len(core.station_claims)}", file=out)
    for vid in sorted(core.vehicles):
        v, i = core.vehicles[vid], traffic.index[vid]
        path, leg = traffic.paths[i], v.leg
        leg_text = "none" if leg is None else (
            f"cells={len(leg.cells)} progress={leg.progress} action={leg.action.action_type if leg.action else '-'}")
        agenda = [(t.action or "go", t.station) for t in v.agenda]
        line = (f"{vid} mode={v.record.mode.value} cell={v.cell} station={v.record.station} job={v.record.job} "
                f"laden={v.record.laden} failures={v.plan_failures} leg[{leg_text}] agenda={agenda} "
                f"path_end={int(path.cells[-1])} done={int(traffic.done[i])}/{path.n_steps}")
        if core.needs_leg(v) and not traffic.is_frozen(vid):
            request = core.next_leg_request(v, now)
            goal = request.goal_cell
            others = active.copy()
            others[i] = False
            owners = [traffic.ids[o] if o < len(traffic.ids) else "block"
                      for o in traffic.table.owner[goal, : int(traffic.table.count[goal])]]
            (result,) = plan_legs(traffic.graph, traffic.table.copy(), [request], max_expansions=traffic.max_expansions,
                                  reserve=False)
            line += (f"\n    goal={goal} held_for_ever={held_for_ever(traffic.table, goal, others)} "
                     f"goal_owners={owners} search={'found' if result.path is not None else 'failed'}")
        print(line, file=out)
    log = core.event_log or []
    unstuck = [(round(t), len(d["vehicles"]), d.get("left")) for t, kind, d in log if kind == "unstuck"]
    moved = sum(len(d["vehicles"]) for _, kind, d in log if kind == "moved_up")
    done = sum(1 for _, kind, _ in log if kind == "job_done")
    print(f"unstuck events (t, planned, left): {unstuck[-8:]}  vehicles moved up: {moved}  jobs done: {done}", file=out)


def replay(scenario_name: str, at_s: list[float], out: TextIO) -> None:
    """Run ``scenario_name`` in lockstep and :func:`dump_core` at each time of ``at_s``."""
    scenario = load_scenario(scenario_name)
    run = Run(scenario)
    try:
        for t in sorted(at_s):
            while run.clock.now_s() < t - 1e-9:
                run.step()
            dump_core(run, out)
    finally:
        run.close()


def _times(text: str) -> list[float]:
    try:
        times = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--at takes simulated seconds separated by commas, got {text!r}") from None
    if not times or min(times) < 0:
        raise argparse.ArgumentTypeError(f"--at needs at least one time >= 0, got {text!r}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a shipped scenario name or a scenario file")
    parser.add_argument("--at", type=_times, required=True, help="simulated seconds, comma-separated")
    args = parser.parse_args(argv)
    try:
        replay(args.scenario, args.at, sys.stdout)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
