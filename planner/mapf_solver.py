"""MAPF on a cell graph: LaCAM* with PIBT, plus LNS refinement, within a time budget.

The entry point :func:`solve_mapf` takes plain arrays (CSR cell graph, start and goal cell
per agent), a time budget, a seeded ``numpy.random.Generator`` and an injected clock. It
works on any cell graph whose cells conflict only with themselves (vertex and swap
conflicts): a MovingAI grid or the terminal's cell graph. Time is sliced in Python; every
slice runs inside Numba (:mod:`planner.lacam`, :mod:`planner.mapf_refine`).

Schedule: LaCAM (with PIBT) until the first solution; then, while time remains, LaCAM*
search slices alternate with refinement slices (LaCAM3 runs them in parallel threads);
improved refined solutions are merged back into the LaCAM* search graph. The search stops
early when LaCAM* proves optimality (OPEN empty).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

import numpy as np

from planner.distance import UNREACHABLE, dist_many, is_symmetric, make_distance_table
from planner.errors import ProblemError
from planner.lacam import (
    EXHAUSTED,
    FOUND_FIRST,
    FULL,
    FULL_FLAG,
    GOAL,
    ITERATIONS,
    N_NODES,
    backtrack,
    inject_plan,
    make_search_state,
    node_capacity,
    search,
)
from planner.mapf_refine import EXPANDED, TOTAL, make_refine_state, refine
from planner.pibt import make_pibt_work, seed_state, settle_rows
from planner.scatter import scatter


class MapfStatus(Enum):
    """Outcome of :func:`solve_mapf`."""

    OPTIMAL = "optimal"
    """Solved, and LaCAM* exhausted its search: the sum of loss is optimal."""
    SOLVED = "solved"
    """Solved; time ran out before optimality was proven."""
    UNSOLVABLE = "unsolvable"
    """Proven unsolvable: a goal is unreachable from its start, or the search space is exhausted."""
    TIMEOUT = "timeout"
    """No solution within the time budget."""
    OUT_OF_MEMORY = "out_of_memory"
    """The search arenas filled up before a solution was found."""


@dataclass(frozen=True)
class MapfOptions:
    """Knobs of :func:`solve_mapf`; the defaults follow LaCAM3.

    Attributes
    ----------
    anytime : bool
        Keep improving after the first solution (LaCAM* + refinement); False stops at
        the first solution (plain LaCAM).
    refine : bool
        Run the LNS refiner after the first solution.
    swap : bool or None
        LaCAM3's PIBT swap; None enables it exactly on undirected graphs (it needs
        reversible moves, so True on a directed graph is an error).
    memory_limit_mb : float
        Budget for the LaCAM* node arenas.
    restart_probability, random_open_probability : float
        LaCAM3's diversification: restart from the root when a known configuration is
        reached / expand a random OPEN entry.
    refine_share : float
        Share of the time after the first solution given to refinement.
    slice_s : float
        Length of one Numba slice (the granularity of the deadline).
    pibt_runs : int
        PIBT runs per LaCAM successor, the cheapest kept (LaCAM3 runs 10 in threads).
    scatter : bool
        Compute LaCAM3's scatter paths first (up to half the budget) to guide PIBT.
    scatter_margin : int
        How much longer than shortest a scatter path may be.
    """

    anytime: bool = True
    refine: bool = True
    swap: bool | None = None
    memory_limit_mb: float = 1024.0
    restart_probability: float = 0.1
    random_open_probability: float = 0.01
    refine_share: float = 0.8
    slice_s: float = 0.02
    pibt_runs: int = 3
    scatter: bool = True
    scatter_margin: int = 10

    def __post_init__(self) -> None:
        if not self.memory_limit_mb > 0:
            raise ProblemError(f"memory_limit_mb must be positive, got {self.memory_limit_mb}")
        if not 0.0 <= self.refine_share <= 1.0:
            raise ProblemError(f"refine_share must be in [0, 1], got {self.refine_share}")
        if not self.slice_s > 0:
            raise ProblemError(f"slice_s must be positive, got {self.slice_s}")
        if self.pibt_runs < 1 or self.scatter_margin < 0:
            raise ProblemError(f"pibt_runs must be >= 1 and scatter_margin >= 0, got {self.pibt_runs}, {self.scatter_margin}")


@dataclass(frozen=True)
class MapfResult:
    """A MAPF solution and how it was found.

    ``configs`` is (T + 1, N) int32: row ``t`` holds every agent's cell at time ``t``;
    row 0 is the starts, row T the goals. Costs follow LaCAM3: an agent's *cost* is the
    time of its final arrival at its goal, its *loss* the steps not spent resting there.
    ``history`` lists ``(seconds since start, sum of loss)`` at each improvement.
    """

    status: MapfStatus
    configs: np.ndarray | None
    sum_of_loss: int | None
    sum_of_costs: int | None
    makespan: int | None
    sum_of_costs_lb: int
    makespan_lb: int
    first_solution_s: float | None
    first_sum_of_loss: int | None
    runtime_s: float
    iterations: int
    nodes: int
    history: tuple[tuple[float, int], ...] = field(default=())
    note: str = ""

    @property
    def solved(self) -> bool:
        return self.status in (MapfStatus.OPTIMAL, MapfStatus.SOLVED)


def solution_costs(configs: np.ndarray, goals: np.ndarray) -> tuple[int, int, int]:
    """(sum of loss, sum of costs, makespan) of a (T + 1, N) configuration array."""
    at_goal = configs == goals[None, :]
    loss = int((~(at_goal[1:] & at_goal[:-1])).sum())
    horizon = configs.shape[0]
    # cost of agent i: one past the last time step it is away from its goal
    away = ~at_goal
    last_away = np.where(away.any(axis=0), horizon - 1 - np.argmax(away[::-1], axis=0), -1)
    return loss, int((last_away + 1).sum()), horizon - 1


def _trim(configs: np.ndarray, goals: np.ndarray) -> np.ndarray:
    """Drop trailing rows in which every agent already rests at its goal."""
    done = np.all(configs == goals[None, :], axis=1)
    t = configs.shape[0] - 1
    while t > 0 and done[t - 1]:
        t -= 1
    return configs[: t + 1]


def _check_problem(indptr: np.ndarray, adj_to: np.ndarray, starts: np.ndarray, goals: np.ndarray) -> None:
    n_cells = indptr.shape[0] - 1
    if indptr.ndim != 1 or n_cells < 0 or indptr[0] != 0 or indptr[-1] != adj_to.shape[0] or np.any(np.diff(indptr) < 0):
        raise ProblemError("cell graph: indptr must be a CSR index array matching adj_to")
    if adj_to.size and (adj_to.min() < 0 or adj_to.max() >= n_cells):
        raise ProblemError("cell graph: adj_to holds cells outside the graph")
    if starts.ndim != 1 or starts.shape != goals.shape:
        raise ProblemError(f"starts and goals must be 1-D and equally long, got {starts.shape} and {goals.shape}")
    for label, cells in (("start", starts), ("goal", goals)):
        bad = np.nonzero((cells < 0) | (cells >= n_cells))[0]
        if bad.size:
            raise ProblemError(f"agent {int(bad[0])}: {label} cell {int(cells[bad[0]])} is not in the graph")
        values, first, counts = np.unique(cells, return_index=True, return_counts=True)
        if np.any(counts > 1):
            c = int(values[np.argmax(counts > 1)])
            agents = np.nonzero(cells == c)[0][:2]
            raise ProblemError(f"agents {int(agents[0])} and {int(agents[1])} share the {label} cell {c}")


def solve_mapf(
    indptr: np.ndarray,
    adj_to: np.ndarray,
    starts: np.ndarray,
    goals: np.ndarray,
    *,
    time_limit_s: float,
    rng: np.random.Generator,
    options: MapfOptions = MapfOptions(),
    now: Callable[[], float] = time.perf_counter,
) -> MapfResult:
    """Solve MAPF (vertex and swap conflicts, unit moves, waits allowed).

    Parameters
    ----------
    indptr, adj_to : ndarray
        CSR cell graph: moves ``v -> adj_to[indptr[v]:indptr[v + 1]]``.
    starts, goals : (N,) int
        Start and goal cell of each agent (each pairwise distinct).
    time_limit_s : float
        Budget measured on ``now`` from the call.
    rng : numpy.random.Generator
        Seeds every random choice (tie-breaks, successor order, refinement groups).
    options : MapfOptions
    now : callable
        Clock in seconds.

    Raises
    ------
    ProblemError
        Malformed graph or agents (cell out of range, shared start or goal).
    """
    t0 = now()
    # PERF: private writable copies: a read-only TrackMap array is another Numba type
    # and would load a second compiled specialisation of every kernel (~0.15 s)
    indptr = np.array(indptr, dtype=np.int64)
    adj_to = np.array(adj_to, dtype=np.int32)
    starts = np.array(starts, dtype=np.int32)
    goals = np.array(goals, dtype=np.int32)
    _check_problem(indptr, adj_to, starts, goals)
    if not time_limit_s > 0:
        raise ProblemError(f"time_limit_s must be positive, got {time_limit_s}")
    n = starts.shape[0]
    n_cells = indptr.shape[0] - 1
    undirected = is_symmetric(indptr, adj_to)
    swap = undirected if options.swap is None else options.swap
    if swap and not undirected:
        raise ProblemError("the PIBT swap needs reversible moves, and this cell graph has one-way moves")

    table = make_distance_table(indptr, adj_to, goals)
    lbs = dist_many(table, starts) if n else np.zeros(0, dtype=np.int64)
    soc_lb = int(lbs.sum())
    mk_lb = int(lbs.max(initial=0))

    def result(status: MapfStatus, configs: np.ndarray | None, **kw) -> MapfResult:
        costs = solution_costs(configs, goals) if configs is not None else (None, None, None)
        return MapfResult(
            status=status,
            configs=configs,
            sum_of_loss=costs[0],
            sum_of_costs=costs[1],
            makespan=costs[2],
            sum_of_costs_lb=soc_lb,
            makespan_lb=mk_lb,
            runtime_s=now() - t0,
            **{"first_solution_s": None, "first_sum_of_loss": None, "iterations": 0, "nodes": 0, **kw},
        )

    if n == 0:
        return result(MapfStatus.OPTIMAL, np.zeros((1, 0), dtype=np.int32), first_solution_s=now() - t0, first_sum_of_loss=0)
    unreachable = np.nonzero(lbs >= UNREACHABLE)[0]
    if unreachable.size:
        i = int(unreachable[0])
        more = f" (and {unreachable.size - 1} more agents)" if unreachable.size > 1 else ""
        return result(MapfStatus.UNSOLVABLE, None, note=f"agent {i}: goal cell {int(goals[i])} cannot be reached from start cell {int(starts[i])}{more}")

    deadline = t0 + time_limit_s
    max_degree = int(np.diff(indptr).max(initial=0))
    tie = (lbs + rng.random(n)) / (mk_lb + 2.0)  # far agents first; random among equals
    preferences = None
    if options.scatter:
        settle_rows(starts, indptr, adj_to, table, True)  # scatter needs complete rows
        scatter_deadline = now() + (deadline - now()) / 2
        preferences = scatter(indptr, adj_to, starts, goals, table.dist1, seed_state(int(rng.integers(1 << 62))), scatter_deadline, now, options.scatter_margin)
    work = make_pibt_work(n_cells, n, max_degree, int(rng.integers(1 << 62)), preferences)
    state = make_search_state(
        indptr, adj_to, starts, goals, tie, table, work, node_capacity(n, options.memory_limit_mb), swap, undirected, options.pibt_runs
    )
    slice_s = options.slice_s
    iters = 16
    rate = 100_000.0
    first_s: float | None = None
    first_loss: int | None = None
    best: np.ndarray | None = None
    best_loss = 0
    history: list[tuple[float, int]] = []
    search_alive = True
    optimal = False
    refiner = None
    refine_seed = seed_state(int(rng.integers(1 << 62)))
    searched_s = 0.0
    refined_s = 0.0
    injected_loss = np.iinfo(np.int64).max
    next_inject = t0

    def refiner_fits(plan: np.ndarray) -> bool:
        # four (T + 1, V) int32 tables; they must not outgrow the search's own budget
        return plan.shape[0] * n_cells * 16 <= options.memory_limit_mb * 1e6

    def lacam_best() -> tuple[np.ndarray, int] | None:
        goal = int(state.ctr[GOAL])
        if goal < 0:
            return None
        return backtrack(state, goal), int(state.g[goal])

    while now() < deadline:
        use_refiner = (
            best is not None and options.refine and refiner is not None and (not search_alive or refined_s < options.refine_share * (searched_s + refined_s))
        )
        if not use_refiner:
            if not search_alive:
                break
            a = now()
            code = search(state, iters, options.restart_probability, options.random_open_probability)
            el = now() - a
            if best is not None:
                searched_s += el
            iters = max(1, int(iters * min(4.0, max(0.25, slice_s / max(el, 1e-6)))))
            if code == FOUND_FIRST:
                first_s = now() - t0
                found = lacam_best()
                best, best_loss = found
                first_loss = best_loss
                history.append((first_s, best_loss))
                if not options.anytime:
                    break
                if options.refine and refiner_fits(best):
                    settle_rows(starts, indptr, adj_to, table, True)  # the refiner needs full rows
                    refiner = make_refine_state(indptr, adj_to, goals, table.dist1, best, refine_seed)
            elif code == EXHAUSTED:
                search_alive = False
                optimal = best is not None
                break
            elif code == FULL:
                search_alive = False
                if best is None:
                    return result(MapfStatus.OUT_OF_MEMORY, None, iterations=int(state.ctr[ITERATIONS]), nodes=int(state.ctr[N_NODES]))
            if best is not None:
                found = lacam_best()
                if found is not None and found[1] < best_loss:
                    best, best_loss = found
                    history.append((now() - t0, best_loss))
                    if refiner is not None and best_loss < int(refiner.ctr[TOTAL]) and refiner_fits(best):
                        refiner = make_refine_state(indptr, adj_to, goals, table.dist1, best, refine_seed)
        else:
            a = now()
            e0 = int(refiner.ctr[EXPANDED])
            total = int(refine(refiner, int(rate * slice_s), int(rate * max(0.0, deadline - a))))
            el = now() - a
            refined_s += el
            if el > 1e-4:  # expansions per second, smoothed
                rate = max(1000.0, 0.7 * rate + 0.3 * (int(refiner.ctr[EXPANDED]) - e0) / el)
            if total < best_loss:
                best = refiner.paths.copy()
                best_loss = total
                history.append((now() - t0, best_loss))
            if search_alive and best_loss < injected_loss and now() >= next_inject:
                # PERF: merging costs a node per time step; at most ~5 % of the time
                a = now()
                inject_plan(state, best)
                injected_loss = best_loss
                next_inject = now() + max(1.0, 20.0 * (now() - a))
                if state.ctr[FULL_FLAG] != 0:
                    search_alive = False

    if best is None:
        status = MapfStatus.UNSOLVABLE if not search_alive else MapfStatus.TIMEOUT
        return result(status, None, iterations=int(state.ctr[ITERATIONS]), nodes=int(state.ctr[N_NODES]))
    configs = _trim(best, goals)
    return result(
        MapfStatus.OPTIMAL if optimal else MapfStatus.SOLVED,
        configs,
        first_solution_s=first_s,
        first_sum_of_loss=first_loss,
        iterations=int(state.ctr[ITERATIONS]),
        nodes=int(state.ctr[N_NODES]),
        history=tuple(history),
    )


def warm_up() -> None:
    """Load (the first time: compile) every Numba kernel the solver uses, on a tiny
    problem, so that a timed run measures planning rather than JIT loading."""
    side = 3  # 3 x 3 open grid, 4-connected
    cells = np.arange(side * side).reshape(side, side)
    adj = [[int(cells[r + dr, c + dc]) for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)) if 0 <= r + dr < side and 0 <= c + dc < side]
           for r in range(side) for c in range(side)]  # fmt: skip
    indptr = np.zeros(side * side + 1, dtype=np.int64)
    np.cumsum([len(a) for a in adj], out=indptr[1:])
    adj_to = np.array([v for a in adj for v in a], dtype=np.int32)
    starts = np.array([0, 8], dtype=np.int32)
    goals = np.array([8, 0], dtype=np.int32)
    table = make_distance_table(indptr, adj_to, goals)
    dist_many(table, starts)
    settle_rows(starts, indptr, adj_to, table, True)
    prefs = scatter(indptr, adj_to, starts, goals, table.dist1, seed_state(1), time.perf_counter() + 1.0, time.perf_counter)
    work = make_pibt_work(side * side, 2, 4, 1, prefs)
    tie = np.array([0.5, 0.25])
    state = make_search_state(indptr, adj_to, starts, goals, tie, table, work, 1024, True, True, 3)
    for _ in range(100):
        if search(state, 100, 0.1, 0.01) != 0:
            break
    if state.ctr[GOAL] >= 0:
        plan = backtrack(state, int(state.ctr[GOAL]))
        refiner = make_refine_state(indptr, adj_to, goals, table.dist1, plan, seed_state(2))
        refine(refiner, 100, 100)
        inject_plan(state, refiner.paths.copy())
