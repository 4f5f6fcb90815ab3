"""Building a fleet: distinct start stations, seeded, knows where it stands."""

from __future__ import annotations

import numpy as np
import pytest

from maps.errors import InputError
from sim.faults import Fault, FaultKind, FaultSchedule
from sim.spawn import build_fleet, serials, start_poses


def test_start_poses_are_distinct_parking_stations_then_chargers(default_map):
    n_parking = len(default_map.stations_of_kind("parking"))
    poses = start_poses(default_map, n_parking + 5, np.random.default_rng(0))
    kinds = [default_map.station(p.station).kind for p in poses]
    assert kinds[:n_parking] == ["parking"] * n_parking and set(kinds[n_parking:]) == {"charger"}
    assert len({p.station for p in poses}) == len(poses)
    assert len({p.cell for p in poses}) == len(poses)


def test_too_many_vehicles_is_a_clear_error(default_map):
    with pytest.raises(InputError, match="fewer than 1000 vehicles"):
        start_poses(default_map, 1000, np.random.default_rng(0))


def test_fleet_is_deterministic_for_a_seed_and_reports_its_start_node(default_map):
    a = build_fleet(default_map, 8, seed=4)
    b = build_fleet(default_map, 8, seed=4)
    c = build_fleet(default_map, 8, seed=5)
    assert [v.pose for v in a] == [v.pose for v in b] != [v.pose for v in c]
    assert [v.battery_pct for v in a] == [v.battery_pct for v in b]
    assert [v.serial for v in a] == serials(8) == [f"igv-{k:03d}" for k in range(1, 9)]
    for v in a:
        state = v.state(0.0)
        cell = int(state.last_node_id[1:])
        assert state.last_node_id == f"c{cell}"
        assert tuple(default_map.cell_xy[cell]) == pytest.approx(v.pose[:2])
        assert 60.0 <= state.battery_state.battery_charge <= 95.0
        assert state.agv_position.map_id == default_map.name


def test_faults_reach_the_right_vehicle(default_map):
    schedule = FaultSchedule((Fault(kind=FaultKind.COMM_LOSS, vehicle="igv-002", start_s=1.0, duration_s=5.0),))
    fleet = build_fleet(default_map, 3, faults=schedule)
    for v in fleet:
        v.step(2.0, 2.0)
    assert [v.comm_lost() for v in fleet] == [False, True, False]


def test_serial_width_grows_with_the_fleet():
    assert serials(2) == ["igv-001", "igv-002"] and serials(1200)[-1] == "igv-1200"
