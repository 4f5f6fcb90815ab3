from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maps.errors import MapError
from maps.projection import check_crs, to_projected, to_wgs84


@settings(max_examples=200, deadline=None)
@given(st.floats(107.5, 108.5), st.floats(21.0, 22.0))
def test_round_trip_within_a_millimetre(lon, lat):
    x, y = to_projected(lon, lat)
    lon2, lat2 = to_wgs84(x, y)
    x2, y2 = to_projected(lon2, lat2)
    assert float(np.hypot(x2 - x, y2 - y)) < 1e-3


def test_site_position_matches_site_md():
    # site.md: lon 107.97, lat 21.53 gives about (807 470 E, 2 383 842 N) in EPSG:3405.
    x, y = to_projected(107.97, 21.53)
    assert float(x) == pytest.approx(807_470, abs=50)
    assert float(y) == pytest.approx(2_383_842, abs=50)


def test_grid_north_differs_from_true_north():
    x0, y0 = to_projected(107.99, 21.53)
    x1, y1 = to_projected(108.00, 21.53)  # due east in WGS84
    angle_deg = np.degrees(np.arctan2(float(y1 - y0), float(x1 - x0)))
    assert 0.8 < abs(angle_deg) < 1.4


@pytest.mark.parametrize("crs", ["EPSG:999999", "not a crs", "EPSG:4326"])
def test_bad_crs(crs):
    with pytest.raises(MapError):
        check_crs(crs)
