"""The real lockstep run (core + terminal + virtual IGVs on the wire), end to end."""

from __future__ import annotations

import json
import numpy as np

from bench.kpi import compute_report
from bench.runner import run_scenario
from bench.scenario import load_scenario
from fleet.cli import main

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


def test_igv_run_opens_the_control_room(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    out = tmp_path / "run"
    assert main(["run", "--vehicles", "2", "--duration-s", "30", "--speed", "100", "--frames", "30", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["vehicles"] == 2 and report["sim_duration_s"] > 0
