"""SIPP: optimal lone paths, waiting in safe intervals, legs with dwell, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.reservations import ReservationTable
from planner.scenarios import corridor_map, crossing_map
from planner.sipp import EXPANSION_LIMIT, FOUND, NO_PATH, START_BLOCKED, RoutingGraph, plan_vehicle, reserve_path
from planner.types import Leg, VehiclePath, VehicleTask
from planner.validate import validate_plan
from planner.types import Problem


@pytest.fixture(scope="module")
def corridor():
    return corridor_map()


def _task(tm, start, goals, speed=8.3, dwell=0.0, ready=0.0, vid="v"):
    goals = [goals] if isinstance(goals, str) else goals
    legs = tuple(Leg(tm.station_cell_of(g), speed, dwell if k + 1 < len(goals) else 0.0, g) for k, g in enumerate(goals))
    return VehicleTask(vid, tm.station_cell_of(start), legs, ready, start)


def _move_time(tm, a, b, speed):
    lo, hi = tm.cell_adj_indptr[a], tm.cell_adj_indptr[a + 1]
    e = lo + int(np.flatnonzero(tm.cell_adj_to[lo:hi] == b)[0])
    return tm.cell_adj_length_m[e] / min(tm.cell_adj_speed_limit_mps[e], speed)


def test_a_lone_vehicle_takes_the_shortest_time_and_never_waits(default_map):
    graph = RoutingGraph(default_map)
    table = ReservationTable(default_map, 1)
    task = _task(default_map, "P-001", "HO-20")
    out = plan_vehicle(graph, table, task, start_time_s=0.0)
    assert out.code == FOUND
    path = out.path
    assert path.cells[0] == task.start_cell and path.cells[-1] == task.goal_cell
    assert path.end_s == pytest.approx(graph.lower_bound_s(task, 0.0))
    assert np.allclose(path.depart_s[:-1], path.arrive_s[:-1])  # no waiting
    steps = [_move_time(default_map, int(a), int(b), 8.3) for a, b in zip(path.cells[:-1], path.cells[1:])]
    assert np.allclose(np.diff(path.arrive_s), steps)


def test_laden_speed_makes_the_trip_longer(default_map):
    graph = RoutingGraph(default_map)
    table = ReservationTable(default_map, 1)
    fast = plan_vehicle(graph, table, _task(default_map, "P-001", "HO-20", speed=8.3), start_time_s=0.0).path
    slow = plan_vehicle(graph, table, _task(default_map, "P-001", "HO-20", speed=5.6), start_time_s=0.0).path
    assert slow.end_s > fast.end_s * 1.1


def test_waits_until_a_blocked_stretch_is_free_and_then_enters_it(corridor):
    tm = corridor
    graph = RoutingGraph(tm)
    table = ReservationTable(tm, 2)
    mid = tm.station_cell_of("MID")
    table.add(1, np.array([mid]), np.array([0.0]), np.array([60.0]))
    path = plan_vehicle(graph, table, _task(tm, "W", "E"), start_time_s=0.0).path
    enter = path.stretch_entry_s()
    start, end = path.occupancy()
    conflicting = np.array([tm.cells_conflict(int(c), mid) for c in path.cells])
    # every occupancy of a cell conflicting with MID lies after the blocked interval
    assert (start[conflicting] >= 60.0 - 1e-9).all()
    assert path.end_s > 60.0
    assert np.all(np.diff(enter) > 0)


def test_a_blocked_start_is_reported(corridor):
    tm = corridor
    table = ReservationTable(tm, 2)
    table.add(1, np.array([tm.station_cell_of("W")]), np.array([-5.0]), np.array([5.0]))
    out = plan_vehicle(RoutingGraph(tm), table, _task(tm, "W", "E"), start_time_s=0.0)
    assert out.code == START_BLOCKED and out.path is None


def test_a_goal_taken_for_ever_means_no_path(corridor):
    tm = corridor
    table = ReservationTable(tm, 2)
    table.add(1, np.array([tm.station_cell_of("E")]), np.array([30.0]), np.array([math.inf]))
    out = plan_vehicle(RoutingGraph(tm), table, _task(tm, "W", "E"), start_time_s=0.0)
    assert out.code == NO_PATH


def test_expansion_limit_stops_the_search(default_map):
    table = ReservationTable(default_map, 1)
    out = plan_vehicle(RoutingGraph(default_map), table, _task(default_map, "P-001", "HO-20"), start_time_s=0.0, max_expansions=5)
    assert out.code == EXPANSION_LIMIT


def test_legs_visit_goals_in_order_with_their_dwell(corridor):
    tm = corridor
    task = _task(tm, "W", ["SIDING", "E"], speed=4.0, dwell=25.0)
    path = plan_vehicle(RoutingGraph(tm), ReservationTable(tm, 1), task, start_time_s=0.0).path
    siding = tm.station_cell_of("SIDING")
    k = int(np.flatnonzero(path.cells == siding)[0])
    assert path.leg[k - 1] == 0 and path.leg[k] == 1
    assert path.depart_s[k] - path.arrive_s[k] >= 25.0 - 1e-9
    assert path.cells[-1] == tm.station_cell_of("E")
    validate_plan(tm, Problem(tm, (task,)), {"v": path})


def test_ready_time_holds_the_vehicle_on_its_start(corridor):
    tm = corridor
    path = plan_vehicle(RoutingGraph(tm), ReservationTable(tm, 1), _task(tm, "W", "E", ready=42.0), start_time_s=0.0).path
    assert path.arrive_s[0] == 0.0 and path.depart_s[0] == pytest.approx(42.0)


def test_crossing_vehicles_do_not_meet():
    tm = crossing_map()
    graph = RoutingGraph(tm)
    table = ReservationTable(tm, 2)
    first = plan_vehicle(graph, table, _task(tm, "WEST", "EAST", vid="a"), start_time_s=0.0).path
    reserve_path(table, 0, first)
    second = plan_vehicle(graph, table, _task(tm, "SOUTH", "NORTH", vid="b"), start_time_s=0.0).path
    alone = plan_vehicle(graph, ReservationTable(tm, 1), _task(tm, "SOUTH", "NORTH", vid="b"), start_time_s=0.0).path
    assert second.end_s > alone.end_s  # it had to let the first one pass
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"], vehicle_ids=["a", "b"])
    validate_plan(tm, problem, {"a": first, "b": second})


def test_standing_path_occupies_its_cell_for_ever():
    path = VehiclePath.standing(7, 3.0)
    start, end = path.occupancy()
    assert path.n_steps == 0 and start[0] == 3.0 and end[0] == math.inf
