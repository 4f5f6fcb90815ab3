"""Trajectory timing: kinematic limits, dwell, reversal, and the plan's order kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner.collision import find_collisions
from planner.dependencies import plan_dependency_graph
from planner.plan_file import trajectory_problem
from planner.routing import plan_routes
from planner.scenarios import corridor_map, crossing_map
from planner.timing import Kinematics, plan_trajectories, schedule_plan
from planner.types import PlanOptions, Problem


def _timed(tm, problem):
    result = plan_routes(problem, PlanOptions(improve_time_s=0.0))
    assert result.solved
    paths = [result.paths[v] for v in problem.vehicle_ids]
    graph = plan_dependency_graph(tm, problem.vehicle_ids, result.paths)
    rows, schedule = plan_trajectories(tm, problem, paths, graph)
    return paths, rows, schedule


def test_a_lone_run_matches_the_analytic_profile():
    tm = corridor_map()
    _, rows, schedule = _timed(tm, Problem.from_stations(tm, ["W"], ["E"]))
    # 160 m at 4 m/s: 8 s up to speed (16 m), 4 s of braking (8 m), 136 m cruising
    assert schedule.arrival_s[0] == pytest.approx(8.0 + 4.0 + 136.0 / 4.0, abs=0.3)
    traj = rows[0]
    assert trajectory_problem(traj) is None
    assert np.allclose(traj[0, 1:3], tm.cell_xy[tm.station_cell_of("W")])
    assert np.allclose(traj[-1, 1:3], tm.cell_xy[tm.station_cell_of("E")], atol=1e-6)


def test_speed_and_acceleration_stay_within_the_limits(default_map):
    problem = Problem.random_stations(default_map, 6, np.random.default_rng(1), laden_fraction=0.5)
    paths, rows, schedule = _timed(default_map, problem)
    kin = Kinematics()
    dt = schedule.sample_dt_s
    for v, traj in enumerate(rows):
        assert trajectory_problem(traj) is None
        speed = np.hypot(*np.diff(traj[:, 1:3], axis=0).T) / dt
        top = problem.vehicles[v].legs[0].max_speed_mps
        assert speed.max() <= top + 1e-6
        s = schedule.distance_m[:, v]
        mean_speed = np.diff(s) / dt
        accel = np.diff(mean_speed) / dt
        assert accel.max() <= kin.accel_mps2 + 1e-6
        assert accel.min() >= -kin.brake_mps2 - 1e-6


def test_laden_vehicles_arrive_later(default_map):
    unladen = Problem.from_stations(default_map, ["P-001"], ["HO-20"], laden=[False])
    laden = Problem.from_stations(default_map, ["P-001"], ["HO-20"], laden=[True])
    assert _timed(default_map, laden)[2].arrival_s[0] > 1.2 * _timed(default_map, unladen)[2].arrival_s[0]


def test_dwell_at_a_goal_and_ready_time_at_the_start():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], [["SIDING", "E"]], dwell_s=30.0)
    task = problem.vehicles[0]
    from dataclasses import replace

    problem = Problem(tm, (replace(task, ready_s=12.0),))
    paths, rows, schedule = _timed(tm, problem)
    traj = rows[0]
    start = tm.cell_xy[tm.station_cell_of("W")]
    moved = np.flatnonzero(np.hypot(*(traj[:, 1:3] - start).T) > 1e-9)
    assert traj[moved[0], 0] >= 12.0
    siding = tm.cell_xy[tm.station_cell_of("SIDING")]
    there = np.hypot(*(traj[:, 1:3] - siding).T) < 1e-6
    assert there.sum() * schedule.sample_dt_s >= 30.0 - 1e-9


def test_reversing_out_of_a_siding_keeps_the_heading():
    tm = corridor_map()
    _, rows, _ = _timed(tm, Problem.from_stations(tm, ["W"], [["SIDING", "E"]], dwell_s=5.0))
    heading = rows[0][:, 3]
    turn = np.abs((np.diff(heading) + math.pi) % (2 * math.pi) - math.pi)
    assert turn.max() < 0.5  # never flips by pi between rows


def test_timed_trajectories_keep_crossing_vehicles_apart():
    tm = crossing_map()
    problem = Problem.from_stations(tm, ["WEST", "SOUTH"], ["EAST", "NORTH"])
    _, rows, _ = _timed(tm, problem)
    spec = tm.vehicle
    assert find_collisions(rows, (spec.length_m, spec.width_m)) == ()


def test_a_corridor_swap_through_the_siding_is_collision_free():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W", "E"], ["E", "W"])
    _, rows, _ = _timed(tm, problem)
    spec = tm.vehicle
    assert find_collisions(rows, (spec.length_m, spec.width_m)) == ()


def test_sampling_must_divide_into_steps():
    tm = corridor_map()
    problem = Problem.from_stations(tm, ["W"], ["E"])
    result = plan_routes(problem, PlanOptions(improve_time_s=0.0))
    graph = plan_dependency_graph(tm, problem.vehicle_ids, result.paths)
    with pytest.raises(ValueError):
        schedule_plan(tm, problem, [result.paths["igv-001"]], graph, Kinematics(sample_dt_s=0.5, step_s=0.3))


def test_regression_a_vehicle_in_a_bay_faces_along_the_bay(default_map):
    # A cut point a hair from a polyline vertex left a zero-length segment whose
    # direction (atan2(0, 0) = 0) turned parked vehicles across the neighbouring bays.
    problem = Problem.from_stations(default_map, ["P-005", "HO-41"], ["P-098", "P-099"])
    _, rows, _ = _timed(default_map, problem)
    for v, traj in zip(problem.vehicles, rows):
        along = default_map.cell_heading_rad[v.goal_cell]
        off = abs((traj[-1, 3] - along + math.pi / 2) % math.pi - math.pi / 2)
        assert off < 1e-6
