"""Part of the way (fleet.core.advance): stuck vehicles move up as far as the road is free."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fleet.core.advance import first_stood_on, lone_route, part_of_the_way, waiting_cells
from fleet.core.traffic import Traffic
from maps import load_track_map
from maps.builder import MapBuilder
from planner.sipp import RoutingGraph
from tests.fleet.core.test_planning import overlaps_of


@pytest.fixture(scope="module")
def loop_with_exit(tmp_path_factory):
    """A one-way loop 300 x 60 m (anticlockwise: east along y=0, west along y=60) with a
    one-way exit going west from its south-west corner, and a two-way bay off the exit."""
    b = MapBuilder(name="loop_exit", cell_length_m=8.0)
    for name, x, y in (("w", 0, 0), ("e", 300, 0), ("e2", 300, 60), ("w2", 0, 60), ("x", -200, 0), ("b", -100, -40)):
        b.node(name, x, y)
    b.lane("south", "w", "e", speed_limit_mps=8.3)
    b.lane("east", "e", "e2", speed_limit_mps=4.0)
    b.lane("north", "e2", "w2", speed_limit_mps=8.3)
    b.lane("west", "w2", "w", speed_limit_mps=4.0)
    b.lane("exit", "w", "x", speed_limit_mps=8.3)
    b.lane("bay", "x", "b", speed_limit_mps=2.0, two_way=True)
    path = tmp_path_factory.mktemp("maps") / "loop_exit.geojson"
    path.write_text(json.dumps(b.geojson()))
    return load_track_map(path)


def _nearest(tm, x: float, y: float) -> int:
    return int(np.argmin(np.hypot(tm.cell_xy[:, 0] - tm.cell_xy[:, 0].min() - 200.0 - x,
                                  tm.cell_xy[:, 1] - tm.cell_xy[:, 1].min() - 40.0 - y)))


def test_waiting_cells_are_one_way_lane_cells_clear_of_junctions(loop_with_exit):
    tm = loop_with_exit
    ok = waiting_cells(tm)
    junctions = np.nonzero(tm.cell_lane < 0)[0]
    assert ok.any()
    assert not ok[junctions].any()
    for c in np.nonzero(ok)[0]:
        assert not np.isin(tm.cell_conflicts(int(c)), junctions).any()
        assert not tm.lane_two_way[tm.cell_lane[c]]
    assert not ok[_nearest(tm, -100.0, -20.0)]  # on the two-way bay
    assert ok[_nearest(tm, 150.0, 0.0)]  # mid-lane on the loop


def test_lone_route_is_a_shortest_route(loop_with_exit):
    tm = loop_with_exit
    g = RoutingGraph(tm)
    start, goal = _nearest(tm, 150.0, 60.0), _nearest(tm, -150.0, 0.0)
    route = lone_route(g, start, goal, 8.3)
    assert route[0] == start and route[-1] == goal
    h = g.time_to(goal, 8.3)
    assert all(h[a] > h[b] for a, b in zip(route, route[1:]))  # every step closer
    assert lone_route(g, goal, start, 8.3) is None  # the exit leads nowhere back


def test_nothing_standing_on_the_route_means_no_part_way_leg(loop_with_exit):
    tm = loop_with_exit
    t = Traffic(tm)
    t.add_vehicle("A", _nearest(tm, 150.0, 60.0), 0.0)
    r = t.leg_request("A", _nearest(tm, -150.0, 0.0), 10.0)
    route = lone_route(t.graph, r.start_cell, r.goal_cell, r.speed_mps)
    active = t.table.all_active()
    active[r.owner] = False
    assert first_stood_on(t.table, route, active) == len(route)
    assert part_of_the_way(t.graph, t.table, r, route, t.waiting, max_expansions=t.max_expansions) is None


def test_two_queues_closing_a_loop_move_up_instead_of_standing_for_ever_regression_disruption_jam(loop_with_exit):
    """disruption bench, 10:32: igv-028 stood on the north loop where igv-021 had to pass;
    igv-021 stood at the junction igv-028 had to pass, and igv-028's way on was stood on
    too (the queue over the bridge). Neither could be planned, alone or as a group, for
    the rest of the day. Here A waits on the west lane, B on the north lane with its goal
    down the exit, where C stands: B moves up behind A's junction, and then A can go."""
    tm = loop_with_exit
    t = Traffic(tm)
    a, b, c = _nearest(tm, 0.0, 30.0), _nearest(tm, 150.0, 60.0), _nearest(tm, -120.0, 0.0)
    t.add_vehicle("A", a, 0.0)
    t.add_vehicle("B", b, 0.0)
    t.add_vehicle("C", c, 0.0)
    goal_a, goal_b = _nearest(tm, 100.0, 60.0), _nearest(tm, -180.0, 0.0)
    ra, rb = t.leg_request("A", goal_a, 10.0), t.leg_request("B", goal_b, 10.0)
    assert t.plan_now(ra)[0] is None and t.plan_now(rb)[0] is None
    assert t.plan_group([ra, rb]) == []
    before = {v: t.graph.time_to(g, 8.3)[int(t.paths[t.index[v]].cells[-1])] for v, g in (("A", goal_a), ("B", goal_b))}
    moved = t.move_up([ra, rb])
    assert moved, "nobody moved up"
    assert overlaps_of(t) == []
    for r, cells in moved:
        assert t.waiting[cells[-1]]  # waits out of junctions
        goal = goal_a if r.vehicle == "A" else goal_b
        assert t.graph.time_to(goal, 8.3)[cells[-1]] < before[r.vehicle]  # strictly closer to its goal
    # once the loop is open, A's whole leg can be planned
    if "A" not in {r.vehicle for r, _ in moved}:
        assert t.plan_now(t.leg_request("A", goal_a, 10.0))[0] is not None
    # C still stands where it was, and nobody was moved onto it
    assert int(t.paths[t.index["C"]].cells[-1]) == c


def test_move_up_refuses_stale_requests(loop_with_exit):
    tm = loop_with_exit
    t = Traffic(tm)
    t.add_vehicle("A", _nearest(tm, 0.0, 30.0), 0.0)
    r = t.leg_request("A", _nearest(tm, 100.0, 60.0), 10.0)
    assert t.plan_now(r)[0] is not None  # its path changed since r was made
    t.finish_leg("A", 50.0)
    assert t.move_up([r]) == []
