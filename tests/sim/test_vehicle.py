"""VirtualIGV: VDA 5050 order handling, actions through the service, pause, e-stop,
cancel, charging, battery, faults, reporting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleet.codec import decode_payload, encode_payload
from fleet.messages import ActionStatus, ErrorLevel, EStop, Order
from fleet.validation import schema_problems
from maps.errors import InputError
from sim.faults import Fault, FaultKind
from sim.service import StationLocator
from tests.sim.kit import RecordingService, action, driver, instant, line, make_order, map_order, shortest_cells


def status_of(state, action_id):
    return next(a.action_status for a in state.action_states if a.action_id == action_id)


def error_types(state):
    return {e.error_type for e in state.errors}


def roundtrip(message):
    """The message as the core would decode it (checks every field on the way)."""
    return decode_payload("state", encode_payload(message))


# ---------------------------------------------------------------- orders: base, horizon, updates


def test_drives_the_base_and_stops_at_its_end_never_entering_the_horizon():
    d = driver()
    d.send(make_order(line(10), released=5))
    state = d.state()
    assert state.order_id == "o1" and state.last_node_id == "n0"
    assert [n.node_id for n in state.node_states] == [f"n{k}" for k in range(1, 10)]
    assert [n.released for n in state.node_states] == [True] * 5 + [False] * 4
    d.run(120)
    state = d.state()
    assert state.last_node_id == "n5" and state.last_node_sequence_id == 10
    assert not state.driving and d.vehicle.speed_mps == 0.0
    assert d.vehicle.pose[0] == pytest.approx(40.0)
    assert max(x for _, x, _, _ in d.trace) <= 40.0 + 1e-9
    assert [n.node_id for n in state.node_states] == ["n6", "n7", "n8", "n9"]
    assert d.vehicle.has_order_work  # waiting for an update


def test_order_update_stitches_on_the_base_end_and_driving_continues():
    d = driver()
    d.send(make_order(line(10), released=3))
    d.run(3)
    update = make_order(line(10)[3:], update_id=1, first_seq=6)
    d.send(update)
    state = d.state()
    assert state.order_update_id == 1 and not error_types(state)
    assert all(n.released for n in state.node_states)
    d.run(120)
    assert d.state().last_node_id == "n9"
    assert d.vehicle.pose[0] == pytest.approx(72.0)
    assert not d.vehicle.has_order_work
    # An update sent early enough never makes the vehicle stop at the old base end.
    stops = [t for t, x, _, v in d.trace if v == 0.0 and x < 70.0]
    assert not stops


def test_update_that_does_not_stitch_is_rejected_and_the_order_kept():
    d = driver()
    d.send(make_order(line(10), released=3))
    d.send(make_order(line(10)[4:], update_id=1, first_seq=8))
    state = d.state()
    assert "orderUpdateError" in error_types(state)
    err = next(e for e in state.errors if e.error_type == "orderUpdateError")
    assert {(r.reference_key, r.reference_value) for r in err.error_references} == {("orderId", "o1"), ("orderUpdateId", "1")}
    assert state.order_update_id == 0
    d.run(60)
    assert d.state().last_node_id == "n3"


def test_stale_update_is_rejected_and_a_duplicate_ignored():
    d = driver()
    d.send(make_order(line(10), released=3))
    d.send(make_order(line(10)[3:], update_id=2, first_seq=6, released=2))
    d.send(make_order(line(10)[3:], update_id=2, first_seq=6, released=2))  # repeat: silently ignored
    assert not error_types(d.state())
    d.send(make_order(line(10)[3:], update_id=1, first_seq=6))
    assert "orderUpdateError" in error_types(d.state())
    assert d.state().order_update_id == 2


def test_new_order_while_busy_is_rejected_then_accepted_when_done():
    d = driver()
    d.send(make_order(line(4)))
    d.send(make_order(line(4), order_id="o2"))
    assert "orderError" in error_types(d.state()) and d.state().order_id == "o1"
    d.run(60)
    d.send(make_order(line(4, x0=24.0), order_id="o2", names=["n3", "m1", "m2", "m3"]))
    state = d.state()
    assert state.order_id == "o2" and not state.errors


def test_refusals_of_many_orders_keep_one_error_regression_state_over_frame_limit():
    # A core re-sending a refused leg under a new order id each tick made the vehicle list
    # one orderError per id, until its state outgrew the link's 1 MiB frame limit.
    d = driver()
    d.send(make_order(line(4)))
    for n in range(200):
        d.send(make_order(line(4), order_id=f"again-{n}"))
    state = d.state()
    refusals = [e for e in state.errors if e.error_type == "orderError"]
    assert len(refusals) == 1
    assert {(r.reference_key, r.reference_value) for r in refusals[0].error_references} >= {("orderId", "again-199")}


def test_new_order_must_start_where_the_vehicle_stands():
    d = driver()
    d.send(make_order(line(4, x0=50.0), names=["far0", "far1", "far2", "far3"]))
    state = d.state()
    assert "noRouteError" in error_types(state) and state.order_id == ""


@pytest.mark.parametrize("order,needle", [
    (make_order(line(3), map_id="elsewhere"), "on map"),
    (make_order(line(3), actions={2: (action("dance", "a1"),)}), "unsupported action"),
    (Order(order_id="o1", order_update_id=0, nodes=(), edges=()), "at least one node"),
])
def test_invalid_orders_are_validation_errors(order, needle):
    d = driver()
    d.send(order)
    err = next(e for e in d.state().errors if e.error_type == "validationError")
    assert needle in (err.error_description or "")
    assert err.error_level is ErrorLevel.WARNING


# ---------------------------------------------------------------- station actions through the service


def test_pick_and_drop_take_the_service_time_and_change_the_load():
    service = RecordingService(durations={"pick": 30.0, "drop": 20.0})
    d = driver(service=service)
    pick = action("pick", "a-pick", "MSKU1234565", stationId="E1-T1", loadType="40ft")
    d.send(make_order(line(3), actions={0: (pick,)}))
    assert status_of(d.state(), "a-pick") is ActionStatus.RUNNING
    assert service.requests[0].container == "MSKU1234565" and service.requests[0].station == "E1-T1"
    assert service.requests[0].now_s == 0.0
    d.run(29.9)
    assert d.vehicle.pose[0] == 0.0  # HARD: no driving while the pick runs
    d.run(0.2)
    state = d.state()
    assert status_of(state, "a-pick") is ActionStatus.FINISHED
    assert [(l.load_id, l.load_type) for l in state.loads] == [("MSKU1234565", "40ft")]
    d.run(60)
    assert d.vehicle.pose[0] == pytest.approx(16.0)
    drop = action("drop", "a-drop", "MSKU1234565")
    d.send(make_order(line(2, x0=16.0), order_id="o2", names=["n2", "x"], actions={1: (drop,)}))
    d.run(60)
    state = d.state()
    assert status_of(state, "a-drop") is ActionStatus.FINISHED and state.loads == ()
    assert service.requests[-1].action_type == "drop" and service.requests[-1].now_s > 30.0


def test_laden_vehicle_keeps_to_the_laden_top_speed():
    d = driver(service=RecordingService(durations={"pick": 1.0}))
    d.send(make_order(line(40), actions={0: (action("pick", "p", "C1"),)}, speeds=8.3))
    d.run(200)
    assert max(v for *_, v in d.trace) == pytest.approx(5.6)


def test_unladen_vehicle_reaches_the_unladen_top_speed():
    d = driver()
    d.send(make_order(line(40), speeds=8.3))
    d.run(200)
    assert max(v for *_, v in d.trace) == pytest.approx(8.3)


def test_a_blocking_action_mid_route_stops_the_vehicle_on_its_node():
    d = driver(service=RecordingService(durations={"scan": 15.0}))
    d.send(make_order(line(8), actions={4: (action("scan", "s1", "C1"),)}))
    d.run(200)
    at_rest = [(t, x) for t, x, _, v in d.trace if v == 0.0 and 0 < x < 56.0]
    assert at_rest and all(x == pytest.approx(32.0) for _, x in at_rest)
    assert max(t for t, _ in at_rest) - min(t for t, _ in at_rest) == pytest.approx(15.0, abs=0.3)
    assert d.vehicle.pose[0] == pytest.approx(56.0)


def test_service_failure_fails_the_action_with_an_error():
    d = driver(service=RecordingService(failure="crane out of order"))
    d.send(make_order(line(2), actions={0: (action("pick", "p1", "C1"),)}))
    state = d.state()
    assert status_of(state, "p1") is ActionStatus.FAILED
    err = next(e for e in state.errors if e.error_type == "actionError")
    assert "crane out of order" in err.error_description


def test_dropping_a_container_not_carried_fails():
    d = driver()
    d.send(make_order(line(2), actions={1: (action("drop", "d1", "NOTHERE1"),)}))
    d.run(30)
    state = d.state()
    assert status_of(state, "d1") is ActionStatus.FAILED and "loadError" in error_types(state)


# ---------------------------------------------------------------- pause, e-stop, cancel


def test_pause_brakes_at_the_service_rate_and_resume_continues():
    d = driver()
    d.send(make_order(line(60)))
    d.run(20)
    assert d.vehicle.speed_mps > 8.0
    d.send(instant("startPause", "i1"))
    assert status_of(d.state(), "i1") is ActionStatus.RUNNING
    n = len(d.trace)
    d.run(15)
    decels = [-a for a in d.accelerations()[n:] if a < 0]
    assert max(decels) <= 1.0 + 1e-9
    state = d.state()
    assert state.paused and not state.driving and status_of(state, "i1") is ActionStatus.FINISHED
    x_paused = d.vehicle.pose[0]
    d.run(30)
    assert d.vehicle.pose[0] == x_paused
    d.send(instant("stopPause", "i2"))
    d.run(10)
    assert d.vehicle.speed_mps > 0 and not d.state().paused


def test_emergency_stop_brakes_hard_and_is_reported():
    d = driver()
    d.send(make_order(line(60)))
    d.run(20)
    d.send(instant("emergencyStop", "e1"))
    n = len(d.trace)
    d.run(8)
    decels = [-a for a in d.accelerations()[n:] if a < 0]
    assert max(decels) == pytest.approx(2.5)
    state = d.state()
    assert state.safety_state.e_stop is EStop.REMOTE and not state.driving
    d.send(instant("releaseEmergencyStop", "e2"))
    d.run(5)
    assert d.state().safety_state.e_stop is EStop.NONE and d.vehicle.speed_mps > 0


def test_cancel_order_stops_on_a_node_and_clears_the_order():
    d = driver()
    d.send(make_order(line(60), actions={59: (action("drop", "d1", "C1"),)}))
    d.run(20)
    d.send(instant("cancelOrder", "c1"))
    assert status_of(d.state(), "d1") is ActionStatus.FAILED
    assert status_of(d.state(), "c1") is ActionStatus.RUNNING
    d.run(30)
    state = d.state()
    assert status_of(state, "c1") is ActionStatus.FINISHED
    assert state.node_states == () and state.edge_states == () and state.order_id == "o1"
    x = d.vehicle.pose[0]
    assert x % 8.0 == pytest.approx(0.0, abs=1e-6) and state.last_node_id == f"n{round(x / 8.0)}"
    assert not d.vehicle.has_order_work
    # The cancelled order cannot be updated; a new one from where it stands is accepted.
    d.send(make_order(line(60)[round(x / 8):], update_id=1, first_seq=2 * round(x / 8)))
    assert "orderUpdateError" in error_types(d.state())
    d.send(make_order([(x, 0.0), (x + 8.0, 0.0)], order_id="o2", names=[state.last_node_id, "z"]))
    assert d.state().order_id == "o2" and not d.state().errors


def test_cancel_without_an_order_reports_no_order_to_cancel():
    d = driver()
    d.send(instant("cancelOrder", "c1"))
    state = d.state()
    assert status_of(state, "c1") is ActionStatus.FAILED and "noOrderToCancel" in error_types(state)


def test_cancel_waits_for_a_running_station_action():
    d = driver(service=RecordingService(durations={"pick": 40.0}))
    d.send(make_order(line(5), actions={0: (action("pick", "p1", "C1"),)}))
    d.run(10)
    d.send(instant("cancelOrder", "c1"))
    d.run(10)
    assert status_of(d.state(), "c1") is ActionStatus.RUNNING
    d.run(25)
    state = d.state()
    assert status_of(state, "p1") is ActionStatus.FINISHED and status_of(state, "c1") is ActionStatus.FINISHED
    assert d.vehicle.pose[0] == 0.0 and state.loads[0].load_id == "C1"


# ---------------------------------------------------------------- charging and battery


def charger_locator():
    return StationLocator(["CHG-1", "P-1"], ["charger", "parking"], np.array([[0.0, 0.0], [100.0, 0.0]]))


def test_charging_at_a_charger_raises_the_battery_and_blocks_driving_orders():
    d = driver(stations=charger_locator(), battery_pct=30.0)
    d.send(instant("startCharging", "ch1"))
    state = d.state()
    assert state.battery_state.charging and status_of(state, "ch1") is ActionStatus.FINISHED
    d.run(600)
    assert d.vehicle.battery_pct == pytest.approx(30.0 + (135.0 - 2.0) / 6 / 2.8, abs=0.1)
    d.send(make_order(line(3)))
    assert "orderError" in error_types(d.state())
    d.send(instant("stopCharging", "ch2"))
    d.send(make_order(line(3), order_id="o2"))
    assert d.state().order_id == "o2" and not d.state().battery_state.charging


def test_charging_away_from_a_charger_fails():
    d = driver(stations=charger_locator(), x_m=50.0)
    d.send(instant("startCharging", "ch1"))
    state = d.state()
    assert status_of(state, "ch1") is ActionStatus.FAILED and "chargingError" in error_types(state)
    assert not state.battery_state.charging


def test_battery_drains_more_laden_and_reports_low_and_empty():
    empty = driver(battery_pct=50.0)
    empty.send(make_order(line(126)))
    empty.run(400)
    laden = driver(battery_pct=50.0, service=RecordingService(durations={"pick": 0.0}))
    laden.send(make_order(line(126), actions={0: (action("pick", "p", "C1"),)}))
    laden.run(400)
    assert empty.vehicle.odometer_m == pytest.approx(1000.0) == laden.vehicle.odometer_m
    used_empty = 50.0 - empty.vehicle.battery_pct
    used_laden = 50.0 - laden.vehicle.battery_pct
    assert used_laden > used_empty
    assert used_laden - used_empty == pytest.approx((2.5 - 1.5) / 2.8, rel=0.02)
    low = driver(battery_pct=10.05)
    low.run(600)
    assert "batteryLow" in error_types(low.state())


# ---------------------------------------------------------------- faults


def test_stall_stops_the_vehicle_with_a_fatal_error_then_it_holds_until_resumed():
    d = driver(faults=[Fault(kind=FaultKind.STALL, vehicle="igv-001", start_s=20.0, duration_s=30.0)])
    d.send(make_order(line(80)))
    d.run(25)
    state = d.state()
    assert "driveStall" in error_types(state)
    assert next(e for e in state.errors if e.error_type == "driveStall").error_level is ErrorLevel.FATAL
    d.run(20)
    assert max(-a for a in d.accelerations()) == pytest.approx(2.5)  # emergency braking
    x = d.vehicle.pose[0]
    assert d.vehicle.speed_mps == 0.0
    d.run(30)
    state = d.state()
    assert "driveStall" not in error_types(state)
    assert state.paused and d.vehicle.pose[0] == x  # the core took its work away: it does not drive on
    d.send(instant("stopPause", "resume"))
    d.run(10)
    assert d.vehicle.pose[0] > x and not d.state().paused


def test_after_a_fault_the_core_cancels_and_gives_a_new_order():
    d = driver(faults=[Fault(kind=FaultKind.DEAD_BATTERY, vehicle="igv-001", start_s=10.0, duration_s=20.0)])
    d.send(make_order(line(80)))
    d.run(40)
    assert d.state().paused and d.vehicle.has_order_work
    d.send(instant("cancelOrder", "c1"))
    state = d.state()
    assert status_of(state, "c1") is ActionStatus.FINISHED and not state.paused and state.node_states == ()
    x = d.vehicle.pose[0]
    d.send(make_order([(x, 0.0), (x + 8.0, 0.0)], order_id="o2", names=[state.last_node_id, "z"]))
    d.run(10)
    assert d.vehicle.pose[0] == pytest.approx(x + 8.0)


def test_without_hold_a_vehicle_drives_on_after_a_stall():
    d = driver(hold_after_fault=False, faults=[Fault(kind=FaultKind.STALL, vehicle="igv-001", start_s=5.0, duration_s=5.0)])
    d.send(make_order(line(40)))
    d.run(30)
    assert d.vehicle.pose[0] > 50.0 and not d.state().paused


def test_slow_fault_caps_the_speed():
    d = driver(faults=[Fault(kind=FaultKind.SLOW, vehicle="igv-001", start_s=0.0, duration_s=500.0, speed_factor=0.5)])
    d.send(make_order(line(60)))
    d.run(100)
    assert max(v for *_, v in d.trace) == pytest.approx(8.3 * 0.5)
    assert "reducedSpeed" in error_types(d.state())


def test_comm_loss_window_is_visible_to_the_wrapper():
    d = driver(faults=[Fault(kind=FaultKind.COMM_LOSS, vehicle="igv-001", start_s=5.0, duration_s=10.0)])
    seen = []
    for _ in range(200):
        d.run(0.1)
        seen.append((d.t_s, d.vehicle.comm_lost()))
    lost = [t for t, c in seen if c]
    assert min(lost) == pytest.approx(5.0) and max(lost) == pytest.approx(14.9)


def test_position_jump_moves_reports_not_the_vehicle():
    d = driver(faults=[Fault(kind=FaultKind.POSITION_JUMP, vehicle="igv-001", start_s=1.0, duration_s=5.0, jump_m=(12.0, -3.0))])
    d.run(2)
    pos = d.state().agv_position
    assert (pos.x, pos.y) == (12.0, -3.0)
    assert d.vehicle.pose[:2] == (0.0, 0.0)
    d.run(5)
    pos = d.vehicle.visualization(d.t_s).agv_position
    assert (pos.x, pos.y) == (0.0, 0.0)


def test_dead_battery_is_fatal_and_a_swap_ends_it():
    d = driver(faults=[Fault(kind=FaultKind.DEAD_BATTERY, vehicle="igv-001", start_s=10.0, duration_s=60.0,
                             battery_after_pct=70.0)])
    d.send(make_order(line(80)))
    d.run(20)
    state = d.state()
    assert state.battery_state.battery_charge == 0.0 and "batteryEmpty" in error_types(state)
    d.run(10)
    assert d.vehicle.speed_mps == 0.0
    d.run(45)
    assert d.vehicle.battery_pct == pytest.approx(70.0, abs=0.1) and "batteryEmpty" not in error_types(d.state())
    assert d.vehicle.speed_mps == 0.0 and d.state().paused  # holds after a FATAL fault


# ---------------------------------------------------------------- reporting


def test_gnss_noise_is_seeded_and_deterministic():
    def positions(seed):
        d = driver(gnss_sigma_m=0.5, rng=np.random.default_rng(seed))
        return [(d.vehicle.state(0.0).agv_position.x, d.vehicle.state(0.0).agv_position.y) for _ in range(200)]

    a, b, c = positions(1), positions(1), positions(2)
    assert a == b and a != c
    assert np.std([p[0] for p in a]) == pytest.approx(0.5, rel=0.25)
    with pytest.raises(InputError, match="seeded rng"):
        driver(gnss_sigma_m=0.5)


def test_state_due_on_events_and_periodically():
    d = driver(state_interval_driving_s=0.5, state_interval_idle_s=30.0)
    assert d.vehicle.state_due(0.0)  # first state
    d.state()
    assert not d.vehicle.state_due(1.0)
    assert d.vehicle.state_due(30.0)
    d.send(make_order(line(20)))
    assert d.vehicle.state_due(0.0)  # an event
    d.state()
    d.run(3)
    assert d.vehicle.state_due(d.t_s)  # nodes passed, driving


def test_states_are_valid_wire_messages_and_schema_conformant():
    service = RecordingService()
    d = driver(service=service, gnss_sigma_m=0.2, rng=np.random.default_rng(0))
    d.send(make_order(line(10), released=6, actions={0: (action("pick", "p1", "MSKU1234565"),)}))
    d.send(instant("startPause", "i1"))
    d.send(instant("stopPause", "i2"))
    for _ in range(10):
        d.run(5)
        state = d.state()
        assert roundtrip(state) == state
    assert schema_problems(d.state()) == []
    assert schema_problems(d.vehicle.visualization(d.t_s)) == []


def test_route_on_the_default_map_in_core_style(default_map):
    tm = default_map
    start = int(tm.station_cell[tm.station_index["P-001"]])
    goal = int(tm.station_cell[tm.station_index["E1-T1"]])
    cells = shortest_cells(tm, start, goal)
    service = RecordingService(durations={"pick": 100.0})
    from sim.vehicle import VehicleConfig, VirtualIGV

    x, y = tm.cell_xy[start]
    v = VirtualIGV(VehicleConfig(serial="igv-001", map_id=tm.name), x_m=float(x), y_m=float(y),
                   heading_rad=float(tm.cell_heading_rad[start]), service=service,
                   stations=StationLocator.from_map(tm), last_node_id=f"c{start}")
    pick = (action("pick", "a1", "MSKU1234565", stationId="E1-T1"),)
    base, t, update = min(15, len(cells) - 1), 0.0, 0
    v.handle(map_order(tm, cells, base_end=base, actions={len(cells) - 1: pick}), t)
    speeds = []
    while t < 900 and v.has_order_work:
        t = round(t + 0.1, 6)
        v.step(t, 0.1)
        speeds.append(v.speed_mps)
        if v.state_due(t):
            state = v.state(t)
            if state.new_base_request and base < len(cells) - 1:
                update += 1
                nxt = min(base + 15, len(cells) - 1)
                v.handle(map_order(tm, cells, update_id=update, first=base, base_end=nxt,
                                   actions={len(cells) - 1: pick}), t)
                base = nxt
    state = v.state(t)
    assert not state.errors and status_of(state, "a1") is ActionStatus.FINISHED
    assert state.last_node_id == f"c{goal}" and state.last_node_sequence_id == 2 * (len(cells) - 1)
    assert service.requests[0].station == "E1-T1" and service.requests[0].station_kind == "crane_transfer"
    assert math.dist(v.pose[:2], tm.cell_xy[goal]) < 1e-6
    assert max(speeds) <= 8.3 + 1e-9
    assert min(speeds[len(speeds) // 4: len(speeds) // 2]) > 0.0  # updates arrived in time: no stop mid-way
