"""Validation of a parsed track map: every rule, every problem, one line each.

Each problem names the feature id and the rule it breaks. Validation never stops at the
first problem, so a map author sees everything to fix in one run.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString
from shapely.validation import explain_validity

from maps.geojson import RawMap
from maps.trackmap import FORBIDDEN_ZONE_KINDS

NODE_SNAP_TOLERANCE_M = 0.5
"""A lane's first and last positions must lie this close to its from/to nodes."""

LENGTH_TOLERANCE_M = 0.01
"""Rounding in the WGS84 round trip may shorten a lane by micrometres; a cell-long lane is fine."""

LATERAL_CLEARANCE_M = 0.25
"""A lane must be at least the vehicle width plus this on each side."""


def polyline_length_m(coords: np.ndarray) -> float:
    return float(np.hypot(*np.diff(coords, axis=0).T).sum())


def validate(raw: RawMap) -> list[str]:
    """All problems of ``raw`` (parse problems first), each one line; empty when clean."""
    problems = list(raw.problems)

    for fid, count in sorted(Counter(raw.all_ids).items()):
        if count > 1:
            problems.append(f"feature {fid}: duplicate id ({count} features share it)")

    nodes = {n.id: n for n in raw.nodes}
    min_width_m = raw.vehicle.width_m + 2 * LATERAL_CLEARANCE_M
    good_lanes = []
    for lane in raw.lanes:
        ok = True
        for end, node_id, point in (("from", lane.from_node, lane.coords[0]), ("to", lane.to_node, lane.coords[-1])):
            node = nodes.get(node_id)
            if node is None:
                problems.append(f"feature {lane.id}: lane '{end}' end {node_id!r} is not a node")
                ok = False
            elif float(np.hypot(point[0] - node.xy[0], point[1] - node.xy[1])) > NODE_SNAP_TOLERANCE_M:
                problems.append(
                    f"feature {lane.id}: lane '{end}' end is {np.hypot(point[0] - node.xy[0], point[1] - node.xy[1]):.2f} m"
                    f" from node {node_id!r} (max {NODE_SNAP_TOLERANCE_M} m)"
                )
                ok = False
        if lane.from_node == lane.to_node:
            problems.append(f"feature {lane.id}: lane starts and ends at the same node {lane.from_node!r}")
            ok = False
        length_m = polyline_length_m(lane.coords)
        if length_m < raw.cell_length_m - LENGTH_TOLERANCE_M:
            problems.append(f"feature {lane.id}: lane is {length_m:.2f} m long, shorter than a cell ({raw.cell_length_m} m)")
            ok = False
        if lane.speed_limit_mps <= 0:
            problems.append(f"feature {lane.id}: speed_limit_mps must be positive, got {lane.speed_limit_mps}")
            ok = False
        if lane.width_m < min_width_m:
            problems.append(
                f"feature {lane.id}: lane is {lane.width_m} m wide, too narrow for the {raw.vehicle.width_m} m vehicle"
                f" (needs {min_width_m} m)"
            )
            ok = False
        if ok:
            good_lanes.append(lane)

    for zone in raw.zones:
        if not zone.polygon.is_valid:
            problems.append(f"feature {zone.id}: zone polygon is invalid ({explain_validity(zone.polygon)})")
        elif zone.polygon.area <= 0:
            problems.append(f"feature {zone.id}: zone polygon has no area")

    zone_ids = {z.id for z in raw.zones}
    for station in raw.stations:
        if station.node is None:
            problems.append(f"feature {station.id}: station is not linked to a node (property 'node' missing)")
        elif station.node not in nodes:
            problems.append(f"feature {station.id}: station is linked to {station.node!r}, which is not a node")
        if station.zone is not None and station.zone not in zone_ids:
            problems.append(f"feature {station.id}: station names zone {station.zone!r}, which is not a zone")

    forbidden = [z for z in raw.zones if z.kind in FORBIDDEN_ZONE_KINDS and z.polygon.is_valid]
    if forbidden and good_lanes:
        corridors = [LineString(l.coords).buffer(l.width_m / 2.0) for l in good_lanes]
        tree = shapely.STRtree([z.polygon for z in forbidden])
        lane_idx, zone_idx = tree.query(corridors, predicate="intersects")
        for li, zi in sorted(set(zip(lane_idx.tolist(), zone_idx.tolist()))):
            overlap = corridors[li].intersection(forbidden[zi].polygon).area
            if overlap > 1e-6:
                problems.append(
                    f"feature {good_lanes[li].id}: lane crosses {forbidden[zi].kind} zone {forbidden[zi].id!r}"
                    f" ({overlap:.1f} m² of its corridor inside)"
                )

    problems.extend(_unreachable_stations(raw, good_lanes, nodes))
    return problems


def _unreachable_stations(raw: RawMap, lanes, nodes) -> list[str]:
    """Stations outside the strongly connected component holding most stations."""
    linked = [s for s in raw.stations if s.node in nodes]
    if len(linked) < 2:
        return []
    index = {nid: i for i, nid in enumerate(nodes)}
    rows, cols = [], []
    for lane in lanes:
        a, b = index[lane.from_node], index[lane.to_node]
        rows.append(a)
        cols.append(b)
        if lane.two_way:
            rows.append(b)
            cols.append(a)
    n = len(index)
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="strong")
    station_labels = [int(labels[index[s.node]]) for s in linked]
    main = Counter(station_labels).most_common(1)[0][0]
    return [
        f"feature {s.id}: station cannot reach or be reached from the other stations (node {s.node!r})"
        for s, label in zip(linked, station_labels)
        if label != main
    ]
