"""Tick phases *intake jobs* and *assign*, and the recovery of work after faults and restarts.

Intake turns each container's next move (:mod:`fleet.core.flow`) into a transport job
with a claimed destination station. Assignment gives open jobs to free vehicles (a
min-cost assignment over the map's travel-time table) and turns each into an agenda of
legs: pick, [scan on the way], drop. Free vehicles that are low on battery go to a
charger; free vehicles standing where others need to work go to a parking bay.

Destinations at the yard transfer points and the handover yard are bound late: a job
gets a provisional station at intake and claims a free one when it is given to a
vehicle (:func:`assign_jobs`). Claiming at intake held a transfer point while the job
waited for a vehicle too, so the 12 import transfer points capped imports at about 25 an
hour against a peak demand of 48 (the ``day_2026`` backlog at the handover yard).
Binding any later is unsafe: a vehicle that picks a box with nowhere to put it down
waits, box on board, on the station it picked from, and when every vehicle does so the
gate stops for good (``day_2026`` at 11:00: laden vehicles on all 12 export transfer
points waiting for handover bays full of imports, whose vehicles waited for import
transfer points held by vehicles sent to the export ones). So a late-bound job is only
assigned when a free station can be claimed for it at once. Lab and inspection bays,
where a box stays for hours, are claimed at intake.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fleet.core.customs import Alert, may_cross
from fleet.core.flow import next_move
from fleet.core.model import Container, Direction, Job, JobStatus, Location, VehicleMode

if TYPE_CHECKING:
    from fleet.core.manager import FleetManager, VehicleRuntime

ACTIVE = (JobStatus.WAITING, JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.CARRYING)
UNAVAILABLE = (VehicleMode.OFFLINE, VehicleMode.MANUAL, VehicleMode.FAULT, VehicleMode.PAUSED)
LATE_BOUND_KINDS = frozenset({"crane_transfer", "handover"})
"""Destination kinds claimed only when the box is on its way there (see the module doc)."""


def _resting_boxes(m: "FleetManager", live: list[Container] | None = None) -> set[str]:
    """Stations a container stands on: a bay holding a box is not free for another.

    Exports at a handover station have crossed (the Dongxing yard took them) and boxes in
    a yard block are stacked behind their transfer point, so neither occupies a station.
    """
    return {c.location for c in (m.live_containers() if live is None else live)
            if c.location_kind in (Location.LAB, Location.INSPECTION)
            or (c.location_kind is Location.HANDOVER and c.direction is Direction.IMPORT)}


def _is_free_station(m: "FleetManager", station: str, resting: set[str], claimed_ok: bool = False) -> bool:
    return (claimed_ok or station not in m.station_claims) and station not in resting


def _free_station(m: "FleetManager", kind: str, near: str | None, side: str | None = None, *,
                  resting: set[str] | None = None, claimed_ok: bool = False) -> str | None:
    """The free station of ``kind`` nearest to station ``near`` (by travel time).

    Free: not claimed (unless ``claimed_ok``) and no container resting on it (``resting``,
    computed by the caller when it asks for many stations in one tick). With ``side``
    (``export``/``import``), only stations serving that direction or both
    (:meth:`maps.trackmap.TrackMap.station_side`): an export goes to an export block's
    transfer point and to the handover aisle where the Dongxing yard collects exports.
    """
    tm = m.map
    if resting is None:
        resting = _resting_boxes(m)
    stations = tm.stations
    candidates = [
        i for i in tm.station_indices_of_kind(kind)
        if _is_free_station(m, stations[i].id, resting, claimed_ok) and _serves(m, stations[i].id, side)
    ]
    if not candidates:
        return None
    if near is None:
        return tm.stations[candidates[0]].id
    row = tm.station_travel_time_s[tm.station_index_of(near)]
    best = min(candidates, key=lambda i: (row[i], i))
    return tm.stations[best].id


def _serves(m: "FleetManager", station: str, side: str | None) -> bool:
    own = m.map.station_side(station)
    return side is None or own is None or own == side


def intake_jobs(m: "FleetManager", now: float) -> None:
    busy = {j.container for j in m.active_jobs() if j.container}
    live = m.live_containers()
    resting = _resting_boxes(m, live)
    for c in live:
        cid = c.id
        if c.direction is Direction.IMPORT and c.location_kind is Location.YARD and c.cleared_s is None and may_cross(c):
            m.mark(container=replace(c, cleared_s=now))
            m.kpi_log["clearance_h"].append((now - c.gate_in_s) / 3600.0)
        if cid in busy:
            continue
        move = next_move(c)
        if move is None:
            continue
        late = move.to_kind in LATE_BOUND_KINDS
        to_station = _free_station(m, move.to_kind, c.location, c.direction.value, resting=resting, claimed_ok=late)
        via = _free_station(m, move.via_kind, c.location, resting=resting) if move.via_kind else None
        if to_station is None or (move.via_kind and via is None):
            continue  # nowhere free yet: try again next tick
        job = Job(id=m.new_id("job"), container=cid, from_station=c.location, to_station=to_station,
                  priority=2 if c.perishable else 1, deadline_s=c.deadline_s, created_s=now,
                  purpose=move.purpose, via_station=via, to_bound=not late)
        if not late:
            m.station_claims[to_station] = job.id
        if via:
            m.station_claims[via] = job.id
        m.mark(job=job)
        m.event(now, "job_created", {"job": job.id, "container": cid, "from": job.from_station, "to": to_station, "via": via})
    _deadline_alerts(m, live, now)
    _send_free_vehicles_away(m, now, resting)


def _destination_group(m: "FleetManager", job: Job) -> tuple[str, str | None]:
    """Station kind of a late-bound job's destination, and the direction it must serve."""
    kind = m.map.station(job.to_station).kind
    c = m.containers.get(job.container) if job.container else None
    return kind, (c.direction.value if c is not None else None)


def _bind(m: "FleetManager", job: Job, near: str | None, vid: str, now: float) -> bool:
    """Claim the free station nearest ``near`` for ``job``'s late-bound destination."""
    kind, side = _destination_group(m, job)
    station = _free_station(m, kind, near, side)
    if station is None:
        return False
    m.station_claims[station] = job.id
    job.to_station, job.to_bound = station, True
    m.mark(job=job)
    m.event(now, "destination_bound", {"job": job.id, "vehicle": vid, "station": station})
    return True


def bind_destination(m: "FleetManager", v: "VehicleRuntime", now: float) -> bool:
    """Before the leg to ``v``'s next task: claim a station for a drop still unbound.

    Jobs are bound when assigned; one carried after a restart (a vehicle that reports a
    box, :func:`resync_vehicle`) may not be. True when the vehicle may plan its next leg;
    False when every station of the kind is taken and it waits, box on board.
    """
    task = v.agenda[0]
    job = m.jobs.get(task.job) if task.action == "drop" and task.job else None
    if job is None or job.to_bound:
        return True
    if not _bind(m, job, v.record.station or task.station, v.record.id, now):
        return False
    v.agenda[0] = replace(task, station=job.to_station)
    return True


def move_booking_off(m: "FleetManager", station: str, now: float) -> None:
    """A box was put down on ``station`` by someone else (the Dongxing yard places imports
    on any bay it sees empty; it does not know our bookings): a job that claimed the bay
    for a drop takes another free one, unless its vehicle is already driving there (then
    the bay stays booked and the alert is the operator's)."""
    jid = m.station_claims.get(station)
    job = m.jobs.get(jid) if jid else None
    if job is None or job.to_station != station or job.status not in (JobStatus.ASSIGNED, JobStatus.CARRYING):
        return
    v = m.vehicles.get(job.vehicle) if job.vehicle else None
    at = next((i for i, t in enumerate(v.agenda) if t.job == job.id and t.action == "drop"), None) if v else None
    if v is not None and at is not None and not (at == 0 and v.leg is not None):
        del m.station_claims[station]
        if _bind(m, job, station, v.record.id, now):
            v.agenda[at] = replace(v.agenda[at], station=job.to_station)
            return
        m.station_claims[station] = job.id  # nowhere else free: keep it, the box may be gone first
    m.raise_alert(now, Alert("bay_conflict", "warning", station, f"{station}: a box was put down on a bay booked for {job.container}"))


def _bindable(m: "FleetManager", jobs: list[Job]) -> list[Job]:
    """``jobs`` without the late-bound ones that could not claim a destination now.

    Per destination group (station kind, direction), as many unbound jobs as there are
    free stations serving it, the most urgent first (priority, then deadline, then age).
    Stations serving both directions are a shared pool, used after the group's own.
    """
    resting = _resting_boxes(m)
    free: dict[tuple[str, str | None], int] = {}
    for s in m.map.stations:
        if s.kind in LATE_BOUND_KINDS and _is_free_station(m, s.id, resting):
            group = (s.kind, m.map.station_side(s.id))
            free[group] = free.get(group, 0) + 1
    keep = {j.id for j in jobs if j.to_bound}
    urgent = sorted((j for j in jobs if not j.to_bound), key=_urgency)
    for j in urgent:
        kind, side = _destination_group(m, j)
        pool = next((g for g in ((kind, side), (kind, None)) if free.get(g, 0) > 0), None)
        if pool is not None:
            free[pool] -= 1
            keep.add(j.id)
    return [j for j in jobs if j.id in keep]


def _urgency(j: Job) -> tuple[float, float, float, str]:
    return (-j.priority, j.deadline_s if j.deadline_s is not None else float("inf"), j.created_s, j.id)


def _deadline_alerts(m: "FleetManager", live: list[Container], now: float) -> None:
    warned = m.deadline_warned
    for c in live:
        if c.deadline_s is None or c.cleared_s is not None or c.id in warned:
            continue
        if c.deadline_s - now < m.config.deadline_warning_s:
            warned.add(c.id)
            m.raise_alert(now, Alert("deadline_risk", "warning", c.id, f"{c.id}: deadline in {(c.deadline_s - now) / 60:.0f} min"))


def _is_free(v: "VehicleRuntime") -> bool:
    return not v.agenda and v.leg is None and v.record.mode not in UNAVAILABLE and not v.estopped and v.cell >= 0 and not v.record.laden


def _send_free_vehicles_away(m: "FleetManager", now: float, resting: set[str]) -> None:
    """Free vehicles to a charger when low, away from stations others need, to parking.

    ``resting`` is the tick's :func:`_resting_boxes` (nothing moves a box here).
    PERF: it was computed again, from all live containers, for every vehicle looking for a
    charger or a parking spot: this function was 29% of the samples of a ``peak_2030``
    run near 18:20 simulated (``py-spy record``, 15 s), nearly all in ``_resting_boxes``.
    """
    from fleet.core.manager import MUST_VACATE, Task

    for vid in sorted(m.vehicles):
        v = m.vehicles[vid]
        if not _is_free(v) or v.record.mode is VehicleMode.CHARGING:
            continue
        here = v.record.station
        kind = m.map.station(here).kind if here else None
        if v.record.battery_pct < m.config.battery_low_pct and kind != "charger":
            charger = _free_station(m, "charger", here, resting=resting)
            if charger is not None:
                m.station_claims[charger] = vid
                v.agenda = [Task(charger, "startCharging")]
                continue
        if kind == "charger" and v.record.battery_pct < m.config.battery_target_pct:
            v.agenda = [Task(here, "startCharging")]
            continue
        if kind in MUST_VACATE or here is None:
            spot = _free_station(m, "parking", here, resting=resting)
            if spot is not None:
                m.station_claims[spot] = vid
                v.agenda = [Task(spot, "")]


def assign_jobs(m: "FleetManager", now: float) -> None:
    """Open jobs to free vehicles with the planner's min-cost assignment (:mod:`planner.assign`).

    Battery feasibility and deadlines are the planner's; charging of vehicles under the
    threshold stays with :func:`_send_free_vehicles_away`, which knows which chargers are free.
    """
    open_jobs = _open_jobs(m, now)
    jobs = _bindable(m, open_jobs)
    # A free vehicle off any station (back mid-lane after a fault) is first sent to park.
    free = [v for v in (m.vehicles[k] for k in sorted(m.vehicles)) if (_is_free(v) and v.record.station or _is_parking_trip(m, v))
            and v.record.battery_pct >= m.config.battery_low_pct and v.record.mode is not VehicleMode.CHARGING]
    if not free:
        return
    assigned = _solve(m, jobs, free, now) if jobs else set()
    kept = {j.id for j in jobs}
    left = [j for j in open_jobs if j.id not in kept and not j.to_bound]
    if left:
        _hand_bays_over(m, left, [v for v in free if v.record.id not in assigned and not v.agenda], now)


def _solve(m: "FleetManager", jobs: list[Job], free: list["VehicleRuntime"], now: float) -> set[str]:
    """The min-cost assignment of ``jobs`` to ``free`` vehicles; the vehicles it used."""
    from planner.assign import AssignOptions, AssignProblem, TransportJob, VehicleState, assign_jobs as solve

    tm = m.map
    vehicles = tuple(
        VehicleState(v.record.id, tm.station_index_of(v.agenda[0].station if v.agenda else v.record.station),
                     min(1.0, v.record.battery_pct / 100.0), now)
        for v in free
    )
    transport = tuple(
        TransportJob(j.id, tm.station_index_of(j.from_station), tm.station_index_of(j.to_station), j.earliest_s,
                     j.deadline_s if j.deadline_s is not None else float("inf"), float(max(j.priority, 1)), j.container is not None)
        for j in jobs
    )
    chargers = tuple(tm.station_index_of(s.id) for s in tm.stations_of_kind("charger"))
    result = solve(AssignProblem(tm.station_travel_time_s, vehicles, transport, chargers, now_s=now),
                   AssignOptions(charge_below_soc=m.config.battery_low_pct / 100.0), now=m.perf)
    by_id = {v.record.id: v for v in free}
    for a in result.assignments:
        v, job = by_id[a.vehicle_id], m.jobs[a.job_id]
        if v.agenda:  # was only heading to park: give the parking bay back
            spot = v.agenda[0].station
            if v.leg is not None:
                continue  # already rolling towards the bay; it takes work when it gets there
            if m.station_claims.get(spot) == v.record.id:
                del m.station_claims[spot]
            v.agenda = []
        if not job.to_bound and not _bind(m, job, job.from_station, v.record.id, now):
            continue  # counted free by _bindable, so not expected; the job stays open
        _give(m, v, job, now)
    return {a.vehicle_id for a in result.assignments}


def _give(m: "FleetManager", v: "VehicleRuntime", job: Job, now: float) -> None:
    """``job`` to ``v``: its agenda is pick, [scan], drop."""
    from fleet.core.manager import Task

    job.status, job.vehicle = JobStatus.ASSIGNED, v.record.id
    m.mark(job=job)
    v.agenda = [Task(job.from_station, "pick", job.id, job.container)]
    if job.via_station:
        v.agenda.append(Task(job.via_station, "scan", job.id, job.container))
    v.agenda.append(Task(job.to_station, "drop", job.id, job.container))
    v.record.job = job.id
    m.event(now, "job_assigned", {"job": job.id, "vehicle": v.record.id})


def _squatters(m: "FleetManager", free: list["VehicleRuntime"]) -> dict[tuple[str, str | None], list["VehicleRuntime"]]:
    """Free vehicles resting on a late-bound bay they hold (parking full), by the bay's group."""
    out: dict[tuple[str, str | None], list["VehicleRuntime"]] = {}
    for v in free:
        here = v.record.station
        if here is None or m.station_claims.get(here) != v.record.id:
            continue
        kind = m.map.station(here).kind
        if kind in LATE_BOUND_KINDS:
            out.setdefault((kind, m.map.station_side(here)), []).append(v)
    return out


def _hand_bays_over(m: "FleetManager", jobs: list[Job], free: list["VehicleRuntime"], now: float) -> None:
    """Jobs that found no free bay, given to free vehicles resting on one of their group.

    With more vehicles than parking bays (``bench.core`` at 200 vehicles: 177 parking
    bays and chargers), the rest stand on handover bays and hold them; exports then
    waited up to 32 s for a bay held by a vehicle with nothing to do. Such a vehicle
    takes the job and its bay becomes the job's destination: it drives to the pick and
    comes back to drop where it stood, so nobody else is ever sent to the bay meanwhile.
    """
    squatters = _squatters(m, free)
    if not squatters:
        return
    row_of = m.map.station_travel_time_s
    for job in sorted(jobs, key=_urgency):
        pool = _squatter_pool(m, squatters, job)
        if pool is None:
            continue
        start = m.map.station_index_of(job.from_station)
        v = min(pool, key=lambda v: (row_of[m.map.station_index_of(v.record.station), start], v.record.id))
        pool.remove(v)
        bay = v.record.station
        m.station_claims[bay] = job.id
        job.to_station, job.to_bound = bay, True
        m.event(now, "destination_bound", {"job": job.id, "vehicle": v.record.id, "station": bay})
        _give(m, v, job, now)


def jobs_waiting_for_a_bay(m: "FleetManager", now: float) -> list[str]:
    """Open jobs the assignment cannot take now because no bay of their destination group
    is free and no free vehicle rests on one (the terminal's queue, not the core's)."""
    open_jobs = _open_jobs(m, now)
    kept = {j.id for j in _bindable(m, open_jobs)}
    squatters = _squatters(m, [v for v in m.vehicles.values() if _is_free(v)])
    return [j.id for j in open_jobs if j.id not in kept and _squatter_pool(m, squatters, j) is None]


def _open_jobs(m: "FleetManager", now: float) -> list[Job]:
    return [j for j in m.active_jobs() if j.status is JobStatus.OPEN and j.earliest_s <= now]


def _squatter_pool(m: "FleetManager", squatters: dict[tuple[str, str | None], list["VehicleRuntime"]],
                   job: Job) -> list["VehicleRuntime"] | None:
    """The squatters that may take ``job``: its destination group's own, else the shared pool's."""
    kind, side = _destination_group(m, job)
    return next((squatters[g] for g in ((kind, side), (kind, None)) if squatters.get(g)), None)


def _is_parking_trip(m: "FleetManager", v: "VehicleRuntime") -> bool:
    return (len(v.agenda) == 1 and v.agenda[0].action == "" and v.leg is None and not v.record.laden
            and v.record.mode not in UNAVAILABLE and not v.estopped)


def release_vehicle_work(m: "FleetManager", v: "VehicleRuntime", now: float) -> None:
    """The vehicle cannot go on (fault, or offline too long): give its work to others."""
    vid = v.record.id
    for job in m.active_jobs():
        if job.vehicle == vid and job.status is JobStatus.ASSIGNED:
            job.status, job.vehicle = JobStatus.OPEN, None
            m.mark(job=job)
            m.event(now, "job_reassigned", {"job": job.id, "from_vehicle": vid})
    for task in v.agenda:
        if task.action in ("", "startCharging") and m.station_claims.get(task.station) == vid:
            del m.station_claims[task.station]
    if not v.record.laden:
        v.agenda = []
        v.record.job = None
    m.freeze_vehicle(vid)


def recover_jobs(m: "FleetManager") -> None:
    """After a restart: claims of live jobs back; jobs not yet picked up are open again."""
    for job in sorted(m.jobs.values(), key=lambda j: j.id):
        if job.status not in ACTIVE:
            continue
        if job.to_bound:
            m.station_claims[job.to_station] = job.id
        if job.via_station:
            m.station_claims[job.via_station] = job.id
        if job.status is JobStatus.ASSIGNED:
            job.status, job.vehicle = JobStatus.OPEN, None
            m.mark(job=job)


def resync_vehicle(m: "FleetManager", v: "VehicleRuntime", state, now: float) -> None:
    """A vehicle (re)appeared: take over the job it carries, from what it reports."""
    from fleet.core.manager import Task

    vid = v.record.id
    loads = {l.load_id for l in (state.loads or ()) if l.load_id}
    for job in sorted(m.jobs.values(), key=lambda j: j.id):
        if job.container is None or job.status not in (JobStatus.CARRYING, JobStatus.OPEN):
            continue
        c = m.containers.get(job.container)
        if c is None:
            continue
        if job.container in loads:
            # It carries the container: the pick happened (maybe journaled, maybe not).
            job.status, job.vehicle = JobStatus.CARRYING, vid
            m.mark(job=job, container=replace(c, location_kind=Location.IGV, location=vid))
            v.record.laden, v.record.container, v.record.job = True, c.id, job.id
            scanned = "scan" in c.inspected
            v.agenda = ([Task(job.via_station, "scan", job.id, c.id)] if job.via_station and not scanned else []) + [
                Task(job.to_station, "drop", job.id, c.id)]
            m.event(now, "job_resumed", {"job": job.id, "vehicle": vid})
        elif job.status is JobStatus.CARRYING and job.vehicle == vid and state.loads is not None:
            # It no longer carries it: the drop finished before the crash was journaled.
            from fleet.core.ingest import complete_drop

            complete_drop(m, c, job.to_station, job, vid, now)
