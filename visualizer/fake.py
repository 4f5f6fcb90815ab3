"""Scripted telemetry on a real track map: tests, the screenshot, the render bench, demos.

:class:`FakeFleet` plays the core's part of docs/telemetry.md without a core: vehicles
drive along the map's lanes (:mod:`visualizer.fake_motion`), load at crane transfer and
handover stations, charge, park, fault and drop off line; yard blocks hold containers with
reefer and perishable marks; queues, KPIs and alerts (tamper, deadline risk, vehicle
fault, communication loss, low battery, blocked lane) change over time. It publishes a
snapshot and sequence-numbered patches, and it answers control-API commands
(:meth:`FakeFleet.send`), so the control room can be driven without a core.
Everything follows the seeded RNG: the same seed gives the same telemetry.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from maps.trackmap import TrackMap
from visualizer.fake_control import FakeControl
from visualizer.fake_motion import HORIZON_M, RELEASED_M, LaneNet, Traffic
from visualizer.source import Snapshot, SourceStatus

DWELL_S = {"loading": (60.0, 150.0), "charging": (400.0, 900.0), "idle": (30.0, 240.0)}
STATION_MODE = {"charger": "charging", "parking": "idle"}
"""Mode at a station of each kind after arrival; every other kind is a pick or drop."""
EVENTS_PER_H = {"fault": 2.0, "offline": 1.0, "tamper": 1.0, "deadline_risk": 2.0}
FAULT_S, OFFLINE_S = 300.0, 120.0
SUBSTEP_S = 1.0
"""Longest motion step: a vehicle must not jump past the lane checks of :class:`Traffic`."""
BATTERY_PCT_PER_M = 0.002 / 280.0 * 100.0  # 2 kWh/km out of 280 kWh
CHARGE_PCT_PER_S = 150.0 / 3600.0 / 280.0 * 100.0  # 150 kW into 280 kWh


class FakeFleet(FakeControl):
    """A scripted fleet; see the module docstring.

    Parameters
    ----------
    tm : TrackMap
    n_vehicles : int
    seed : int
    t0_s : float
        Simulation time of the first snapshot.
    speed_factor : float
        Simulated seconds per wall second (shown in the clock; used by :class:`FakeSource`).
    """

    def __init__(self, tm: TrackMap, n_vehicles: int = 200, *, seed: int = 0, t0_s: float = 6 * 3600.0,
                 speed_factor: float = 20.0) -> None:
        self.tm = tm
        self.rng = np.random.default_rng(seed)
        self.t_s = t0_s
        self.speed_factor = speed_factor
        self.paused = False  # every vehicle paused by the operator (the clock runs on)
        self.estopped = False
        self.seq = 0
        self.net = LaneNet(tm)
        self.traffic = Traffic(self.net, self.rng)
        self.traffic.place(n_vehicles)
        self.ids = [f"igv-{i + 1:03d}" for i in range(n_vehicles)]
        self.mode = ["moving"] * n_vehicles
        self.until_s = np.zeros(n_vehicles)
        self.battery = self.rng.uniform(24.0, 97.0, n_vehicles)
        self.cargo: list[str | None] = [None] * n_vehicles
        self.job: list[str | None] = [None] * n_vehicles
        self.station: list[str | None] = [None] * n_vehicles
        self.errors: list[list[str]] = [[] for _ in range(n_vehicles)]
        self.paused_v = np.zeros(n_vehicles, dtype=bool)
        self.manual = np.zeros(n_vehicles, dtype=bool)
        self.blocked: dict[str, list[str]] = {"lanes": [], "zones": []}
        self.alerts_new: list[dict[str, Any]] = []
        self.crossed = {"northbound": deque(), "southbound": deque()}
        self.crossed_total = {"northbound": 0, "southbound": 0}
        self.energy_kwh = 0.0
        self.counter = 0
        self.containers: dict[str, dict[str, Any]] = {}
        self.container_block: dict[str, str] = {}
        self.changed_containers: dict[str, dict[str, Any] | None] = {}
        self.blocks = {z.id: z for z in tm.zones_of_kind("yard_block")}
        self.block_station = {b: next((s.id for s in tm.stations if s.zone_id == b), b) for b in self.blocks}
        self._fill_yard()
        for i in range(n_vehicles):  # some start laden, a few start broken
            if self.rng.random() < 0.45:
                self._load(i, "export" if self.rng.random() < 0.5 else "import")
        for k, i in enumerate(self.rng.choice(n_vehicles, size=min(3, n_vehicles), replace=False)):
            self.break_down(int(i), "offline" if k == 2 else "fault")
        self.queues = {"scanner": 3, "lab": 1, "inspection": 1, **{f"crane:{b}": int(self.rng.integers(0, 4)) for b in self.blocks}}
        self.doc = self._document()
        self.alerts_new.clear()
        self.changed_containers.clear()

    # ------------------------------------------------------------------ telemetry

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        """``(seq, state)``: the state after patch ``seq`` (entities are never mutated later)."""
        return self.seq, {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                          for k, v in self.doc.items()}

    def step(self, dt_s: float) -> dict[str, Any]:
        """Advance ``dt_s`` simulated seconds; return the next patch."""
        self._advance(dt_s)
        new = self._document()
        changes: dict[str, Any] = {}
        for section in ("vehicles", "yard", "queues"):
            old = self.doc[section]
            delta = {k: v for k, v in new[section].items() if old.get(k) != v}
            delta.update({k: None for k in old if k not in new[section]})
            if delta:
                changes[section] = delta
        if self.changed_containers:
            changes["containers"] = dict(self.changed_containers)
        for section in ("clock", "blocked", "kpi"):
            if new[section] != self.doc[section]:
                changes[section] = new[section]
        if self.alerts_new:
            changes["alerts"] = list(self.alerts_new)
        self.doc = new
        self.alerts_new.clear()
        self.changed_containers.clear()
        self.seq += 1
        return {"seq": self.seq, "t_s": round(self.t_s, 3), "changes": changes}

    def _document(self) -> dict[str, Any]:
        old = getattr(self, "doc", {"alerts": []})
        return {
            "map": self.tm.name,
            "clock": {"t_s": round(self.t_s, 3), "speed_factor": self.speed_factor, "paused": self.paused},
            "vehicles": {vid: self._vehicle_doc(i) for i, vid in enumerate(self.ids)},
            "containers": self.containers,
            "yard": self._yard(),
            "queues": dict(self.queues),
            "blocked": {"lanes": list(self.blocked["lanes"]), "zones": list(self.blocked["zones"])},
            "kpi": self._kpi(),
            "alerts": (old["alerts"] + self.alerts_new)[-200:],
        }

    def _vehicle_doc(self, i: int) -> dict[str, Any]:
        w = self.traffic.walkers[i]
        x, y, heading = self.net.pose(w.lane, w.forward, w.s_m)
        mode = self._shown_mode(i)
        going = mode in ("moving", "waiting")
        step = self.tm.cell_length_m
        return {
            "x_m": round(x, 2), "y_m": round(y, 2), "heading_rad": round(heading, 3),
            "speed_mps": round(self._speed(i), 2) if mode == "moving" else 0.0,
            "state": mode, "battery_pct": round(float(self.battery[i]), 1), "laden": self.cargo[i] is not None,
            "container": self.cargo[i], "job": self.job[i], "station": self.station[i],
            "released_path": self.net.points_ahead(w, 0.0, RELEASED_M, step) if going else [],
            "planned_path": self.net.points_ahead(w, RELEASED_M, RELEASED_M + HORIZON_M, step) if going else [],
            "reserved_cells": self.net.cells_ahead(w, RELEASED_M) if mode not in ("offline",) else [],
            "errors": list(self.errors[i]),
        }

    def _shown_mode(self, i: int) -> str:
        if self.manual[i]:
            return "manual"
        if self.mode[i] in ("fault", "offline"):
            return self.mode[i]
        if self.estopped or self.paused_v[i] or self.paused:
            return "paused"
        return self.mode[i]

    def _yard(self) -> dict[str, dict[str, int]]:
        yard = {}
        for b, z in self.blocks.items():
            p = z.properties
            yard[b] = {"capacity": int(p.get("bays", 40)) * int(p.get("rows", 10)) * int(p.get("tiers", 5)),
                       "occupied": 0, "reefer": 0, "perishable": 0}
        for cid, c in self.containers.items():
            block = self.container_block.get(cid)
            if c["location_kind"] == "yard" and block in yard:
                entry = yard[block]
                entry["occupied"] += 1
                entry["reefer"] += int(c["reefer"])
                entry["perishable"] += int(c["perishable"])
        return yard

    def _kpi(self) -> dict[str, Any]:
        for times in self.crossed.values():
            while times and times[0] < self.t_s - 3600.0:
                times.popleft()
        working = sum(self._shown_mode(i) in ("moving", "waiting", "loading") for i in range(len(self.ids)))
        drift = 0.15 * float(np.sin(self.t_s / 1800.0))
        return {
            "containers_crossed": dict(self.crossed_total),
            "crossings_per_h": {k: float(len(v)) for k, v in self.crossed.items()},
            "clearance_time_h_p50": round(3.1 + drift, 2), "clearance_time_h_p95": round(5.2 + 2 * drift, 2),
            "vehicle_utilisation": round(working / max(len(self.ids), 1), 3),
            "energy_kwh": round(float(self.energy_kwh), 1),
        }

    # ------------------------------------------------------------------ the script

    def _speed(self, i: int) -> float:
        w = self.traffic.walkers[i]
        cap = self.tm.vehicle.max_speed_laden_mps if self.cargo[i] else self.tm.vehicle.max_speed_unladen_mps
        return min(float(self.tm.lane_speed_limit_mps[w.lane]), cap)

    def _advance(self, dt_s: float) -> None:
        substeps = max(1, int(np.ceil(dt_s / SUBSTEP_S)))
        for _ in range(substeps):
            self._substep(dt_s / substeps)

    def _substep(self, dt_s: float) -> None:
        self.t_s += dt_s
        n = len(self.ids)
        for i in range(n):
            if self.mode[i] in ("loading", "charging", "idle", "fault", "offline") and self.t_s >= self.until_s[i]:
                if self.mode[i] in ("fault", "offline"):
                    self.errors[i] = []
                self.mode[i], self.station[i] = "moving", None
            if self.mode[i] == "charging":
                self.battery[i] = min(100.0, self.battery[i] + CHARGE_PCT_PER_S * dt_s)
        shown = [self._shown_mode(i) for i in range(n)]
        movable = np.array([m in ("moving", "waiting") for m in shown])
        speeds = np.array([self._speed(i) for i in range(n)])
        moved, arrivals = self.traffic.step(dt_s, speeds, movable)
        for i in np.flatnonzero(movable):
            self.mode[i] = "moving" if moved[i] else "waiting"
            if moved[i]:
                drain = BATTERY_PCT_PER_M * speeds[i] * dt_s
                self.battery[i] = max(0.0, self.battery[i] - drain)
                self.energy_kwh += drain * 2.8
                if self.battery[i] < 20.0 <= self.battery[i] + drain:
                    self._alert("battery_low", "warning", self.ids[i], f"{self.ids[i]} battery at {self.battery[i]:.0f} %")
        for i, station in arrivals:
            self._arrive(i, station)
        self._random_events(dt_s)

    def _arrive(self, i: int, station_id: str) -> None:
        kind = self.tm.station(station_id).kind
        mode = STATION_MODE.get(kind, "loading")
        lo, hi = DWELL_S[mode]
        self.mode[i], self.station[i], self.until_s[i] = mode, station_id, self.t_s + self.rng.uniform(lo, hi)
        if mode != "loading":
            return
        if self.cargo[i] is None:
            self._load(i, "import" if kind == "handover" else "export")
            return
        cid = self.cargo[i]
        direction = "northbound" if kind == "handover" else "southbound"
        self.crossed[direction].append(self.t_s)
        self.crossed_total[direction] += 1
        zone = self.tm.station(station_id).zone_id
        if zone in self.blocks:
            self._put(cid, location_kind="yard", location=station_id, customs="cleared", cleared_s=round(self.t_s, 1))
            self.container_block[cid] = zone
        else:
            del self.containers[cid]
            self.changed_containers[cid] = None
        self.cargo[i] = self.job[i] = None

    def _random_events(self, dt_s: float) -> None:
        n = len(self.ids)
        for kind, per_h in EVENTS_PER_H.items():
            if self.rng.random() >= per_h * dt_s / 3600.0:
                continue
            if kind in ("fault", "offline"):
                candidates = [i for i in range(n) if self.mode[i] in ("moving", "waiting")]
                if candidates:
                    self.break_down(candidates[int(self.rng.integers(len(candidates)))], kind)
            elif kind == "tamper":
                in_yard = [c for c, v in self.containers.items() if v["location_kind"] == "yard" and v["eseal"] == "sealed"]
                if in_yard:
                    self.tamper(in_yard[int(self.rng.integers(len(in_yard)))])
            else:
                urgent = [c for c, v in self.containers.items() if v["perishable"] and v["location_kind"] != "gone"]
                if urgent:
                    cid = urgent[int(self.rng.integers(len(urgent)))]
                    self._alert("deadline_risk", "warning", cid, f"{cid}: perishable, deadline at risk")
        if self.rng.random() < dt_s / 60.0:
            key = list(self.queues)[int(self.rng.integers(len(self.queues)))]
            self.queues[key] = int(np.clip(self.queues[key] + self.rng.choice([-1, 1]), 0, 9))

    def tamper(self, cid: str) -> None:
        """An e-seal tamper event on container ``cid``: hold it and raise a critical alert."""
        self._put(cid, eseal="tamper", customs="hold")
        self._alert("tamper", "critical", cid, f"e-seal tamper on {cid}: sent to inspection hold")

    def break_down(self, i: int, kind: str) -> None:
        """Vehicle ``i`` faults (``kind`` "fault") or drops off line ("offline") for a while, with its alert."""
        vid = self.ids[i]
        self.mode[i] = kind
        self.until_s[i] = self.t_s + (FAULT_S if kind == "fault" else OFFLINE_S)
        if kind == "fault":
            self.errors[i] = ["driveFault: traction inverter over temperature"]
            self._alert("vehicle_fault", "critical", vid, f"{vid} fault: traction inverter over temperature")
        else:
            self._alert("comm_loss", "critical", vid, f"{vid}: no state for 10 s, connection broken")

    # ------------------------------------------------------------------ containers and alerts

    def _fill_yard(self) -> None:
        for b, z in self.blocks.items():
            direction = "import" if z.properties.get("yard") == "import" else "export"
            for _ in range(int(self.rng.integers(400, 1100))):
                perishable = bool(self.rng.random() < 0.25)
                cid = self._new_container(direction, location_kind="yard", location=self.block_station[b],
                                          reefer=perishable and bool(self.rng.random() < 0.6), perishable=perishable)
                self.container_block[cid] = b

    def _new_container(self, direction: str, **fields: Any) -> str:
        self.counter += 1
        cid = f"CNT-{self.counter:06d}"
        gate_in = self.t_s - float(self.rng.uniform(600.0, 5 * 3600.0))
        self.containers[cid] = {
            "direction": direction, "size_ft": int(self.rng.choice([20, 40, 40, 45])), "reefer": False,
            "perishable": False, "deadline_s": None, "location_kind": "yard", "location": "",
            "customs": str(self.rng.choice(["pending", "scan", "lab", "released", "released"])),
            "gate_in_s": round(gate_in, 1), "cleared_s": None, "eseal": "sealed",
        }
        self._put(cid, **fields)
        if self.containers[cid]["perishable"]:
            self._put(cid, deadline_s=round(gate_in + 6 * 3600.0, 1))
        return cid

    def _put(self, cid: str, **fields: Any) -> None:
        """Replace container ``cid`` by a copy with ``fields`` (handed-out dicts stay unchanged)."""
        new = {**self.containers[cid], **fields}
        self.containers[cid] = new
        self.changed_containers[cid] = new

    def _load(self, i: int, direction: str) -> None:
        cid = self._new_container(direction, location_kind="igv", location=self.ids[i], customs="released")
        self.cargo[i], self.job[i] = cid, f"J-{cid[4:]}"

    def _alert(self, kind: str, severity: str, subject: str, text: str) -> None:
        self.counter += 1
        self.alerts_new.append({"id": f"A-{self.counter:06d}", "t_s": round(self.t_s, 1), "kind": kind,
                                "severity": severity, "subject": subject, "text": text})


class FakeSource:
    """A :class:`~visualizer.source.TelemetrySource` publishing a :class:`FakeFleet`.

    Every ``interval_s`` of wall time (as the core does) it steps the fleet by
    ``interval_s`` times the fleet's speed factor and returns the patch.
    """

    def __init__(self, fleet: FakeFleet, *, interval_s: float = 0.5) -> None:
        self.fleet = fleet
        self.interval_s = interval_s
        self._next_s: float | None = None
        self.description = f"scripted telemetry ({len(fleet.ids)} vehicles on {fleet.tm.name})"

    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        out: list[Any] = []
        if needs_snapshot:
            out.append(Snapshot(*self.fleet.snapshot()))
        if self._next_s is None:
            self._next_s = now_s + self.interval_s
        elif now_s >= self._next_s:
            self._next_s = max(self._next_s + self.interval_s, now_s)
            out.append(self.fleet.step(self.interval_s * self.fleet.speed_factor))
        return out

    @property
    def status(self) -> SourceStatus:
        return SourceStatus(connected=True, detail=self.description)

    def close(self) -> None:
        return None
