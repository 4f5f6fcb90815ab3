"""The immutable :class:`TrackMap`: everything planners need, as NumPy arrays.

A track map is built once (``maps.build.build_track_map``) from parsed features and never
changes afterwards. All positions are metres in the map's projected CRS (x east, y north);
headings are radians counter-clockwise from east.

Three graphs live in a map:

* the **node graph**: nodes joined by lanes (a two-way lane is traversable both ways);
* the **cell graph**: every node is a cell and every lane is cut into pieces of at most
  ``cell_length_m``; the interior cut points are cells too. A vehicle's reference point is
  "in" the cell nearest to it along its lane. Moves go from a cell to the next cell
  along a lane, in the lane's allowed directions;
* the **conflict table**: two cells conflict when the vehicle footprints swept over their
  stretches of lane (length x width plus a safety margin on every side) intersect. Every
  cell conflicts with itself. Stored as symmetric CSR arrays.

For a MovingAI grid (``grid`` is set) cells are the free grid cells, moves are the four
unit moves, and each cell conflicts only with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np
from shapely.geometry import Polygon

ZONE_KINDS = (
    "yard_block",
    "scanner",
    "lab",
    "inspection",
    "charging",
    "parking",
    "handover",
    "bridge",
    "gate",
    "building",
    "no_go",
)
"""Zone kinds of design section 4."""

STATION_KINDS = (
    "crane_transfer",
    "scanner_bay",
    "lab_bay",
    "inspection_bay",
    "charger",
    "parking",
    "truck_exchange",
    "handover",
)
"""Station kinds: crane transfer points, scanner bays, lab and inspection-hold bays,
charger bays, parking spots, truck exchange points at the gate, handover transfer points."""

FORBIDDEN_ZONE_KINDS = ("building", "no_go")
"""Zones no lane and no vehicle footprint may enter."""


@dataclass(frozen=True)
class VehicleSpec:
    """The footprint the conflict table is built for (design default 15.5 m x 3.0 m)."""

    length_m: float = 15.5
    width_m: float = 3.0
    margin_m: float = 0.5
    max_speed_unladen_mps: float = 8.3
    max_speed_laden_mps: float = 5.6


@dataclass(frozen=True)
class Zone:
    """A polygon of one kind, in projected metres."""

    id: str
    kind: str
    name: str
    polygon: Polygon
    properties: Mapping[str, Any] = field(default_factory=dict)
    """Extra properties, e.g. ``bays``, ``rows``, ``tiers``, ``reefer_rows`` on a yard block."""


@dataclass(frozen=True)
class Station:
    """A place a vehicle stops at, linked to one node (and so to one cell)."""

    id: str
    kind: str
    name: str
    node: int
    zone_id: str | None


@dataclass(frozen=True)
class GridInfo:
    """The MovingAI special case: which grid cell each map cell is."""

    width: int
    height: int
    free: np.ndarray  # (height, width) bool
    cell_of: np.ndarray  # (height, width) int32, -1 where blocked
    source: str


@dataclass(frozen=True, eq=False)
class TrackMap:
    """An immutable, fully built track map. See the module docstring for the model.

    Array attributes are read-only NumPy arrays; ``*_indptr`` / ``*_to`` pairs are CSR:
    the outgoing entries of row ``i`` are ``[indptr[i], indptr[i + 1])``.
    """

    name: str
    crs: str
    header: Mapping[str, Any]
    vehicle: VehicleSpec
    cell_length_m: float

    # nodes
    node_ids: tuple[str, ...]
    node_xy: np.ndarray  # (N, 2) float64

    # lanes, as drawn (a two-way lane appears once)
    lane_ids: tuple[str, ...]
    lane_from: np.ndarray  # (L,) int32 node index
    lane_to: np.ndarray  # (L,) int32 node index
    lane_length_m: np.ndarray  # (L,) float64
    lane_speed_limit_mps: np.ndarray  # (L,) float64
    lane_width_m: np.ndarray  # (L,) float64
    lane_two_way: np.ndarray  # (L,) bool
    lane_geometry: tuple[np.ndarray, ...]  # (k, 2) polylines from lane_from to lane_to

    # node graph, one row per node, one entry per allowed traversal
    node_adj_indptr: np.ndarray  # (N + 1,) int64
    node_adj_to: np.ndarray  # (E,) int32
    node_adj_lane: np.ndarray  # (E,) int32
    node_adj_forward: np.ndarray  # (E,) bool: along the drawn direction

    zones: tuple[Zone, ...]
    stations: tuple[Station, ...]

    # cells
    cell_xy: np.ndarray  # (C, 2) float64, the cell's reference point
    cell_heading_rad: np.ndarray  # (C,) float64, lane direction at the point (drawn direction)
    cell_lane: np.ndarray  # (C,) int32, -1 for node cells
    cell_node: np.ndarray  # (C,) int32, -1 for interior cells
    node_cell: np.ndarray  # (N,) int32
    station_cell: np.ndarray  # (S,) int32

    # cell graph (directed moves between adjacent cells)
    cell_adj_indptr: np.ndarray  # (C + 1,) int64
    cell_adj_to: np.ndarray  # (M,) int32
    cell_adj_length_m: np.ndarray  # (M,) float64
    cell_adj_speed_limit_mps: np.ndarray  # (M,) float64
    cell_adj_lane: np.ndarray  # (M,) int32

    # conflict table, symmetric, self included
    conflict_indptr: np.ndarray  # (C + 1,) int64
    conflict_indices: np.ndarray  # (K,) int32

    # shortest travel time between stations at min(lane limit, unladen speed); inf if none
    station_travel_time_s: np.ndarray  # (S, S) float64

    grid: GridInfo | None = None
    station_index: Mapping[str, int] = field(default_factory=dict)
    zone_index: Mapping[str, int] = field(default_factory=dict)
    node_index: Mapping[str, int] = field(default_factory=dict)

    # ---- sizes ---------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_lanes(self) -> int:
        return len(self.lane_ids)

    @property
    def n_cells(self) -> int:
        return int(self.cell_xy.shape[0])

    @property
    def n_stations(self) -> int:
        return len(self.stations)

    @property
    def n_conflict_pairs(self) -> int:
        """Unordered pairs of distinct cells that conflict."""
        return int((self.conflict_indices.shape[0] - self.n_cells) // 2)

    # ---- look-ups ------------------------------------------------------------------
    def station(self, station_id: str) -> Station:
        """The station with this id; :class:`~maps.errors.InputError` if there is none."""
        from maps.errors import InputError

        index = self.station_index.get(station_id)
        if index is None:
            raise InputError(f"unknown station {station_id!r} on map {self.name!r}")
        return self.stations[index]

    def station_cell_of(self, station_id: str) -> int:
        """The cell a vehicle occupies when it stands at this station."""
        return int(self.station_cell[self.station_index_of(station_id)])

    def station_index_of(self, station_id: str) -> int:
        from maps.errors import InputError

        index = self.station_index.get(station_id)
        if index is None:
            raise InputError(f"unknown station {station_id!r} on map {self.name!r}")
        return index

    def station_side(self, station_id: str) -> str | None:
        """The ``yard`` property (``export``/``import``) of the zone the station serves.

        None when the station names no zone or its zone serves both directions.
        """
        self.station(station_id)  # unknown station: InputError
        return self._station_sides[station_id]

    @cached_property
    def _station_sides(self) -> dict[str, str | None]:
        # PERF: built once per map; the core asks for every candidate station every tick.
        sides: dict[str, str | None] = {}
        for s in self.stations:
            zone = self.zones[self.zone_index[s.zone_id]] if s.zone_id in self.zone_index else None
            side = zone.properties.get("yard") if zone is not None else None
            sides[s.id] = str(side) if side is not None else None
        return sides

    @cached_property
    def _station_indices_by_kind(self) -> dict[str, tuple[int, ...]]:
        # PERF: built once per map; the core looks for free stations of a kind every tick.
        out: dict[str, list[int]] = {}
        for i, s in enumerate(self.stations):
            out.setdefault(s.kind, []).append(i)
        return {kind: tuple(ix) for kind, ix in out.items()}

    def station_indices_of_kind(self, kind: str) -> tuple[int, ...]:
        """Indices into :attr:`stations` of the stations of ``kind``, in map order."""
        return self._station_indices_by_kind.get(kind, ())

    def stations_of_kind(self, kind: str) -> tuple[Station, ...]:
        return tuple(self.stations[i] for i in self.station_indices_of_kind(kind))

    def zones_of_kind(self, kind: str) -> tuple[Zone, ...]:
        return tuple(z for z in self.zones if z.kind == kind)

    def cell_successors(self, cell: int) -> np.ndarray:
        return self.cell_adj_to[self.cell_adj_indptr[cell] : self.cell_adj_indptr[cell + 1]]

    def cell_conflicts(self, cell: int) -> np.ndarray:
        """Cells whose placement conflicts with ``cell`` (``cell`` itself included)."""
        return self.conflict_indices[self.conflict_indptr[cell] : self.conflict_indptr[cell + 1]]

    def cells_conflict(self, a: int, b: int) -> bool:
        row = self.cell_conflicts(a)
        i = int(np.searchsorted(row, b))
        return i < row.shape[0] and int(row[i]) == b

    def lane_km(self) -> float:
        return float(self.lane_length_m.sum()) / 1000.0

    # ---- views ---------------------------------------------------------------------
    def to_networkx(self, level: str = "node"):
        """A ``networkx.DiGraph`` view for inspection and tests (never used for planning).

        ``level="node"``: nodes are node ids, edges carry ``lane``, ``length_m`` and
        ``speed_limit_mps``. ``level="cell"``: nodes are cell indices, edges carry
        ``length_m`` and ``speed_limit_mps``.
        """
        import networkx as nx

        graph = nx.DiGraph(name=self.name)
        if level == "node":
            for i, node_id in enumerate(self.node_ids):
                graph.add_node(node_id, x=float(self.node_xy[i, 0]), y=float(self.node_xy[i, 1]))
            for i in range(self.n_nodes):
                for e in range(self.node_adj_indptr[i], self.node_adj_indptr[i + 1]):
                    lane = int(self.node_adj_lane[e])
                    graph.add_edge(
                        self.node_ids[i],
                        self.node_ids[int(self.node_adj_to[e])],
                        lane=self.lane_ids[lane],
                        length_m=float(self.lane_length_m[lane]),
                        speed_limit_mps=float(self.lane_speed_limit_mps[lane]),
                    )
        elif level == "cell":
            for c in range(self.n_cells):
                graph.add_node(c, x=float(self.cell_xy[c, 0]), y=float(self.cell_xy[c, 1]))
            for c in range(self.n_cells):
                for e in range(self.cell_adj_indptr[c], self.cell_adj_indptr[c + 1]):
                    graph.add_edge(
                        c,
                        int(self.cell_adj_to[e]),
                        length_m=float(self.cell_adj_length_m[e]),
                        speed_limit_mps=float(self.cell_adj_speed_limit_mps[e]),
                    )
        else:
            raise ValueError(f"level must be 'node' or 'cell', not {level!r}")
        return graph

    def summary(self) -> dict[str, Any]:
        """The figures ``igv map validate`` prints."""
        stations_by_kind: dict[str, int] = {}
        for s in self.stations:
            stations_by_kind[s.kind] = stations_by_kind.get(s.kind, 0) + 1
        zones_by_kind: dict[str, int] = {}
        for z in self.zones:
            zones_by_kind[z.kind] = zones_by_kind.get(z.kind, 0) + 1
        return {
            "map": self.name,
            "crs": self.crs,
            "nodes": self.n_nodes,
            "lanes": self.n_lanes,
            "lane_km": round(self.lane_km(), 3),
            "cells": self.n_cells,
            "conflict_pairs": self.n_conflict_pairs,
            "stations": self.n_stations,
            "stations_by_kind": dict(sorted(stations_by_kind.items())),
            "zones_by_kind": dict(sorted(zones_by_kind.items())),
        }
