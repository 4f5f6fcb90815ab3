"""Tick phases *ingest* and *update vehicles*: what vehicles report becomes fleet state."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fleet.core.customs import Alert, complete_check
from fleet.core.model import Customs, Direction, JobStatus, Location, VehicleMode, VehicleRecord
from fleet.link import LinkEventKind
from fleet.messages import ActionStatus, Connection, ConnectionState, EStop, ErrorLevel, OperatingMode, State, Visualization

if TYPE_CHECKING:
    from fleet.core.manager import FleetManager, VehicleRuntime

STATION_LOCATION = {
    "crane_transfer": Location.YARD,
    "handover": Location.HANDOVER,
    "lab_bay": Location.LAB,
    "inspection_bay": Location.INSPECTION,
    "scanner_bay": Location.SCANNER,
    "truck_exchange": Location.TRUCK,
}


def ingest(m: "FleetManager", result, now: float) -> None:
    for event in result.events:
        v = m.vehicles.get(event.serial)
        if event.kind is LinkEventKind.ONLINE:
            if v is not None and v.record.mode is VehicleMode.OFFLINE:
                # Offline, it went on driving what it had been released: where it stands is
                # what its next state says (thawing at the last cell seen let others be routed
                # through where it really stood: collisions in the disruption bench).
                v.record.mode = VehicleMode.IDLE
                v.offline_since_s = None
                v.rejoin = True
                m.event(now, "vehicle_online", {"vehicle": event.serial})
        elif event.kind in (LinkEventKind.CONNECTIONBROKEN, LinkEventKind.OFFLINE) and v is not None:
            _went_offline(m, v, now, event.kind.value)
    for inbound in result.inbound:
        msg = inbound.message
        if isinstance(msg, State):
            _on_state(m, inbound.serial, msg, now)
        elif isinstance(msg, Visualization) and msg.agv_position is not None:
            v = m.vehicles.get(inbound.serial)
            if v is not None:
                v.record.x_m, v.record.y_m, v.record.heading_rad = msg.agv_position.x, msg.agv_position.y, msg.agv_position.theta
        elif isinstance(msg, Connection) and msg.connection_state is not ConnectionState.ONLINE:
            v = m.vehicles.get(inbound.serial)
            if v is not None:
                _went_offline(m, v, now, msg.connection_state.value)


def _went_offline(m: "FleetManager", v: "VehicleRuntime", now: float, why: str) -> None:
    if v.record.mode is VehicleMode.OFFLINE:
        return
    v.record.mode = VehicleMode.OFFLINE
    v.offline_since_s = now
    m.raise_alert(now, Alert("comm_loss", "warning", v.record.id, f"{v.record.id}: connection {why.lower()}"))


def _register(m: "FleetManager", serial: str, state: State, now: float) -> "VehicleRuntime":
    from fleet.core.manager import VehicleRuntime

    x = state.agv_position.x if state.agv_position else 0.0
    y = state.agv_position.y if state.agv_position else 0.0
    cell = m.cell_of_state(state.last_node_id, x, y)
    v = VehicleRuntime(record=VehicleRecord(id=serial, x_m=x, y_m=y, mode=VehicleMode.IDLE, last_seen_s=now), cell=cell)
    m.vehicles[serial] = v
    m.traffic.add_vehicle(serial, cell, now)
    station = m.station_at(cell)
    v.record.station = station
    if station is not None:
        m.station_claims.setdefault(station, serial)
    if state.node_states or state.order_id:
        # After a core restart the vehicle may still hold an order of the old core: cancel it.
        m.instant(serial, "cancelOrder")
    from fleet.core.dispatch import resync_vehicle

    resync_vehicle(m, v, state, now)
    m.event(now, "vehicle_registered", {"vehicle": serial, "cell": cell})
    return v


def _on_state(m: "FleetManager", serial: str, state: State, now: float) -> None:
    v = m.vehicles.get(serial) or _register(m, serial, state, now)
    r = v.record
    r.last_seen_s = now
    if state.agv_position is not None:
        r.x_m, r.y_m, r.heading_rad = state.agv_position.x, state.agv_position.y, state.agv_position.theta
    if state.velocity is not None and state.velocity.vx is not None:
        r.speed_mps = abs(float(state.velocity.vx))
    r.battery_pct = float(state.battery_state.battery_charge)
    r.errors = [e.error_type for e in state.errors]
    r.paused = bool(state.paused)
    r.manual = state.operating_mode in (OperatingMode.MANUAL, OperatingMode.SERVICE) or r.manual
    fatal = any(e.error_level is ErrorLevel.FATAL for e in state.errors)
    if fatal and r.mode is not VehicleMode.FAULT:
        r.mode = VehicleMode.FAULT
        m.raise_alert(now, Alert("vehicle_fault", "critical", serial, f"{serial}: {', '.join(r.errors)}"))
        from fleet.core.dispatch import release_vehicle_work

        release_vehicle_work(m, v, now)
    elif not fatal and r.mode is VehicleMode.FAULT:
        r.mode = VehicleMode.IDLE
        v.rejoin = True
    v.estopped = state.safety_state.e_stop is not EStop.NONE and v.estopped
    if v.rejoin and r.mode not in (VehicleMode.OFFLINE, VehicleMode.FAULT, VehicleMode.MANUAL):
        _rejoin(m, v, state)
    leg = v.leg
    if leg is not None and state.order_id == leg.order_id:
        step = min(state.last_node_sequence_id // 2, len(leg.cells) - 1)
        if step > leg.progress:
            leg.progress = step
            m.traffic.report_progress(serial, step)
        v.cell = leg.cells[leg.progress]
        if leg.action is not None:
            for a in state.action_states:
                if a.action_id == leg.action.action_id and a.action_status is ActionStatus.FINISHED:
                    leg.action_done = True
                elif a.action_id == leg.action.action_id and a.action_status is ActionStatus.FAILED:
                    m.raise_alert(now, Alert("vehicle_fault", "warning", serial, f"{serial}: action {leg.action.action_type} failed"))
        if r.mode not in (VehicleMode.OFFLINE, VehicleMode.FAULT, VehicleMode.MANUAL):
            if leg.progress < len(leg.cells) - 1:
                r.mode = VehicleMode.MOVING if state.driving else VehicleMode.WAITING
            else:
                r.mode = VehicleMode.LOADING if leg.action is not None and not leg.action_done else VehicleMode.IDLE
    else:
        if leg is not None:
            _resend_if_rejected(m, v, state, now)
        idle_again = r.mode in (VehicleMode.MOVING, VehicleMode.WAITING, VehicleMode.LOADING) or (r.mode is VehicleMode.PAUSED and not r.paused)
        if idle_again:
            r.mode = VehicleMode.IDLE  # no leg to follow (done, or taken away while it was held)
    if r.paused and r.mode not in (VehicleMode.OFFLINE, VehicleMode.FAULT):
        r.mode = VehicleMode.PAUSED


def _rejoin(m: "FleetManager", v: "VehicleRuntime", state: State) -> None:
    """A vehicle back from a fault, a long silence or manual mode takes part again.

    While it was frozen its released steps stayed held; it may have driven them since, and
    orders sent just before the link broke may reach it only now. So it first gets a
    ``cancelOrder``, and is thawed only when a state shows it at rest with no order work,
    at the cell that state reports. (Thawing at the last cell heard freed the cells where
    it really stood, and others were routed into it: the disruption bench's collisions.)
    """
    serial = v.record.id
    if not m.traffic.is_frozen(serial):
        v.rejoin = v.rejoin_cancelled = False
        return
    if any(a.action_status in _UNDER_WAY for a in state.action_states):
        # A pick or drop under way finishes first: cancelled, it left the box half moved
        # and the core's drop leg failed for ever (the disruption bench's lost containers).
        return
    if state.node_states or state.driving:
        if not v.rejoin_cancelled:
            m.instant(serial, "cancelOrder")
            v.rejoin_cancelled = True
        return
    v.rejoin = v.rejoin_cancelled = False
    m.thaw_vehicle(serial, _reported_cell(m, state, v.record))
    _reconcile_loads(m, v, state)


_UNDER_WAY = frozenset({ActionStatus.INITIALIZING, ActionStatus.RUNNING, ActionStatus.PAUSED})


def _reconcile_loads(m: "FleetManager", v: "VehicleRuntime", state: State) -> None:
    """After a silence: a pick or drop the vehicle did meanwhile, the core takes over."""
    from fleet.core.dispatch import resync_vehicle

    now = m.clock()
    resync_vehicle(m, v, state, now)
    c = m.containers.get(v.record.container) if v.record.container else None
    if c is not None and not (c.location_kind is Location.IGV and c.location == v.record.id):
        # Put down while unheard: its drop task is done.
        done = v.record.job
        v.agenda = [t for t in v.agenda if t.job != done]
        v.record.laden, v.record.container, v.record.job = False, None, None
        here = m.station_at(v.cell)
        job = m.jobs.get(done) if done else None
        if here is not None and job is not None and m.station_claims.get(here) == job.id:
            m.station_claims[here] = v.record.id


def _reported_cell(m: "FleetManager", state: State, r: VehicleRecord) -> int:
    x = state.agv_position.x if state.agv_position else r.x_m
    y = state.agv_position.y if state.agv_position else r.y_m
    return m.cell_of_state(state.last_node_id, x, y)


ORDER_ERRORS = frozenset({"orderError", "orderUpdateError", "noRouteError", "validationError"})
"""VDA 5050 error types with which a vehicle refuses an order."""


def _resend_if_rejected(m: "FleetManager", v: "VehicleRuntime", state: State, now: float) -> None:
    """The vehicle refused the current leg's order (typically: it still holds an older
    order whose horizon was cut): cancel whatever it holds and send the leg again.

    Without this the leg stays released on the core's side only, and everyone whose
    steps depend on it waits for ever.
    """
    leg = v.leg
    if leg is None or leg.update_id < 0:
        return
    refusal = next((e for e in state.errors if e.error_type in ORDER_ERRORS
                    and any(ref.reference_key == "orderId" and ref.reference_value == leg.order_id for ref in e.error_references)),
                   None)
    if refusal is None:
        return
    if refusal.error_type == "noRouteError":
        # The leg starts where the vehicle is not (it moved while the core did not hear it):
        # sending it again would be refused for ever. Seat it where it says it is and plan
        # from there; the leg's released cells stay held until then.
        vid = v.record.id
        m.freeze_vehicle(vid)
        m.thaw_vehicle(vid, _reported_cell(m, state, v.record))
        m.event(now, "order_refused", {"vehicle": vid, "reason": refusal.error_description or "", "reseated_at": v.cell})
        return
    m.instant(v.record.id, "cancelOrder")
    # The next release sends the whole leg again under a new order id: a vehicle that
    # did hold the refused id (then cancelled) would take a repeat of it for a duplicate,
    # and a late state still showing the refusal no longer names the leg's order.
    leg.order_id = m.next_id(v, "o")
    leg.update_id, leg.base_end = -1, -1
    leg.rejections += 1
    m.event(now, "order_refused", {"vehicle": v.record.id, "reason": refusal.error_description or "", "resent_as": leg.order_id,
                                   "times": leg.rejections})


def update_vehicles(m: "FleetManager", now: float) -> None:
    for vid in sorted(m.vehicles):
        v = m.vehicles[vid]
        r = v.record
        if r.mode is VehicleMode.OFFLINE and v.offline_since_s is not None and now - v.offline_since_s > m.config.offline_timeout_s:
            if not m.traffic.is_frozen(vid):
                # Stop waiting for it: it becomes an obstacle and the others are replanned around it.
                from fleet.core.dispatch import release_vehicle_work

                release_vehicle_work(m, v, now)
                m.event(now, "vehicle_frozen", {"vehicle": vid})
            continue
        leg = v.leg
        if leg is None:
            if r.mode is VehicleMode.CHARGING and r.battery_pct >= m.config.battery_target_pct:
                m.instant(vid, "stopCharging")
                r.mode = VehicleMode.IDLE
            continue
        at_end = leg.progress >= len(leg.cells) - 1
        cut_short = bool(v.agenda) and m.map.station_cell_of(v.agenda[0].station) != leg.cells[-1]
        if at_end and (leg.action is None or leg.action_done or cut_short):
            _finish_task(m, v, now)


def _finish_task(m: "FleetManager", v: "VehicleRuntime", now: float) -> None:
    vid = v.record.id
    m.traffic.finish_leg(vid, now)
    v.cell = v.leg.cells[-1]
    v.leg = None
    if v.agenda and m.map.station_cell_of(v.agenda[0].station) != v.cell:
        # The leg was cut short (rerouted around a stopped vehicle): plan the rest. The
        # vehicle may still hold the old horizon and refuse the next order at first;
        # _resend_if_rejected cancels and re-sends it, as for any refusal.
        return
    task = v.agenda.pop(0) if v.agenda else None
    if v.record.station and m.station_claims.get(v.record.station) == vid:
        del m.station_claims[v.record.station]
    if task is None:
        return
    v.record.station = task.station
    if m.station_claims.get(task.station) in (None, vid, task.job):
        m.station_claims[task.station] = vid
    # Else another job booked the station for its drop (a box picked from a yard transfer
    # point another box is on its way to): the booking stays. Overwritten, it went when this
    # vehicle left, and a third job was bound to the point still booked (disruption at
    # 15:00: two vehicles bound to I1-T1, four vehicles stuck for 9 h).
    job = m.jobs.get(task.job) if task.job else None
    c = m.containers.get(task.container) if task.container else None
    if task.action == "pick" and c is not None:
        m.mark(container=replace(c, location_kind=Location.IGV, location=vid))
        v.record.laden, v.record.container = True, c.id
        if job is not None:
            job.status, job.picked_s = JobStatus.CARRYING, now
            m.mark(job=job)
        _release_claim(m, task.station, job)
    elif task.action == "scan" and c is not None:
        m.mark(container=complete_check(c, "scan"))
        m.event(now, "scanned", {"container": c.id, "station": task.station})
    elif task.action == "drop" and c is not None:
        complete_drop(m, c, task.station, job, vid, now)
        v.record.laden, v.record.container = False, None
        v.record.job = None
    elif task.action == "startCharging":
        v.record.mode = VehicleMode.CHARGING
    if not v.agenda:
        v.record.job = None


def complete_drop(m: "FleetManager", c, station: str, job, vid: str, now: float) -> None:
    """``c`` was put down at ``station``: where it is now, checks done, crossings, the job.

    Used when a vehicle reports the drop and when a restarted core learns from a vehicle's
    state that the drop happened before the crash.
    """
    kind = m.map.station(station).kind
    location = STATION_LOCATION.get(kind, Location.YARD)
    c = replace(c, location_kind=location, location=station)
    if kind == "lab_bay":
        c = complete_check(c, "lab")  # sampled on the bay; the result comes as a declaration
    # An inspection ends with the inspectors' declaration (customs.apply_declaration).
    if location is Location.HANDOVER and c.direction is Direction.EXPORT and c.customs is Customs.RELEASED:
        c = replace(c, customs=Customs.CLEARED, cleared_s=now)
        m.kpi_log["crossed_north"].append(now)
        m.kpi_log["clearance_h"].append((now - c.gate_in_s) / 3600.0)
    if location is Location.YARD and c.direction is Direction.IMPORT and c.cleared_s is None:
        m.kpi_log["crossed_south"].append(now)
    m.mark(container=c)
    if job is not None:
        job.status, job.done_s, job.vehicle = JobStatus.DONE, now, vid
        m.mark(job=job)
        m.event(now, "job_done", {"job": job.id, "container": c.id, "vehicle": vid})


def _release_claim(m: "FleetManager", station: str, job) -> None:
    if job is not None and m.station_claims.get(station) == job.id:
        del m.station_claims[station]
