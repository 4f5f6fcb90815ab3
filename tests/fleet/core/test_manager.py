"""Lockstep tests of the real-time core with protocol-speaking test vehicles (issue 9)."""

from __future__ import annotations

import numpy as np
import pytest

from fleet.core.config import CoreConfig
from fleet.core.dispatch import jobs_waiting_for_a_bay
from fleet.core.model import Customs, JobStatus, Location, VehicleMode
from maps.errors import InputError
from bench.teleport_fleet import LockstepFleet


@pytest.fixture
def fleet():
    f = LockstepFleet(n_vehicles=4)
    yield f
    f.close()


def arrive(f: LockstepFleet, cid: str, direction: str, station: str, status: str | None = "released", **extra):
    f.control.call("container_arrival", {"container": cid, "direction": direction, "station": station, "event_id": f"arr-{cid}", **extra})
    if status:
        f.control.call("customs_declaration", {"container": cid, "status": status, "event_id": f"dec-{cid}"})


def test_export_and_import_flow_end_to_end(fleet):
    f = fleet
    f.step()
    arrive(f, "EXP1", "export", "E1-T1", "scan")
    arrive(f, "IMP1", "import", "HO-05", None)
    c = f.core.containers
    f.run_until(lambda: c["EXP1"].location_kind is Location.HANDOVER and c["IMP1"].location_kind is Location.YARD)
    assert c["EXP1"].customs.value == "cleared" and c["EXP1"].cleared_s is not None
    assert "scan" in c["EXP1"].inspected
    assert f.core.map.station(c["IMP1"].location).zone_id.startswith("I")
    jobs = {j.container: j for j in f.core.jobs.values()}
    assert jobs["EXP1"].status is JobStatus.DONE and jobs["EXP1"].via_station.startswith("SCN")
    # every vehicle drove through the scanner bay it was sent to
    scanned = [v for v in f.vehicles if f.map.station_cell_of(jobs["EXP1"].via_station) in [cell for _, cell in v.visited]]
    assert len(scanned) == 1
    # import clears once released in the yard, then leaves by truck
    f.control.call("customs_declaration", {"container": "IMP1", "status": "released"})
    f.run_until(lambda: c["IMP1"].cleared_s is not None, 10)
    f.control.call("container_departure", {"container": "IMP1", "event_id": "dep-IMP1"})
    assert c["IMP1"].location_kind is Location.GONE
    assert f.cell_conflicts() == []
    # both are done with: the per-tick phases no longer look at them
    assert f.core.live_containers() == [] and f.core.active_jobs() == []


def test_the_tick_looks_only_at_live_containers_and_jobs_also_after_a_restart_regression_tick_grows_with_history(tmp_path):
    # The core keeps every container and job of its life; intake, assignment and telemetry
    # went through all of them every tick: with one peak_2030 day behind it (3,500 each)
    # they took 11.5, 4.9 and 9.0 ms a call, growing by as much every day.
    config = CoreConfig(plan_in_worker=False, state_dir=tmp_path)
    f = LockstepFleet(n_vehicles=2, config=config)
    try:
        f.step()
        arrive(f, "OUT", "export", "E1-T1")
        arrive(f, "STAYS", "export", "E2-T1", None)  # not released: stays in the yard, live
        f.run_until(lambda: f.core.containers["OUT"].location_kind is Location.HANDOVER)
        f.step()
        assert [c.id for c in f.core.live_containers()] == ["STAYS"] and f.core.active_jobs() == []
        assert any(j.status is JobStatus.DONE for j in f.core.jobs.values())
    finally:
        f.close()
    again = LockstepFleet(n_vehicles=2, config=config)
    try:
        assert set(again.core.containers) == {"OUT", "STAYS"}
        assert [c.id for c in again.core.live_containers()] == ["STAYS"] and again.core.active_jobs() == []
        again.control.call("customs_declaration", {"container": "STAYS", "status": "released", "event_id": "dec-STAYS"})
        again.run_until(lambda: again.core.containers["STAYS"].location_kind is Location.HANDOVER)
        assert again.core.live_containers() == [] and again.core.active_jobs() == []
    finally:
        again.close()


def test_perishable_goes_first(fleet):
    f = LockstepFleet(n_vehicles=1)
    try:
        f.step()
        arrive(f, "SLOW", "export", "E1-T1")
        arrive(f, "FRESH", "export", "E1-T2", perishable=True, deadline_s=3 * 3600.0)
        c = f.core.containers
        f.run_until(lambda: c["FRESH"].location_kind is Location.HANDOVER)
        assert c["SLOW"].location_kind is not Location.HANDOVER
        assert c["FRESH"].cleared_s <= 3 * 3600.0
    finally:
        f.close()


def test_tamper_sends_container_to_hold_and_raises_alert(fleet):
    f = fleet
    f.step()
    arrive(f, "TMP1", "export", "E2-T1")
    f.control.call("eseal_event", {"container": "TMP1", "event": "tamper", "event_id": "seal-1"})
    assert any(a["kind"] == "tamper" and a["subject"] == "TMP1" and a["severity"] == "critical" for a in f.core.alerts)
    c = f.core.containers
    f.run_until(lambda: c["TMP1"].location_kind is Location.INSPECTION)
    assert f.core.map.station(c["TMP1"].location).kind == "inspection_bay"
    # the alert reaches telemetry
    f.run_until(lambda: f.core._published is not None and any(a["kind"] == "tamper" for a in f.core._published["alerts"]), 10)


def test_an_inspected_export_waits_for_the_decision_then_crosses_regression_vehicle_waits_at_inspection_bay(fleet):
    """The hold used to count as done when the box was put down: a vehicle was sent at once
    to take it back to its yard and stood on the bay for the whole inspection."""
    f = fleet
    f.step()
    arrive(f, "TMP2", "export", "E2-T1")
    f.control.call("eseal_event", {"container": "TMP2", "event": "tamper", "event_id": "seal-2"})
    c = f.core.containers
    f.run_until(lambda: c["TMP2"].location_kind is Location.INSPECTION)
    bay = c["TMP2"].location
    for _ in range(600):  # 5 min of inspection: nobody is sent to fetch the box
        f.step()
    assert c["TMP2"].location == bay and not [j for j in f.core.jobs.values()
                                               if j.container == "TMP2" and j.status is not JobStatus.DONE]
    f.control.call("customs_declaration", {"container": "TMP2", "status": "released", "event_id": "dec-TMP2-hold"})
    f.run_until(lambda: c["TMP2"].location_kind is Location.HANDOVER)
    assert "hold" in c["TMP2"].inspected and c["TMP2"].customs is Customs.CLEARED
    assert not [j for j in f.core.jobs.values() if j.container == "TMP2" and j.to_station.startswith("E")]  # never back to its yard


def test_blocked_lane_is_avoided(fleet):
    f = fleet
    f.step()
    tm = f.map
    blocked = "R3/010"
    lane = tm.lane_ids.index(blocked)
    f.control.call("block_lane", {"lane": blocked})
    arrive(f, "B1", "export", "E1-T1")
    arrive(f, "B2", "import", "HO-07", None)
    c = f.core.containers
    f.run_until(lambda: c["B1"].location_kind is Location.HANDOVER and c["B2"].location_kind is Location.YARD)
    lane_cells = set(np.nonzero(tm.cell_lane == lane)[0].tolist())
    for v in f.vehicles:
        assert not lane_cells & {cell for _, cell in v.visited}, v.serial
    assert any(a["kind"] == "blocked_lane" for a in f.core.alerts)


def test_emergency_stop_stops_everyone_within_one_tick(fleet):
    f = fleet
    f.step()
    for k, st in enumerate(["E1-T1", "E2-T1", "E3-T1"]):
        arrive(f, f"S{k}", "export", st)
    f.run_until(lambda: sum(v.record.mode is VehicleMode.MOVING for v in f.core.vehicles.values()) >= 3)
    f.control.call("estop", {"confirm": True})
    f.step()  # the instant action goes out with this tick
    frozen = [v.cell for v in f.vehicles]
    for _ in range(10):
        f.step()
    assert [v.cell for v in f.vehicles] == frozen
    assert all(v.estop for v in f.vehicles)
    f.control.call("estop_release", {"confirm": True})
    c = f.core.containers
    f.run_until(lambda: all(c[f"S{k}"].location_kind is Location.HANDOVER for k in range(3)))


def test_estop_needs_confirmation(fleet):
    with pytest.raises(InputError, match="confirm"):
        fleet.control.call("estop", {})


@pytest.mark.parametrize(
    "op, args, message",
    [
        ("customs_declaration", {"container": "NOPE", "status": "released"}, "unknown container 'NOPE'"),
        ("container_arrival", {"container": "X", "direction": "export", "station": "MARS-1"}, "unknown station 'MARS-1'"),
        ("container_arrival", {"container": "X", "direction": "sideways", "station": "E1-T1"}, "direction must be"),
        ("container_arrival", {"container": "X", "direction": "export", "station": "E1-T1", "size_ft": "big"}, "must be int"),
        ("block_lane", {"lane": "R99/000"}, "unknown lane"),
        ("pause", {"vehicle": "igv-999"}, "unknown vehicle"),
        ("cancel_job", {"job": "J-999999"}, "unknown job"),
        ("inject_job", {"container": "X", "from_station": "E1-T1"}, "missing argument 'to_station'"),
        ("set_speed", {"factor": 5}, "real clock"),
    ],
)
def test_bad_control_input_changes_nothing(fleet, op, args, message):
    f = fleet
    f.step()
    before = (dict(f.core.containers), dict(f.core.jobs), set(f.core.blocked_lanes), len(f.core.alerts))
    with pytest.raises(InputError, match=message):
        f.control.call(op, args)
    assert (dict(f.core.containers), dict(f.core.jobs), set(f.core.blocked_lanes), len(f.core.alerts)) == before


def test_vehicle_paused_without_a_leg_is_idle_again_after_resume_regression(fleet):
    """Found by the faulted end-to-end run: a vehicle held (paused) while it had no leg
    stayed PAUSED in the core for good once the hold was lifted, so it got no more work
    and its standing reservation blocked its lane."""
    f = fleet
    vid = f.vehicles[0].serial
    f.run_until(lambda: vid in f.core.vehicles, 20)
    f.control.call("pause", {"vehicle": vid})
    f.run_until(lambda: f.core.vehicles[vid].record.mode is VehicleMode.PAUSED, 10)
    f.control.call("resume", {"vehicle": vid})
    f.run_until(lambda: f.core.vehicles[vid].record.mode is VehicleMode.IDLE, 10)
    # and it takes work again
    arrive(f, "AFTER", "export", "E1-T1")
    c = f.core.containers
    f.run_until(lambda: c["AFTER"].location_kind is Location.HANDOVER)


def test_a_refused_order_is_cancelled_and_sent_again_regression(fleet):
    """Found by the faulted end-to-end run: a vehicle still holding an older order (its
    horizon cut by a reroute) refused the next leg's order; the leg stayed released on the
    core's side only and everybody depending on it waited for ever."""
    from types import SimpleNamespace

    from fleet.core.ingest import _resend_if_rejected
    from fleet.messages import AgvError, ErrorLevel, ErrorReference

    f = fleet
    f.step()
    arrive(f, "REF", "export", "E1-T1")
    m = f.core
    f.run_until(lambda: any(v.leg is not None and v.leg.update_id >= 0 for v in m.vehicles.values()))
    vid = next(k for k, v in m.vehicles.items() if v.leg is not None and v.leg.update_id >= 0)
    leg = m.vehicles[vid].leg
    sent: list[tuple[str, object]] = []
    real_instant, real_order = m.transport.send_instant_actions, m.transport.send_order
    m.transport.send_instant_actions = lambda v, msg: (sent.append(("instant", msg)), real_instant(v, msg))[1]
    m.transport.send_order = lambda v, msg: (sent.append(("order", msg)), real_order(v, msg))[1]
    refusal = AgvError(error_type="orderError", error_level=ErrorLevel.WARNING, error_references=(
        ErrorReference(reference_key="orderId", reference_value=leg.order_id),))
    now = m.clock()
    _resend_if_rejected(m, m.vehicles[vid], SimpleNamespace(errors=(refusal,)), now)
    assert [kind for kind, _ in sent] == ["instant"] and sent[0][1].actions[0].action_type == "cancelOrder"
    refused_id = refusal.error_references[0].reference_value
    assert leg.update_id == -1 and leg.rejections == 1 and leg.order_id != refused_id
    # a late state still showing the refusal (of the old id) changes nothing
    _resend_if_rejected(m, m.vehicles[vid], SimpleNamespace(errors=(refusal,)), now + 1.0)
    assert leg.rejections == 1
    f.step()  # the release phase sends the whole order again, from its first node
    orders = [msg for kind, msg in sent if kind == "order"]
    assert orders and orders[0].order_id == leg.order_id and orders[0].nodes[0].sequence_id == 0
    # and the job still completes
    c = m.containers
    f.run_until(lambda: c["REF"].location_kind is Location.HANDOVER)


def test_import_transfer_points_are_bound_late_regression_import_backlog(fleet):
    # Claiming a yard transfer point at intake held it while the job waited for a vehicle
    # too, so a handful of points capped the import flow (the day_2026 backlog at the
    # handover yard). Now every import gets a job at once, and a point is claimed when a
    # vehicle takes the job: one free point, one job under way at a time.
    f = fleet
    f.step()
    tm = f.map
    import_blocks = {z.id for z in tm.zones_of_kind("yard_block") if z.properties.get("yard") == "import"}
    points = [s.id for s in tm.stations_of_kind("crane_transfer") if s.zone_id in import_blocks]
    free = points[0]
    for k, s in enumerate(points[1:]):
        f.core.station_claims[s] = f"operator-hold-{k}"
    for k in range(3):
        arrive(f, f"LATE{k}", "import", f"HO-0{k + 1}")
    f.step()
    jobs = [j for j in f.core.jobs.values() if j.container and j.container.startswith("LATE")]
    assert len(jobs) == 3 and sum(j.to_bound for j in jobs) <= 1
    assert all(j.to_bound for j in jobs if j.status is not JobStatus.OPEN)
    c = f.core.containers
    f.run_until(lambda: all(c[f"LATE{k}"].location_kind is Location.YARD for k in range(3)))
    assert {c[f"LATE{k}"].location for k in range(3)} == {free}
    assert all(j.to_bound and j.to_station == free for j in jobs)
    assert f.cell_conflicts() == []


def test_no_box_is_picked_up_without_a_free_bay_to_put_it_down_regression_gate_stall(fleet):
    # day_2026 stopped for good at 11:00: vehicles had picked exports with no handover
    # bay free (all held imports) and waited on the export transfer points, box on board,
    # while the imports' vehicles waited for import transfer points held by vehicles sent
    # to those export points. A bay holding a box is not free, and a box whose
    # destination cannot be claimed stays where it is.
    f = fleet
    f.step()
    handover = [s.id for s in f.map.stations_of_kind("handover")]
    for s in handover[1:]:
        f.core.station_claims[s] = "operator-hold"
    arrive(f, "WAITING", "import", handover[0], None)  # not released: stays on its bay
    arrive(f, "OUT", "export", "E1-T1")
    for _ in range(200):
        f.step()
    job = next(j for j in f.core.jobs.values() if j.container == "OUT")
    assert f.core.containers["OUT"].location == "E1-T1"  # nowhere free: not even picked up
    assert job.status is JobStatus.OPEN and not any(v.record.laden for v in f.core.vehicles.values())
    del f.core.station_claims[handover[1]]
    f.run_until(lambda: f.core.containers["OUT"].location_kind is Location.HANDOVER)
    assert job.to_station == handover[1] == f.core.containers["OUT"].location


def test_a_box_put_down_on_a_booked_bay_moves_the_booking_regression_two_boxes_on_a_bay(fleet):
    # The Dongxing yard places imports on any bay it sees empty; in day_2026 22 of 283
    # imports landed on a handover bay booked for an export still on its way.
    f = fleet
    f.step()
    arrive(f, "OUT", "export", "E1-T1")
    job = None
    for _ in range(50):
        f.step()
        job = next((j for j in f.core.jobs.values() if j.container == "OUT" and j.to_bound), None)
        if job is not None:
            break
    assert job is not None and not f.core.containers["OUT"].location_kind is Location.IGV
    booked = job.to_station
    arrive(f, "IN", "import", booked, None)
    assert job.to_station != booked and f.core.station_claims[job.to_station] == job.id
    f.run_until(lambda: f.core.containers["OUT"].location_kind is Location.HANDOVER)
    assert f.core.containers["OUT"].location == job.to_station != booked


def test_exports_are_put_down_only_in_the_export_aisle_regression_exports_starved(fleet):
    # day_2026: imports filled every handover bay and exports had nowhere to go (northbound
    # about 0 from 16:00 to 19:00). Each direction now has its own aisle; an export waits
    # for a bay of the export aisle even when the import aisle has free ones.
    f = fleet
    f.step()
    export_aisle = [s.id for s in f.map.stations_of_kind("handover") if f.map.station_side(s.id) == "export"]
    for s in export_aisle:
        f.core.station_claims[s] = "operator-hold"
    arrive(f, "OUT", "export", "E1-T1")
    for _ in range(200):
        f.step()
    job = next(j for j in f.core.jobs.values() if j.container == "OUT")
    assert job.status is JobStatus.OPEN and f.core.containers["OUT"].location == "E1-T1"
    assert jobs_waiting_for_a_bay(f.core, f.now()) == [job.id]
    del f.core.station_claims[export_aisle[-1]]
    assert jobs_waiting_for_a_bay(f.core, f.now()) == []
    f.run_until(lambda: f.core.containers["OUT"].location_kind is Location.HANDOVER)
    assert f.core.containers["OUT"].location == export_aisle[-1]


def test_a_free_vehicle_resting_on_a_bay_takes_the_job_bound_for_it_regression_bay_held_by_idle_vehicle():
    # bench.core at 200 vehicles: 177 parking bays and chargers, so 23 vehicles rested on
    # handover bays they held, with nothing to do, while exports waited up to 32 s for a
    # bay. A vehicle resting on the only bay a job can go to now takes that job.
    probe = LockstepFleet(n_vehicles=1)
    export_aisle = [s.id for s in probe.map.stations_of_kind("handover") if probe.map.station_side(s.id) == "export"]
    parking = [s.id for s in probe.map.stations_of_kind("parking")]
    probe.close()
    f = LockstepFleet(n_vehicles=2, start_stations=[parking[0], export_aisle[0]])
    try:
        f.core.event_log = []
        for s in parking[1:] + export_aisle[1:]:
            f.core.station_claims[s] = "operator-hold"  # the yard full, as at 200 vehicles
        f.run_until(lambda: len(f.core.vehicles) == 2)
        f.step()
        squatter = f.vehicles[1].serial
        assert f.core.station_claims[export_aisle[0]] == squatter
        arrive(f, "OUT", "export", "E1-T1")
        f.step()
        job = next(j for j in f.core.jobs.values() if j.container == "OUT")
        assert job.vehicle == squatter and job.to_station == export_aisle[0] and job.to_bound
        assert f.core.station_claims[export_aisle[0]] == job.id
        assert jobs_waiting_for_a_bay(f.core, f.now()) == []
        f.run_until(lambda: f.core.containers["OUT"].location_kind is Location.HANDOVER)
        assert f.core.containers["OUT"].location == export_aisle[0]
        created = next(t for t, kind, d in f.core.event_log if kind == "job_created" and d["job"] == job.id)
        picked = next(t for t, kind, d in f.core.event_log if kind == "leg_released" and d["job"] == job.id and d["action"] == "pick")
        assert picked - created <= 0.5
        assert f.cell_conflicts() == []
    finally:
        f.close()


def test_a_pick_up_keeps_another_jobs_booking_of_the_point_regression_double_booked_point(fleet):
    # disruption at 15:00: a box was picked from I1-T1 (for the lab) while I1-T1 was booked
    # for another box's drop. The pick-up overwrote the booking with the vehicle, the
    # vehicle left and took it along, a second drop was bound to I1-T1, and the two
    # vehicles bound to it ended in a deadlock that held four vehicles for 9 h.
    f = fleet
    f.step()
    f.core.station_claims["I1-T1"] = "J-OTHER"  # a drop on its way there
    arrive(f, "SAMPLE", "import", "I1-T1", "lab", perishable=True)
    c = f.core.containers
    f.run_until(lambda: c["SAMPLE"].location_kind is Location.LAB, max_steps=4000)
    assert f.core.station_claims.get("I1-T1") == "J-OTHER"


def test_a_vehicle_whose_way_is_shut_moves_up_then_goes_on_when_it_opens():
    """Laden for the handover with the northbound bridge shut, the vehicle fails every
    search; after MOVE_UP_AFTER_S it drives part of the way (no action at the end, its
    drop still ahead), and once the lane opens it plans the rest and drops the box."""
    from fleet.core.manager import MOVE_UP_AFTER_S

    f = LockstepFleet(n_vehicles=1)
    try:
        f.core.event_log = []
        f.step()
        f.control.call("block_lane", {"lane": "BN/001"})
        arrive(f, "X1", "export", "E1-T1")
        f.run_until(lambda: any(kind == "moved_up" for _, kind, _ in f.core.event_log), 2000)
        v = f.core.vehicles["igv-001"]
        released = [d["action"] for _, kind, d in f.core.event_log if kind == "leg_released"]
        assert released == ["pick", None]  # then part of the way: no leg to the drop while the bridge is shut
        assert v.record.laden and v.leg.action is None
        assert [t.action for t in v.agenda] == ["drop"]
        stop = v.leg.cells[-1]
        assert f.core.traffic.waiting[stop] and f.map.cell_lane[stop] != f.map.lane_ids.index("BN/001")
        failing = [t for t, kind, _ in f.core.event_log if kind == "moved_up"][0] - v.failing_since_s
        assert failing >= MOVE_UP_AFTER_S
        f.run_until(lambda: f.core.vehicles["igv-001"].leg is None, 2000)
        assert f.vehicles[0].cell == stop and f.core.containers["X1"].location_kind is Location.IGV
        f.control.call("unblock_lane", {"lane": "BN/001"})
        f.run_until(lambda: f.core.containers["X1"].location_kind is Location.HANDOVER, 2000)
        assert f.cell_conflicts() == []
    finally:
        f.close()


def test_a_refused_event_is_not_remembered_so_its_mended_retry_applies_regression_id_taken_before_checks(fleet):
    # container_arrival and container_departure took the event id before their last checks:
    # a refused request's id counted as applied, and the feed's retry was a "duplicate".
    f = fleet
    f.step()
    arrive(f, "BOX1", "export", "E1-T1", None)
    with pytest.raises(InputError, match="already in the system"):
        f.control.call("container_arrival", {"container": "BOX1", "direction": "export", "station": "E1-T2", "event_id": "arr-2"})
    assert "arr-2" not in f.core.seen_events
    reply = f.control.call("container_arrival", {"container": "BOX2", "direction": "export", "station": "E1-T2", "event_id": "arr-2"})
    assert reply == {"container": "BOX2"}
    assert f.control.call("container_arrival", {"container": "BOX2", "direction": "export", "station": "E1-T2", "event_id": "arr-2"}) \
        == {"duplicate": True}


def test_event_ids_survive_a_restart_in_the_order_they_came(tmp_path, monkeypatch):
    import fleet.core.journal as journal_module
    import fleet.core.manager as manager_module

    monkeypatch.setattr(journal_module, "EVENT_IDS_KEPT", 2)
    monkeypatch.setattr(manager_module, "EVENT_IDS_KEPT", 2)
    config = CoreConfig(plan_in_worker=False, state_dir=tmp_path)
    f = LockstepFleet(n_vehicles=1, config=config)
    try:
        f.step()
        for cid, event_id in (("A", "z-first"), ("B", "m-second"), ("C", "a-last")):
            f.control.call("container_arrival", {"container": cid, "direction": "export", "station": f"E1-T{1 + 'ABC'.index(cid)}",
                                                 "event_id": event_id})
        assert list(f.core.seen_events) == ["m-second", "a-last"]
        f.step()
    finally:
        f.close()
    again = LockstepFleet(n_vehicles=1, config=config)
    try:
        assert list(again.core.seen_events) == ["m-second", "a-last"]
        assert again.control.call("container_arrival", {"container": "C", "direction": "export", "station": "E1-T3",
                                                        "event_id": "a-last"}) == {"duplicate": True}
    finally:
        again.close()


def test_tick_and_search_times_are_kept_bounded_regression_kpi_log_grew_a_float_a_tick(monkeypatch):
    import fleet.core.manager as manager_module

    monkeypatch.setattr(manager_module, "TIMINGS_KEPT", 5)
    f = LockstepFleet(n_vehicles=1)
    try:
        for _ in range(12):
            f.step()
        assert len(f.core.kpi_log["tick_ms"]) == 5
    finally:
        f.close()
