"""Control-API and terminal-feed handlers (docs/telemetry.md).

Every handler validates all of its arguments before it changes anything, so a bad
request gets a one-line error and leaves the state as it was. Handlers run inside the
core's *ingest* phase (the transport calls them from ``poll``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fleet.core.customs import DECLARATIONS, apply_declaration, apply_seal_event
from fleet.core.model import Container, Direction, Job, JobStatus, Location
from fleet.security import Role
from maps.errors import InputError

if TYPE_CHECKING:
    from fleet.core.manager import FleetManager


def _arg(args: dict[str, Any], key: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None) -> Any:
    if key not in args or args[key] is None:
        if required:
            raise InputError(f"missing argument {key!r}")
        return default
    value = args[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise InputError(f"argument {key!r} must be a number, got {value!r}")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(f"argument {key!r} must be {names}, got {type(value).__name__}")
    return value


def register(m: "FleetManager") -> None:
    """Register every handler of ``m`` on its transport."""
    handlers = Handlers(m)
    ops = {
        "pause": Role.OPERATOR, "resume": Role.OPERATOR, "estop": Role.OPERATOR, "estop_release": Role.OPERATOR,
        "block_lane": Role.OPERATOR, "unblock_lane": Role.OPERATOR, "block_zone": Role.OPERATOR, "unblock_zone": Role.OPERATOR,
        "inject_job": Role.OPERATOR, "cancel_job": Role.OPERATOR, "reprioritise_job": Role.OPERATOR,
        "set_manual": Role.OPERATOR, "set_speed": Role.OPERATOR, "customs_declaration": Role.OPERATOR,
        "container_arrival": Role.OPERATOR, "container_departure": Role.OPERATOR, "eseal_event": Role.OPERATOR,
        "state": Role.VIEWER,
    }
    for op, role in ops.items():
        m.transport.register_control(op, getattr(handlers, op), min_role=role)


class Handlers:
    def __init__(self, m: "FleetManager") -> None:
        self.m = m

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """Run a handler directly (tests, in-process clients)."""
        from types import SimpleNamespace

        return getattr(self, op)(SimpleNamespace(args=args, op=op, client="local", role=Role.OPERATOR))

    # ---- helpers --------------------------------------------------------------------
    def _vehicle(self, args: dict[str, Any], required: bool = True) -> list[str]:
        vid = _arg(args, "vehicle", str, required=required)
        if vid is None:
            return sorted(self.m.vehicles)
        if vid not in self.m.vehicles:
            raise InputError(f"unknown vehicle {vid!r}")
        return [vid]

    def _container(self, args: dict[str, Any]) -> Container:
        cid = _arg(args, "container", str)
        if cid not in self.m.containers:
            raise InputError(f"unknown container {cid!r}")
        return self.m.containers[cid]

    def _seen(self, args: dict[str, Any]) -> bool:
        """Whether the request's event was applied before (a retry)."""
        event_id = _arg(args, "event_id", str, required=False)
        return event_id is not None and event_id in self.m.seen_events

    def _applied(self, args: dict[str, Any]) -> None:
        """The request's event is applied (every check passed): a retry changes nothing.
        Not before, so that a refused request can be sent again, mended, with its id."""
        event_id = _arg(args, "event_id", str, required=False)
        if event_id is not None:
            self.m.note_event_id(event_id)

    def _now(self) -> float:
        return self.m.clock()

    # ---- operator commands ---------------------------------------------------------------
    def state(self, request) -> dict[str, Any]:
        from fleet.core.state_doc import state_document

        m = self.m
        doc = m._published if m._published is not None else state_document(m, self._now())
        return {"seq": m.telemetry_seq, "state": doc}

    def pause(self, request) -> dict[str, Any]:
        vids = self._vehicle(request.args, required=False)
        for vid in vids:
            self.m.instant(vid, "startPause")
        if "vehicle" not in request.args:
            self.m.paused_all = True
        self.m.event(self._now(), "pause", {"vehicles": vids})
        return {"vehicles": vids}

    def resume(self, request) -> dict[str, Any]:
        vids = self._vehicle(request.args, required=False)
        for vid in vids:
            self.m.instant(vid, "stopPause")
        if "vehicle" not in request.args:
            self.m.paused_all = False
        self.m.event(self._now(), "resume", {"vehicles": vids})
        return {"vehicles": vids}

    def estop(self, request) -> dict[str, Any]:
        if _arg(request.args, "confirm", bool) is not True:
            raise InputError("estop needs confirm: true")
        for vid in sorted(self.m.vehicles):
            self.m.instant(vid, "emergencyStop")
            self.m.vehicles[vid].estopped = True
        self.m.event(self._now(), "estop", {"vehicles": len(self.m.vehicles)})
        return {"vehicles": sorted(self.m.vehicles)}

    def estop_release(self, request) -> dict[str, Any]:
        if _arg(request.args, "confirm", bool) is not True:
            raise InputError("estop_release needs confirm: true")
        for vid in sorted(self.m.vehicles):
            self.m.instant(vid, "releaseEmergencyStop")
            self.m.vehicles[vid].estopped = False
        self.m.event(self._now(), "estop_release", {})
        return {"vehicles": sorted(self.m.vehicles)}

    def _set_blocked(self, args: dict[str, Any], kind: str, ids: set[str], universe, add: bool) -> dict[str, Any]:
        item = _arg(args, kind, str)
        if item not in universe:
            raise InputError(f"unknown {kind} {item!r}")
        (ids.add if add else ids.discard)(item)
        self.m.traffic.set_blocked_cells(self.m.blocked_cells())
        self.m.event(self._now(), f"{'block' if add else 'unblock'}_{kind}", {kind: item})
        if add:
            from fleet.core.customs import Alert

            self.m.raise_alert(self._now(), Alert("blocked_lane", "warning", item, f"{kind} {item} blocked by operator"))
        return {kind: item, "blocked": sorted(ids)}

    def block_lane(self, request):
        return self._set_blocked(request.args, "lane", self.m.blocked_lanes, self.m.map.lane_ids, True)

    def unblock_lane(self, request):
        return self._set_blocked(request.args, "lane", self.m.blocked_lanes, self.m.map.lane_ids, False)

    def block_zone(self, request):
        return self._set_blocked(request.args, "zone", self.m.blocked_zones, self.m.map.zone_index, True)

    def unblock_zone(self, request):
        return self._set_blocked(request.args, "zone", self.m.blocked_zones, self.m.map.zone_index, False)

    def inject_job(self, request) -> dict[str, Any]:
        a = request.args
        cid = _arg(a, "container", str)
        src = _arg(a, "from_station", str)
        dst = _arg(a, "to_station", str)
        for s in (src, dst):
            if s not in self.m.map.station_index:
                raise InputError(f"unknown station {s!r}")
        priority = _arg(a, "priority", int, required=False, default=1)
        deadline = _arg(a, "deadline_s", (int, float), required=False)
        if cid in self.m.containers and self.m.containers[cid].location_kind is not Location.GONE:
            raise InputError(f"container {cid!r} is already in the system")
        now = self._now()
        kind = self.m.map.station(src).kind
        direction = Direction.IMPORT if kind == "handover" else Direction.EXPORT
        from fleet.core.ingest import STATION_LOCATION

        c = Container(id=cid, direction=direction, perishable=bool(a.get("perishable", False)), reefer=bool(a.get("reefer", False)),
                      deadline_s=deadline, location_kind=STATION_LOCATION.get(kind, Location.YARD), location=src, gate_in_s=now)
        c = replace(c, customs=apply_declaration(c, "released")[0].customs)
        job = Job(id=self.m.new_id("job"), container=cid, from_station=src, to_station=dst, priority=int(priority),
                  deadline_s=deadline, created_s=now, purpose="operator")
        self.m.mark(container=c, job=job)
        self.m.event(now, "job_injected", {"job": job.id, "container": cid})
        return {"job": job.id}

    def _job(self, args) -> Job:
        jid = _arg(args, "job", str)
        if jid not in self.m.jobs:
            raise InputError(f"unknown job {jid!r}")
        return self.m.jobs[jid]

    def cancel_job(self, request) -> dict[str, Any]:
        job = self._job(request.args)
        if job.status not in (JobStatus.OPEN, JobStatus.WAITING, JobStatus.ASSIGNED):
            raise InputError(f"job {job.id} is {job.status.value}: only jobs not yet picked up can be cancelled")
        if job.vehicle is not None:
            v = self.m.vehicles[job.vehicle]
            v.agenda = [t for t in v.agenda if t.job != job.id]
        for s in (job.to_station, job.via_station):
            if s and self.m.station_claims.get(s) == job.id:
                del self.m.station_claims[s]
        job.status, job.vehicle = JobStatus.CANCELLED, None
        self.m.mark(job=job)
        self.m.event(self._now(), "job_cancelled", {"job": job.id})
        return {"job": job.id}

    def reprioritise_job(self, request) -> dict[str, Any]:
        job = self._job(request.args)
        job.priority = int(_arg(request.args, "priority", int))
        self.m.mark(job=job)
        return {"job": job.id, "priority": job.priority}

    def set_manual(self, request) -> dict[str, Any]:
        (vid,) = self._vehicle(request.args)
        manual = _arg(request.args, "manual", bool)
        from fleet.core.dispatch import release_vehicle_work
        from fleet.core.model import VehicleMode

        v = self.m.vehicles[vid]
        v.record.manual = manual
        if manual:
            release_vehicle_work(self.m, v, self._now())
            v.record.mode = VehicleMode.MANUAL
        else:
            v.record.mode = VehicleMode.IDLE
            v.rejoin = True  # thawed where its next state says it is: it may have been moved by hand
        return {"vehicle": vid, "manual": manual}

    def set_speed(self, request) -> dict[str, Any]:
        factor = float(_arg(request.args, "factor", (int, float)))
        if not 0 < factor <= 10_000:
            raise InputError(f"speed factor must be in (0, 10000], got {factor}")
        if self.m.set_speed is None:
            raise InputError("this core runs on a real clock: its speed cannot be changed")
        self.m.set_speed(factor)
        self.m.speed_factor = factor
        return {"factor": factor}

    # ---- terminal feed ------------------------------------------------------------------
    def customs_declaration(self, request) -> dict[str, Any]:
        c = self._container(request.args)
        status = _arg(request.args, "status", str)
        if status not in DECLARATIONS:
            raise InputError(f"unknown customs status {status!r} (one of {', '.join(DECLARATIONS)})")
        if self._seen(request.args):
            return {"duplicate": True}
        new, alerts = apply_declaration(c, status)
        now = self._now()
        self._applied(request.args)
        self.m.mark(container=new)
        for alert in alerts:
            self.m.raise_alert(now, alert)
        self.m.event(now, "customs", {"container": c.id, "status": status})
        return {"container": c.id, "customs": new.customs.value}

    def eseal_event(self, request) -> dict[str, Any]:
        c = self._container(request.args)
        event = _arg(request.args, "event", str)
        if event not in ("sealed", "position", "opened", "tamper"):
            raise InputError(f"unknown e-seal event {event!r}")
        if self._seen(request.args):
            return {"duplicate": True}
        new, alerts = apply_seal_event(c, event)
        now = self._now()
        self._applied(request.args)
        self.m.mark(container=new)
        for alert in alerts:
            self.m.raise_alert(now, alert)
        self.m.event(now, "eseal", {"container": c.id, "event": event})
        return {"container": c.id, "seal": new.seal.value}

    def container_arrival(self, request) -> dict[str, Any]:
        a = request.args
        cid = _arg(a, "container", str)
        direction = _arg(a, "direction", str)
        station = _arg(a, "station", str)
        if direction not in ("export", "import"):
            raise InputError(f"direction must be export or import, got {direction!r}")
        if station not in self.m.map.station_index:
            raise InputError(f"unknown station {station!r}")
        size = _arg(a, "size_ft", int, required=False, default=40)
        if size not in (20, 40, 45):
            raise InputError(f"size_ft must be 20, 40 or 45, got {size}")
        deadline = _arg(a, "deadline_s", (int, float), required=False)
        if self._seen(a):
            return {"duplicate": True}
        if cid in self.m.containers and self.m.containers[cid].location_kind is not Location.GONE:
            raise InputError(f"container {cid!r} is already in the system")
        from fleet.core.ingest import STATION_LOCATION

        now = self._now()
        kind = self.m.map.station(station).kind
        c = Container(id=cid, direction=Direction(direction), size_ft=size, reefer=bool(a.get("reefer", False)),
                      perishable=bool(a.get("perishable", False)), deadline_s=deadline,
                      location_kind=STATION_LOCATION.get(kind, Location.YARD), location=station, gate_in_s=now)
        self._applied(a)
        self.m.mark(container=c)
        self.m.event(now, "arrival", {"container": cid, "station": station, "direction": direction})
        from fleet.core.dispatch import move_booking_off

        move_booking_off(self.m, station, now)
        return {"container": cid}

    def container_departure(self, request) -> dict[str, Any]:
        c = self._container(request.args)
        if self._seen(request.args):
            return {"duplicate": True}
        if c.location_kind is not Location.YARD or c.direction is not Direction.IMPORT:
            raise InputError(f"container {c.id} is not an import container in the yard")
        if c.cleared_s is None:
            raise InputError(f"container {c.id} is not cleared by customs yet")
        self._applied(request.args)
        self.m.mark(container=replace(c, location_kind=Location.GONE, location=""))
        self.m.event(self._now(), "departure", {"container": c.id})
        return {"container": c.id}
