"""Cutting lanes into cells and building the cell graph and the conflict table.

Design section 4: lanes are cut into cells of at most ``cell_length_m``. Every node is a
cell; each lane of length L is cut into ``ceil(L / cell_length_m)`` equal pieces whose
interior cut points are cells too. A cell stands for the stretch of lane within half a
piece of its point. Its *footprint* is the region the vehicle rectangle (length x width,
plus ``margin_m`` on every side, rotated along the lane) can cover while its reference
point is anywhere on that stretch: the convex hull of the rectangles swept along each
straight sub-segment of the stretch, plus one rectangle at every polyline vertex turned to
the bisector heading. The hull over-approximates a curved stretch slightly, which errs on
the safe side (more conflicts, never fewer).

Two cells conflict when their footprints intersect (touching counts). The broad phase
and the exact test are shapely's STRtree query with the ``intersects`` predicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from maps.trackmap import VehicleSpec


@dataclass(frozen=True)
class CellModel:
    """Cells, the cell graph and the conflict table, as plain arrays."""

    cell_xy: np.ndarray
    cell_heading_rad: np.ndarray
    cell_lane: np.ndarray
    cell_node: np.ndarray
    node_cell: np.ndarray
    adj_indptr: np.ndarray
    adj_to: np.ndarray
    adj_length_m: np.ndarray
    adj_speed_limit_mps: np.ndarray
    adj_lane: np.ndarray
    conflict_indptr: np.ndarray
    conflict_indices: np.ndarray


def _arc_lengths(coords: np.ndarray) -> np.ndarray:
    seg = np.hypot(*np.diff(coords, axis=0).T)
    return np.concatenate([[0.0], np.cumsum(seg)])


def _point_at(coords: np.ndarray, s_cum: np.ndarray, s: float) -> np.ndarray:
    return np.array([np.interp(s, s_cum, coords[:, 0]), np.interp(s, s_cum, coords[:, 1])])


def _heading_at(coords: np.ndarray, s_cum: np.ndarray, s: float) -> float:
    k = int(np.clip(np.searchsorted(s_cum, s, side="right") - 1, 0, len(coords) - 2))
    d = coords[k + 1] - coords[k]
    return math.atan2(d[1], d[0])


def _rect_corners(center: np.ndarray, heading: float, half_len: float, half_wid: float) -> np.ndarray:
    u = np.array([math.cos(heading), math.sin(heading)])
    n = np.array([-u[1], u[0]])
    return np.array(
        [
            center + half_len * u + half_wid * n,
            center + half_len * u - half_wid * n,
            center - half_len * u - half_wid * n,
            center - half_len * u + half_wid * n,
        ]
    )


def _stretch_corners(coords, s_cum, s0, s1, half_len, half_wid) -> list[np.ndarray]:
    """Corners of the rectangles swept along the sub-polyline [s0, s1]."""
    inner = [k for k in range(1, len(coords) - 1) if s0 < s_cum[k] < s1]
    points = [_point_at(coords, s_cum, s0)] + [coords[k] for k in inner] + [_point_at(coords, s_cum, s1)]
    out = []
    for p, q in zip(points[:-1], points[1:]):
        d = q - p
        seg = float(np.hypot(*d))
        heading = math.atan2(d[1], d[0]) if seg > 0 else _heading_at(coords, s_cum, s0)
        out.append(_rect_corners((p + q) / 2.0, heading, seg / 2.0 + half_len, half_wid))
    for k in inner:
        h_in = math.atan2(*(coords[k] - coords[k - 1])[::-1])
        h_out = math.atan2(*(coords[k + 1] - coords[k])[::-1])
        bisector = h_in + math.atan2(math.sin(h_out - h_in), math.cos(h_out - h_in)) / 2.0
        out.append(_rect_corners(coords[k], bisector, half_len, half_wid))
    return out


def build_cells(
    node_xy: np.ndarray,
    lane_from: np.ndarray,
    lane_to: np.ndarray,
    lane_geometry: tuple[np.ndarray, ...],
    lane_speed_limit_mps: np.ndarray,
    lane_two_way: np.ndarray,
    cell_length_m: float,
    vehicle: VehicleSpec,
) -> CellModel:
    """Cut every lane into cells and build the cell graph and the conflict table."""
    n_nodes = node_xy.shape[0]
    half_len = vehicle.length_m / 2.0 + vehicle.margin_m
    half_wid = vehicle.width_m / 2.0 + vehicle.margin_m

    xy = [tuple(p) for p in node_xy]
    heading = [math.nan] * n_nodes
    cell_lane = [-1] * n_nodes
    cell_node = list(range(n_nodes))
    src, dst, length, speed, lane_of = [], [], [], [], []
    corner_owner: list[int] = []
    corner_blocks: list[np.ndarray] = []

    for lane, coords in enumerate(lane_geometry):
        s_cum = _arc_lengths(coords)
        total = float(s_cum[-1])
        pieces = max(1, math.ceil(total / cell_length_m - 1e-9))
        cuts = np.linspace(0.0, total, pieces + 1)
        a, b = int(lane_from[lane]), int(lane_to[lane])
        chain = [a]
        for s in cuts[1:-1]:
            chain.append(len(xy))
            xy.append(tuple(_point_at(coords, s_cum, s)))
            heading.append(_heading_at(coords, s_cum, s))
            cell_lane.append(lane)
            cell_node.append(-1)
        chain.append(b)
        h0 = _heading_at(coords, s_cum, 0.0)
        if math.isnan(heading[a]):
            heading[a] = h0
        if math.isnan(heading[b]):
            heading[b] = _heading_at(coords, s_cum, total)
        for j in range(pieces):
            piece_m = float(cuts[j + 1] - cuts[j])
            mid = float(cuts[j] + cuts[j + 1]) / 2.0
            for owner, (s0, s1) in ((chain[j], (cuts[j], mid)), (chain[j + 1], (mid, cuts[j + 1]))):
                for corners in _stretch_corners(coords, s_cum, float(s0), float(s1), half_len, half_wid):
                    corner_blocks.append(corners)
                    corner_owner.append(owner)
            edges = [(chain[j], chain[j + 1])]
            if lane_two_way[lane]:
                edges.append((chain[j + 1], chain[j]))
            for u, v in edges:
                src.append(u)
                dst.append(v)
                length.append(piece_m)
                speed.append(float(lane_speed_limit_mps[lane]))
                lane_of.append(lane)

    n_cells = len(xy)
    cell_xy = np.asarray(xy, dtype=np.float64).reshape(n_cells, 2)
    cell_heading = np.nan_to_num(np.asarray(heading, dtype=np.float64), nan=0.0)

    # Cell graph as CSR, sorted by source then target for reproducible iteration order.
    src_a = np.asarray(src, dtype=np.int64)
    dst_a = np.asarray(dst, dtype=np.int64)
    order = np.lexsort((dst_a, src_a))
    adj_indptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.add.at(adj_indptr, src_a + 1, 1)
    np.cumsum(adj_indptr, out=adj_indptr)

    conflict_indptr, conflict_indices = _conflict_table(n_cells, cell_xy, corner_owner, corner_blocks, half_len, half_wid)
    return CellModel(
        cell_xy=cell_xy,
        cell_heading_rad=cell_heading,
        cell_lane=np.asarray(cell_lane, dtype=np.int32),
        cell_node=np.asarray(cell_node, dtype=np.int32),
        node_cell=np.arange(n_nodes, dtype=np.int32),
        adj_indptr=adj_indptr,
        adj_to=dst_a[order].astype(np.int32),
        adj_length_m=np.asarray(length, dtype=np.float64)[order],
        adj_speed_limit_mps=np.asarray(speed, dtype=np.float64)[order],
        adj_lane=np.asarray(lane_of, dtype=np.int32)[order],
        conflict_indptr=conflict_indptr,
        conflict_indices=conflict_indices,
    )


def cell_footprints(n_cells, cell_xy, corner_owner, corner_blocks, half_len, half_wid) -> np.ndarray:
    """One convex footprint polygon per cell (array of shapely geometries)."""
    owner = np.asarray(corner_owner, dtype=np.int64)
    present = np.zeros(n_cells, dtype=bool)
    present[owner] = True
    # A node no lane touches still occupies the ground under a parked vehicle.
    lonely = np.nonzero(~present)[0]
    blocks = list(corner_blocks) + [_rect_corners(cell_xy[c], 0.0, half_len, half_wid) for c in lonely]
    owner = np.concatenate([owner, lonely]).astype(np.int64)
    points = np.concatenate(blocks) if blocks else np.zeros((0, 2))
    point_owner = np.repeat(owner, 4)
    order = np.argsort(point_owner, kind="stable")
    multipoints = shapely.multipoints(points[order], indices=point_owner[order])
    return shapely.convex_hull(multipoints)


def _conflict_table(n_cells, cell_xy, corner_owner, corner_blocks, half_len, half_wid):
    footprints = cell_footprints(n_cells, cell_xy, corner_owner, corner_blocks, half_len, half_wid)
    tree = shapely.STRtree(footprints)
    left, right = tree.query(footprints, predicate="intersects")
    pairs = np.concatenate([np.stack([left, right]), np.stack([right, left]), np.tile(np.arange(n_cells), (2, 1))], axis=1)
    keys = np.unique(pairs[0].astype(np.int64) * n_cells + pairs[1])
    rows = keys // n_cells
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    np.cumsum(indptr, out=indptr)
    return indptr, (keys % n_cells).astype(np.int32)
