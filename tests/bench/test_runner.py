"""The real lockstep run (core + terminal + virtual IGVs on the wire), end to end."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import numpy as np
import pytest

from bench.kpi import compute_report
from bench.runner import STEP_S, Run, run_scenario, vehicle_faults
from bench.scenario import Faults, LaneBlock, SpeedChange, load_scenario
from fleet.cli import main
from maps.errors import ScenarioError
from sim.faults import FaultKind

DESIGN_KEYS = ("scenario", "seed", "vehicles", "sim_duration_s", "wall_s", "sim_speed_factor", "containers_crossed",
               "moves_per_h", "clearance_time_h_p50", "clearance_time_h_p95", "replan_ms_p50", "replan_ms_p99",
               "tick_ms_p99", "collisions_independent", "deadlocks", "vehicle_utilisation", "crane_moves_per_h",
               "rehandles", "deadline_misses", "messages_dropped")


def test_smoke_scenario_report_has_every_key_with_sane_values():
    progress = []
    record = run_scenario(load_scenario("smoke").with_duration(240.0), lambda done, total: progress.append(done))
    report = compute_report(record)
    for key in DESIGN_KEYS:
        assert key in report, key
    assert report["sim_duration_s"] == 240.0 and report["vehicles"] == 4
    assert report["collisions_independent"] == 0
    assert report["deadlocks"] == 0
    assert record.containers_lost == 0
    assert report["sim_speed_factor"] > 1.0
    assert all(np.isfinite(t).all() and (np.diff(t[:, 0]) <= 0.5 + 1e-9).all() for t in record.trajectories.values())
    assert progress and progress[-1] == 240.0


def test_igv_run_headless_writes_report_and_snapshot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--headless", "--vehicles", "3", "--duration-s", "60", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["vehicles"] == 3 and report["collisions_independent"] == 0
    assert (out / "snapshot.png").read_bytes()[:4] == b"\x89PNG"


def test_igv_run_bad_argument_is_one_line(capsys):
    assert main(["run", "--vehicles", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--vehicles" in err
    assert main(["run", "--start-hour", "24"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--start-hour" in err


def test_the_default_demo_starts_at_the_morning_peak_regression_idle_demo(tmp_path):
    # igv run's default 600 s from midnight had no container at all: 30 vehicles idle.
    out = tmp_path / "run"
    assert main(["run", "--headless", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["containers_total"] > 0 and report["vehicle_utilisation"] > 0.0


def test_igv_run_opens_the_control_room(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out = tmp_path / "run"
    assert main(["run", "--vehicles", "2", "--duration-s", "30", "--speed", "100", "--frames", "30", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["vehicles"] == 2 and report["sim_duration_s"] > 0


def test_scenario_vehicle_faults_become_the_fleets_fault_schedule():
    faults = vehicle_faults(load_scenario("disruption")).faults
    counts = Counter((f.kind, f.start_s) for f in faults)
    assert counts[(FaultKind.STALL, 30600.0)] == 4  # 10 % of 40
    assert counts[(FaultKind.COMM_LOSS, 27000.0)] == 10 and counts[(FaultKind.COMM_LOSS, 54000.0)] == 40
    slow = [f for f in vehicle_faults(load_scenario("storm")).faults if f.kind is FaultKind.SLOW]
    assert len(slow) == 40 and {f.speed_factor for f in slow} == {0.6}


def test_a_speed_up_is_refused_in_one_line():
    scenario = dataclasses.replace(load_scenario("smoke"), faults=Faults(speed_changes=(SpeedChange(0.0, 60.0, factor=1.5),)))
    with pytest.raises(ScenarioError, match="speed_changes"):
        vehicle_faults(scenario)


def test_lane_blocks_switch_the_cores_lanes_on_time():
    scenario = dataclasses.replace(load_scenario("smoke").with_duration(20.0),
                                   faults=Faults(lane_blocks=(LaneBlock(5.0, 10.0, lanes=("R2/002",)),)))
    run = Run(scenario)
    try:
        for _ in range(round(20.0 / STEP_S)):
            run.step()
    finally:
        run.close()
    switches = [(t, kind) for t, kind, _ in run.core.event_log if kind.endswith("block_lane")]
    assert switches == [(5.0, "block_lane"), (15.0, "unblock_lane")]
    assert not run.core.blocked_lanes


def test_the_terminal_speaks_the_control_api():
    run = Run(load_scenario("smoke").with_duration(60.0))
    try:
        for _ in range(round(60.0 / STEP_S)):
            run.step()
        requests = run.transport.stats().control_requests
    finally:
        run.close()
    served = [event for t, event in run.terminal.log if t < 60.0]  # the last step's go in the next tick
    assert len(served) >= 2 and requests == len(served) and run.feed_refused == 0
    assert sum(kind == "arrival" for _, kind, _ in run.core.event_log) >= 1


def test_the_scenarios_customs_shares_and_equipment_reach_the_terminal_regression_shares_ignored():
    # The scenario's scan, lab and hold shares were read, checked and then dropped: the
    # terminal drew its customs decisions from its own defaults (equal to the shipped
    # scenarios' by chance, so no run showed it).
    smoke = load_scenario("smoke")
    scenario = dataclasses.replace(smoke, demand=dataclasses.replace(smoke.demand, scan_share=0.4, lab_share=0.0, hold_share=0.02),
                                   equipment=dataclasses.replace(smoke.equipment, cranes_per_block=3, handover_machines=6))
    run = Run(scenario)
    try:
        customs, config = run.terminal.config.customs, run.terminal.config
        blocks = run.terminal._blocks.values()
    finally:
        run.close()
    assert (customs.scan_share, customs.lab_share, customs.hold_share) == (0.4, 0.0, 0.02)
    assert config.handover_machines == 6 and all(len(b.cranes) == 3 for b in blocks)


def test_a_vehicle_with_released_steps_to_drive_waits_on_nobody_regression_half_second_cycles():
    """Waits are recorded after the tick from the core's last known mode, which predates the
    tick's release: a vehicle just given a leg still read "waiting" and was recorded as
    waiting on its next unreleased step, which another vehicle waiting on it made a 0.5 s
    "cycle" (three such in day_2026 at 221e66e)."""
    from types import SimpleNamespace

    from fleet.core.traffic import Traffic
    from planner.scenarios import corridor_map

    tm = corridor_map()
    xy = tm.cell_xy - tm.cell_xy[0]
    main = [c for c in range(tm.n_cells) if abs(xy[c, 1]) < 0.5]
    at = lambda x: min(main, key=lambda c: abs(xy[c, 0] - x))  # noqa: E731
    t = Traffic(tm, release_ahead_steps=100)
    t.add_vehicle("A", at(40.0), 0.0)
    t.add_vehicle("B", at(0.0), 0.0)
    assert t.plan_now(t.leg_request("A", at(160.0), 0.0))[0] is not None
    assert t.plan_now(t.leg_request("B", at(130.0), 0.0))[0] is not None
    t.release_limit("A")
    b = t.index["B"]
    # the first step of B that waits for A
    step = next(s for s in range(1, int(t._graph.n_steps[b]) + 1) if any(v == t.index["A"] for v, _ in t._graph.dependencies(b, s)))
    t.done[t.index["A"]] = 0
    run = SimpleNamespace(core=SimpleNamespace(traffic=t))
    t.released[b] = t.done[b] = step - 1
    assert Run._waiting_on(run, "B") == ["A"]
    t.done[b] = step - 2  # a released step left to drive
    assert Run._waiting_on(run, "B") == []
