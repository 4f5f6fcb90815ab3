"""Reading the GeoJSON track-map format (docs/map-format.md) into plain parsed features.

Parsing is lenient on purpose: every feature-level problem is collected as one line
(``feature <id>: <what is wrong>``) so that validation can report all of them at once.
Only a file that is not a GeoJSON FeatureCollection at all fails immediately.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from shapely.geometry import Polygon

from maps.errors import MapError
from maps.projection import DEFAULT_CRS, check_crs, to_projected
from maps.trackmap import STATION_KINDS, ZONE_KINDS, VehicleSpec

FORMAT_VERSION = 1
DEFAULT_CELL_LENGTH_M = 8.0


@dataclass(frozen=True)
class RawNode:
    id: str
    xy: tuple[float, float]


@dataclass(frozen=True)
class RawLane:
    id: str
    from_node: str
    to_node: str
    coords: np.ndarray  # (k, 2) projected metres
    speed_limit_mps: float
    width_m: float
    two_way: bool


@dataclass(frozen=True)
class RawZone:
    id: str
    kind: str
    name: str
    polygon: Polygon
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class RawStation:
    id: str
    kind: str
    name: str
    node: str | None
    zone: str | None
    xy: tuple[float, float] | None


@dataclass
class RawMap:
    """Parsed features in projected metres, plus the problems met while parsing."""

    source: str
    name: str
    crs: str
    header: dict[str, Any]
    vehicle: VehicleSpec
    cell_length_m: float
    nodes: list[RawNode] = field(default_factory=list)
    lanes: list[RawLane] = field(default_factory=list)
    zones: list[RawZone] = field(default_factory=list)
    stations: list[RawStation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    all_ids: list[str] = field(default_factory=list)


def read_geojson_file(path: str | Path) -> dict[str, Any]:
    """Read a file as JSON; one-line :class:`MapError` when it cannot be."""
    p = Path(path)
    if not p.is_file():
        raise MapError(f"{p}: no such map file")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise MapError(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MapError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _coords(geometry: Any, kind: str) -> list | None:
    if not isinstance(geometry, dict) or geometry.get("type") != kind:
        return None
    coords = geometry.get("coordinates")
    return coords if isinstance(coords, list) else None


def _lonlat_array(coords: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.shape[1] < 2 or not np.all(np.isfinite(arr[:, :2])):
        return None
    return arr[:, :2]


def parse_geojson(data: Any, source: str = "<map>") -> RawMap:
    """Parse a track-map GeoJSON object into a :class:`RawMap` (projected metres)."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise MapError(f"{source}: not a GeoJSON FeatureCollection")
    header = data.get("properties")
    if not isinstance(header, dict):
        raise MapError(f"{source}: the FeatureCollection has no 'properties' header")
    features = data.get("features")
    if not isinstance(features, list):
        raise MapError(f"{source}: 'features' must be a list")

    problems: list[str] = []
    name = header.get("name")
    if not isinstance(name, str) or not name:
        problems.append("header: 'name' must be a non-empty string")
        name = Path(source).stem
    crs = header.get("crs", DEFAULT_CRS)
    try:
        if not isinstance(crs, str):
            raise MapError(f"CRS must be a string like 'EPSG:3405', got {crs!r}")
        check_crs(crs)
    except MapError as exc:
        # Nothing can be projected without a CRS: report and stop here.
        raise MapError(f"{source}: header: {exc}") from None

    cell_length_m = _number(header.get("cell_length_m", DEFAULT_CELL_LENGTH_M))
    if cell_length_m is None or cell_length_m <= 0:
        problems.append(f"header: 'cell_length_m' must be a positive number, got {header.get('cell_length_m')!r}")
        cell_length_m = DEFAULT_CELL_LENGTH_M
    vehicle = VehicleSpec()
    vh = header.get("vehicle", {})
    if isinstance(vh, dict):
        values = {}
        for key in ("length_m", "width_m", "margin_m", "max_speed_unladen_mps", "max_speed_laden_mps"):
            if key in vh:
                v = _number(vh[key])
                if v is None or v < 0 or (v == 0 and key != "margin_m"):
                    problems.append(f"header: vehicle.{key} must be a positive number, got {vh[key]!r}")
                else:
                    values[key] = v
        vehicle = VehicleSpec(**values)
    else:
        problems.append("header: 'vehicle' must be an object")

    raw = RawMap(source=source, name=name, crs=crs, header=dict(header), vehicle=vehicle, cell_length_m=cell_length_m, problems=problems)

    def project(lonlat: np.ndarray) -> np.ndarray:
        x, y = to_projected(lonlat[:, 0], lonlat[:, 1], crs)
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    for index, feature in enumerate(features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"feature #{index}: not a GeoJSON Feature")
            continue
        fid = feature.get("id")
        if not isinstance(fid, str) or not fid:
            problems.append(f"feature #{index}: missing string 'id'")
            continue
        raw.all_ids.append(fid)
        props = feature.get("properties")
        if not isinstance(props, dict):
            problems.append(f"feature {fid}: missing 'properties'")
            continue
        ftype = props.get("type")
        geometry = feature.get("geometry")
        if ftype == "node":
            coords = _coords(geometry, "Point")
            arr = _lonlat_array([coords]) if coords is not None else None
            if arr is None:
                problems.append(f"feature {fid}: node needs a Point geometry [lon, lat]")
                continue
            xy = project(arr)[0]
            raw.nodes.append(RawNode(fid, (float(xy[0]), float(xy[1]))))
        elif ftype == "lane":
            coords = _coords(geometry, "LineString")
            arr = _lonlat_array(coords) if coords is not None else None
            if arr is None or arr.shape[0] < 2:
                problems.append(f"feature {fid}: lane needs a LineString geometry of at least 2 positions")
                continue
            frm, to = props.get("from"), props.get("to")
            if not isinstance(frm, str) or not isinstance(to, str):
                problems.append(f"feature {fid}: lane needs string 'from' and 'to' node ids")
                continue
            speed = _number(props.get("speed_limit_mps"))
            width = _number(props.get("width_m"))
            if speed is None:
                problems.append(f"feature {fid}: lane needs a numeric 'speed_limit_mps'")
                continue
            if width is None:
                problems.append(f"feature {fid}: lane needs a numeric 'width_m'")
                continue
            two_way = props.get("two_way", False)
            if not isinstance(two_way, bool):
                problems.append(f"feature {fid}: 'two_way' must be true or false")
                continue
            raw.lanes.append(RawLane(fid, frm, to, project(arr), speed, width, two_way))
        elif ftype == "zone":
            coords = _coords(geometry, "Polygon")
            kind = props.get("kind")
            if kind not in ZONE_KINDS:
                problems.append(f"feature {fid}: unknown zone kind {kind!r} (known: {', '.join(ZONE_KINDS)})")
                continue
            rings = []
            ok = coords is not None and len(coords) >= 1
            for ring in coords or []:
                arr = _lonlat_array(ring)
                if arr is None or arr.shape[0] < 4:
                    ok = False
                    break
                rings.append(project(arr))
            if not ok:
                problems.append(f"feature {fid}: zone needs a Polygon geometry with closed rings of at least 4 positions")
                continue
            polygon = Polygon(rings[0], rings[1:])
            extra = {k: v for k, v in props.items() if k not in ("type", "kind", "name")}
            raw.zones.append(RawZone(fid, kind, str(props.get("name", fid)), polygon, extra))
        elif ftype == "station":
            kind = props.get("kind")
            if kind not in STATION_KINDS:
                problems.append(f"feature {fid}: unknown station kind {kind!r} (known: {', '.join(STATION_KINDS)})")
                continue
            node = props.get("node")
            zone = props.get("zone")
            coords = _coords(geometry, "Point")
            arr = _lonlat_array([coords]) if coords is not None else None
            xy = tuple(float(v) for v in project(arr)[0]) if arr is not None else None
            raw.stations.append(
                RawStation(
                    fid,
                    kind,
                    str(props.get("name", fid)),
                    node if isinstance(node, str) else None,
                    zone if isinstance(zone, str) else None,
                    xy,  # type: ignore[arg-type]
                )
            )
        else:
            problems.append(f"feature {fid}: unknown feature type {ftype!r} (node, lane, zone or station)")
    return raw
