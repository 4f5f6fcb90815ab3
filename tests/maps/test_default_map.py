"""The shipped default map: site position, zones, station counts, regeneration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maps.projection import to_projected


def test_bridge_midpoint_and_length(default_map):
    bridge = default_map.zones_of_kind("bridge")
    assert len(bridge) == 1
    lon, lat = default_map.header["bridge_midpoint_lonlat"]
    mx, my = to_projected(lon, lat, default_map.crs)
    c = bridge[0].polygon.centroid
    assert float(np.hypot(c.x - mx, c.y - my)) < 50.0
    x0, y0, x1, y1 = bridge[0].polygon.bounds
    assert max(x1 - x0, y1 - y0) == pytest.approx(618.0, rel=0.05)


def test_header_position_agrees_with_site_md(default_map):
    lon, lat = default_map.header["bridge_midpoint_lonlat"]
    assert abs(lon - 107.9930) < 0.005 and abs(lat - 21.5290) < 0.005


def test_zones_and_stations_of_the_seed_articles(default_map):
    tm = default_map
    s = tm.summary()
    kinds = s["stations_by_kind"]
    assert s["stations"] >= 240
    assert kinds["scanner_bay"] >= 3
    assert kinds["charger"] >= 16
    assert kinds["parking"] >= 60
    assert kinds["handover"] >= 24
    assert kinds["truck_exchange"] >= 1
    assert kinds["lab_bay"] >= 1 and kinds["inspection_bay"] >= 1
    blocks = tm.zones_of_kind("yard_block")
    assert sum(z.properties["yard"] == "export" for z in blocks) >= 3
    assert sum(z.properties["yard"] == "import" for z in blocks) >= 3
    for block in blocks:
        assert len([st for st in tm.stations if st.kind == "crane_transfer" and st.zone_id == block.id]) >= 2
    for kind in ("scanner", "lab", "inspection", "charging", "parking", "handover", "bridge", "gate", "building"):
        assert tm.zones_of_kind(kind), kind
    assert any("dmin" in z.name for z in tm.zones_of_kind("building"))


def test_handover_yard_has_one_aisle_per_direction(default_map):
    tm = default_map
    sides = [tm.station_side(s.id) for s in tm.stations_of_kind("handover")]
    assert sides.count("export") >= 24 and sides.count("import") >= 24
    assert tm.station_side("E1-T1") == "export" and tm.station_side("I1-T1") == "import"
    assert tm.station_side(tm.stations_of_kind("charger")[0].id) is None


def test_handover_yard_is_across_the_river(default_map):
    tm = default_map
    bridge = tm.zones_of_kind("bridge")[0].polygon
    handover = tm.zones_of_kind("handover")[0].polygon
    yards = tm.zones_of_kind("yard_block")
    assert handover.centroid.y > bridge.bounds[3]
    assert all(z.polygon.centroid.y < bridge.bounds[1] for z in yards)


def test_bridge_has_one_lane_each_way(default_map):
    tm = default_map
    bridge = tm.zones_of_kind("bridge")[0].polygon
    from shapely.geometry import LineString

    mid_y = bridge.centroid.y
    x0, _, x1, _ = bridge.bounds
    midline = LineString([(x0, mid_y), (x1, mid_y)])
    headings = []
    for g, two_way in zip(tm.lane_geometry, tm.lane_two_way):
        if LineString(g).intersects(midline):
            assert not two_way
            headings.append(float(np.sign(g[-1, 1] - g[0, 1])))
    assert sorted(headings) == [-1.0, 1.0]


def test_every_station_reaches_every_other(default_map):
    assert np.all(np.isfinite(default_map.station_travel_time_s))


def test_generator_reproduces_shipped_file():
    from maps import resolve_map_path
    from maps.layout_bac_luan_2 import build_geojson

    shipped = json.loads(resolve_map_path("bac_luan_2").read_text())
    assert json.loads(json.dumps(build_geojson())) == shipped
