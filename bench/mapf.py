"""Benchmark: the MAPF planner (LaCAM* + PIBT + refinement) on the public MovingAI maps.

Runs ``random-32-32-20``, ``room-32-32-4``, ``random-64-64-20`` and
``warehouse-10-20-10-2-1`` from ``../shared/mapf-benchmark`` (``--data-dir``), every
scenario there (random-1..3), at rising agent counts up to those of the README's LaCAM3
table and beyond, each with a time limit (``--time-limit-s``, default 30). Every solution
is checked by the independent validator (:mod:`planner.mapf_validate`).

Per map and agent count it prints the success rate, the time to the first solution, the
runtime, the sum of loss / lower bound at the first solution and at the end (LaCAM3's
objective), and the sum of costs. Two baselines: LaCAM3's figures parsed from the README
(measured on this kind of machine; the ratios "x LaCAM3" compare against them) and, in
the same run, plain PIBT (no search, no refinement) on the same instance. The last block
checks the issue's targets row by row. The machine load (1-minute load average) is
recorded per run: the machine is shared, and a loaded machine slows every figure.

``--kernels`` instead measures the Numba kernels behind the ``# PERF:`` notes (PIBT step,
LaCAM* iterations, SIPP expansions, scatter, lazy versus complete distance rows).

Run: ``python -m bench.mapf`` (``--help`` for options; ``--quick`` runs only the table
rows with 10 s). Results: ``bench/results/mapf.csv`` and ``bench/results/mapf.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "mapf-benchmark"
MAPS = ("random-32-32-20", "room-32-32-4", "random-64-64-20", "warehouse-10-20-10-2-1")
COUNTS = {
    "random-32-32-20": (100, 200, 300, 400, 409),
    "room-32-32-4": (100, 200, 250, 300),
    "random-64-64-20": (400, 600, 800, 1000),
    "warehouse-10-20-10-2-1": (400, 600, 800, 1000),
}
SCENARIOS = ("random-1", "random-2", "random-3")
TARGET_TIME_FACTOR = 10.0


@dataclass(frozen=True)
class Reference:
    """One row of the README's LaCAM3 table."""

    first_ms: float
    first_ratio: float
    after_10s_ratio: float


@dataclass
class Row:
    map: str
    scenario: str
    agents: int
    seed: int
    time_limit_s: float
    status: str
    valid: bool
    first_solution_ms: float
    runtime_s: float
    sum_of_loss_lb: int
    first_ratio: float
    ratio_at_10s: float
    final_ratio: float
    sum_of_loss: int
    sum_of_costs: int
    makespan: int
    iterations: int
    nodes: int
    pibt_solved: bool
    pibt_ratio: float
    load_1min: float
    lacam3_first_ms: float
    lacam3_first_ratio: float
    lacam3_10s_ratio: float


def read_reference(readme: Path) -> dict[tuple[str, str, int], Reference]:
    """The LaCAM3 table of the benchmark README, keyed by (map, scenario, agents)."""
    pattern = re.compile(r"^\|\s*([\w-]+)\s*\|\s*(random-\d)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|")
    table = {}
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            m = pattern.match(line)
            if m:
                table[(m[1], m[2], int(m[3]))] = Reference(float(m[4]), float(m[5]), float(m[6]))
    return table


def load_instance(data: Path, name: str, scenario: str, agents: int):
    from maps.movingai import load_map, load_scenario

    grid = load_map(data / f"{name}.map")
    scen = load_scenario(data / f"{name}-{scenario}.scen", grid)[:agents]
    cell = grid.grid.cell_of
    starts_xy = np.array([a.start_xy for a in scen], dtype=np.int64)
    goals_xy = np.array([a.goal_xy for a in scen], dtype=np.int64)
    return grid, cell[starts_xy[:, 1], starts_xy[:, 0]], cell[goals_xy[:, 1], goals_xy[:, 0]], starts_xy, goals_xy


def run_one(data: Path, name: str, scenario: str, agents: int, time_limit_s: float, seed: int, ref: Reference | None) -> Row:
    from planner.mapf_solver import solve_mapf
    from planner.mapf_validate import validate_grid_solution
    from planner.pibt import pibt_solve

    grid, starts, goals, starts_xy, goals_xy = load_instance(data, name, scenario, agents)
    load = os.getloadavg()[0]
    result = solve_mapf(grid.cell_adj_indptr, grid.cell_adj_to, starts, goals, time_limit_s=time_limit_s, rng=np.random.default_rng(seed))
    lb = max(result.sum_of_costs_lb, 1)
    valid = False
    if result.solved:
        xy = grid.cell_xy.astype(np.int64)[result.configs]
        check = validate_grid_solution(grid.grid.free, starts_xy, goals_xy, xy)
        valid = check.ok and check.sum_of_loss == result.sum_of_loss
        if not check.ok:
            print(f"  INVALID {name} {scenario} {agents}: {check.problems[0]}", file=sys.stderr)
    at_10 = [c for t, c in result.history if t <= 10.0]
    pibt = pibt_solve(grid.cell_adj_indptr, grid.cell_adj_to, starts, goals, 2000, np.random.default_rng(seed))
    pibt_ratio = float("nan")
    if pibt is not None:
        at_goal = pibt == goals[None, :]
        pibt_ratio = float((~(at_goal[1:] & at_goal[:-1])).sum()) / lb
    nan = float("nan")
    return Row(
        map=name,
        scenario=scenario,
        agents=agents,
        seed=seed,
        time_limit_s=time_limit_s,
        status=result.status.value,
        valid=valid,
        first_solution_ms=nan if result.first_solution_s is None else 1000 * result.first_solution_s,
        runtime_s=result.runtime_s,
        sum_of_loss_lb=result.sum_of_costs_lb,
        first_ratio=nan if result.first_sum_of_loss is None else result.first_sum_of_loss / lb,
        ratio_at_10s=at_10[-1] / lb if at_10 else nan,
        final_ratio=nan if result.sum_of_loss is None else result.sum_of_loss / lb,
        sum_of_loss=result.sum_of_loss or 0,
        sum_of_costs=result.sum_of_costs or 0,
        makespan=result.makespan or 0,
        iterations=result.iterations,
        nodes=result.nodes,
        pibt_solved=pibt is not None,
        pibt_ratio=pibt_ratio,
        load_1min=load,
        lacam3_first_ms=ref.first_ms if ref else nan,
        lacam3_first_ratio=ref.first_ratio if ref else nan,
        lacam3_10s_ratio=ref.after_10s_ratio if ref else nan,
    )


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def mapf_report(rows: list[Row], time_limit_s: float, seed: int) -> dict[str, object]:
    """The runs as a ``report.json`` like the scenarios' (docs/bench.md): identification,
    headline KPIs, then the detail (one entry per map and agent count, every run)."""
    groups = []
    for name, n in sorted({(r.map, r.agents) for r in rows}, key=lambda k: (MAPS.index(k[0]) if k[0] in MAPS else 99, k[1])):
        group = [r for r in rows if r.map == name and r.agents == n]
        solved = [r for r in group if r.valid]
        groups.append({
            "map": name, "agents": n, "runs": len(group), "solved": len(solved),
            "first_solution_ms_mean": _finite(float(np.mean([r.first_solution_ms for r in solved]))) if solved else None,
            "first_over_lb_mean": _finite(float(np.mean([r.first_ratio for r in solved]))) if solved else None,
            "final_over_lb_mean": _finite(float(np.mean([r.final_ratio for r in solved]))) if solved else None,
        })
    return {
        "scenario": "mapf", "seed": seed, "time_limit_s": time_limit_s, "runs": len(rows),
        "solved": sum(math.isfinite(r.first_solution_ms) for r in rows), "valid": sum(r.valid for r in rows),
        "by_map_and_agents": groups,
        "rows": [{k: _finite(v) for k, v in asdict(r).items()} for r in rows],
    }


def summarise(rows: list[Row]) -> None:
    print("\nper map and agent count (mean over scenarios; 'x LaCAM3' uses the README row of random-1)")
    print(f"{'map':24s} {'N':>5s} {'ok':>5s} {'first ms':>9s} {'runtime s':>9s} {'first/lb':>8s} {'end/lb':>7s} {'soc':>8s} {'PIBT/lb':>8s}")
    keys = sorted({(r.map, r.agents) for r in rows}, key=lambda k: (MAPS.index(k[0]) if k[0] in MAPS else 99, k[1]))
    for name, n in keys:
        group = [r for r in rows if r.map == name and r.agents == n]
        ok = sum(r.valid for r in group)
        solved = [r for r in group if r.valid]

        def mean(values: list[float]) -> float:
            v = [x for x in values if x == x]
            return float(np.mean(v)) if v else float("nan")

        print(
            f"{name:24s} {n:5d} {ok:>2d}/{len(group):<2d} {mean([r.first_solution_ms for r in solved]):9.0f} "
            f"{mean([r.runtime_s for r in solved]):9.1f} {mean([r.first_ratio for r in solved]):8.3f} "
            f"{mean([r.final_ratio for r in solved]):7.3f} {mean([r.sum_of_costs for r in solved]):8.0f} "
            f"{mean([r.pibt_ratio for r in group]):8.3f}"
        )
    table = [r for r in rows if r.lacam3_first_ms == r.lacam3_first_ms]
    if not table:
        return
    print("\nagainst LaCAM3 (README table rows) and the issue's targets")
    print(
        f"{'map':24s} {'scen':8s} {'N':>5s} {'LaCAM3 ms':>9s} {'ours ms':>8s} {'x LaCAM3':>8s} "
        f"{'L3 first':>8s} {'L3 10s':>7s} {'ours 10s':>8s} {'ours end':>8s}  target"
    )
    for r in table:
        time_ok = r.valid and r.first_solution_ms <= TARGET_TIME_FACTOR * r.lacam3_first_ms
        quality_ok = r.valid and r.final_ratio <= r.lacam3_first_ratio
        verdict = "met" if (time_ok and quality_ok) else "MISSED" + ("" if time_ok else " time") + ("" if quality_ok else " quality")
        print(
            f"{r.map:24s} {r.scenario:8s} {r.agents:5d} {r.lacam3_first_ms:9.0f} {r.first_solution_ms:8.0f} "
            f"{r.first_solution_ms / r.lacam3_first_ms:8.2f} {r.lacam3_first_ratio:8.3f} {r.lacam3_10s_ratio:7.3f} "
            f"{r.ratio_at_10s:8.3f} {r.final_ratio:8.3f}  {verdict}"
        )


def plot(rows: list[Row], path: Path, reference: dict[tuple[str, str, int], Reference]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m for m in MAPS if any(r.map == m for r in rows)]
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 7.5), squeeze=False)
    for col, name in enumerate(names):
        mine = [r for r in rows if r.map == name and r.valid]
        ref = sorted((n, v) for (m, _, n), v in reference.items() if m == name)
        ax = axes[0, col]
        ax.scatter([r.agents for r in mine], [r.first_solution_ms for r in mine], s=14, label="ours: first solution")
        if ref:
            ax.plot([n for n, _ in ref], [v.first_ms for _, v in ref], "k^--", label="LaCAM3 (README)")
            ax.plot([n for n, _ in ref], [TARGET_TIME_FACTOR * v.first_ms for _, v in ref], ":", color="grey", label="10 x LaCAM3")
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("agents")
        ax.set_ylabel("time to first solution (ms)")
        ax.legend(fontsize=7)
        ax = axes[1, col]
        ax.scatter([r.agents for r in mine], [r.first_ratio for r in mine], s=14, marker="x", label="ours: first")
        ax.scatter([r.agents for r in mine], [r.final_ratio for r in mine], s=14, label=f"ours: at {rows[0].time_limit_s:.0f} s")
        if ref:
            ax.plot([n for n, _ in ref], [v.first_ratio for _, v in ref], "k^--", label="LaCAM3 first")
            ax.plot([n for n, _ in ref], [v.after_10s_ratio for _, v in ref], "kv:", label="LaCAM3 10 s")
        ax.set_xlabel("agents")
        ax.set_ylabel("sum of loss / lower bound")
        ax.legend(fontsize=7)
    fig.suptitle("MAPF on MovingAI maps: LaCAM* + PIBT + refinement (Numba) vs LaCAM3")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kernels(data: Path) -> None:
    """Throughput of the kernels behind the PERF notes, on warehouse-10-20-10-2-1."""
    from planner import lacam, mapf_refine
    from planner.distance import make_distance_table
    from planner.mapf_solver import MapfOptions, solve_mapf, warm_up
    from planner.pibt import NO_CELL, make_pibt_work, pibt_next, seed_state, settle_rows
    from planner.scatter import scatter

    warm_up()
    name, n = "warehouse-10-20-10-2-1", 1000
    grid, starts, goals, _, _ = load_instance(data, name, "random-1", n)
    ip, at = np.array(grid.cell_adj_indptr), np.array(grid.cell_adj_to)  # writable, as solve_mapf passes them
    starts = starts.astype(np.int32)
    goals = goals.astype(np.int32)
    print(f"kernels on {name}, {n} agents, {grid.n_cells} cells")

    table = make_distance_table(ip, at, goals)
    t = time.perf_counter()
    settle_rows(starts, ip, at, table, False)
    lazy_s = time.perf_counter() - t
    touched = int(np.count_nonzero(table.dist1))
    t = time.perf_counter()
    settle_rows(starts, ip, at, table, True)
    full_s = time.perf_counter() - t
    print(f"  distance rows: lazy start neighbourhoods {1e3 * lazy_s:.1f} ms settling {touched} entries; "
          f"completing all rows {1e3 * full_s:.1f} ms more ({grid.n_cells * n} entries)")  # fmt: skip

    for swap in (False, True):
        work = make_pibt_work(grid.n_cells, n, 4, 1)
        q = np.empty(n, dtype=np.int32)
        order = np.arange(n, dtype=np.int32)
        reps = 200
        q[:] = NO_CELL
        pibt_next(starts, q, order, ip, at, goals, table, work, swap)  # untimed: loads the kernel
        t = time.perf_counter()
        for _ in range(reps):
            q[:] = NO_CELL
            pibt_next(starts, q, order, ip, at, goals, table, work, swap)
        per_agent_ns = (time.perf_counter() - t) / reps / n * 1e9
        print(f"  PIBT step (swap={swap}): {per_agent_ns:.0f} ns per agent")

    t = time.perf_counter()
    prefs = scatter(ip, at, starts, goals, table.dist1, seed_state(1), time.perf_counter() + 30, time.perf_counter)
    print(f"  scatter: {time.perf_counter() - t:.2f} s ({prefs[0].shape[0]} preference slots)")

    work = make_pibt_work(grid.n_cells, n, 4, 1, prefs)
    tie = np.linspace(0, 0.99, n)
    for runs in (1, 3):
        state = lacam.make_search_state(ip, at, starts, goals, tie, table, work, lacam.node_capacity(n, 512), True, True, runs)
        t = time.perf_counter()
        while lacam.search(state, 50, 0.1, 0.01) not in (lacam.FOUND_FIRST, lacam.EXHAUSTED, lacam.FULL):
            pass
        el = time.perf_counter() - t
        it = int(state.ctr[lacam.ITERATIONS])
        print(f"  LaCAM to first solution (pibt_runs={runs}): {el:.2f} s, {it} iterations, {1e6 * el / max(it, 1):.0f} us each")
    plan = lacam.backtrack(state, int(state.ctr[lacam.GOAL]))
    refiner = mapf_refine.make_refine_state(ip, at, goals, table.dist1, plan, seed_state(3))
    t = time.perf_counter()
    mapf_refine.refine(refiner, 2_000_000, 2_000_000)
    el = time.perf_counter() - t
    exp = int(refiner.ctr[mapf_refine.EXPANDED])
    print(f"  refinement: {exp} SIPP expansions in {el:.2f} s ({exp / el / 1e6:.2f} M/s), "
          f"{int(refiner.ctr[mapf_refine.TRIED])} groups, {int(refiner.ctr[mapf_refine.ACCEPTED])} improved")  # fmt: skip
    r = solve_mapf(ip, at, starts, goals, time_limit_s=5.0, rng=np.random.default_rng(0), options=MapfOptions(scatter=False))
    print(f"  without scatter: first solution {r.first_sum_of_loss / r.sum_of_costs_lb:.3f} x lb in {1e3 * r.first_solution_s:.0f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mapf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DATA, help=f"MovingAI files and README (default {DATA})")
    parser.add_argument("--time-limit-s", type=float, help="per run (default 30, with --quick 10)")
    parser.add_argument("--maps", nargs="*", default=list(MAPS), choices=MAPS)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--agents", nargs="*", type=int, help="agent counts (default: per map, rising beyond the README table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="only the README table rows (scenario random-1), 10 s each")
    parser.add_argument("--kernels", action="store_true", help="measure the Numba kernels instead")
    parser.add_argument("--out", type=Path, default=RESULTS / "mapf.csv")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"bench.mapf: error: no data directory {args.data_dir}", file=sys.stderr)
        return 2
    if args.kernels:
        kernels(args.data_dir)
        return 0
    from planner.mapf_solver import warm_up

    reference = read_reference(args.data_dir / "README.md")
    if args.quick:
        jobs = [(m, s, n) for (m, s, n) in reference if m in args.maps]
        time_limit = args.time_limit_s or 10.0
    else:
        jobs = [(m, s, n) for m in args.maps for n in (args.agents or COUNTS[m]) for s in args.scenarios]
        time_limit = args.time_limit_s or 30.0
    t = time.perf_counter()
    warm_up()
    print(f"JIT load / compile: {time.perf_counter() - t:.1f} s; {len(jobs)} runs of {time_limit:.0f} s; load {os.getloadavg()[0]:.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    for name, scenario, n in jobs:
        row = run_one(args.data_dir, name, scenario, n, time_limit, args.seed, reference.get((name, scenario, n)))
        rows.append(row)
        print(
            f"{name:24s} {scenario:8s} {n:5d} {row.status:9s} valid={int(row.valid)} first {row.first_solution_ms:7.0f} ms "
            f"first/lb {row.first_ratio:6.3f}  10s/lb {row.ratio_at_10s:6.3f}  end/lb {row.final_ratio:6.3f}  "
            f"PIBT/lb {row.pibt_ratio:6.3f}  load {row.load_1min:.1f}",
            flush=True,
        )
        with args.out.open("w", newline="") as f:  # rewritten after every run: partial results survive
            writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
    summarise(rows)
    png = args.out.with_suffix(".png")
    plot(rows, png, {k: v for k, v in reference.items() if k[0] in args.maps})
    report = args.out.with_name("report.json")
    report.write_text(json.dumps(mapf_report(rows, time_limit, args.seed), indent=1, allow_nan=False) + "\n")
    print(f"\nwrote {args.out}, {report} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
