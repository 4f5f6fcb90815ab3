"""Yard slots: every stacking rule with a hand case, the objective's preferences,
retrieval planning, the CP-SAT batch, and randomized checks by the independent checker."""

from __future__ import annotations

import numpy as np
import pytest

from planner.allocation_check import state_violations, yard_moves_violations, yard_violations
from planner.errors import ProblemError
from planner.relocation import BrpStatus
from planner.yard import (
    BlockEnd,
    BlockGeometry,
    BlockState,
    Category,
    ContainerInfo,
    InfeasibleReason,
    Slot,
    SlotCosts,
    SlotStatus,
    StackingRules,
    candidate_costs,
    choose_slot,
    first_fit_slot,
)
from planner.yard_retrieval import plan_retrievals
from planner.yard_batch import BatchStatus, allocate_batch

H = 3600.0


def box(cid: str, **kw) -> ContainerInfo:
    return ContainerInfo(cid, **kw)


def block(bays: int = 2, rows: int = 2, tiers: int = 3, reefer_rows: tuple[int, ...] = (), tol: float = 0.0) -> BlockState:
    return BlockState(BlockGeometry(bays, rows, tiers, reefer_rows), StackingRules(weight_tolerance_t=tol))


# ---- hard rules, one hand case each -------------------------------------------------------


def test_tier_limit_and_yard_full() -> None:
    st = block(bays=1, rows=1, tiers=2)
    st.place(box("a", departure_s=5 * H), 0, 0)
    st.place(box("b", departure_s=4 * H), 0, 0)
    choice = choose_slot(st, box("c", departure_s=H))
    assert choice.status is SlotStatus.INFEASIBLE and choice.reason is InfeasibleReason.YARD_FULL
    with pytest.raises(ProblemError, match="tier limit"):
        st.place(box("c"), 0, 0)


def test_forty_foot_takes_an_even_bay_pair_on_ground_or_on_forty() -> None:
    st = block(bays=3, rows=1, tiers=3)
    choice = choose_slot(st, box("f", size_ft=40))
    assert choice.slot == Slot(0, 0, 0)  # bays 0+1; bay 2 has no partner
    st.place(box("f", size_ft=40, departure_s=9 * H), 0, 0)
    assert int(st.height[0, 0]) == int(st.height[1, 0]) == 1
    with pytest.raises(ProblemError, match="20 ft container may not stand on a 40 ft"):
        st.place(box("t"), 1, 0)
    on_top = choose_slot(st, box("g", size_ft=40, departure_s=H))
    assert on_top.slot == Slot(0, 0, 1)
    with pytest.raises(ProblemError, match="even bay pair"):
        st.place(box("odd", size_ft=40), 1, 0)


def test_forty_foot_never_on_twenty_foot_containers() -> None:
    st = block(bays=2, rows=1, tiers=3)
    st.place(box("a", departure_s=9 * H), 0, 0)
    st.place(box("b", departure_s=9 * H), 1, 0)
    choice = choose_slot(st, box("f", size_ft=40))
    assert choice.status is SlotStatus.INFEASIBLE and choice.reason is InfeasibleReason.NO_COMPATIBLE_STACK
    with pytest.raises(ProblemError, match="40 ft container must stand on a 40 ft"):
        st.place(box("f", size_ft=40), 0, 0)


def test_reefer_needs_a_plug_row() -> None:
    st = block(bays=2, rows=3, tiers=2, reefer_rows=(2,))
    choice = choose_slot(st, box("r", reefer=True))
    assert choice.slot is not None and choice.slot.row == 2
    for b in range(2):
        st.place(box(f"x{b}", reefer=True, departure_s=9 * H), b, 2)
        st.place(box(f"y{b}", reefer=True, departure_s=8 * H), b, 2)
    full = choose_slot(st, box("r2", reefer=True))
    assert full.status is SlotStatus.INFEASIBLE and full.reason is InfeasibleReason.NO_REEFER_PLUG
    with pytest.raises(ProblemError, match="no reefer plugs"):
        st.place(box("r3", reefer=True), 0, 0)


def test_non_reefer_keeps_off_plugs_when_it_can() -> None:
    st = block(bays=1, rows=2, reefer_rows=(0,))
    assert choose_slot(st, box("dry")).slot.row == 1


def test_heavier_never_on_lighter_beyond_the_tolerance() -> None:
    st = block(bays=1, rows=1, tiers=3)
    st.place(box("light", weight_t=10.0, departure_s=9 * H), 0, 0)
    heavy = choose_slot(st, box("heavy", weight_t=25.0, departure_s=H))
    assert heavy.status is SlotStatus.INFEASIBLE
    with pytest.raises(ProblemError, match="heavier"):
        st.place(box("heavy", weight_t=25.0), 0, 0)
    tolerant = block(bays=1, rows=1, tiers=3, tol=20.0)
    tolerant.place(box("light", weight_t=10.0, departure_s=9 * H), 0, 0)
    assert choose_slot(tolerant, box("heavy", weight_t=25.0, departure_s=H)).slot == Slot(0, 0, 1)


def test_categories_never_share_a_stack() -> None:
    st = block(bays=1, rows=1, tiers=3)
    st.place(box("imp", category=Category.IMPORT, departure_s=9 * H), 0, 0)
    hold = choose_slot(st, box("hold", category=Category.HOLD, departure_s=H))
    assert hold.status is SlotStatus.INFEASIBLE and hold.reason is InfeasibleReason.NO_COMPATIBLE_STACK
    with pytest.raises(ProblemError, match="another category"):
        st.place(box("hold", category=Category.HOLD), 0, 0)


# ---- the objective ---------------------------------------------------------------------------


def test_earlier_leaver_goes_above_a_later_one() -> None:
    # Two stacks: one tops out with a container leaving at 2 h, the other at 10 h.
    # A container leaving at 5 h must go on the 10 h one (no rehandle expected).
    st = block(bays=1, rows=3, tiers=3)
    st.place(box("early", departure_s=2 * H), 0, 0)
    st.place(box("late", departure_s=10 * H), 0, 1)
    choice = choose_slot(st, box("new", departure_s=5 * H))
    assert choice.slot == Slot(0, 1, 1)
    assert choice.expected_rehandles < 0.01


def test_rehandle_cost_follows_departure_uncertainty() -> None:
    st = block(bays=1, rows=1, tiers=3)
    st.place(box("below", departure_s=5 * H), 0, 0)
    sure = choose_slot(st, box("n", departure_s=6 * H), SlotCosts(departure_sigma_s=0.0))
    unsure = choose_slot(st, box("n", departure_s=5 * H + 60), SlotCosts(departure_sigma_s=1800.0))
    assert sure.expected_rehandles == 1.0
    assert 0.5 < unsure.expected_rehandles < 0.6  # a minute later with 30 min of doubt


def test_gantry_travel_pulls_towards_the_block_ends_used() -> None:
    st = block(bays=10, rows=1, tiers=2)
    water = choose_slot(st, box("w", arrival_end=BlockEnd.WATERSIDE, departure_end=BlockEnd.WATERSIDE))
    land = choose_slot(st, box("l", arrival_end=BlockEnd.LANDSIDE, departure_end=BlockEnd.LANDSIDE))
    assert (water.slot.bay, land.slot.bay) == (0, 9)


def test_choose_slot_does_not_change_the_state() -> None:
    st = block()
    before = st.slot_container.copy()
    choose_slot(st, box("x"))
    assert np.array_equal(before, st.slot_container) and len(st) == 0


def test_first_fit_baseline_takes_the_first_legal_stack() -> None:
    st = block(bays=2, rows=2)
    st.place(box("a", category=Category.EXPORT), 0, 0)
    assert first_fit_slot(st, box("b")).slot == Slot(0, 1, 0)
    assert first_fit_slot(st, box("c", category=Category.EXPORT)).slot == Slot(0, 0, 1)


def test_geometry_from_map_properties() -> None:
    g = BlockGeometry.from_properties({"bays": 40, "rows": 10, "tiers": 5, "reefer_rows": 2})
    assert (g.bays, g.rows, g.tiers, g.reefer_rows) == (40, 10, 5, (0, 1))
    assert BlockGeometry.from_properties({"reefer_rows": [3, 7]}).reefer_rows == (3, 7)
    with pytest.raises(ProblemError, match="reefer row 12"):
        BlockGeometry.from_properties({"reefer_rows": [12]})
    with pytest.raises(ProblemError, match="not integers"):
        BlockGeometry.from_properties({"bays": "many"})


# ---- randomized: the real-time path against the independent rules ---------------------------


def random_box(rng: np.random.Generator, n: int) -> ContainerInfo:
    return ContainerInfo(
        f"c{n}",
        size_ft=int(rng.choice([20, 40])),
        weight_t=float(rng.choice([10.0, 20.0, 30.0])),
        reefer=bool(rng.random() < 0.15),
        category=Category(int(rng.integers(0, 3))),
        departure_s=float(rng.uniform(0, 40 * H)),
        arrival_end=BlockEnd(int(rng.integers(0, 2))),
        departure_end=BlockEnd(int(rng.integers(0, 2))),
    )


def test_every_slot_choice_obeys_every_rule() -> None:
    rng = np.random.default_rng(21)
    for trial in range(4):
        st = block(bays=6, rows=4, tiers=4, reefer_rows=(0,), tol=float(trial * 5))
        for n in range(150):
            c = random_box(rng, n)
            cost, _, ok = candidate_costs(st, c, SlotCosts())
            # The compiled feasibility agrees with the rule-by-rule check, stack by stack.
            for i in range(ok.shape[0]):
                for r in range(ok.shape[1]):
                    bay = 2 * i if c.size_ft == 40 else i
                    assert ok[i, r] == (st.placement_problem(c, bay, r) is None), (c, bay, r)
            choice = choose_slot(st, c)
            if choice.status is SlotStatus.PLACED:
                assert choice.cost == pytest.approx(float(cost.min()))
                st.place(c, choice.slot.bay, choice.slot.row)
            else:
                assert not ok.any()
            if n % 10 == 0 and len(st) > 5:
                top = [cid for cid in st.index if not st.above(cid)]
                st.remove(str(rng.choice(top)))
        assert state_violations(st) == []


def test_checker_catches_broken_placements() -> None:
    g, rules = BlockGeometry(2, 1, 3, reefer_rows=()), StackingRules()
    heavy, light = box("h", weight_t=30.0), box("l", weight_t=10.0)
    assert any("lighter" in p for p in yard_violations(g, rules, [(light, Slot(0, 0, 0)), (heavy, Slot(0, 0, 1))]))
    assert any("floats" in p for p in yard_violations(g, rules, [(light, Slot(0, 0, 1))]))
    assert any("reefer" in p for p in yard_violations(g, rules, [(box("r", reefer=True), Slot(0, 0, 0))]))
    assert any("odd bay" in p for p in yard_violations(g, rules, [(box("f", size_ft=40), Slot(1, 0, 0))]))
    imp, exp = box("i"), box("e", category=Category.EXPORT)
    assert any("one stack" in p for p in yard_violations(g, rules, [(imp, Slot(0, 0, 0)), (exp, Slot(0, 0, 1))]))


# ---- retrieval planning ------------------------------------------------------------------------


def test_retrieval_plan_hand_case() -> None:
    # Bay 0, row 0 holds a (leaves first) under b; row 1 is empty. Retrieving a costs one
    # relocation of b, to row 1 of the same bay.
    st = block(bays=1, rows=2, tiers=3)
    st.place(box("a", departure_s=H), 0, 0)
    st.place(box("b", departure_s=5 * H), 0, 0)
    plan = plan_retrievals(st, ["a"])
    assert plan.status is BrpStatus.OPTIMAL and plan.relocations == 1
    assert [(m.kind, m.container_id, m.to_slot) for m in plan.moves] == [("relocate", "b", Slot(0, 1, 0)), ("retrieve", "a", None)]
    assert "a" in st  # the state itself is untouched


def test_retrieval_relocations_leave_the_bay_only_when_they_must() -> None:
    # Bay 0 has one row: b must leave the bay (the bay has no other stack).
    st = block(bays=2, rows=1, tiers=3)
    st.place(box("a", departure_s=H), 0, 0)
    st.place(box("b", departure_s=5 * H), 0, 0)
    plan = plan_retrievals(st, ["a"])
    assert plan.found and plan.moves[0].to_slot == Slot(1, 0, 0)
    assert yard_moves_violations(st, ["a"], plan.moves) == (1, [])


def test_retrieval_without_any_legal_destination_is_typed() -> None:
    st = block(bays=1, rows=2, tiers=2)
    st.place(box("a", weight_t=10.0, departure_s=H), 0, 0)
    st.place(box("b", weight_t=10.0, departure_s=5 * H), 0, 0)
    st.place(box("c", category=Category.EXPORT, departure_s=5 * H), 0, 1)
    plan = plan_retrievals(st, ["a"])
    assert plan.status is BrpStatus.INFEASIBLE and plan.moves == ()
    assert "retrieving a" in plan.reason
    with pytest.raises(ProblemError, match="unknown container"):
        plan_retrievals(st, ["zz"])
    with pytest.raises(ProblemError, match="twice"):
        plan_retrievals(st, ["a", "a"])


def test_random_retrieval_plans_obey_every_rule() -> None:
    rng = np.random.default_rng(22)
    for _ in range(6):
        st = block(bays=6, rows=4, tiers=4, reefer_rows=(0,), tol=10.0)
        for n in range(45):
            c = random_box(rng, n)
            choice = first_fit_slot(st, c)  # first fit stacks badly: plenty to dig out
            if choice.status is SlotStatus.PLACED:
                st.place(c, choice.slot.bay, choice.slot.row)
        order = [str(x) for x in rng.permutation(sorted(st.index))[:8]]
        plan = plan_retrievals(st, order, time_limit_s=1.0)
        if plan.found:
            assert yard_moves_violations(st, order, plan.moves) == (plan.relocations, [])
        else:
            assert plan.status in (BrpStatus.INFEASIBLE, BrpStatus.UNKNOWN) and plan.reason


# ---- batch with CP-SAT --------------------------------------------------------------------------


def test_batch_places_everyone_validly_and_never_worse_than_one_by_one() -> None:
    rng = np.random.default_rng(23)
    st = block(bays=6, rows=4, tiers=3, reefer_rows=(0,), tol=5.0)
    for n in range(30):
        c = random_box(rng, n)
        choice = choose_slot(st, c)
        if choice.status is SlotStatus.PLACED:
            st.place(c, choice.slot.bay, choice.slot.row)
    batch = [random_box(rng, 100 + n) for n in range(15)]
    result = allocate_batch(st, batch, time_limit_s=1.0)
    assert result.cost <= result.heuristic_cost + 1e-6
    work = st.copy()
    info = {c.id: c for c in batch}
    for cid, slot in result.placements:
        assert work.place(info[cid], slot.bay, slot.row) == slot
    assert state_violations(work) == []
    placed = {cid for cid, _ in result.placements}
    assert placed | {cid for cid, _ in result.unplaced} == set(info)


def test_batch_reports_a_full_block_with_reasons() -> None:
    st = block(bays=1, rows=1, tiers=2)
    result = allocate_batch(st, [box("a", departure_s=9 * H), box("b", departure_s=8 * H), box("c", departure_s=7 * H)], time_limit_s=0.5)
    assert result.status is BatchStatus.PARTIAL
    assert len(result.placements) == 2
    assert len(result.unplaced) == 1 and result.unplaced[0][1] is InfeasibleReason.YARD_FULL


def test_batch_sees_what_one_by_one_cannot() -> None:
    # 2 bays x 2 rows x 2 tiers, no weight tolerance. One by one: c1 goes on c0, the
    # heavy c2 takes a fresh stack, c3 and c4 take one each (c2 leaves before them), and
    # the late c5 finds only tops that leave earlier: a certain rehandle. The batch puts
    # c0 and c1 apart so that c3 and c4 can stand on them and c5 gets the last stack.
    st = block(bays=2, rows=2, tiers=2)
    spec = [(20.0, 8), (10.0, 7), (30.0, 1), (10.0, 2), (10.0, 3), (10.0, 9)]
    arrivals = [box(f"c{n}", weight_t=w, departure_s=h * H) for n, (w, h) in enumerate(spec)]
    result = allocate_batch(st, arrivals, time_limit_s=2.0)
    assert result.solver == "cp-sat" and result.status is BatchStatus.OPTIMAL
    assert result.cost < result.heuristic_cost - 50.0
    assert result.expected_rehandles < 0.01
    work = st.copy()
    for cid, slot in result.placements:
        work.place(next(a for a in arrivals if a.id == cid), slot.bay, slot.row)
    assert len(work) == 6 and state_violations(work) == []


def test_batch_rejects_bad_input() -> None:
    st = block()
    st.place(box("a"), 0, 0)
    with pytest.raises(ProblemError, match="already in the block"):
        allocate_batch(st, [box("a")])
    with pytest.raises(ProblemError, match="twice"):
        allocate_batch(st, [box("b"), box("b")])
