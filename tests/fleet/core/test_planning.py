"""Planning off the loop: snapshot batches, optimistic commits, the worker in a live core."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.teleport_fleet import LockstepFleet
from fleet.core.config import CoreConfig
from fleet.core.model import Location
from fleet.core.planning import LegRequest, PlanWorker, plan_legs
from fleet.core.traffic import Traffic
from maps import load_track_map
from planner.sipp import RoutingGraph


@pytest.fixture(scope="module")
def track_map():
    return load_track_map("bac_luan_2")


def stations(tm, kind, n):
    return [tm.station_cell_of(s.id) for s in tm.stations_of_kind(kind)[:n]]


def traffic_with(tm, n):
    t = Traffic(tm)
    starts = stations(tm, "parking", n)
    for k, cell in enumerate(starts):
        t.add_vehicle(f"v{k}", cell, 0.0)
    return t


def overlaps_of(t: Traffic) -> list[tuple[int, int]]:
    """Pairs (vehicle, other owner) whose reserved occupancies overlap in the live table."""
    out = []
    for i, path in enumerate(t.paths):
        occ_start, occ_end = path.occupancy()
        k, o = t.table.first_overlap(path.cells, occ_start, occ_end, skip_owner=i)
        if k >= 0:
            out.append((i, o))
    return out


def test_a_snapshot_batch_commits_conflict_free(track_map):
    tm = track_map
    t = traffic_with(tm, 8)
    goals = stations(tm, "crane_transfer", 8)
    requests = [t.leg_request(f"v{k}", g, 0.0) for k, g in enumerate(goals)]
    results = plan_legs(RoutingGraph(tm), t.snapshot(), requests, max_expansions=t.max_expansions)
    assert all(r.path is not None for r in results)
    committed = [t.commit(r.request, r.path) for r in results]
    assert all(c is not None for c in committed)
    assert [c[-1] for c in committed] == goals
    assert overlaps_of(t) == []


def test_commit_refuses_a_stale_or_overtaken_result(track_map):
    tm = track_map
    t = traffic_with(tm, 2)
    goals = stations(tm, "crane_transfer", 1)
    # v0's request is planned on a snapshot; meanwhile v1 is planned live to the same
    # station, so v0's path now meets v1's reservation at the goal for ever.
    request = t.leg_request("v0", goals[0], 0.0)
    (result,) = plan_legs(RoutingGraph(tm), t.snapshot(), [request], max_expansions=t.max_expansions)
    cells, _ = t.plan_now(t.leg_request("v1", goals[0], 0.0))
    assert cells is not None
    before = t.table.count.copy()
    assert t.commit(request, result.path) is None
    assert np.array_equal(t.table.count, before)  # a refused commit leaves the table as it was
    assert overlaps_of(t) == []
    # A result for an older path version is stale whatever it contains.
    t2 = traffic_with(tm, 1)
    old = t2.leg_request("v0", goals[0], 0.0)
    (result,) = plan_legs(RoutingGraph(tm), t2.snapshot(), [old], max_expansions=t2.max_expansions)
    t2.plan_now(t2.leg_request("v0", stations(tm, "charger", 1)[0], 0.0))
    t2.finish_leg("v0", 100.0)
    assert t2.commit(old, result.path) is None


def test_worker_returns_the_batch_and_raises_its_failures(track_map):
    tm = track_map
    t = traffic_with(tm, 4)
    worker = PlanWorker(RoutingGraph(tm), max_expansions=t.max_expansions)
    try:
        goals = stations(tm, "handover", 4)
        worker.submit(t.snapshot(), [t.leg_request(f"v{k}", g, 0.0) for k, g in enumerate(goals)])
        assert worker.busy and worker.vehicles_in_flight == {"v0", "v1", "v2", "v3"}
        with pytest.raises(RuntimeError):
            worker.submit(t.snapshot(), [])
        deadline = time.monotonic() + 30.0
        results = None
        while results is None and time.monotonic() < deadline:
            results = worker.poll()
            time.sleep(0.005)
        assert results is not None and len(results) == 4 and not worker.busy
        bad = LegRequest("v0", 0, 0, np.zeros(1, dtype=np.int32), 0, 0.0, tm.n_cells + 5, 0.0, 5.0)
        worker.submit(t.snapshot(), [bad])
        deadline = time.monotonic() + 30.0
        with pytest.raises(Exception):
            while time.monotonic() < deadline:
                if worker.poll() is not None:
                    break
                time.sleep(0.005)
    finally:
        worker.close()


def test_jobs_flow_when_every_leg_is_planned_by_the_worker():
    # A zero budget sends every leg to the worker: the loop only commits results.
    f = LockstepFleet(n_vehicles=6, config=CoreConfig(plan_budget_s=0.0, plan_in_worker=True))
    try:
        f.step()
        for k, station in enumerate(["E1-T1", "E1-T2", "E2-T1"]):
            f.control.call("container_arrival", {"container": f"W{k}", "direction": "export", "station": station})
            f.control.call("customs_declaration", {"container": f"W{k}", "status": "released"})
        c = f.core.containers
        f.run_until(lambda: all(c[f"W{k}"].location_kind is Location.HANDOVER for k in range(3)))
        assert f.core.kpi_log["replan_ms"]
        assert f.cell_conflicts() == []
    finally:
        f.close()


def blocked_from_minus_inf(t: Traffic, cell: int, owner: int) -> bool:
    n = int(t.table.count[cell])
    return bool(np.any((t.table.owner[cell, :n] == owner) & (t.table.start[cell, :n] == -np.inf)))


def test_standing_cell_stays_held_from_minus_inf_regression(track_map):
    """Review finding: a refused commit, a failed search or a new leg re-reserved the cell a
    vehicle stands on from its *planned* arrival only, so a vehicle that got there early
    could be planned (and released) into."""
    tm = track_map
    t = traffic_with(tm, 3)
    goals = stations(tm, "crane_transfer", 2)
    cells, _ = t.plan_now(t.leg_request("v0", goals[0], 0.0))
    assert cells is not None and blocked_from_minus_inf(t, cells[0], 0)  # a new leg: its first cell
    t.finish_leg("v0", 50.0)
    # a failed search (goal held for ever by v0's standing path) changes nothing
    before = (t.table.start.copy(), t.table.count.copy())
    assert t.plan_now(t.leg_request("v1", goals[0], 0.0))[0] is None
    (result,) = plan_legs(RoutingGraph(tm), t.table, [LegRequest("v1", 1, t.version[1], t.paths[1].cells, int(t.paths[1].cells[-1]),
                                                                 0.0, goals[0], 0.0, 5.0)], max_expansions=2000)
    assert result.path is None
    assert np.array_equal(t.table.start, before[0]) and np.array_equal(t.table.count, before[1])
    # a refused commit changes nothing either
    request = t.leg_request("v2", goals[1], 0.0)
    (result,) = plan_legs(RoutingGraph(tm), t.snapshot(), [request], max_expansions=t.max_expansions)
    live, _ = t.plan_now(t.leg_request("v1", goals[1], 0.0))
    assert live is not None
    before = (t.table.start.copy(), t.table.count.copy())
    assert t.commit(request, result.path) is None
    assert np.array_equal(t.table.start, before[0]) and np.array_equal(t.table.count, before[1])


def test_a_failed_search_in_a_batch_keeps_the_vehicle_in_the_snapshot(track_map):
    tm = track_map
    t = traffic_with(tm, 2)
    snapshot = t.snapshot()
    v0_cell = int(t.paths[0].cells[-1])
    impossible = LegRequest("v0", 0, t.version[0], t.paths[0].cells, v0_cell, 0.0, v0_cell, 0.0, 5.0)
    # v0 asks for a goal another owner holds for ever: no search, and v0 stays reserved
    snapshot.add(5, np.array([v0_cell], dtype=np.int32), np.array([0.0]), np.array([np.inf]))
    (result,) = plan_legs(RoutingGraph(tm), snapshot, [impossible], max_expansions=100)
    assert result.path is None
    n = int(snapshot.count[v0_cell])
    assert 0 in snapshot.owner[v0_cell, :n]


def test_vehicles_standing_in_one_anothers_way_are_planned_as_a_group(tmp_path):
    """On a one-way loop A stands where B must pass and B where A must pass: one at a
    time neither can be planned (each stands for ever as far as the table knows);
    together they can, and nothing overlaps."""
    import json

    from maps import load_track_map
    from maps.builder import MapBuilder

    b = MapBuilder(name="loop", cell_length_m=8.0)
    for name, x, y in (("w", 0, 0), ("e", 200, 0), ("e2", 200, 40), ("w2", 0, 40)):
        b.node(name, x, y)
    b.lane("south", "w", "e", speed_limit_mps=8.3)
    b.lane("east", "e", "e2", speed_limit_mps=4.0)
    b.lane("north", "e2", "w2", speed_limit_mps=8.3)
    b.lane("west", "w2", "w", speed_limit_mps=4.0)
    path = tmp_path / "loop.geojson"
    path.write_text(json.dumps(b.geojson()))
    tm = load_track_map(path)
    xy = tm.cell_xy - tm.cell_xy.min(axis=0)  # metres from the loop's south-west corner
    south = [c for c in range(tm.n_cells) if xy[c, 1] < 1.0]
    north = [c for c in range(tm.n_cells) if xy[c, 1] > 39.0]
    a = min(south, key=lambda c: abs(xy[c, 0] - 100.0))
    bb = min(north, key=lambda c: abs(xy[c, 0] - 100.0))
    t = Traffic(tm)
    t.add_vehicle("A", a, 0.0)
    t.add_vehicle("B", bb, 0.0)
    # each one's goal lies beyond the other, round the loop
    goal_a = min(north, key=lambda c: abs(xy[c, 0] - 40.0))
    goal_b = min(south, key=lambda c: abs(xy[c, 0] - 160.0))
    ra, rb = t.leg_request("A", goal_a, 10.0), t.leg_request("B", goal_b, 10.0)
    assert t.plan_now(ra)[0] is None and t.plan_now(rb)[0] is None
    before = (t.table.start.copy(), t.table.count.copy())
    planned = t.plan_group([ra, rb])
    assert [(r.vehicle, cells[-1]) for r, cells in planned] == [("A", goal_a), ("B", goal_b)]
    assert overlaps_of(t) == []
    # all or none: a group that cannot be planned leaves the table as it was
    t2 = Traffic(tm)
    t2.add_vehicle("A", a, 0.0)
    t2.add_vehicle("B", bb, 0.0)
    east = [c for c in range(tm.n_cells) if xy[c, 0] > 190.0 and 10.0 < xy[c, 1] < 30.0]  # up the east end
    t2.set_blocked_cells(np.array(east[:1]))
    before = (t2.table.start.copy(), t2.table.count.copy())
    assert t2.plan_group([t2.leg_request("A", goal_a, 10.0), t2.leg_request("B", goal_b, 10.0)]) == []
    assert np.array_equal(t2.table.start, before[0]) and np.array_equal(t2.table.count, before[1])


def test_a_vehicle_that_can_go_nowhere_does_not_keep_its_group_standing_regression_gridlock(tmp_path):
    """A and B stand in each other's way on a one-way loop; C, on a spur, asks for a goal
    that is shut. All or none, C's failure kept A and B standing too (a jam of dozens at
    7427aad's disruption run stood from 08:15 to the end of the day); now A and B go and
    C stands where it is."""
    import json

    from maps import load_track_map
    from maps.builder import MapBuilder

    b = MapBuilder(name="loop_spur", cell_length_m=8.0)
    for name, x, y in (("w", 0, 0), ("e", 200, 0), ("e2", 200, 40), ("w2", 0, 40), ("x", 200, -120)):
        b.node(name, x, y)
    b.lane("south", "w", "e", speed_limit_mps=8.3)
    b.lane("east", "e", "e2", speed_limit_mps=4.0)
    b.lane("north", "e2", "w2", speed_limit_mps=8.3)
    b.lane("west", "w2", "w", speed_limit_mps=4.0)
    b.lane("spur", "e", "x", speed_limit_mps=4.0)
    path = tmp_path / "loop_spur.geojson"
    path.write_text(json.dumps(b.geojson()))
    tm = load_track_map(path)
    xy = tm.cell_xy - tm.cell_xy[:, 0:1].min(axis=0) * np.array([1.0, 0.0]) - np.array([0.0, tm.cell_xy[:, 1].min() + 120.0])
    loop_y0 = [c for c in range(tm.n_cells) if abs(xy[c, 1]) < 1.0]
    loop_y40 = [c for c in range(tm.n_cells) if abs(xy[c, 1] - 40.0) < 1.0]
    spur = sorted((c for c in range(tm.n_cells) if xy[c, 1] < -40.0), key=lambda c: -xy[c, 1])
    a = min(loop_y0, key=lambda c: abs(xy[c, 0] - 100.0))
    bb = min(loop_y40, key=lambda c: abs(xy[c, 0] - 100.0))
    t = Traffic(tm)
    t.add_vehicle("A", a, 0.0)
    t.add_vehicle("B", bb, 0.0)
    t.add_vehicle("C", spur[0], 0.0)
    t.set_blocked_cells(np.array([spur[-1]]))
    goal_a = min(loop_y40, key=lambda c: abs(xy[c, 0] - 40.0))
    goal_b = min(loop_y0, key=lambda c: abs(xy[c, 0] - 160.0))
    requests = [t.leg_request("C", spur[-1], 10.0), t.leg_request("A", goal_a, 10.0), t.leg_request("B", goal_b, 10.0)]
    assert all(t.plan_now(r)[0] is None for r in requests)
    planned = t.plan_group(requests)
    assert [(r.vehicle, cells[-1]) for r, cells in planned] == [("A", goal_a), ("B", goal_b)]
    assert overlaps_of(t) == []
    assert int(t.paths[t.index["C"]].cells[-1]) == spur[0]  # C stands where it was


def test_the_vehicle_whose_search_broke_the_order_goes_first_next_regression_peak_2030_transfer_point_jam(track_map, monkeypatch):
    """peak_2030 at 01:55: nine vehicles stuck, the head of a queue on R1 (waiting for an
    import transfer point held by a vehicle whose only way out was that queue) fifth in
    the list. The group could go only with the head first; rotations of the list never
    put it there, and the day stood jammed. Now the vehicle whose search breaks an order
    goes first in the next one."""
    import fleet.core.traffic as traffic_module
    from fleet.core.planning import LegResult
    from planner.types import VehiclePath

    t = traffic_with(track_map, 9)
    requests = [t.leg_request(f"v{k}", int(t.paths[k].cells[0]), 10.0) for k in range(9)]
    head = requests[4]
    orders = []

    def fake_plan_legs(graph, table, order, **kwargs):
        # every search finds a path, except the head's when anybody was planned before it
        orders.append([r.vehicle for r in order])
        results = []
        for k, r in enumerate(order):
            ok = r is not head or k == 0
            results.append(LegResult(r, VehiclePath.standing(r.goal_cell, 10.0) if ok else None, 0.1))
            if not ok:
                break
        return results

    monkeypatch.setattr(traffic_module, "plan_legs", fake_plan_legs)
    planned = t.plan_group(requests)
    assert [r.vehicle for r, _ in planned] == [f"v{k}" for k in range(9)]  # all of them, in the request order
    assert orders[1][0] == "v4" and len(orders) == 2


def test_a_vehicle_failing_even_when_planned_first_is_left_out(track_map, monkeypatch):
    import fleet.core.traffic as traffic_module
    from fleet.core.planning import LegResult
    from planner.types import VehiclePath

    t = traffic_with(track_map, 4)
    requests = [t.leg_request(f"v{k}", int(t.paths[k].cells[0]), 10.0) for k in range(4)]

    def fake_plan_legs(graph, table, order, **kwargs):
        results = []
        for r in order:
            ok = r.vehicle != "v2"  # its goal is shut, whatever the order
            results.append(LegResult(r, VehiclePath.standing(r.goal_cell, 10.0) if ok else None, 0.1))
            if not ok:
                break
        return results

    monkeypatch.setattr(traffic_module, "plan_legs", fake_plan_legs)
    assert [r.vehicle for r, _ in t.plan_group(requests)] == ["v0", "v1", "v3"]
