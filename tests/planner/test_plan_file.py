"""Tests of reading and writing plan files (design section 7)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from planner.errors import PlanFileError
from planner.plan_file import (
    PlanFile,
    VehiclePlan,
    make_plan_file,
    plan_to_dict,
    read_plan_file,
    trajectory_problem,
    write_plan_file,
)


def sample_plan() -> PlanFile:
    times = 0.1 * np.arange(12)  # inexact decimals (0.30000000000000004) must survive the round trip
    a = np.column_stack([times, 807512.3 + 2.0 * times, np.full(12, 2383790.1), np.full(12, 1.571)])
    b = np.array([[3.0, 807600.0, 2383800.0, -math.pi], [3.5, 807601.0 / 3.0 * 3.0, 2383800.0, -math.pi]])
    return make_plan_file(
        "bac_luan_2", "EPSG:3405", ["igv-001", "igv-002"], [a, b],
        vehicle_length_m=15.5, vehicle_width_m=3.0, start_stations=["P-01", "P-02"], goal_stations=["X-01", "X-02"],
        planning_time_s=0.41,
    )


def plan_json(**changes) -> dict:
    data = plan_to_dict(sample_plan())
    data.update(changes)
    return data


def write_json(tmp_path, data, name="plan.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def read_error(path, **kwargs) -> str:
    with pytest.raises(PlanFileError) as info:
        read_plan_file(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_written_plan_reads_back_bit_identical(tmp_path):
    plan = sample_plan()
    path = tmp_path / "plan.json"
    write_plan_file(path, plan)
    back = read_plan_file(path)
    assert (back.map, back.crs, back.status, back.planning_time_s) == ("bac_luan_2", "EPSG:3405", "solved", 0.41)
    assert (back.vehicle_length_m, back.vehicle_width_m) == (15.5, 3.0)
    assert back.vehicle_ids == ("igv-001", "igv-002")
    assert [(v.start_station, v.goal_station) for v in back.vehicles] == [("P-01", "X-01"), ("P-02", "X-02")]
    for mine, theirs in zip(plan.trajectories, back.trajectories):
        assert theirs.dtype == np.float64 and theirs.shape == mine.shape
        assert np.array_equal(mine, theirs)
        assert not theirs.flags.writeable
    # the file is the documented JSON, readable by anything
    data = json.loads(path.read_text())
    assert set(data) == {"map", "crs", "status", "planning_time_s", "vehicle", "vehicles"}
    assert data["vehicles"][1]["trajectory"][0] == [3.0, 807600.0, 2383800.0, -math.pi]
    assert not (tmp_path / "plan.json.tmp").exists()


def test_plan_with_no_vehicles_round_trips(tmp_path):
    plan = make_plan_file("bac_luan_2", "EPSG:3405", [], [], vehicle_length_m=15.5, vehicle_width_m=3.0, status="failed")
    write_plan_file(tmp_path / "p.json", plan)
    assert read_plan_file(tmp_path / "p.json").vehicles == ()


def test_integers_are_accepted_as_numbers(tmp_path):
    data = plan_json(planning_time_s=1)
    data["vehicle"] = {"length_m": 15, "width_m": 3}
    data["vehicles"][1]["trajectory"] = [[3, 807600, 2383800, 0], [3.5, 807601, 2383800, 0]]
    plan = read_plan_file(write_json(tmp_path, data))
    assert plan.vehicles[1].trajectory.dtype == np.float64 and plan.vehicle_length_m == 15.0


@pytest.mark.parametrize("key", ["map", "crs", "status", "planning_time_s", "vehicle", "vehicles"])
def test_missing_top_level_key_is_named(tmp_path, key):
    data = plan_json()
    del data[key]
    assert read_error(write_json(tmp_path, data)) == f"{tmp_path / 'plan.json'}: missing key {key!r}"


@pytest.mark.parametrize("key", ["id", "start_station", "goal_station", "trajectory"])
def test_missing_vehicle_key_is_named_with_the_vehicle(tmp_path, key):
    data = plan_json()
    del data["vehicles"][1][key]
    where = "vehicles[1]" if key == "id" else "vehicles[1] 'igv-002'"
    assert read_error(write_json(tmp_path, data)) == f"{tmp_path / 'plan.json'}: {where}: missing key {key!r}"


def test_missing_vehicle_size_is_named(tmp_path):
    data = plan_json()
    del data["vehicle"]["width_m"]
    assert read_error(write_json(tmp_path, data)).endswith(": vehicle: missing key 'width_m'")


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"map": 3}, "key 'map' must be a string, got a number"),
        ({"vehicles": {}}, "key 'vehicles' must be an array, got an object"),
        ({"planning_time_s": True}, "key 'planning_time_s' must be a number, got a boolean"),
        ({"vehicle": {"length_m": -1.0, "width_m": 3.0}}, "vehicle.length_m is -1.0 (must be > 0)"),
        ({"vehicle": {"length_m": 15.5, "width_m": None}}, "vehicle: key 'width_m' must be a number, got null"),
    ],
)
def test_mistyped_values_are_named(tmp_path, change, expected):
    assert read_error(write_json(tmp_path, plan_json(**change))).endswith(expected)


def test_non_monotonic_times_name_the_row(tmp_path):
    data = plan_json()
    data["vehicles"][0]["trajectory"][5][0] = data["vehicles"][0]["trajectory"][4][0]
    message = read_error(write_json(tmp_path, data))
    assert "vehicles[0] 'igv-001': trajectory row 5: time" in message and "is not after the previous row" in message


def test_nan_is_rejected_with_its_place(tmp_path):
    data = plan_json()
    data["vehicles"][1]["trajectory"][1][2] = float("nan")
    path = write_json(tmp_path, data)  # json.dumps writes the NaN literal Python accepts
    assert "NaN" in (tmp_path / "plan.json").read_text()
    assert read_error(path).endswith("vehicles[1] 'igv-002': trajectory row 1: y_m is nan (must be a finite number)")


def test_infinite_planning_time_is_rejected(tmp_path):
    assert read_error(write_json(tmp_path, plan_json(planning_time_s=float("inf")))).endswith("planning_time_s is inf (must be a finite number)")


def test_rows_more_than_half_a_second_apart_are_rejected(tmp_path):
    data = plan_json()
    data["vehicles"][1]["trajectory"][1][0] = 3.6
    message = read_error(write_json(tmp_path, data))
    assert message.endswith("trajectory row 1: 0.6 s after the previous row (at most 0.5 s allowed)")


def test_rows_exactly_half_a_second_apart_by_rounding_are_accepted():
    times = np.array([0.0, 0.1 * 5, 0.1 * 10, 0.1 * 15])  # 0.5, 1.0, 1.5000000000000002
    rows = np.column_stack([times, np.zeros(4), np.zeros(4), np.zeros(4)])
    assert trajectory_problem(rows) is None


def test_wrong_crs_against_the_map_is_rejected(tmp_path):
    path = write_json(tmp_path, plan_json(crs="EPSG:32648"))
    assert read_plan_file(path).crs == "EPSG:32648"
    assert read_error(path, expected_crs="EPSG:3405").endswith("plan CRS 'EPSG:32648' differs from the map's CRS 'EPSG:3405'")
    assert read_plan_file(write_json(tmp_path, plan_json(crs="epsg:3405"), "b.json"), expected_crs="EPSG:3405").crs == "epsg:3405"


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([], "trajectory has no rows"),
        ([[0.0, 1.0, 2.0]], "trajectory row 0 must be 4 numbers [t_s, x_m, y_m, heading_rad], got [0.0, 1.0, 2.0]"),
        ([[0.0, 1.0, 2.0, 0.0], [0.5, "x", 2.0, 0.0]], "trajectory row 1 must be 4 numbers"),
        ([[0.0, 1.0, 2.0, 0.0], None], "trajectory row 1 must be 4 numbers"),
        ([[0.0, 1.0, 2.0, 0.0], [0.5, 1.0, 2.0, 0.0, 9.0]], "trajectory row 1 must be 4 numbers"),
    ],
)
def test_malformed_rows_are_named(tmp_path, rows, expected):
    data = plan_json()
    data["vehicles"][0]["trajectory"] = rows
    assert expected in read_error(write_json(tmp_path, data))


def test_duplicate_vehicle_ids_are_rejected(tmp_path):
    data = plan_json()
    data["vehicles"][1]["id"] = "igv-001"
    assert read_error(write_json(tmp_path, data)).endswith("vehicles[1] 'igv-001': duplicate vehicle id (also vehicles[0])")


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"map": "x",', "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 13"),
        ("[1, 2]", "a plan file must be a JSON object, got list"),
        ("", "not valid JSON"),
    ],
)
def test_broken_files_give_one_line(tmp_path, text, expected):
    path = tmp_path / "plan.json"
    path.write_text(text)
    assert expected in read_error(path)


def test_missing_file_and_binary_file(tmp_path):
    assert "cannot read plan file" in read_error(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in read_error(tmp_path / "bin.json")


def test_writing_validates_first(tmp_path):
    bad = np.array([[0.0, 1.0, 2.0, 0.0], [1.0, 1.0, 2.0, 0.0]])  # 1 s apart
    plan = make_plan_file("m", "EPSG:3405", ["v"], [bad], vehicle_length_m=15.5, vehicle_width_m=3.0)
    with pytest.raises(PlanFileError, match="'v': trajectory row 1: 1 s after the previous row"):
        write_plan_file(tmp_path / "p.json", plan)
    assert not (tmp_path / "p.json").exists()
    nan = np.array([[0.0, np.nan, 2.0, 0.0]])
    with pytest.raises(PlanFileError, match="x_m is nan"):
        write_plan_file(tmp_path / "p.json", make_plan_file("m", "EPSG:3405", ["v"], [nan], vehicle_length_m=15.5, vehicle_width_m=3.0))


def test_vehicle_plan_rejects_a_wrong_shape():
    with pytest.raises(PlanFileError, match=r"shape \(3,\)"):
        VehiclePlan("v", "a", "b", np.zeros(3))
    with pytest.raises(PlanFileError, match="2 vehicle ids but 1 trajectories"):
        make_plan_file("m", "EPSG:3405", ["a", "b"], [np.zeros((1, 4))], vehicle_length_m=1.0, vehicle_width_m=1.0)
