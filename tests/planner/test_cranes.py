"""Crane scheduling: hand-timed moves, optimality on small cases, two cranes kept apart,
precedence, typed infeasibility, and the independent checker."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from planner.allocation_check import crane_schedule_violations
from planner.cranes import (
    CraneBlock,
    CraneMove,
    CraneOptions,
    CraneRequest,
    CraneSchedule,
    CraneState,
    CraneStatus,
    RequestKind,
    decode,
    fcfs_schedule,
    schedule_cranes,
)
from planner.cranes import _prepare
from planner.errors import ProblemError

BLOCK = CraneBlock(bays=10, bay_length_m=6.5, gantry_speed_mps=4.0, hoist_cycle_s=30.0, min_separation_m=13.0)
OPTS = CraneOptions(workers=1)
K = RequestKind


def check(requests, states, schedule) -> None:
    assert crane_schedule_violations(BLOCK, requests, states, OPTS, schedule) == []


def test_igv_delivery_timed_by_hand() -> None:
    # Crane at the waterside; the IGV arrives at 100 s with a container for bay 3 (26 m).
    reqs = [CraneRequest("d", K.IGV_DELIVERY, 3, release_s=100.0)]
    states = [CraneState(0.0)]
    sched = schedule_cranes(BLOCK, reqs, states, OPTS, time_limit_s=0.5)
    (move,) = sched.moves[0]
    assert (move.pick_m, move.pick_start_s, move.drop_m, move.drop_start_s, move.end_s) == (0.0, 100.0, 26.0, 136.5, 166.5)
    assert sched.served_s == {"d": 130.0}  # released once the container is lifted
    assert sched.objective == pytest.approx(3.0 * 30.0)
    check(reqs, states, sched)


def test_igv_pickup_prefetches_and_sets_down_on_arrival() -> None:
    # The crane fetches from bay 3 early enough to set the box down as the IGV arrives.
    reqs = [CraneRequest("p", K.IGV_PICKUP, 3, release_s=200.0)]
    states = [CraneState(0.0)]
    sched = fcfs_schedule(BLOCK, reqs, states, OPTS)
    (move,) = sched.moves[0]
    assert (move.depart_s, move.pick_start_s, move.drop_start_s, move.end_s) == (157.0, 163.5, 200.0, 230.0)
    assert sched.served_s == {"p": 230.0}
    check(reqs, states, sched)


def test_igv_served_before_an_earlier_truck() -> None:
    # A truck (weight 1) arrives at 0 s at the landside end, an IGV (weight 3) at 5 s at
    # the waterside end where the crane stands. First come first served drives to the
    # truck first; the schedule serves the IGV first.
    reqs = [CraneRequest("truck", K.TRUCK_PICKUP, 5, release_s=0.0), CraneRequest("igv", K.IGV_DELIVERY, 4, release_s=5.0)]
    states = [CraneState(0.0)]
    fcfs = fcfs_schedule(BLOCK, reqs, states, OPTS)
    best = schedule_cranes(BLOCK, reqs, states, OPTS, time_limit_s=1.0)
    assert [m.request_id for m in fcfs.moves[0]] == ["truck", "igv"]
    assert [m.request_id for m in best.moves[0]] == ["igv", "truck"]
    assert best.objective < fcfs.objective
    check(reqs, states, best)


def random_requests(rng: np.random.Generator, n: int, bays: int = 10, two: bool = False) -> list[CraneRequest]:
    out = []
    for i in range(n):
        kind = list(RequestKind)[int(rng.integers(0, 5))]
        lo, hi = (2, bays - 2) if two else (0, bays)
        bay = int(rng.integers(lo, hi))
        to_bay = int(rng.integers(lo, hi)) if kind is K.RELOCATION else None
        out.append(CraneRequest(f"r{i}", kind, bay, float(rng.uniform(0, 400)), to_bay))
    return out


def test_single_crane_schedule_is_optimal_on_small_cases() -> None:
    rng = np.random.default_rng(41)
    states = [CraneState(30.0)]
    for _ in range(4):
        reqs = random_requests(rng, 5)
        prepared, _ = _prepare(BLOCK, reqs, 1, OPTS)
        brute = min(decode(BLOCK, prepared, states, [list(p)])[0] for p in itertools.permutations(range(5)))
        sched = schedule_cranes(BLOCK, reqs, states, OPTS, time_limit_s=2.0)
        # CP-SAT works in 0.1 s steps: allow that rounding on each weighted service time.
        assert sched.objective == pytest.approx(brute, abs=5 * 3.0 * 0.2)
        assert sched.objective <= fcfs_schedule(BLOCK, reqs, states, OPTS).objective + 1e-6
        check(reqs, states, sched)


def test_two_cranes_never_come_closer_than_the_separation() -> None:
    rng = np.random.default_rng(42)
    states = [CraneState(BLOCK.waterside_m), CraneState(BLOCK.landside_m)]
    for _ in range(6):
        reqs = random_requests(rng, 10, two=True)
        fcfs = fcfs_schedule(BLOCK, reqs, states, OPTS)
        best = schedule_cranes(BLOCK, reqs, states, OPTS, time_limit_s=0.4)
        check(reqs, states, fcfs)
        check(reqs, states, best)
        assert best.objective <= fcfs.objective + 1e-6
        # IGV work at the waterside end is crane 0's, truck work crane 1's.
        for k, moves in enumerate(best.moves):
            for m in moves:
                if m.request_id is not None:
                    kind = next(r.kind for r in reqs if r.id == m.request_id)
                    assert not (k == 1 and kind in (K.IGV_DELIVERY, K.IGV_PICKUP))
                    assert not (k == 0 and kind in (K.TRUCK_DELIVERY, K.TRUCK_PICKUP))


def test_crane_in_the_way_is_sent_off_first() -> None:
    # Crane 1 rests at bay 4 (32.5 m); crane 0 must take an IGV's box to bay 8 (58.5 m),
    # so crane 1 first moves to 58.5 + 13 m.
    reqs = [CraneRequest("d", K.IGV_DELIVERY, 8, release_s=0.0)]
    states = [CraneState(0.0), CraneState(32.5)]
    sched = fcfs_schedule(BLOCK, reqs, states, OPTS)
    (away,) = sched.moves[1]
    assert away.request_id is None and away.drop_m == pytest.approx(71.5)
    assert sched.moves[0][0].depart_s >= away.end_s - 1e-9
    check(reqs, states, sched)


def test_relocation_precedes_the_pickup_it_clears() -> None:
    reqs = [
        CraneRequest("pick", K.TRUCK_PICKUP, 5, release_s=0.0, after=("reloc",)),
        CraneRequest("reloc", K.RELOCATION, 5, release_s=50.0, to_bay=6),
    ]
    states = [CraneState(BLOCK.landside_m)]
    for sched in (fcfs_schedule(BLOCK, reqs, states, OPTS), schedule_cranes(BLOCK, reqs, states, OPTS, time_limit_s=0.5)):
        assert [m.request_id for m in sched.moves[0]] == ["reloc", "pick"]
        check(reqs, states, sched)


def test_out_of_reach_is_a_typed_result() -> None:
    # Bay 9 is 65 m from the waterside and the landside crane needs 13 m beyond: the
    # waterside crane cannot bring an IGV's box there.
    reqs = [CraneRequest("far", K.IGV_DELIVERY, 9)]
    states = [CraneState(BLOCK.waterside_m), CraneState(BLOCK.landside_m)]
    sched = schedule_cranes(BLOCK, reqs, states, OPTS)
    assert sched.status is CraneStatus.INFEASIBLE and "far" in sched.reason


@pytest.mark.parametrize(
    "reqs,states,match",
    [
        ([CraneRequest("a", K.IGV_DELIVERY, 1), CraneRequest("a", K.IGV_DELIVERY, 2)], [CraneState(0.0)], "twice"),
        ([CraneRequest("a", K.IGV_DELIVERY, 10)], [CraneState(0.0)], "bay outside"),
        ([CraneRequest("a", K.RELOCATION, 1)], [CraneState(0.0)], "to_bay"),
        ([CraneRequest("a", K.IGV_DELIVERY, 1, after=("b",))], [CraneState(0.0)], "unknown predecessor"),
        ([CraneRequest("a", K.IGV_DELIVERY, 1, after=("b",)), CraneRequest("b", K.IGV_PICKUP, 2, after=("a",))], [CraneState(0.0)], "cycle"),
        ([], [CraneState(10.0), CraneState(15.0)], "min_separation_m"),
        ([], [CraneState(0.0)] * 3, "one or two cranes"),
    ],
)
def test_malformed_requests_raise_problem_error(reqs, states, match) -> None:
    with pytest.raises(ProblemError, match=match):
        schedule_cranes(BLOCK, reqs, states, OPTS)


def test_checker_catches_broken_schedules() -> None:
    reqs = [CraneRequest("d", K.IGV_DELIVERY, 3, release_s=100.0)]
    states = [CraneState(0.0)]
    good = fcfs_schedule(BLOCK, reqs, states, OPTS)
    move = good.moves[0][0]
    early = replace(good, moves=((replace(move, pick_start_s=50.0, drop_start_s=86.5, end_s=116.5),),))
    assert any("before its release" in p for p in crane_schedule_violations(BLOCK, reqs, states, OPTS, early))
    fast = replace(good, moves=((replace(move, drop_start_s=131.0, end_s=161.0),),))
    assert any("before arriving" in p for p in crane_schedule_violations(BLOCK, reqs, states, OPTS, fast))
    # Two cranes driving through each other.
    two = [CraneState(0.0), CraneState(40.0)]
    crossing = CraneSchedule(
        CraneStatus.FEASIBLE,
        ((), (CraneMove(1, None, 0.0, 40.0, 5.0, 8.75, 5.0, 8.75, 8.75),)),
        {},
        0.0,
    )
    assert any("apart" in p for p in crane_schedule_violations(BLOCK, [], two, OPTS, crossing))
