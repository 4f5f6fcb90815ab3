"""Programmatic construction of track maps (tests, the default-map layout script).

Coordinates given to the builder are local metres east/north of an origin point; the
builder converts them to WGS84 through the map's projected CRS, so a built map takes the
same path (GeoJSON -> parse -> validate -> build) as a map read from a file.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from maps.geojson import DEFAULT_CELL_LENGTH_M, FORMAT_VERSION, parse_geojson
from maps.projection import DEFAULT_CRS, to_projected, to_wgs84
from maps.trackmap import TrackMap, VehicleSpec

SITE_ORIGIN_LONLAT = (107.9930, 21.5290)
"""Bac Luan II bridge midpoint estimate (site.md); the default origin of built maps."""


class MapBuilder:
    """Collects nodes, lanes, zones and stations and emits track-map GeoJSON.

    Parameters
    ----------
    name : str
        Map name written in the header.
    crs : str
        Projected CRS of the map.
    origin_lonlat : (float, float)
        WGS84 position of local (0, 0).
    cell_length_m : float
        Maximum cell length.
    vehicle : VehicleSpec
        Footprint the conflict table is built for.
    header : dict, optional
        Extra header properties.
    """

    def __init__(
        self,
        name: str = "tiny",
        crs: str = DEFAULT_CRS,
        origin_lonlat: tuple[float, float] = SITE_ORIGIN_LONLAT,
        cell_length_m: float = DEFAULT_CELL_LENGTH_M,
        vehicle: VehicleSpec = VehicleSpec(),
        header: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.crs = crs
        self.cell_length_m = cell_length_m
        self.vehicle = vehicle
        ox, oy = to_projected(origin_lonlat[0], origin_lonlat[1], crs)
        self.origin_xy = (float(ox), float(oy))
        self.header = dict(header or {})
        self.features: list[dict[str, Any]] = []
        self.node_xy: dict[str, tuple[float, float]] = {}

    # ---- geometry helpers -------------------------------------------------------
    def _lonlat(self, points: Iterable[Sequence[float]]) -> list[list[float]]:
        arr = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
        lon, lat = to_wgs84(arr[:, 0] + self.origin_xy[0], arr[:, 1] + self.origin_xy[1], self.crs)
        return [[round(float(a), 9), round(float(b), 9)] for a, b in zip(np.atleast_1d(lon), np.atleast_1d(lat))]

    def _add(self, fid: str, geometry: dict[str, Any], properties: dict[str, Any]) -> str:
        self.features.append({"type": "Feature", "id": fid, "geometry": geometry, "properties": properties})
        return fid

    # ---- features -----------------------------------------------------------------
    def node(self, fid: str, x_m: float, y_m: float) -> str:
        self.node_xy[fid] = (float(x_m), float(y_m))
        return self._add(fid, {"type": "Point", "coordinates": self._lonlat([(x_m, y_m)])[0]}, {"type": "node"})

    def lane(
        self,
        fid: str,
        from_node: str,
        to_node: str,
        *,
        speed_limit_mps: float = 4.0,
        width_m: float = 3.75,
        two_way: bool = False,
        via: Sequence[Sequence[float]] = (),
    ) -> str:
        """A lane from node to node, straight or through ``via`` points (local metres)."""
        points = [self.node_xy[from_node], *via, self.node_xy[to_node]]
        return self._add(
            fid,
            {"type": "LineString", "coordinates": self._lonlat(points)},
            {"type": "lane", "from": from_node, "to": to_node, "speed_limit_mps": speed_limit_mps, "width_m": width_m, "two_way": two_way},
        )

    def zone(self, fid: str, kind: str, ring: Sequence[Sequence[float]], name: str = "", **properties: Any) -> str:
        points = list(ring)
        if tuple(points[0]) != tuple(points[-1]):
            points.append(points[0])
        props = {"type": "zone", "kind": kind, "name": name or fid, **properties}
        return self._add(fid, {"type": "Polygon", "coordinates": [self._lonlat(points)]}, props)

    def station(self, fid: str, kind: str, node: str, name: str = "", zone: str | None = None) -> str:
        props: dict[str, Any] = {"type": "station", "kind": kind, "node": node, "name": name or fid}
        if zone is not None:
            props["zone"] = zone
        xy = self.node_xy.get(node, (0.0, 0.0))
        return self._add(fid, {"type": "Point", "coordinates": self._lonlat([xy])[0]}, props)

    # ---- output -------------------------------------------------------------------
    def geojson(self) -> dict[str, Any]:
        header = {
            "name": self.name,
            "crs": self.crs,
            "format_version": FORMAT_VERSION,
            "cell_length_m": self.cell_length_m,
            "vehicle": {
                "length_m": self.vehicle.length_m,
                "width_m": self.vehicle.width_m,
                "margin_m": self.vehicle.margin_m,
                "max_speed_unladen_mps": self.vehicle.max_speed_unladen_mps,
                "max_speed_laden_mps": self.vehicle.max_speed_laden_mps,
            },
            **self.header,
        }
        return {"type": "FeatureCollection", "properties": header, "features": list(self.features)}

    def build(self, check: bool = True) -> TrackMap:
        """Parse, validate and build the map (raises MapValidationError when broken)."""
        from maps.build import build_track_map

        return build_track_map(parse_geojson(self.geojson(), source=f"<built map {self.name}>"), check=check)
