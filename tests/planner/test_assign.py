"""Job assignment: hand cases for each rule, optimality against brute force, the
independent checker on random batches, typed infeasibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.allocation_check import assignment_violations, brute_force_assignment_cost
from planner.assign import (
    AssignOptions,
    AssignProblem,
    AssignStatus,
    EnergyModel,
    TransportJob,
    UnassignedReason,
    VehicleState,
    assign_jobs,
    nearest_idle_vehicle,
)
from planner.errors import ProblemError

# Stations on a line, 100 s apart: 0 (charger) - 1 - 2 - 3 - 4 - 5.
LINE = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :]) * 100.0
PLAIN = AssignOptions(wait_weight=0.0, laden_time_factor=1.0, handling_s=0.0)


def problem(vehicles, jobs, tt=LINE, chargers=(0,), busy=(), now=0.0) -> AssignProblem:
    return AssignProblem(tt, tuple(vehicles), tuple(jobs), tuple(chargers), tuple(busy), now)


def pairs(result) -> dict[str, str]:
    return {a.job_id: a.vehicle_id for a in result.assignments}


def test_min_cost_beats_nearest_first() -> None:
    # Job a starts at 3, job b at 4; vehicles stand at 4 and 1. Nearest first gives a the
    # vehicle at 4 (100 s) and leaves b the one at 1 (300 s); the optimum swaps them
    # (200 s + 0 s).
    vehicles = [VehicleState("v4", 4, 0.9), VehicleState("v1", 1, 0.9)]
    jobs = [TransportJob("a", 3, 3), TransportJob("b", 4, 4)]
    greedy = nearest_idle_vehicle(problem(vehicles, jobs), PLAIN)
    best = assign_jobs(problem(vehicles, jobs), PLAIN)
    assert pairs(greedy) == {"a": "v4", "b": "v1"}  # 100 s + 300 s empty
    assert pairs(best) == {"a": "v1", "b": "v4"}  # 200 s + 0 s empty
    assert sum(a.empty_travel_s for a in best.assignments) == 200.0
    assert best.status is AssignStatus.OPTIMAL and best.unassigned == ()


def test_priority_wins_the_only_vehicle() -> None:
    vehicles = [VehicleState("v", 1, 0.9)]
    jobs = [TransportJob("near", 1, 2, priority=1.0), TransportJob("far", 5, 4, priority=3.0)]
    result = assign_jobs(problem(vehicles, jobs), PLAIN)
    assert pairs(result) == {"far": "v"}
    assert result.unassigned == (("near", UnassignedReason.OUTBID),)


def test_deadline_picks_the_vehicle_that_makes_it() -> None:
    # Job 3 -> 5 (200 s). "idle" stands at 2 (100 s away); "busy" is free at 250 s right
    # at 3. With no deadline the zero empty trip wins; due at 300 s, only "idle" is on time.
    vehicles = [VehicleState("idle", 2, 0.9), VehicleState("busy", 3, 0.9, available_s=250.0)]
    loose = [TransportJob("j", 3, 5, deadline_s=math.inf)]
    tight = [TransportJob("j", 3, 5, deadline_s=300.0)]
    assert pairs(assign_jobs(problem(vehicles, loose), PLAIN)) == {"j": "busy"}
    result = assign_jobs(problem(vehicles, tight), PLAIN)
    assert pairs(result) == {"j": "idle"}
    a = result.assignments[0]
    assert (a.pickup_s, a.delivery_s, a.lateness_s) == (100.0, 300.0, 0.0)


def test_battery_must_cover_the_job_and_the_way_to_a_charger() -> None:
    energy = EnergyModel(capacity_kwh=100.0, unladen_kwh_per_s=0.01, laden_kwh_per_s=0.02, reserve_soc=0.1)
    opts = AssignOptions(wait_weight=0.0, laden_time_factor=1.0, handling_s=0.0, energy=energy, charge_below_soc=0.0)
    # Job 5 -> 4 (100 s laden: 2 kWh), then 400 s back to the charger (4 kWh): 6 kWh + 10 reserve.
    weak = VehicleState("weak", 5, 0.15)  # 15 kWh - 10 reserve = 5 kWh < 6
    strong = VehicleState("strong", 1, 0.3)  # 400 s empty (4 kWh) + 6 kWh = 10 kWh <= 20
    jobs = [TransportJob("j", 5, 4)]
    assert pairs(assign_jobs(problem([weak, strong], jobs), opts)) == {"j": "strong"}
    alone = assign_jobs(problem([weak], jobs), opts)
    assert alone.unassigned == (("j", UnassignedReason.NO_CHARGED_VEHICLE),)


def test_low_vehicles_charge_at_the_nearest_free_charger() -> None:
    tt = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :]) * 100.0
    vehicles = [VehicleState("low", 4, 0.1), VehicleState("ok", 2, 0.9)]
    jobs = [TransportJob("j", 4, 3)]
    result = assign_jobs(problem(vehicles, jobs, tt, chargers=(0, 5), busy=()), PLAIN)
    assert [(c.vehicle_id, c.charger, c.arrive_s) for c in result.charging] == [("low", 5, 100.0)]
    assert pairs(result) == {"j": "ok"}  # the low vehicle, though nearer, gets no job
    busy = assign_jobs(problem(vehicles, jobs, tt, chargers=(0, 5), busy=(5,)), PLAIN)
    assert [(c.vehicle_id, c.charger) for c in busy.charging] == [("low", 0)]
    none = assign_jobs(problem(vehicles, jobs, tt, chargers=(0, 5), busy=(0, 5)), PLAIN)
    assert none.charging == () and none.waiting_for_charger == ("low",)


def test_unreachable_and_no_vehicle_reasons() -> None:
    tt = LINE.copy()
    tt[:, 5] = np.inf  # nothing reaches station 5
    tt[5, 5] = 0.0
    vehicles = [VehicleState("v", 1, 0.9)]
    result = assign_jobs(problem(vehicles, [TransportJob("to5", 1, 5), TransportJob("from5", 5, 1)], tt), PLAIN)
    assert dict(result.unassigned) == {"to5": UnassignedReason.UNREACHABLE, "from5": UnassignedReason.UNREACHABLE}
    nobody = assign_jobs(problem([VehicleState("low", 1, 0.05)], [TransportJob("j", 1, 2)]), PLAIN)
    assert nobody.unassigned == (("j", UnassignedReason.NO_VEHICLE),)


def test_busy_vehicles_beyond_the_horizon_are_left_out() -> None:
    opts = AssignOptions(wait_weight=0.0, laden_time_factor=1.0, handling_s=0.0, horizon_s=300.0)
    vehicles = [VehicleState("later", 2, 0.9, available_s=1000.0)]
    result = assign_jobs(problem(vehicles, [TransportJob("j", 2, 3)]), opts)
    assert result.unassigned == (("j", UnassignedReason.NO_VEHICLE),)


def test_waiting_for_a_busy_vehicle_nearby_beats_a_far_idle_one() -> None:
    opts = AssignOptions(wait_weight=0.3, laden_time_factor=1.0, handling_s=0.0)
    vehicles = [VehicleState("far", 0, 0.9), VehicleState("soon", 4, 0.9, available_s=60.0)]
    result = assign_jobs(problem(vehicles, [TransportJob("j", 4, 5)]), opts)
    assert pairs(result) == {"j": "soon"}
    assert result.assignments[0].depart_s == 60.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(vehicles=[VehicleState("v", 9, 0.5)]), "station 9 outside"),
        (dict(vehicles=[VehicleState("v", 1, 1.5)]), "soc 1.5"),
        (dict(vehicles=[VehicleState("v", 1, 0.5), VehicleState("v", 2, 0.5)]), "listed twice"),
        (dict(jobs=[TransportJob("j", 1, 7)]), "station 7 outside"),
        (dict(jobs=[TransportJob("j", 1, 2, priority=0.0)]), "priority"),
        (dict(chargers=()), "no charger"),
    ],
)
def test_malformed_problems_raise_problem_error(kwargs, match) -> None:
    args = dict(vehicles=[VehicleState("v", 1, 0.5)], jobs=[TransportJob("j", 1, 2)], chargers=(0,))
    args.update(kwargs)
    with pytest.raises(ProblemError, match=match):
        problem(args["vehicles"], args["jobs"], chargers=args["chargers"])
    with pytest.raises(ProblemError, match="square"):
        AssignProblem(np.zeros((2, 3)), (), (), (0,))


# ---- randomized ---------------------------------------------------------------------------------


def random_problem(rng: np.random.Generator, n_v: int, n_j: int, s: int = 12) -> AssignProblem:
    xy = rng.uniform(0, 1500, (s, 2))
    tt = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) / 6.0
    tt[rng.random((s, s)) < 0.03] = np.inf
    np.fill_diagonal(tt, 0.0)
    vehicles = [VehicleState(f"v{i}", int(rng.integers(s)), float(rng.uniform(0.1, 1.0)), float(rng.choice([0.0, rng.uniform(0, 1200)]))) for i in range(n_v)]
    jobs = [
        TransportJob(f"j{i}", int(rng.integers(s)), int(rng.integers(s)), float(rng.uniform(0, 300)), float(rng.uniform(300, 1500)), float(rng.choice([1.0, 3.0])), bool(rng.random() < 0.8))
        for i in range(n_j)
    ]
    return AssignProblem(tt, tuple(vehicles), tuple(jobs), (0, 1), (1,) if rng.random() < 0.3 else (), float(rng.uniform(0, 100)))


def model_costs(p: AssignProblem, o: AssignOptions) -> tuple[list[list[float]], list[float]]:
    """The documented cost model, written out loop by loop (``inf`` = infeasible pair)."""
    e = o.energy
    pool = [v for v in p.vehicles if v.soc >= o.charge_below_soc and v.available_s <= p.now_s + o.horizon_s]
    cost, unassigned = [], []
    for j in p.jobs:
        row = []
        job_s = p.travel_time_s[j.from_station, j.to_station] * (o.laden_time_factor if j.laden else 1.0)
        back = min(p.travel_time_s[j.to_station, c] for c in p.chargers)
        rate = e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s
        for v in pool:
            empty = p.travel_time_s[v.station, j.from_station]
            need = (empty + back) * e.unladen_kwh_per_s + job_s * rate
            if not math.isfinite(empty + job_s + back) or need > (v.soc - e.reserve_soc) * e.capacity_kwh:
                row.append(math.inf)
                continue
            pickup = max(max(v.available_s, p.now_s) + empty, j.earliest_s)
            late = max(0.0, pickup + o.handling_s + job_s - j.deadline_s)
            row.append(o.empty_weight * empty + o.wait_weight * (pickup - max(j.earliest_s, p.now_s)) + o.lateness_weight * j.priority * late)
        finite = [c for c in row if math.isfinite(c)]
        unassigned.append(max(finite, default=0.0) + j.priority * o.unassigned_cost_s)
        cost.append(row)
    return cost, unassigned


def test_min_cost_flow_is_optimal_against_brute_force() -> None:
    rng = np.random.default_rng(31)
    opts = AssignOptions()
    for _ in range(40):
        p = random_problem(rng, int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        result = assign_jobs(p, opts)
        cost, unassigned = model_costs(p, opts)
        truth = brute_force_assignment_cost(cost, unassigned) if cost and cost[0] else sum(unassigned)
        # Costs are rounded to 0.1 for the integer flow: allow that per job.
        assert result.objective == pytest.approx(truth, abs=0.1 * len(p.jobs) + 1e-6)
        assert assignment_violations(p, opts, result) == []


def test_random_batches_satisfy_every_rule() -> None:
    rng = np.random.default_rng(32)
    opts = AssignOptions()
    for _ in range(30):
        p = random_problem(rng, int(rng.integers(0, 40)), int(rng.integers(0, 30)), s=30)
        result = assign_jobs(p, opts)
        assert result.status is AssignStatus.OPTIMAL
        assert assignment_violations(p, opts, result) == []
        for job_id, reason in result.unassigned:
            assert isinstance(reason, UnassignedReason), job_id
        greedy = nearest_idle_vehicle(p, opts)
        assert assignment_violations(p, opts, greedy) == []


def test_checker_catches_a_broken_assignment() -> None:
    p = problem([VehicleState("v", 1, 0.9), VehicleState("w", 2, 0.9)], [TransportJob("a", 1, 2), TransportJob("b", 2, 3)])
    result = assign_jobs(p, PLAIN)
    from dataclasses import replace

    twice = replace(result, assignments=(result.assignments[0], replace(result.assignments[1], vehicle_id=result.assignments[0].vehicle_id)))
    assert any("used twice" in m for m in assignment_violations(p, PLAIN, twice))
    early = replace(result, assignments=(replace(result.assignments[0], pickup_s=-5.0),) + result.assignments[1:])
    assert any("pickup" in m for m in assignment_violations(p, PLAIN, early))
    dropped = replace(result, assignments=result.assignments[:1])
    assert any("either assigned or listed" in m for m in assignment_violations(p, PLAIN, dropped))
