"""Shortest travel times on a track map (scipy's Dijkstra over CSR arrays).

Planners and the allocator need travel-time estimates thousands of times a second, so
these tables are computed once with compiled code, never per call with networkx.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


def _min_weight_csr(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n: int) -> csr_matrix:
    """A CSR matrix keeping the smallest weight of parallel edges (scipy would sum them)."""
    order = np.lexsort((weights, cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    first = np.ones(rows.shape[0], dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    # Zero-weight edges would vanish from a sparse matrix; keep them tiny but present.
    return csr_matrix((np.maximum(weights[first], 1e-9), (rows[first], cols[first])), shape=(n, n))


def node_travel_time_graph(
    n_nodes: int,
    lane_from: np.ndarray,
    lane_to: np.ndarray,
    lane_length_m: np.ndarray,
    lane_speed_limit_mps: np.ndarray,
    lane_two_way: np.ndarray,
    max_speed_mps: float,
) -> csr_matrix:
    """Directed node graph weighted by travel time at min(lane limit, ``max_speed_mps``)."""
    t = lane_length_m / np.minimum(lane_speed_limit_mps, max_speed_mps)
    back = np.nonzero(lane_two_way)[0]
    rows = np.concatenate([lane_from, lane_to[back]]).astype(np.int64)
    cols = np.concatenate([lane_to, lane_from[back]]).astype(np.int64)
    return _min_weight_csr(rows, cols, np.concatenate([t, t[back]]), n_nodes)


def station_travel_times(graph: csr_matrix, station_nodes: np.ndarray) -> np.ndarray:
    """(S, S) shortest travel times between stations; ``inf`` where unreachable."""
    if station_nodes.shape[0] == 0:
        return np.zeros((0, 0))
    dist = dijkstra(graph, directed=True, indices=station_nodes)
    return np.ascontiguousarray(dist[:, station_nodes])


def cell_travel_time_to(
    adj_indptr: np.ndarray,
    adj_to: np.ndarray,
    adj_length_m: np.ndarray,
    adj_speed_limit_mps: np.ndarray,
    targets: np.ndarray,
    max_speed_mps: float,
) -> np.ndarray:
    """Shortest travel time (s) from every cell to the nearest of ``targets``.

    Parameters
    ----------
    adj_indptr, adj_to, adj_length_m, adj_speed_limit_mps
        The cell graph CSR of a :class:`~maps.trackmap.TrackMap`.
    targets : array of int
        Target cells.
    max_speed_mps : float
        The vehicle's top speed; each move takes length / min(limit, this).

    Returns
    -------
    (C,) float64, ``inf`` where no target can be reached.
    """
    n = adj_indptr.shape[0] - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(adj_indptr))
    weights = adj_length_m / np.minimum(adj_speed_limit_mps, max_speed_mps)
    # Reverse the graph so one Dijkstra from the targets gives distances *to* them.
    reverse = _min_weight_csr(adj_to.astype(np.int64), rows, weights, n)
    dist = dijkstra(reverse, directed=True, indices=np.asarray(targets, dtype=np.int64), min_only=True)
    return np.asarray(dist, dtype=np.float64)
