"""Run records: the synthetic generator, checks, and save/load round trips."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from bench.record import STATE_NAMES, RecordError, RunRecord, load_record, records_equal, save_record
from bench.synthetic import SyntheticError, SyntheticOptions, synthetic_record
from planner.collision import find_collisions, find_corridor_violations


def test_synthetic_record_is_clean_lane_following_traffic(clean_record, default_map):
    r = clean_record
    r.check()
    trajectories = [r.trajectories[v] for v in r.vehicles]
    assert len(trajectories) == 4
    for rows in trajectories:
        assert rows[0, 0] == 0.0 and rows[-1, 0] == pytest.approx(240.0)
        assert np.diff(rows[:, 0]).max() <= 0.5 + 1e-9
        assert np.hypot(*np.diff(rows[:, 1:3], axis=0).T).sum() > 100.0  # they drive
    assert find_collisions(trajectories, r.footprint_m) == ()
    assert find_corridor_violations(trajectories, default_map.lane_geometry, default_map.lane_width_m) == ()
    assert {d for _, d in r.crossings} == {"northbound", "southbound"}
    assert r.waits and r.states.shape[1] == 1 + len(STATE_NAMES)
    assert (r.states[:, 1:].sum(axis=1) == 4).all()
    assert r.yard.shape[1] == 1 + len(r.yard_blocks) == 7
    assert len(r.clearance_h) == len(r.crossings)


def test_synthetic_record_is_deterministic(default_map):
    options = SyntheticOptions(seed=5, n_vehicles=3, duration_s=60.0)
    assert records_equal(synthetic_record(default_map, options), synthetic_record(default_map, options))


def test_synthetic_planted_collision_is_one_pair(default_map):
    r = synthetic_record(default_map, SyntheticOptions(seed=2, n_vehicles=3, duration_s=60.0, plant_collision=True))
    found = find_collisions([r.trajectories[v] for v in r.vehicles], r.footprint_m)
    assert [(c.vehicle_a, c.vehicle_b) for c in found] == [(0, 2)]


def test_synthetic_refuses_impossible_requests(default_map):
    with pytest.raises(SyntheticError, match="stall"):
        synthetic_record(default_map, SyntheticOptions(n_vehicles=3, duration_s=100.0, plant_stall_s=300.0))
    with pytest.raises(SyntheticError, match="at least 2"):
        synthetic_record(default_map, SyntheticOptions(n_vehicles=1, plant_collision=True))


def test_save_load_round_trip(clean_record, tmp_path):
    npz, js = save_record(clean_record, tmp_path / "run")
    assert npz.name == "record.npz" and js.name == "record.json"
    loaded = load_record(tmp_path / "run")
    assert records_equal(loaded, clean_record)
    assert loaded.waits == clean_record.waits and isinstance(loaded.waits[0][3], tuple)


def test_a_record_written_before_open_ages_loads_with_none(clean_record, tmp_path):
    with_ages = dataclasses.replace(clean_record, open_age_h=np.array([7.0, 0.5]))
    npz, _ = save_record(with_ages, tmp_path / "run")
    assert load_record(tmp_path / "run").open_age_h.tolist() == [7.0, 0.5]
    with np.load(npz) as archive:
        older = {name: archive[name] for name in archive.files if name != "open_age_h"}
    np.savez_compressed(npz, **older)
    assert load_record(tmp_path / "run").open_age_h.size == 0


def test_load_errors_are_one_line(clean_record, tmp_path):
    with pytest.raises(RecordError, match="record.json: no such file"):
        load_record(tmp_path / "missing")
    save_record(clean_record, tmp_path / "run")
    (tmp_path / "run" / "record.json").write_text("{not json")
    with pytest.raises(RecordError, match="not valid JSON") as info:
        load_record(tmp_path / "run")
    assert "\n" not in str(info.value)
    save_record(clean_record, tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "record.json").read_text())
    del doc["crane_moves"]
    (tmp_path / "run" / "record.json").write_text(json.dumps(doc))
    with pytest.raises(RecordError, match="missing key 'crane_moves'"):
        load_record(tmp_path / "run")
    save_record(clean_record, tmp_path / "run")
    (tmp_path / "run" / "record.npz").write_bytes(b"garbage")
    with pytest.raises(RecordError, match="record.npz: not a run record archive"):
        load_record(tmp_path / "run")


def _broken(record: RunRecord, **changes) -> str:
    with pytest.raises(RecordError) as info:
        dataclasses.replace(record, **changes).check()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_check_names_the_broken_field(clean_record):
    r = clean_record
    bad = dict(r.trajectories)
    rows = bad["igv-002"].copy()
    rows[10, 0] = rows[9, 0]
    bad["igv-002"] = rows
    assert "trajectories['igv-002']: trajectory row 10" in _broken(r, trajectories=bad)
    assert "vehicles and trajectories differ" in _broken(r, vehicles=r.vehicles[:3])
    assert "states: must be a (k, 10) array" in _broken(r, states=r.states[:, :5])
    assert "yard: must be a (k, 3) array" in _broken(r, yard_blocks=r.yard_blocks[:2])
    assert "waits[0]: unknown vehicle" in _broken(r, waits=[("igv-001", 0.0, 1.0, ["ghost"])])
    assert "waits[0]: needs finite" in _broken(r, waits=[("igv-001", 5.0, 1.0, ["igv-002"])])
    assert "crossings[0]" in _broken(r, crossings=[(1.0, "eastbound")])
    assert "utilisation" in _broken(r, utilisation=1.5)
    assert "crane_moves" in _broken(r, crane_moves=-1)
    assert "replan_ms" in _broken(r, replan_ms=[1.0, float("nan")])


def test_unserialisable_events_are_reported(clean_record, tmp_path):
    record = dataclasses.replace(clean_record, events=[(1.0, "odd", {"value": object()})])
    with pytest.raises(RecordError, match="cannot be written as JSON"):
        save_record(record, tmp_path)
