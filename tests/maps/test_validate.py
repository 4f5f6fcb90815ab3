"""One test per validation rule, each on a small broken map; every problem names its feature."""

from __future__ import annotations

import copy
import json

import pytest

from maps.build import build_track_map
from maps.errors import MapError, MapValidationError
from maps.geojson import parse_geojson
from maps.validate import validate
from tests.conftest import loop_builder


def problems_of(data) -> list[str]:
    return validate(parse_geojson(data, source="t.geojson"))


def feature(data, fid):
    return next(f for f in data["features"] if f["id"] == fid)


@pytest.fixture
def good():
    return loop_builder().geojson()


def test_clean_map_has_no_problems(good):
    assert problems_of(good) == []


def test_unknown_crs_is_one_line_error(good):
    good["properties"]["crs"] = "EPSG:999999"
    with pytest.raises(MapError, match=r"t.geojson: header: unknown CRS 'EPSG:999999'"):
        parse_geojson(good, source="t.geojson")


def test_geographic_crs_is_refused(good):
    good["properties"]["crs"] = "EPSG:4326"
    with pytest.raises(MapError, match="not a projected CRS"):
        parse_geojson(good, source="t.geojson")


def test_duplicate_ids(good):
    good["features"].append(copy.deepcopy(feature(good, "s-a")))
    assert any(p.startswith("feature s-a: duplicate id") for p in problems_of(good))


def test_lane_end_not_a_node(good):
    feature(good, "bc")["properties"]["to"] = "zz"
    assert "feature bc: lane 'to' end 'zz' is not a node" in problems_of(good)


def test_lane_geometry_far_from_its_node(good):
    coords = feature(good, "ab")["geometry"]["coordinates"]
    coords[-1] = [coords[-1][0] + 0.001, coords[-1][1]]  # about 100 m east
    assert any(p.startswith("feature ab: lane 'to' end is") for p in problems_of(good))


def test_lane_shorter_than_a_cell():
    b = loop_builder()
    b.node("f", 30, -34)
    b.lane("ef", "e", "f")
    assert any(p.startswith("feature ef: lane is 4.00 m long, shorter than a cell") for p in validate(parse_geojson(b.geojson())))


@pytest.mark.parametrize("speed", [0.0, -3.0])
def test_lane_speed_limit_must_be_positive(good, speed):
    feature(good, "cd")["properties"]["speed_limit_mps"] = speed
    assert any(p.startswith("feature cd: speed_limit_mps must be positive") for p in problems_of(good))


def test_station_not_linked_to_a_node(good):
    del feature(good, "s-c")["properties"]["node"]
    assert "feature s-c: station is not linked to a node (property 'node' missing)" in problems_of(good)


def test_station_linked_to_unknown_node(good):
    feature(good, "s-c")["properties"]["node"] = "nowhere"
    assert "feature s-c: station is linked to 'nowhere', which is not a node" in problems_of(good)


def test_self_intersecting_zone(good):
    ring = feature(good, "park")["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow tie
    assert any(p.startswith("feature park: zone polygon is invalid (Self-intersection") for p in problems_of(good))


def test_unreachable_station():
    b = loop_builder()
    b.node("x", 100, 0)
    b.lane("bx", "b", "x")  # one way in, no way back
    b.station("s-x", "parking", "x")
    assert any(p.startswith("feature s-x: station cannot reach or be reached") for p in validate(parse_geojson(b.geojson())))


@pytest.mark.parametrize("kind", ["building", "no_go"])
def test_lane_crossing_forbidden_zone(kind):
    b = loop_builder()
    b.zone("wall", kind, [(20, -5), (25, -5), (25, 5), (20, 5)])
    problems = validate(parse_geojson(b.geojson()))
    assert any(p.startswith(f"feature ab: lane crosses {kind} zone 'wall'") for p in problems)


def test_lane_too_narrow_for_vehicle(good):
    feature(good, "da")["properties"]["width_m"] = 3.2
    assert any(p.startswith("feature da: lane is 3.2 m wide, too narrow for the 3.0 m vehicle") for p in problems_of(good))


def test_unknown_zone_and_station_kinds(good):
    feature(good, "park")["properties"]["kind"] = "swimming_pool"
    feature(good, "s-a")["properties"]["kind"] = "teleporter"
    problems = problems_of(good)
    assert any(p.startswith("feature park: unknown zone kind 'swimming_pool'") for p in problems)
    assert any(p.startswith("feature s-a: unknown station kind 'teleporter'") for p in problems)


def test_every_problem_is_reported_at_once(good):
    feature(good, "cd")["properties"]["speed_limit_mps"] = 0
    feature(good, "s-c")["properties"]["node"] = "nowhere"
    good["features"].append(copy.deepcopy(feature(good, "ab")))
    with pytest.raises(MapValidationError) as info:
        build_track_map(parse_geojson(good, source="t.geojson"))
    assert len(info.value.problems) >= 3
    assert all("\n" not in p for p in info.value.problems)


def test_not_a_feature_collection():
    with pytest.raises(MapError, match="not a GeoJSON FeatureCollection"):
        parse_geojson({"type": "Feature"}, source="x.json")


def test_broken_json_file_names_line(tmp_path):
    from maps.geojson import read_geojson_file

    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n}')
    with pytest.raises(MapError, match=r"broken.geojson:3:1: invalid JSON"):
        read_geojson_file(path)


def test_default_map_file_validates_clean():
    from maps import resolve_map_path
    from maps.geojson import read_geojson_file

    raw = parse_geojson(read_geojson_file(resolve_map_path("bac_luan_2")))
    assert validate(raw) == []
    json.dumps(raw.header)  # the header stays plain JSON


def test_example_in_map_format_doc_is_valid():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "map-format.md").read_text()
    example = text[text.index("```json") + len("```json") : text.index("```", text.index("```json") + 7)]
    raw = parse_geojson(json.loads(example), source="docs/map-format.md")
    assert validate(raw) == []
    assert build_track_map(raw).n_stations == 1
