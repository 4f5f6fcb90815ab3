"""LaCAM* + refinement (planner.mapf_solver, planner.lacam, planner.mapf_refine): valid
solutions, optimality on tiny instances, quick unsolvability, bad input, shipped maps."""

from __future__ import annotations

import heapq
import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from maps.movingai import grid_track_map, load_map, load_scenario
from planner.errors import ProblemError
from planner.mapf_solver import MapfOptions, MapfStatus, solve_mapf, solution_costs, warm_up
from planner.mapf_validate import validate_grid_solution

BENCH = Path(__file__).resolve().parents[3] / "shared" / "mapf-benchmark"
needs_bench = pytest.mark.skipif(not BENCH.is_dir(), reason="shared/mapf-benchmark not beside the repo")


@pytest.fixture(autouse=True, scope="module")
def _jit_loaded():
    """Load (or compile) the Numba kernels before any time budget starts."""
    warm_up()


def grid(rows: list[str]):
    return grid_track_map(np.array([[c == "." for c in r] for r in rows]))


def check_grid_result(tm, starts, goals, result) -> None:
    assert result.solved, result.status
    xy = tm.cell_xy.astype(np.int64)
    check = validate_grid_solution(tm.grid.free, xy[starts], xy[goals], xy[result.configs])
    assert check.ok, check.problems
    assert (check.sum_of_loss, check.sum_of_costs, check.makespan) == (result.sum_of_loss, result.sum_of_costs, result.makespan)
    assert result.sum_of_loss >= result.sum_of_costs_lb


def optimal_sum_of_loss(tm, starts, goals) -> int:
    """Dijkstra over joint configurations (tiny instances only)."""
    adj = [[v] + tm.cell_successors(v).tolist() for v in range(tm.n_cells)]
    start, goal = tuple(int(s) for s in starts), tuple(int(g) for g in goals)
    best = {start: 0}
    queue = [(0, start)]
    while queue:
        cost, q = heapq.heappop(queue)
        if q == goal:
            return cost
        if cost > best[q]:
            continue
        for nxt in itertools.product(*(adj[v] for v in q)):
            if len(set(nxt)) < len(nxt):
                continue
            if any(nxt[i] == q[j] and nxt[j] == q[i] for i in range(len(q)) for j in range(i + 1, len(q))):
                continue
            c = cost + sum(1 for i in range(len(q)) if not (q[i] == goal[i] == nxt[i]))
            if c < best.get(nxt, 1 << 30):
                best[nxt] = c
                heapq.heappush(queue, (c, nxt))
    raise AssertionError("unsolvable")


@pytest.mark.parametrize("seed", range(6))
def test_tiny_instances_are_solved_optimally(seed):
    tm = grid(["...@", ".@..", "...."])
    rng = np.random.default_rng(seed)
    n = 3
    starts, goals = rng.permutation(tm.n_cells)[:n], rng.permutation(tm.n_cells)[:n]
    result = solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, time_limit_s=5.0, rng=rng)
    check_grid_result(tm, starts, goals, result)
    assert result.status is MapfStatus.OPTIMAL, "LaCAM* must exhaust this small search space"
    assert result.sum_of_loss == optimal_sum_of_loss(tm, starts, goals)


@pytest.mark.parametrize("anytime", [False, True])
def test_crowded_small_grid_gives_valid_solutions(anytime):
    rows = ["........", "..@..@..", ".....@..", "@@..@...", "......@.", ".@@.....", "....@@..", "........"]
    tm = grid(rows)
    rng = np.random.default_rng(11)
    n = 30  # over half the free cells
    starts, goals = rng.permutation(tm.n_cells)[:n], rng.permutation(tm.n_cells)[:n]
    result = solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, time_limit_s=1.0, rng=rng, options=MapfOptions(anytime=anytime))
    check_grid_result(tm, starts, goals, result)
    assert result.first_sum_of_loss >= result.sum_of_loss
    assert [c for _, c in result.history] == sorted((c for _, c in result.history), reverse=True)


def test_unreachable_goal_is_reported_unsolvable_at_once():
    tm = grid(["..@..", "..@..", "..@.."])  # a wall splits the grid in two
    cell = tm.grid.cell_of
    starts = np.array([cell[0, 0], cell[2, 4]])
    goals = np.array([cell[2, 1], cell[0, 0]])  # agent 1 cannot cross the wall
    t = time.perf_counter()
    result = solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, time_limit_s=30.0, rng=np.random.default_rng(0))
    assert time.perf_counter() - t < 1.0
    assert result.status is MapfStatus.UNSOLVABLE and result.configs is None
    assert "agent 1" in result.note


def test_swap_without_room_is_proven_unsolvable_by_exhaustion():
    tm = grid(["...", "@@@"])  # a corridor of three cells: three agents cannot reorder
    starts, goals = np.array([0, 1, 2]), np.array([2, 1, 0])
    t = time.perf_counter()
    result = solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, time_limit_s=30.0, rng=np.random.default_rng(0))
    assert time.perf_counter() - t < 5.0
    assert result.status is MapfStatus.UNSOLVABLE


def test_directed_cell_graph_moves_only_forward():
    n = 8  # a one-way ring with a one-way shortcut 0 -> 4
    succ = [[(v + 1) % n] for v in range(n)]
    succ[0].append(4)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(s) for s in succ], out=indptr[1:])
    adj_to = np.array([v for s in succ for v in s], dtype=np.int32)
    starts, goals = np.array([0, 2, 5]), np.array([5, 1, 4])
    result = solve_mapf(indptr, adj_to, starts, goals, time_limit_s=2.0, rng=np.random.default_rng(1))
    assert result.solved
    q = result.configs
    assert np.array_equal(q[0], starts) and np.array_equal(q[-1], goals)
    for a, b in zip(q[:-1], q[1:]):
        for i in range(len(starts)):
            assert b[i] == a[i] or b[i] in succ[a[i]]
        assert len(set(b.tolist())) == len(b)
    with pytest.raises(ProblemError, match="one-way"):
        solve_mapf(indptr, adj_to, starts, goals, time_limit_s=1.0, rng=np.random.default_rng(1), options=MapfOptions(swap=True))


@pytest.mark.parametrize(
    ("starts", "goals", "match"),
    [
        ([0, 0], [1, 2], "share the start cell 0"),
        ([0, 1], [2, 2], "share the goal cell 2"),
        ([0, 99], [1, 2], "agent 1: start cell 99"),
        ([0], [1, 2], "equally long"),
    ],
)
def test_malformed_problems_raise_problem_error(starts, goals, match):
    tm = grid(["...."])
    with pytest.raises(ProblemError, match=match):
        solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, np.array(starts), np.array(goals), time_limit_s=1.0, rng=np.random.default_rng(0))


def test_solution_costs_follow_lacam3_definitions():
    goals = np.array([2, 5])
    configs = np.array([[0, 5], [1, 4], [2, 5], [2, 5]])  # agent 1 leaves its goal once
    loss, soc, makespan = solution_costs(configs, goals)
    # loss: agent 0 moves twice, agent 1 steps off and back; cost: last time away + 1
    assert (loss, soc, makespan) == (2 + 2, 2 + 2, 3)


@needs_bench
@pytest.mark.parametrize(("name", "agents"), [("random-32-32-20", 150), ("room-32-32-4", 60), ("warehouse-10-20-10-2-1", 150)])
def test_shipped_instances_are_solved_and_validate(name, agents):
    tm = load_map(BENCH / f"{name}.map")
    scen = load_scenario(BENCH / f"{name}-random-2.scen", tm)[:agents]
    cell = tm.grid.cell_of
    starts = np.array([cell[a.start_xy[1], a.start_xy[0]] for a in scen])
    goals = np.array([cell[a.goal_xy[1], a.goal_xy[0]] for a in scen])
    result = solve_mapf(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, time_limit_s=2.0, rng=np.random.default_rng(0))
    check_grid_result(tm, starts, goals, result)
    assert result.first_solution_s < 2.0
    # the lower bound is the sum of true grid distances (independent BFS by scipy)
    m = len(tm.cell_adj_to)
    rows = np.repeat(np.arange(tm.n_cells), np.diff(tm.cell_adj_indptr))
    graph = csr_matrix((np.ones(m), (rows, tm.cell_adj_to)), shape=(tm.n_cells, tm.n_cells))
    d = shortest_path(graph, unweighted=True, indices=starts)
    assert result.sum_of_costs_lb == int(d[np.arange(len(scen)), goals].sum())
