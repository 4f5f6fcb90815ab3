"""Block relocation: hand-solved cases, exactness against brute force, plan validity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.allocation_check import brute_force_relocations, relocation_violations
from planner.errors import ProblemError
from planner.relocation import (
    BrpInstance,
    BrpMove,
    BrpStatus,
    exact_plan,
    heuristic_plan,
    lower_bound,
    solve_brp,
)


def random_instance(rng: np.random.Generator, s_max: int = 4, h_max: int = 4, tables: bool = False) -> BrpInstance:
    s = int(rng.integers(2, s_max + 1))
    h = int(rng.integers(2, h_max + 1))
    n = int(rng.integers(1, s * h + 1))
    stacks: list[list[int]] = [[] for _ in range(s)]
    for label in rng.permutation(n) + 1:
        stacks[int(rng.choice([i for i in range(s) if len(stacks[i]) < h]))].append(int(label))
    stack_ok = on_ok = None
    if tables:
        stack_ok = rng.random((n, s)) < 0.8
        on_ok = rng.random((n, n)) < 0.7
    k = int(rng.integers(0, n + 1)) if tables else None
    return BrpInstance(tuple(map(tuple, stacks)), h, k, stack_ok, on_ok)


# ---- hand-solved cases ------------------------------------------------------------------


def test_one_blocker_with_a_free_stack_costs_one_relocation() -> None:
    # 3 sits on 1; the empty stack takes it and never blocks again.
    inst = BrpInstance(((1, 3), (2,), ()), 3)
    result = solve_brp(inst)
    assert result.status is BrpStatus.OPTIMAL
    assert result.relocations == 1
    assert result.moves == (
        BrpMove("relocate", 3, 0, 2),
        BrpMove("retrieve", 1, 0),
        BrpMove("retrieve", 2, 1),
        BrpMove("retrieve", 3, 2),
    )


def test_unavoidable_second_relocation() -> None:
    # With two stacks, 3 must go onto 2 and move again before 2 leaves: 2 relocations,
    # and the lower bound sees both (3 blocks 1, and every other stack holds a smaller label).
    inst = BrpInstance(((1, 3), (2,)), 3)
    assert lower_bound([[1, 3], [2]], 3) == 2
    result = solve_brp(inst)
    assert (result.status, result.relocations) == (BrpStatus.OPTIMAL, 2)
    assert relocation_violations(inst, result.moves) == (2, [])


def test_no_relocation_when_stacks_are_in_order() -> None:
    result = solve_brp(BrpInstance(((4, 3), (2, 1)), 2))
    assert result.relocations == 0
    assert [m.kind for m in result.moves] == ["retrieve"] * 4


def test_good_stack_chosen_over_one_that_blocks_again() -> None:
    # Blocker 4 over 1: stacks (2,) and (3,) would make it block again, (5,) would not.
    result = solve_brp(BrpInstance(((1, 4), (2,), (5,), (3,)), 3))
    assert result.relocations == 1
    assert result.moves[0] == BrpMove("relocate", 4, 0, 2)


def test_only_the_listed_containers_are_retrieved() -> None:
    # n_retrieve=1: dig out 1 only; 2 stays even though it is on top.
    inst = BrpInstance(((1, 3, 2), ()), 3, n_retrieve=1)
    result = solve_brp(inst)
    assert result.relocations == 2
    assert [m.kind for m in result.moves].count("retrieve") == 1
    assert relocation_violations(inst, result.moves) == (2, [])


def test_destination_tables_are_respected() -> None:
    # 3 may not stand in stack 2 (the empty one), so it goes onto 2 and moves again.
    stack_ok = np.ones((3, 3), dtype=bool)
    stack_ok[2, 2] = False
    inst = BrpInstance(((1, 3), (2,), ()), 3, stack_ok=stack_ok)
    result = solve_brp(inst)
    assert result.relocations == 2
    assert all(m.to_stack != 2 for m in result.moves if m.kind == "relocate" and m.container == 3)


# ---- infeasibility and budgets --------------------------------------------------------------


@pytest.mark.parametrize(
    "stacks,height",
    [(((1, 2),), 2), (((1, 2, 3), (4, 5, 6)), 3)],
    ids=["single-stack", "other-stack-full"],
)
def test_infeasible_instances_are_a_typed_result(stacks, height) -> None:
    result = solve_brp(BrpInstance(stacks, height))
    assert result.status is BrpStatus.INFEASIBLE
    assert "container 1" in result.reason
    assert result.moves == ()


def test_infeasible_under_tables_is_proven_by_search() -> None:
    on_ok = np.zeros((3, 3), dtype=bool)  # nothing may be put on anything
    stack_ok = np.ones((3, 2), dtype=bool)
    result = solve_brp(BrpInstance(((1, 3), (2,)), 3, stack_ok=stack_ok, on_ok=on_ok))
    assert result.status is BrpStatus.INFEASIBLE
    assert brute_force_relocations(BrpInstance(((1, 3), (2,)), 3, stack_ok=stack_ok, on_ok=on_ok)) is None


def hard_instance() -> BrpInstance:
    rng = np.random.default_rng(4)
    labels = [int(x) for x in rng.permutation(40) + 1]
    return BrpInstance(tuple(tuple(labels[i::8]) for i in range(8)), 6)


def test_time_budget_returns_the_incumbent_as_feasible() -> None:
    inst = hard_instance()
    heur = heuristic_plan(inst, rollout_width=0)
    ticks = itertools.count()  # a clock that runs out at the first look
    result = exact_plan(inst, time_limit_s=0.5, upper_bound=heur, now=lambda: next(ticks) * 1.0)
    assert result.status is BrpStatus.FEASIBLE and result.reason == "time limit reached"
    assert result.relocations == heur.relocations
    assert relocation_violations(inst, result.moves) == (result.relocations, [])
    assert lower_bound([list(s) for s in inst.stacks], 40) <= result.lower_bound < result.relocations


def test_budget_without_incumbent_is_unknown_not_an_exception() -> None:
    ticks = itertools.count()
    result = exact_plan(hard_instance(), time_limit_s=0.5, now=lambda: next(ticks) * 1.0)
    assert result.status is BrpStatus.UNKNOWN and result.moves == ()
    assert "0.5 s" in result.reason


@pytest.mark.parametrize(
    "stacks,height,match",
    [(((1, 1),), 2, "1..N"), (((1, 2, 3),), 2, "above max height"), ((), 2, "at least one stack"), (((1,),), 0, "max_height")],
)
def test_malformed_instances_raise_problem_error(stacks, height, match) -> None:
    with pytest.raises(ProblemError, match=match):
        BrpInstance(stacks, height)


# ---- randomized: exactness and validity ----------------------------------------------------


def test_exact_matches_brute_force_on_small_instances() -> None:
    rng = np.random.default_rng(11)
    for _ in range(150):
        inst = random_instance(rng)
        truth = brute_force_relocations(inst)
        result = solve_brp(inst, time_limit_s=5.0)
        if truth is None:
            assert result.status is BrpStatus.INFEASIBLE
            continue
        assert result.status is BrpStatus.OPTIMAL
        assert result.relocations == truth
        assert relocation_violations(inst, result.moves) == (truth, [])
        assert lower_bound([list(s) for s in inst.stacks], inst.retrieve_count) <= truth


def test_exact_matches_brute_force_with_destination_tables() -> None:
    rng = np.random.default_rng(12)
    for _ in range(120):
        inst = random_instance(rng, s_max=4, h_max=3, tables=True)
        truth = brute_force_relocations(inst)
        result = solve_brp(inst, time_limit_s=5.0)
        if truth is None:
            assert result.status is BrpStatus.INFEASIBLE, inst.stacks
            continue
        assert (result.status, result.relocations) == (BrpStatus.OPTIMAL, truth)
        assert relocation_violations(inst, result.moves) == (truth, [])


def test_heuristic_plans_are_valid_and_never_below_the_optimum() -> None:
    rng = np.random.default_rng(13)
    for _ in range(60):
        inst = random_instance(rng, s_max=5, h_max=4)
        truth = brute_force_relocations(inst)
        heur = heuristic_plan(inst)
        if truth is None:
            assert not heur.found
            continue
        assert heur.found
        assert relocation_violations(inst, heur.moves) == (heur.relocations, [])
        assert heur.relocations >= truth


def test_checker_catches_a_broken_plan() -> None:
    inst = BrpInstance(((1, 3), (2,), ()), 3)
    good = solve_brp(inst).moves
    # Retrieve 2 first (out of order) and relocate a container that is not above the target.
    bad_order = (BrpMove("retrieve", 2, 1),) + good
    assert relocation_violations(inst, bad_order)[1]
    not_above = (BrpMove("relocate", 2, 1, 2),) + good
    assert any("not above the next target" in p for p in relocation_violations(inst, not_above)[1])
    too_high = BrpInstance(((1, 3), (2, 4)), 2)
    assert any("full" in p for p in relocation_violations(too_high, (BrpMove("relocate", 3, 0, 1),))[1])
