"""Fault schedules: timelines, combined effects, scenario parsing, fleet-share faults."""

from __future__ import annotations

import math

import numpy as np
import pytest

from maps.errors import ScenarioError
from sim.faults import Fault, FaultKind, FaultSchedule, FaultTimeline, random_faults, share_faults


def test_timeline_reports_starts_and_ends_in_order():
    slow = Fault(kind=FaultKind.SLOW, vehicle="v", start_s=10.0, duration_s=20.0, speed_factor=0.4)
    stall = Fault(kind=FaultKind.STALL, vehicle="v", start_s=15.0, duration_s=5.0)
    timeline = FaultTimeline([stall, slow])
    assert timeline.advance(5.0) == [] and timeline.effects().speed_factor == 1.0
    assert timeline.advance(12.0) == [(slow, True)]
    assert timeline.effects().speed_factor == 0.4 and not timeline.effects().stalled
    assert timeline.advance(16.0) == [(stall, True)]
    assert timeline.effects().stalled
    assert timeline.advance(40.0) == [(stall, False), (slow, False)]
    assert timeline.effects().speed_factor == 1.0 and not timeline.effects().stalled
    assert timeline.next_change_s == math.inf


def test_a_fault_shorter_than_a_step_still_starts_and_ends():
    blip = Fault(kind=FaultKind.COMM_LOSS, vehicle="v", start_s=1.0, duration_s=0.01)
    timeline = FaultTimeline([blip])
    assert timeline.advance(2.0) == [(blip, True), (blip, False)]
    assert not timeline.effects().comm_lost


def test_overlapping_faults_combine():
    faults = [Fault(kind=FaultKind.SLOW, vehicle="v", start_s=0.0, duration_s=10.0, speed_factor=0.8),
              Fault(kind=FaultKind.SLOW, vehicle="v", start_s=0.0, duration_s=10.0, speed_factor=0.3),
              Fault(kind=FaultKind.POSITION_JUMP, vehicle="v", start_s=0.0, jump_m=(1.0, 2.0)),
              Fault(kind=FaultKind.POSITION_JUMP, vehicle="v", start_s=0.0, jump_m=(3.0, 0.0))]
    timeline = FaultTimeline(faults)
    timeline.advance(1.0)
    effects = timeline.effects()
    assert effects.speed_factor == 0.3 and (effects.jump_dx_m, effects.jump_dy_m) == (4.0, 2.0)
    timeline.advance(20.0)
    assert timeline.effects().speed_factor == 1.0 and timeline.effects().jump_dx_m == 4.0  # jumps last forever


def test_schedule_from_scenario_dicts():
    schedule = FaultSchedule.from_dicts([
        {"kind": "stall", "vehicle": "igv-001", "start_s": 600, "duration_s": 300},
        {"kind": "position_jump", "vehicle": "igv-002", "start_s": 10, "jump_m": [5, -5]},
        {"kind": "dead_battery", "vehicle": "igv-001", "start_s": 900, "duration_s": 1200, "battery_after_pct": 80},
    ], vehicles=["igv-001", "igv-002"])
    assert [f.kind for f in schedule.for_vehicle("igv-001")] == [FaultKind.STALL, FaultKind.DEAD_BATTERY]
    assert schedule.for_vehicle("igv-002")[0].jump_m == (5.0, -5.0)
    assert schedule.for_vehicle("igv-003") == ()
    assert schedule.timeline("igv-001").next_change_s == 600.0


@pytest.mark.parametrize("item,needle", [
    ({"kind": "melt", "vehicle": "igv-001", "start_s": 1}, "faults[0].kind"),
    ({"kind": "stall", "vehicle": "igv-999", "start_s": 1}, "unknown vehicle 'igv-999'"),
    ({"kind": "stall", "vehicle": "igv-001"}, "faults[0].start_s: missing"),
    ({"kind": "stall", "vehicle": "igv-001", "start_s": "soon"}, "must be a number"),
    ({"kind": "stall", "vehicle": "igv-001", "start_s": 1, "colour": "red"}, "unknown key 'colour'"),
    ({"kind": "slow", "vehicle": "igv-001", "start_s": 1, "speed_factor": 2}, "speed_factor must be in (0, 1]"),
    ({"kind": "stall", "vehicle": "igv-001", "start_s": 1, "duration_s": -5}, "duration_s must be positive"),
    ({"kind": "position_jump", "vehicle": "igv-001", "start_s": 1, "jump_m": [1]}, "jump_m"),
    ("stall", "must be a table"),
])
def test_bad_scenario_entries_give_one_line_errors(item, needle):
    with pytest.raises(ScenarioError) as info:
        FaultSchedule.from_dicts([item], vehicles=["igv-001"])
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_share_faults_pick_a_seeded_share_of_the_fleet():
    serials = [f"igv-{k:03d}" for k in range(1, 41)]
    a = share_faults(FaultKind.STALL, 0.1, 100.0, 60.0, serials, np.random.default_rng(3))
    b = share_faults(FaultKind.STALL, 0.1, 100.0, 60.0, serials, np.random.default_rng(3))
    assert a == b and len(a) == 4 and len({f.vehicle for f in a}) == 4
    assert len(share_faults(FaultKind.STALL, 0.001, 0.0, 1.0, serials, np.random.default_rng(0))) == 1
    assert share_faults(FaultKind.STALL, 0.0, 0.0, 1.0, serials, np.random.default_rng(0)) == []


def test_random_faults_are_deterministic_and_within_the_run():
    serials = ["a", "b", "c"]
    a = random_faults(serials, 36000.0, np.random.default_rng(9), per_vehicle_per_h=0.5)
    b = random_faults(serials, 36000.0, np.random.default_rng(9), per_vehicle_per_h=0.5)
    assert a == b and 5 < len(a) < 40
    assert all(0 <= f.start_s < 36000.0 and f.duration_s >= 10.0 for f in a)
    assert {f.kind for f in a} <= set(FaultKind)
