"""Look-ahead chains: a case where planning two jobs ahead saves empty driving, the
battery over a whole chain, the job limit, and random batches through the checker."""

from __future__ import annotations

import numpy as np
import pytest

from planner.allocation_check import chain_violations
from planner.assign import AssignOptions, AssignProblem, EnergyModel, TransportJob, UnassignedReason, VehicleState, assign_jobs
from planner.assign_chains import ChainStatus, plan_chains
from planner.errors import ProblemError

# Stations on a line, 100 s apart: 0 (charger) - 1 - 2 - 3 - 4 - 5.
LINE = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :]) * 100.0
PLAIN = AssignOptions(wait_weight=0.0, laden_time_factor=1.0, handling_s=0.0)


def problem(vehicles, jobs) -> AssignProblem:
    return AssignProblem(LINE, tuple(vehicles), tuple(jobs), (0,), (), 0.0)


def chains(result) -> dict[str, list[str]]:
    return {c.vehicle_id: [s.job_id for s in c.steps] for c in result.chains}


def test_looking_two_jobs_ahead_saves_the_empty_trip() -> None:
    # J1 runs 1 -> 5, J2 runs 5 -> 4. One step at a time, V1 (at 1) takes J1 and V2 (at 4)
    # drives 100 s empty to J2. Planning ahead, V1 takes J2 where it drops J1: no empty
    # driving at all. With J2 due early, V2 must take it after all.
    vehicles = [VehicleState("V1", 1, 0.9), VehicleState("V2", 4, 0.9)]
    loose = [TransportJob("J1", 1, 5), TransportJob("J2", 5, 4)]
    one_step = assign_jobs(problem(vehicles, loose), PLAIN)
    assert sum(a.empty_travel_s for a in one_step.assignments) == 100.0
    ahead = plan_chains(problem(vehicles, loose), PLAIN, time_limit_s=0.5)
    assert ahead.status is ChainStatus.SOLVED
    assert chains(ahead) == {"V1": ["J1", "J2"]}
    assert ahead.objective == pytest.approx(0.0)
    due = [TransportJob("J1", 1, 5), TransportJob("J2", 5, 4, deadline_s=300.0)]
    split = plan_chains(problem(vehicles, due), PLAIN, time_limit_s=0.5)
    assert chains(split) == {"V1": ["J1"], "V2": ["J2"]}
    assert chain_violations(problem(vehicles, due), PLAIN, split, 3) == []


def test_battery_covers_the_whole_chain() -> None:
    energy = EnergyModel(capacity_kwh=100.0, unladen_kwh_per_s=0.01, laden_kwh_per_s=0.01, reserve_soc=0.0)
    opts = AssignOptions(wait_weight=0.0, laden_time_factor=1.0, handling_s=0.0, energy=energy, charge_below_soc=0.0)
    # J1 2 -> 3 then J2 3 -> 4 and home to the charger: 100 + 100 + 400 s = 6 kWh.
    jobs = [TransportJob("J1", 2, 3), TransportJob("J2", 3, 4)]
    rich = plan_chains(problem([VehicleState("v", 2, 0.9)], jobs), opts, time_limit_s=0.5)
    assert chains(rich) == {"v": ["J1", "J2"]}
    poor = plan_chains(problem([VehicleState("v", 2, 0.055)], jobs), opts, time_limit_s=0.5)  # 5.5 kWh
    assert len(poor.chains) == 1 and len(poor.chains[0].steps) == 1
    assert len(poor.unassigned) == 1
    assert chain_violations(problem([VehicleState("v", 2, 0.055)], jobs), opts, poor, 3) == []


def test_job_limit_and_reasons() -> None:
    jobs = [TransportJob(f"J{i}", 1, 2) for i in range(4)]
    result = plan_chains(problem([VehicleState("v", 1, 0.9)], jobs), PLAIN, max_jobs=2, time_limit_s=0.5)
    assert len(result.chains[0].steps) == 2
    assert [r for _, r in result.unassigned] == [UnassignedReason.OUTBID] * 2
    nobody = plan_chains(problem([VehicleState("low", 1, 0.05)], jobs[:1]), PLAIN)
    assert nobody.unassigned == (("J0", UnassignedReason.NO_VEHICLE),)
    with pytest.raises(ProblemError, match="max_jobs"):
        plan_chains(problem([], []), PLAIN, max_jobs=0)


def test_random_chains_obey_every_rule() -> None:
    rng = np.random.default_rng(51)
    opts = AssignOptions()
    for _ in range(5):
        s = 15
        xy = rng.uniform(0, 1500, (s, 2))
        tt = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) / 6.0
        vehicles = [VehicleState(f"v{i}", int(rng.integers(s)), float(rng.uniform(0.1, 0.6)), float(rng.choice([0.0, 300.0]))) for i in range(6)]
        jobs = [
            TransportJob(f"j{i}", int(rng.integers(s)), int(rng.integers(s)), float(rng.uniform(0, 300)), float(rng.uniform(600, 2400)), float(rng.choice([1.0, 3.0])))
            for i in range(12)
        ]
        p = AssignProblem(tt, tuple(vehicles), tuple(jobs), (0, 1), (), 0.0)
        result = plan_chains(p, opts, max_jobs=3, time_limit_s=0.3)
        assert result.status is ChainStatus.SOLVED
        assert chain_violations(p, opts, result, 3) == []


def test_checker_catches_a_broken_chain() -> None:
    from dataclasses import replace

    vehicles = [VehicleState("V1", 1, 0.9)]
    jobs = [TransportJob("J1", 1, 5), TransportJob("J2", 5, 4)]
    p = problem(vehicles, jobs)
    good = plan_chains(p, PLAIN, time_limit_s=0.2)
    chain = good.chains[0]
    rushed = replace(good, chains=(replace(chain, steps=(chain.steps[0], replace(chain.steps[1], pickup_s=0.0))),))
    assert any("pickup" in m for m in chain_violations(p, PLAIN, rushed, 3))
    assert any("limit 1" in m for m in chain_violations(p, PLAIN, good, 1))
