"""The control API of :class:`visualizer.fake.FakeFleet` (docs/telemetry.md, "Control API").

Each command is checked whole before it changes anything, and a bad one is answered
``{"ok": false, "error": "one line"}`` as the core does, so the control room's error
display can be exercised without a core. Effects show in the next patch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

CUSTOMS_STATUSES = ("released", "scan", "lab", "hold")
STATION_LOCATION = {"crane_transfer": "yard", "handover": "handover", "truck_exchange": "gate",
                    "scanner_bay": "scanner", "lab_bay": "lab", "inspection_bay": "inspection"}


class CommandRefused(Exception):
    """A command that the fake core answers with ``ok: false``."""


def _arg(command: dict[str, Any], key: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
    value = command.get(key)
    if value is None:
        if required:
            raise CommandRefused(f"missing argument {key!r}")
        return None
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise CommandRefused(f"argument {key!r} has the wrong type ({type(value).__name__})")
    return value


class FakeControl:
    """Command handlers mixed into :class:`~visualizer.fake.FakeFleet` (uses its attributes)."""

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        """Answer one control-API command like the core (a :class:`~visualizer.control.ControlSender`)."""
        cmd = command.get("cmd") if isinstance(command, dict) else None
        handler = getattr(self, f"_cmd_{cmd}", None) if isinstance(cmd, str) else None
        if handler is None:
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        try:
            return {"ok": True, **handler(command)}
        except CommandRefused as exc:
            return {"ok": False, "error": str(exc)}

    def close(self) -> None:
        return None

    def _vehicle_index(self, command: dict[str, Any], required: bool) -> int | None:
        vid = _arg(command, "vehicle", str, required=required)
        if vid is None:
            return None
        if vid not in self.ids:
            raise CommandRefused(f"unknown vehicle {vid!r}")
        return self.ids.index(vid)

    def _cmd_snapshot(self, command: dict[str, Any]) -> dict[str, Any]:
        seq, state = self.snapshot()
        return {"seq": seq, "state": state}

    def _cmd_pause(self, command: dict[str, Any], paused: bool = True) -> dict[str, Any]:
        i = self._vehicle_index(command, required=False)
        if i is None:
            self.paused = paused
            self.paused_v[:] = False
            return {"vehicles": list(self.ids)}
        self.paused_v[i] = paused
        return {"vehicles": [self.ids[i]]}

    def _cmd_resume(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._cmd_pause(command, paused=False)

    def _cmd_estop(self, command: dict[str, Any]) -> dict[str, Any]:
        if _arg(command, "confirm", bool) is not True:
            raise CommandRefused("estop needs confirm: true")
        self.estopped = True
        self._alert("vehicle_fault", "critical", "fleet", "emergency stop sent to every vehicle by the operator")
        return {"vehicles": list(self.ids)}

    def _cmd_estop_release(self, command: dict[str, Any]) -> dict[str, Any]:
        if _arg(command, "confirm", bool) is not True:
            raise CommandRefused("estop_release needs confirm: true")
        self.estopped = False
        return {"vehicles": list(self.ids)}

    def _set_blocked(self, command: dict[str, Any], kind: str, block: bool) -> dict[str, Any]:
        item = _arg(command, kind, str)
        known = self.tm.lane_ids if kind == "lane" else self.tm.zone_index
        if item not in known:
            raise CommandRefused(f"unknown {kind} {item!r}")
        key = f"{kind}s"
        ids = set(self.blocked[key]) | {item} if block else set(self.blocked[key]) - {item}
        self.blocked = {**self.blocked, key: sorted(ids)}
        self.traffic.blocked_lanes = self._blocked_lane_indices()
        if block:
            self._alert("blocked_lane", "warning", item, f"{kind} {item} blocked by operator")
        return {kind: item, "blocked": sorted(ids)}

    def _blocked_lane_indices(self) -> set[int]:
        index = {lane: i for i, lane in enumerate(self.tm.lane_ids)}
        lanes = {index[lane] for lane in self.blocked["lanes"]}
        for zone_id in self.blocked["zones"]:
            polygon = self.tm.zones[self.tm.zone_index[zone_id]].polygon
            mids = np.array([g[len(g) // 2] if len(g) > 2 else g.mean(axis=0) for g in self.tm.lane_geometry])
            lanes |= set(np.flatnonzero(shapely.contains_xy(polygon, mids[:, 0], mids[:, 1])).tolist())
        return lanes

    def _cmd_block_lane(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._set_blocked(command, "lane", True)

    def _cmd_unblock_lane(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._set_blocked(command, "lane", False)

    def _cmd_block_zone(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._set_blocked(command, "zone", True)

    def _cmd_unblock_zone(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._set_blocked(command, "zone", False)

    def _cmd_inject_job(self, command: dict[str, Any]) -> dict[str, Any]:
        cid = _arg(command, "container", str)
        src, dst = _arg(command, "from_station", str), _arg(command, "to_station", str)
        for station in (src, dst):
            if station not in self.tm.station_index:
                raise CommandRefused(f"unknown station {station!r}")
        if cid in self.containers:
            raise CommandRefused(f"container {cid!r} is already in the system")
        deadline = _arg(command, "deadline_s", (int, float), required=False)
        kind = self.tm.station(src).kind
        self.containers[cid] = {
            "direction": "import" if kind == "handover" else "export", "size_ft": 40,
            "reefer": bool(command.get("reefer", False)), "perishable": bool(command.get("perishable", False)),
            "deadline_s": deadline, "location_kind": STATION_LOCATION.get(kind, "yard"), "location": src,
            "customs": "released", "gate_in_s": round(self.t_s, 1), "cleared_s": None, "eseal": "sealed",
        }
        self.changed_containers[cid] = self.containers[cid]
        zone = self.tm.station(src).zone_id
        if zone in self.blocks:
            self.container_block[cid] = zone
        self.counter += 1
        return {"job": f"J-OP-{self.counter:06d}"}

    def _job_vehicle(self, command: dict[str, Any]) -> int:
        job = _arg(command, "job", str)
        if job not in self.job:
            raise CommandRefused(f"unknown job {job!r}")
        return self.job.index(job)

    def _cmd_cancel_job(self, command: dict[str, Any]) -> dict[str, Any]:
        i = self._job_vehicle(command)
        raise CommandRefused(f"job {self.job[i]} is carrying: only jobs not yet picked up can be cancelled")

    def _cmd_reprioritise_job(self, command: dict[str, Any]) -> dict[str, Any]:
        i = self._job_vehicle(command)
        return {"job": self.job[i], "priority": _arg(command, "priority", int)}

    def _cmd_set_manual(self, command: dict[str, Any]) -> dict[str, Any]:
        i = self._vehicle_index(command, required=True)
        manual = _arg(command, "manual", bool)
        self.manual[i] = manual
        return {"vehicle": self.ids[i], "manual": manual}

    def _cmd_set_speed(self, command: dict[str, Any]) -> dict[str, Any]:
        factor = float(_arg(command, "factor", (int, float)))
        if not 0 < factor <= 10_000:
            raise CommandRefused(f"speed factor must be in (0, 10000], got {factor}")
        self.speed_factor = factor
        return {"factor": factor}

    def _cmd_customs_declaration(self, command: dict[str, Any]) -> dict[str, Any]:
        cid = _arg(command, "container", str)
        status = _arg(command, "status", str)
        if cid not in self.containers:
            raise CommandRefused(f"unknown container {cid!r}")
        if status not in CUSTOMS_STATUSES:
            raise CommandRefused(f"unknown customs status {status!r} (one of {', '.join(CUSTOMS_STATUSES)})")
        self._put(cid, customs=status)
        return {"container": cid, "customs": status}
