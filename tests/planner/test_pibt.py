"""PIBT (planner.pibt): one step is always conflict-free and honours constraints; runs
reach goals; the swap extension untangles corridor deadlocks."""

from __future__ import annotations

import numpy as np
import pytest

from maps.movingai import grid_track_map
from planner.distance import distance, is_symmetric, make_distance_table, reverse_csr
from planner.pibt import NO_CELL, make_pibt_work, pibt_next, pibt_solve


def grid(rows: list[str]):
    return grid_track_map(np.array([[c == "." for c in r] for r in rows]))


def neighbours(tm, v: int) -> set[int]:
    return set(tm.cell_adj_to[tm.cell_adj_indptr[v] : tm.cell_adj_indptr[v + 1]].tolist())


def check_step(tm, q_from: np.ndarray, q_to: np.ndarray) -> None:
    assert len(set(q_to.tolist())) == len(q_to), "vertex conflict"
    where = {int(v): i for i, v in enumerate(q_from)}
    for i, (a, b) in enumerate(zip(q_from, q_to)):
        assert b == a or b in neighbours(tm, int(a)), f"agent {i} jumps {a}->{b}"
        j = where.get(int(b))
        if j is not None and j != i:
            assert q_to[j] != a, f"agents {i} and {j} swap"


OPEN_8 = ["........"] * 8
OBSTACLES = ["..@.....", "..@..@..", ".....@..", "@@..@...", "......@.", ".@@.....", "....@@..", "........"]


@pytest.mark.parametrize("rows", [OPEN_8, OBSTACLES])
@pytest.mark.parametrize("swap", [False, True])
def test_one_step_is_conflict_free_and_moves_to_neighbours(rows, swap):
    tm = grid(rows)
    n_cells = tm.n_cells
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(2, n_cells // 2))
        cells = rng.permutation(n_cells)
        q_from = cells[:n].astype(np.int32)
        goals = rng.permutation(n_cells)[:n].astype(np.int32)
        table = make_distance_table(tm.cell_adj_indptr, tm.cell_adj_to, goals)
        work = make_pibt_work(n_cells, n, 4, trial)
        q_to = np.full(n, NO_CELL, dtype=np.int32)
        order = rng.permutation(n).astype(np.int32)
        assert pibt_next(q_from, q_to, order, tm.cell_adj_indptr, tm.cell_adj_to, goals, table, work, swap)
        check_step(tm, q_from, q_to)
        assert np.all(work.occ_now == -1) and np.all(work.occ_next == -1), "scratch arrays must be left clean"


def test_constraints_are_kept_and_colliding_constraints_fail():
    tm = grid(OPEN_8)
    q_from = np.array([0, 1, 2, 9], dtype=np.int32)
    goals = np.array([63, 62, 61, 60], dtype=np.int32)
    table = make_distance_table(tm.cell_adj_indptr, tm.cell_adj_to, goals)
    work = make_pibt_work(tm.n_cells, 4, 4, 1)
    order = np.arange(4, dtype=np.int32)
    q_to = np.array([NO_CELL, 9, NO_CELL, NO_CELL], dtype=np.int32)  # agent 1 must go down
    assert pibt_next(q_from, q_to, order, tm.cell_adj_indptr, tm.cell_adj_to, goals, table, work, True)
    assert q_to[1] == 9
    check_step(tm, q_from, q_to)
    clash = np.array([8, 8, NO_CELL, NO_CELL], dtype=np.int32)  # two agents into one cell
    assert not pibt_next(q_from, clash, order, tm.cell_adj_indptr, tm.cell_adj_to, goals, table, work, True)
    swap = np.array([1, 0, NO_CELL, NO_CELL], dtype=np.int32)  # agents 0 and 1 trade cells
    assert not pibt_next(q_from, swap, order, tm.cell_adj_indptr, tm.cell_adj_to, goals, table, work, True)
    assert np.all(work.occ_now == -1) and np.all(work.occ_next == -1)


def test_pibt_run_reaches_every_goal_without_conflicts():
    tm = grid(OBSTACLES)
    rng = np.random.default_rng(3)
    cells = rng.permutation(tm.n_cells)
    starts, goals = cells[:12], rng.permutation(tm.n_cells)[:12]
    configs = pibt_solve(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, 200, rng)
    assert configs is not None
    assert np.array_equal(configs[0], starts) and np.array_equal(configs[-1], goals)
    for t in range(configs.shape[0] - 1):
        check_step(tm, configs[t], configs[t + 1])


def test_swap_lets_an_agent_pass_one_resting_on_its_goal_in_a_corridor():
    # corridor with a pocket under x=1; agent 1 rests on (2,0), agent 0 must get by to (3,0)
    tm = grid([".....", "@.@@@"])
    cell = tm.grid.cell_of
    starts = np.array([cell[0, 0], cell[0, 1]])
    goals = np.array([cell[0, 3], cell[0, 2]])
    for seed in range(3):
        plain = pibt_solve(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, 60, np.random.default_rng(seed), swap=False)
        assert plain is None, "plain PIBT cannot solve this (why LaCAM3 added the swap)"
        configs = pibt_solve(tm.cell_adj_indptr, tm.cell_adj_to, starts, goals, 60, np.random.default_rng(seed), swap=True)
        assert configs is not None
        for t in range(configs.shape[0] - 1):
            check_step(tm, configs[t], configs[t + 1])


def test_one_way_ring_is_followed_in_its_direction():
    # cells 0..5 in a directed ring: v -> v + 1 only
    n = 6
    indptr = np.arange(n + 1, dtype=np.int64)
    adj_to = ((np.arange(n) + 1) % n).astype(np.int32)
    assert not is_symmetric(indptr, adj_to)
    starts, goals = np.array([0, 3]), np.array([2, 5])
    configs = pibt_solve(indptr, adj_to, starts, goals, 20, np.random.default_rng(0), swap=False)
    assert configs is not None
    for a, b in zip(configs[:-1], configs[1:]):
        assert np.all((b == a) | (b == (a + 1) % n))


def test_distance_rows_follow_reversed_moves_and_report_unreachable():
    n = 6
    indptr = np.arange(n + 1, dtype=np.int64)
    adj_to = ((np.arange(n) + 1) % n).astype(np.int32)
    table = make_distance_table(indptr, adj_to, np.array([0], dtype=np.int32))
    assert [distance(table, 0, v) for v in range(n)] == [0, 5, 4, 3, 2, 1]
    rev_indptr, rev_to = reverse_csr(indptr, adj_to)
    assert rev_to[rev_indptr[0] : rev_indptr[1]].tolist() == [5]
    tm = grid([".@."])  # two cells with a wall between them
    far = make_distance_table(tm.cell_adj_indptr, tm.cell_adj_to, np.array([1], dtype=np.int32))
    assert distance(far, 0, 0) >= 1 << 29
