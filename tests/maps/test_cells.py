"""The conflict table on hand-made geometry, and the cell graph."""

from __future__ import annotations

import numpy as np
import pytest

from maps.builder import MapBuilder


def crossing_map():
    """Two 200 m two-way lanes crossing at right angles at (0, 0)."""
    b = MapBuilder(name="cross")
    for nid, x, y in (("w", -100, 0), ("e", 100, 0), ("s", 0, -100), ("n", 0, 100)):
        b.node(nid, x, y)
    b.lane("we", "w", "e", two_way=True)
    b.lane("sn", "s", "n", two_way=True)
    return b.build()


def parallel_map(gap_m: float):
    b = MapBuilder(name="parallel")
    b.node("a0", 0, 0)
    b.node("a1", 80, 0)
    b.node("b0", 0, gap_m)
    b.node("b1", 80, gap_m)
    b.lane("a", "a0", "a1", two_way=True)
    b.lane("b", "b0", "b1", two_way=True)
    return b.build()


def cells_of_lane(tm, lane_id):
    lane = tm.lane_ids.index(lane_id)
    interior = np.nonzero(tm.cell_lane == lane)[0]
    return np.concatenate([[tm.node_cell[tm.lane_from[lane]]], interior, [tm.node_cell[tm.lane_to[lane]]]])


def local(tm, cells):
    return tm.cell_xy[cells] - tm.cell_xy[cells].mean(axis=0) if len(cells) else tm.cell_xy[cells]


def test_crossing_lanes_conflict_near_the_crossing_only():
    tm = crossing_map()
    we, sn = cells_of_lane(tm, "we"), cells_of_lane(tm, "sn")
    origin = (tm.cell_xy[we[0]] + tm.cell_xy[we[-1]]) / 2.0
    near_we = [c for c in we if np.hypot(*(tm.cell_xy[c] - origin)) < 5.0]
    near_sn = [c for c in sn if np.hypot(*(tm.cell_xy[c] - origin)) < 5.0]
    assert near_we and near_sn
    for a in near_we:
        for b in near_sn:
            assert tm.cells_conflict(a, b)
    far_we = [c for c in we if np.hypot(*(tm.cell_xy[c] - origin)) > 20.0]
    far_sn = [c for c in sn if np.hypot(*(tm.cell_xy[c] - origin)) > 20.0]
    for a in far_we:
        for b in far_sn:
            assert not tm.cells_conflict(a, b)


def test_cell_beside_crossing_conflicts_within_half_a_vehicle():
    tm = crossing_map()
    we, sn = cells_of_lane(tm, "we"), cells_of_lane(tm, "sn")
    origin = (tm.cell_xy[we[0]] + tm.cell_xy[we[-1]]) / 2.0
    # A vehicle centred 8 m from the crossing on one lane still overlaps the other lane's centre cell.
    centre_sn = min(sn, key=lambda c: np.hypot(*(tm.cell_xy[c] - origin)))
    at_8m = min(we, key=lambda c: abs(np.hypot(*(tm.cell_xy[c] - origin)) - 8.0))
    assert tm.cells_conflict(at_8m, centre_sn)


@pytest.mark.parametrize("gap_m, expected", [(5.0, False), (2.5, True)])
def test_parallel_lanes(gap_m, expected):
    tm = parallel_map(gap_m)
    a, b = cells_of_lane(tm, "a"), cells_of_lane(tm, "b")
    any_conflict = any(tm.cells_conflict(i, j) for i in a for j in b)
    assert any_conflict is expected


def test_cells_along_a_lane_conflict_within_a_vehicle_length(loop_map):
    tm = parallel_map(5.0)
    cells = cells_of_lane(tm, "a")
    s = tm.cell_xy[cells, 0] - tm.cell_xy[cells[0], 0]
    reach = tm.vehicle.length_m + 2 * tm.vehicle.margin_m
    for i, ci in enumerate(cells):
        for j, cj in enumerate(cells):
            d = abs(s[i] - s[j])
            if d <= reach - 1e-6:
                assert tm.cells_conflict(ci, cj), (i, j, d)
            elif d > reach + tm.cell_length_m + 1e-6:
                assert not tm.cells_conflict(ci, cj), (i, j, d)


def test_conflict_table_is_symmetric_and_reflexive(default_map):
    tm = default_map
    n = tm.n_cells
    rows = np.repeat(np.arange(n), np.diff(tm.conflict_indptr))
    pairs = set(zip(rows.tolist(), tm.conflict_indices.tolist()))
    assert all((b, a) in pairs for a, b in pairs)
    assert all((c, c) in pairs for c in range(n))
    for c in range(n):
        row = tm.cell_conflicts(c)
        assert np.all(np.diff(row) > 0), "rows are sorted without duplicates"


def test_cells_are_at_most_a_cell_length_apart(default_map):
    tm = default_map
    assert np.all(tm.cell_adj_length_m <= tm.cell_length_m + 1e-6)
    assert np.all(tm.cell_adj_length_m > 0)


def test_cell_graph_follows_lane_direction(loop_map):
    tm = loop_map
    lane = tm.lane_ids.index("ab")
    a, b = tm.node_cell[tm.lane_from[lane]], tm.node_cell[tm.lane_to[lane]]
    chain = [a]
    while chain[-1] != b:
        nxt = [c for c in tm.cell_successors(chain[-1]) if tm.cell_lane[c] == lane or c == b]
        assert len(nxt) == 1
        chain.append(int(nxt[0]))
    assert len(chain) == int(np.ceil(60 / tm.cell_length_m)) + 1
    # one-way: no move back along the lane
    assert a not in tm.cell_successors(chain[1])


def test_two_way_lane_moves_both_ways(loop_map):
    tm = loop_map
    e = tm.node_cell[tm.node_index["e"]]
    assert len(tm.cell_successors(e)) == 1
    back = tm.cell_successors(int(tm.cell_successors(e)[0]))
    assert e in back


def test_arrays_are_read_only(loop_map):
    with pytest.raises(ValueError):
        loop_map.cell_xy[0, 0] = 1.0


def test_networkx_views_match_arrays(loop_map):
    g = loop_map.to_networkx("node")
    assert g.number_of_nodes() == loop_map.n_nodes
    assert g.number_of_edges() == loop_map.node_adj_to.shape[0]
    gc = loop_map.to_networkx("cell")
    assert gc.number_of_edges() == loop_map.cell_adj_to.shape[0]


def test_station_travel_times_match_networkx(loop_map):
    import networkx as nx

    tm = loop_map
    g = tm.to_networkx("node")
    for u, v, d in g.edges(data=True):
        d["t"] = d["length_m"] / min(d["speed_limit_mps"], tm.vehicle.max_speed_unladen_mps)
    for i, si in enumerate(tm.stations):
        for j, sj in enumerate(tm.stations):
            expected = nx.shortest_path_length(g, tm.node_ids[si.node], tm.node_ids[sj.node], weight="t")
            assert tm.station_travel_time_s[i, j] == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_cell_travel_time_to_targets(loop_map):
    from maps.distances import cell_travel_time_to

    tm = loop_map
    goal = tm.station_cell_of("s-c")
    t = cell_travel_time_to(tm.cell_adj_indptr, tm.cell_adj_to, tm.cell_adj_length_m, tm.cell_adj_speed_limit_mps, np.array([goal]), 8.3)
    assert t[goal] == 0.0
    assert t[tm.station_cell_of("s-a")] == pytest.approx(tm.station_travel_time_s[0, 1], rel=1e-6)
