"""From parsed, validated features to the immutable :class:`~maps.trackmap.TrackMap`."""

from __future__ import annotations

import numpy as np

from maps.cells import build_cells
from maps.distances import node_travel_time_graph, station_travel_times
from maps.errors import MapValidationError
from maps.geojson import RawMap
from maps.trackmap import Station, TrackMap, Zone
from maps.validate import polyline_length_m, validate


def build_track_map(raw: RawMap, *, check: bool = True) -> TrackMap:
    """Validate ``raw`` (unless ``check`` is False) and build its :class:`TrackMap`.

    Raises
    ------
    MapValidationError
        With every problem found, when the map breaks any rule.
    """
    if check:
        problems = validate(raw)
        if problems:
            raise MapValidationError(raw.source, problems)

    node_ids = tuple(n.id for n in raw.nodes)
    node_index = {nid: i for i, nid in enumerate(node_ids)}
    node_xy = np.array([n.xy for n in raw.nodes], dtype=np.float64).reshape(len(node_ids), 2)

    lanes = raw.lanes
    lane_from = np.array([node_index[l.from_node] for l in lanes], dtype=np.int32)
    lane_to = np.array([node_index[l.to_node] for l in lanes], dtype=np.int32)
    # Snap lane ends onto their nodes so cells at junctions coincide exactly.
    geometry = []
    for l, a, b in zip(lanes, lane_from, lane_to):
        coords = np.array(l.coords, dtype=np.float64)
        coords[0], coords[-1] = node_xy[a], node_xy[b]
        geometry.append(coords)
    lane_length = np.array([polyline_length_m(g) for g in geometry], dtype=np.float64)
    lane_speed = np.array([l.speed_limit_mps for l in lanes], dtype=np.float64)
    lane_width = np.array([l.width_m for l in lanes], dtype=np.float64)
    lane_two_way = np.array([l.two_way for l in lanes], dtype=bool)

    # Node graph CSR: one entry per allowed traversal.
    back = np.nonzero(lane_two_way)[0]
    src = np.concatenate([lane_from, lane_to[back]]).astype(np.int64)
    dst = np.concatenate([lane_to, lane_from[back]]).astype(np.int32)
    lane_of = np.concatenate([np.arange(len(lanes)), back]).astype(np.int32)
    forward = np.concatenate([np.ones(len(lanes), bool), np.zeros(back.shape[0], bool)])
    order = np.lexsort((dst, src))
    node_indptr = np.zeros(len(node_ids) + 1, dtype=np.int64)
    np.add.at(node_indptr, src + 1, 1)
    np.cumsum(node_indptr, out=node_indptr)

    cells = build_cells(node_xy, lane_from, lane_to, tuple(geometry), lane_speed, lane_two_way, raw.cell_length_m, raw.vehicle)

    zones = tuple(Zone(z.id, z.kind, z.name, z.polygon, dict(z.properties)) for z in raw.zones)
    stations = tuple(Station(s.id, s.kind, s.name, node_index[s.node], s.zone) for s in raw.stations)  # type: ignore[index]
    station_nodes = np.array([s.node for s in stations], dtype=np.int64)
    graph = node_travel_time_graph(
        len(node_ids), lane_from, lane_to, lane_length, lane_speed, lane_two_way, raw.vehicle.max_speed_unladen_mps
    )
    tm = TrackMap(
        name=raw.name,
        crs=raw.crs,
        header=dict(raw.header),
        vehicle=raw.vehicle,
        cell_length_m=raw.cell_length_m,
        node_ids=node_ids,
        node_xy=node_xy,
        lane_ids=tuple(l.id for l in lanes),
        lane_from=lane_from,
        lane_to=lane_to,
        lane_length_m=lane_length,
        lane_speed_limit_mps=lane_speed,
        lane_width_m=lane_width,
        lane_two_way=lane_two_way,
        lane_geometry=tuple(geometry),
        node_adj_indptr=node_indptr,
        node_adj_to=dst[order],
        node_adj_lane=lane_of[order],
        node_adj_forward=forward[order],
        zones=zones,
        stations=stations,
        cell_xy=cells.cell_xy,
        cell_heading_rad=cells.cell_heading_rad,
        cell_lane=cells.cell_lane,
        cell_node=cells.cell_node,
        node_cell=cells.node_cell,
        station_cell=cells.node_cell[station_nodes].astype(np.int32) if len(stations) else np.zeros(0, np.int32),
        cell_adj_indptr=cells.adj_indptr,
        cell_adj_to=cells.adj_to,
        cell_adj_length_m=cells.adj_length_m,
        cell_adj_speed_limit_mps=cells.adj_speed_limit_mps,
        cell_adj_lane=cells.adj_lane,
        conflict_indptr=cells.conflict_indptr,
        conflict_indices=cells.conflict_indices,
        station_travel_time_s=station_travel_times(graph, station_nodes),
        station_index={s.id: i for i, s in enumerate(stations)},
        zone_index={z.id: i for i, z in enumerate(zones)},
        node_index=node_index,
    )
    for value in vars(tm).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    for g in tm.lane_geometry:
        g.flags.writeable = False
    return tm
