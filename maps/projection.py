"""WGS84 <-> projected CRS conversion (pyproj, offline).

Track maps are stored in WGS84 (RFC 7946) and used in the map's projected CRS, by default
EPSG:3405 (VN-2000 / UTM zone 48N), in metres with x east and y north of the grid.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from maps.errors import MapError

DEFAULT_CRS = "EPSG:3405"


@lru_cache(maxsize=16)
def _transformers(crs: str) -> tuple[Transformer, Transformer]:
    try:
        target = CRS.from_user_input(crs)
    except CRSError:
        raise MapError(f"unknown CRS {crs!r}") from None
    if not target.is_projected:
        raise MapError(f"CRS {crs!r} is not a projected CRS (metres are needed)")
    forward = Transformer.from_crs("EPSG:4326", target, always_xy=True)
    inverse = Transformer.from_crs(target, "EPSG:4326", always_xy=True)
    return forward, inverse


def check_crs(crs: str) -> None:
    """Raise :class:`MapError` unless ``crs`` names a projected CRS pyproj knows."""
    _transformers(crs)


def to_projected(lon: np.ndarray | float, lat: np.ndarray | float, crs: str = DEFAULT_CRS) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees, WGS84) to projected metres (x east, y north)."""
    forward, _ = _transformers(crs)
    x, y = forward.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return np.asarray(x), np.asarray(y)


def to_wgs84(x: np.ndarray | float, y: np.ndarray | float, crs: str = DEFAULT_CRS) -> tuple[np.ndarray, np.ndarray]:
    """Projected metres to longitude/latitude (degrees, WGS84)."""
    _, inverse = _transformers(crs)
    lon, lat = inverse.transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.asarray(lon), np.asarray(lat)
