"""``igv mapf``: solve a MovingAI MAPF instance and write a LaCAM-style solution file."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "mapf"
HELP = "solve a MovingAI MAPF instance (LaCAM* + PIBT, Numba) and write a LaCAM-format solution file"

SOLVER_NAME = "igv-lacam-star"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", help="MovingAI .map file")
    parser.add_argument("scen", help="MovingAI .scen file; its first N agents are solved")
    parser.add_argument("--agents", "-N", type=int, required=True, help="number of agents N (first N lines of the scenario)")
    parser.add_argument("--time-limit-s", type=float, default=10.0, help="time budget in seconds (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", "-o", required=True, help="solution file to write (design section 7 format)")
    parser.add_argument("--first-solution", action="store_true", help="stop at the first solution (plain LaCAM, no improvement)")
    parser.add_argument("--memory-limit-mb", type=float, default=1024.0, help="budget of the search node arenas (default 1024)")


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from maps.errors import InputError
    from maps.movingai import load_map, load_scenario
    from planner.mapf_io import MapfLog, write_log
    from planner.mapf_solver import MapfOptions, solve_mapf, warm_up

    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    if not args.time_limit_s > 0:
        raise InputError(f"--time-limit-s must be positive, got {args.time_limit_s}")
    grid = load_map(args.map)
    agents = load_scenario(args.scen, grid)
    if not 1 <= args.agents <= len(agents):
        raise InputError(f"--agents must be between 1 and {len(agents)} (the agents in {args.scen}), got {args.agents}")
    chosen = agents[: args.agents]
    starts_xy = np.array([a.start_xy for a in chosen], dtype=np.int64)
    goals_xy = np.array([a.goal_xy for a in chosen], dtype=np.int64)
    cell_of = grid.grid.cell_of
    starts = cell_of[starts_xy[:, 1], starts_xy[:, 0]]
    goals = cell_of[goals_xy[:, 1], goals_xy[:, 0]]

    options = MapfOptions(anytime=not args.first_solution, memory_limit_mb=args.memory_limit_mb)
    warm_up()  # JIT loading is not planning time (LaCAM3's comp_time excludes its start-up too)
    t0 = time.perf_counter()
    result = solve_mapf(
        grid.cell_adj_indptr,
        grid.cell_adj_to,
        starts,
        goals,
        time_limit_s=args.time_limit_s,
        rng=np.random.default_rng(args.seed),
        options=options,
    )
    comp_time_ms = (time.perf_counter() - t0) * 1000.0
    cell_xy = grid.cell_xy.astype(np.int64)
    solution = cell_xy[result.configs] if result.solved else np.zeros((0, len(chosen), 2), dtype=np.int64)
    first_ms = -1 if result.first_solution_s is None else int(round(result.first_solution_s * 1000))
    log = MapfLog(
        agents=len(chosen),
        map_file=Path(args.map).name,
        solver=SOLVER_NAME,
        solved=result.solved,
        soc=result.sum_of_costs or 0,
        soc_lb=result.sum_of_costs_lb,
        makespan=result.makespan or 0,
        makespan_lb=result.makespan_lb,
        sum_of_loss=result.sum_of_loss or 0,
        sum_of_loss_lb=result.sum_of_costs_lb,
        comp_time_ms=comp_time_ms,
        seed=args.seed,
        starts=starts_xy,
        goals=goals_xy,
        solution=solution,
        extra=(
            ("status", result.status.value),
            ("comp_time_initial_solution", str(first_ms)),
            ("cost_initial_solution", str(-1 if result.first_sum_of_loss is None else result.first_sum_of_loss)),
            ("search_iteration", str(result.iterations)),
            ("num_high_level_node", str(result.nodes)),
        ),
    )
    write_log(out, log)
    if result.solved:
        lb = max(result.sum_of_costs_lb, 1)
        print(
            f"{result.status.value}: {len(chosen)} agents, sum of loss {result.sum_of_loss} "
            f"({result.sum_of_loss / lb:.3f} x lb {result.sum_of_costs_lb}), makespan {result.makespan}, "
            f"first solution {first_ms} ms, {comp_time_ms:.0f} ms in all -> {out}"
        )
        return 0
    note = f" ({result.note})" if result.note else ""
    print(f"not solved: {result.status.value}{note}; wrote solved=0 to {out}")
    return 1
