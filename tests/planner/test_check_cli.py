"""Tests of ``igv check`` run through the real dispatcher (``fleet.cli.main``)."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from fleet.cli import main
from maps import load_track_map
from maps.builder import MapBuilder
from planner.plan_file import make_plan_file, plan_to_dict, write_plan_file

LENGTH_M, WIDTH_M = 15.5, 3.0


@pytest.fixture(scope="module")
def strip_map(tmp_path_factory):
    """A 200 m x 20 m one-way loop: fast lane east (8.3 m/s), slow lanes back (4 m/s), a building north."""
    b = MapBuilder(name="strip", cell_length_m=8.0)
    b.node("w", 0, 0)
    b.node("e", 200, 0)
    b.node("e2", 200, 20)
    b.node("w2", 0, 20)
    b.lane("fast", "w", "e", speed_limit_mps=8.3)
    b.lane("turn", "e", "e2", speed_limit_mps=4.0, via=[(210, 10)])
    b.lane("slow", "e2", "w2", speed_limit_mps=4.0)
    b.lane("back", "w2", "w", speed_limit_mps=4.0)
    b.zone("hq", "building", [(80, 40), (120, 40), (120, 60), (80, 60)], name="headquarters")
    b.station("p1", "parking", "w")
    b.station("p2", "parking", "e2")
    path = tmp_path_factory.mktemp("maps") / "strip.geojson"
    path.write_text(json.dumps(b.geojson()))
    return path, load_track_map(path), b.origin_xy


def drive(polyline: np.ndarray, speed_mps: float, t0: float = 0.0, dt: float = 0.5) -> np.ndarray:
    """Rows along a polyline at constant speed, heading along each segment."""
    seg = np.diff(polyline, axis=0)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    times = np.arange(0.0, arc[-1] / speed_mps + dt, dt)
    s = np.minimum(times * speed_mps, arc[-1])
    k = np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(seg) - 1)
    return np.column_stack([t0 + times, np.interp(s, arc, polyline[:, 0]), np.interp(s, arc, polyline[:, 1]), np.arctan2(seg[k, 1], seg[k, 0])])


def lane(track_map, lane_id: str) -> np.ndarray:
    return np.asarray(track_map.lane_geometry[track_map.lane_ids.index(lane_id)])


def write_plan(tmp_path, track_map, map_field: str, vehicles: dict, name: str = "plan.json", crs: str | None = None) -> str:
    plan = make_plan_file(map_field, crs or track_map.crs, list(vehicles), list(vehicles.values()), vehicle_length_m=LENGTH_M, vehicle_width_m=WIDTH_M)
    path = tmp_path / name
    write_plan_file(path, plan)
    return str(path)


def clean_vehicles(track_map) -> dict:
    return {"igv-001": drive(lane(track_map, "fast"), 8.0), "igv-002": drive(lane(track_map, "slow"), 4.0)}


def run_check(argv, capsys) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_clean_plan_passes(tmp_path, strip_map, capsys):
    map_path, track_map, _ = strip_map
    plan = write_plan(tmp_path, track_map, str(map_path), clean_vehicles(track_map))
    code, out, err = run_check([plan], capsys)
    assert (code, err) == (0, "")
    assert "on map strip: 2 vehicles" in out and out.rstrip().endswith("clean: no collisions, zone intrusions, corridor or speed violations")


def test_planted_collision_is_found_with_pair_and_time(tmp_path, strip_map, capsys):
    map_path, track_map, _ = strip_map
    fast = lane(track_map, "fast")
    # igv-003 stands on the fast lane 100.05 m from its start; igv-001 (8 m/s) touches it
    # when its centre is 15.5 m behind, at 84.55 / 8 = 10.56875 s
    direction = (fast[1] - fast[0]) / np.linalg.norm(fast[1] - fast[0])
    parked = fast[0] + 100.05 * direction
    vehicles = clean_vehicles(track_map)
    vehicles["igv-003"] = np.array([[0.0, parked[0], parked[1], math.atan2(direction[1], direction[0])]])
    plan = write_plan(tmp_path, track_map, str(map_path), vehicles)
    code, out, err = run_check([plan], capsys)
    assert (code, err) == (1, "")
    (line,) = [line for line in out.splitlines() if line.startswith("collision:")]
    match = re.match(r"collision: igv-001 and igv-003 at t=([\d.]+) s", line)
    assert match, line
    assert 10.56875 <= float(match.group(1)) <= 10.56875 + 0.1
    assert out.rstrip().endswith("problems: 1 collisions, 0 zone intrusions, 0 corridor violations, 0 speed violations")
    # a coarser step still finds it within one step
    code, out, _ = run_check([plan, "--step-s", "0.5"], capsys)
    time_s = float(re.search(r"collision: igv-001 and igv-003 at t=([\d.]+) s", out).group(1))
    assert code == 1 and 10.56875 <= time_s <= 10.56875 + 0.5


def test_margin_turns_a_near_miss_into_a_problem(tmp_path, strip_map, capsys):
    map_path, track_map, _ = strip_map
    # a vehicle on the slow lane 20 m north of the fast lane: 17 m gap between the sides
    plan = write_plan(tmp_path, track_map, str(map_path), clean_vehicles(track_map))
    assert run_check([plan, "--margin-m", "8.4"], capsys)[0] == 0
    code, out, _ = run_check([plan, "--margin-m", "8.6"], capsys)
    assert code == 1 and "collision: igv-001 and igv-002" in out and "margin 8.6 m" in out


def test_zone_corridor_and_speed_problems_are_listed(tmp_path, strip_map, capsys):
    map_path, track_map, origin = strip_map
    vehicles = {
        "igv-001": drive(lane(track_map, "fast"), 8.0),
        "igv-004": np.array([[0.0, origin[0] + 100.0, origin[1] + 50.0, 0.0]]),  # inside the building
        "igv-005": drive(lane(track_map, "slow"), 6.0, t0=60.0),  # 6 m/s on a 4 m/s lane
    }
    plan = write_plan(tmp_path, track_map, str(map_path), vehicles)
    code, out, err = run_check([plan], capsys)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert any(line.startswith("zone: igv-004 in building zone 'hq' at t=0.00 s") for line in lines), out
    assert any(re.match(r"corridor: igv-004 off the lanes at t=0\.00 s .*: 30\.00 m from lane '(slow|back|fast|turn)' centreline \(allowed 1\.875 \+ 0\.25 m\)", line) for line in lines), out
    assert any(line.startswith("speed: igv-005 at 6.00 m/s on lane 'slow' (limit 4 m/s) at t=60.") for line in lines), out
    assert lines[-1] == "problems: 0 collisions, 1 zone intrusions, 1 corridor violations, 1 speed violations"
    # problems are listed earliest first and --max-problems caps the list
    code, out, _ = run_check([plan, "--max-problems", "1"], capsys)
    assert "... and 2 more" in out and sum(line.split(":")[0] in ("zone", "corridor", "speed") for line in out.splitlines()) == 1


def test_map_named_in_the_plan_is_found_beside_the_plan(tmp_path, strip_map, capsys, monkeypatch):
    map_path, track_map, _ = strip_map
    (tmp_path / "strip.geojson").write_text(map_path.read_text())
    plan = write_plan(tmp_path, track_map, "strip.geojson", clean_vehicles(track_map))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run_check([plan], capsys)[0] == 0


def test_map_option_overrides_the_plan(tmp_path, strip_map, capsys):
    map_path, track_map, _ = strip_map
    plan = write_plan(tmp_path, track_map, "strip", clean_vehicles(track_map))
    code, _, err = run_check([plan], capsys)
    assert code == 2 and err.startswith("igv check: error: no map 'strip'") and err.count("\n") == 1
    assert run_check([plan, "--map", str(map_path)], capsys)[0] == 0


def test_wrong_crs_is_one_line(tmp_path, strip_map, capsys):
    map_path, track_map, _ = strip_map
    plan = write_plan(tmp_path, track_map, str(map_path), clean_vehicles(track_map), crs="EPSG:32648")
    code, out, err = run_check([plan], capsys)
    assert code == 2 and out == ""
    assert err == f"igv check: error: {plan}: plan CRS 'EPSG:32648' differs from the map's CRS 'EPSG:3405'\n"


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda d: d.pop("vehicles"), "missing key 'vehicles'"),
        (lambda d: d["vehicles"][0].pop("trajectory"), "vehicles[0] 'igv-001': missing key 'trajectory'"),
        (lambda d: d["vehicles"][0]["trajectory"].__setitem__(3, d["vehicles"][0]["trajectory"][1]), "trajectory row 3: time 0.5 s is not after the previous row's 1.0 s"),
        (lambda d: d["vehicles"][1]["trajectory"][2].__setitem__(1, float("nan")), "vehicles[1] 'igv-002': trajectory row 2: x_m is nan"),
        (lambda d: d["vehicles"][1]["trajectory"].pop(2), "trajectory row 2: 1 s after the previous row (at most 0.5 s allowed)"),
    ],
)
def test_malformed_plan_files_give_one_line_and_exit_2(tmp_path, strip_map, capsys, breakage, expected):
    map_path, track_map, _ = strip_map
    data = plan_to_dict(make_plan_file(str(map_path), track_map.crs, *zip(*clean_vehicles(track_map).items()), vehicle_length_m=LENGTH_M, vehicle_width_m=WIDTH_M))
    breakage(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    code, out, err = run_check([str(path)], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"igv check: error: {path}: ") and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_plan_file_and_bad_options(tmp_path, capsys):
    code, _, err = run_check([str(tmp_path / "nope.json")], capsys)
    assert code == 2 and "cannot read plan file" in err and err.count("\n") == 1
    for option in (["--margin-m", "-1"], ["--step-s", "0"], ["--max-problems", "x"]):
        with pytest.raises(SystemExit) as info:
            main(["check", "plan.json", *option])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("igv check: error: argument") and err.count("\n") == 1


def test_clean_plan_on_the_default_map(tmp_path, capsys):
    track_map = load_track_map("bac_luan_2")
    # a vehicle standing at a parking station and one driving the longest fast lane at its limit
    parking = track_map.stations_of_kind("parking")[0]
    cell = track_map.station_cell_of(parking.id)
    fast_lanes = np.flatnonzero(track_map.lane_speed_limit_mps == track_map.lane_speed_limit_mps.max())
    longest = int(fast_lanes[np.argmax(track_map.lane_length_m[fast_lanes])])
    vehicles = {
        "igv-001": np.array([[0.0, *track_map.cell_xy[cell], float(track_map.cell_heading_rad[cell])]]),
        "igv-002": drive(np.asarray(track_map.lane_geometry[longest]), float(track_map.lane_speed_limit_mps[longest])),
    }
    plan = write_plan(tmp_path, track_map, "bac_luan_2", vehicles)
    code, out, err = run_check([plan], capsys)
    assert (code, err) == (0, ""), out
    assert "on map bac_luan_2: 2 vehicles" in out


def test_option_defaults_are_the_checker_defaults():
    # the command keeps literal defaults so that `igv --help` does not import numba
    import argparse

    from planner import collision
    from planner.commands import check

    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    args = parser.parse_args(["plan.json"])
    assert args.step_s == collision.DEFAULT_STEP_S
    assert args.corridor_tolerance_m == collision.DEFAULT_CORRIDOR_TOLERANCE_M
    assert args.speed_tolerance_mps == collision.DEFAULT_SPEED_TOLERANCE_MPS
    assert args.margin_m == 0.0
