"""The records the real-time core keeps: containers, jobs and vehicles.

These are plain mutable records, but only :class:`fleet.core.manager.FleetManager`
mutates them (SimPy's rule: one owner of state). Everything else receives copies
(telemetry dictionaries, journal rows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Direction(str, Enum):
    EXPORT = "export"  # Vietnam -> China: gate -> export yard -> bridge north -> handover
    IMPORT = "import"  # China -> Vietnam: handover -> bridge south -> import yard -> truck


class Customs(str, Enum):
    PENDING = "pending"  # no decision from the single window yet
    SCAN = "scan"  # risk-flagged: through the scanner before it may cross
    LAB = "lab"  # agricultural sample: through the lab before it may cross
    HOLD = "hold"  # to the inspection hold (tamper, or customs says so)
    RELEASED = "released"  # may cross / leave
    CLEARED = "cleared"  # crossed and handed over (export) or delivered (import)


class Location(str, Enum):
    GATE = "gate"
    TRUCK = "truck"
    YARD = "yard"
    IGV = "igv"
    SCANNER = "scanner"
    LAB = "lab"
    INSPECTION = "inspection"
    HANDOVER = "handover"
    GONE = "gone"


class Seal(str, Enum):
    SEALED = "sealed"
    OPENED = "opened"
    TAMPER = "tamper"


class JobStatus(str, Enum):
    WAITING = "waiting"  # not yet assignable (earliest start, customs)
    OPEN = "open"  # may be assigned
    ASSIGNED = "assigned"  # a vehicle is on its way to pick up
    CARRYING = "carrying"  # picked up, on its way to drop
    DONE = "done"
    CANCELLED = "cancelled"


class VehicleMode(str, Enum):
    IDLE = "idle"
    MOVING = "moving"
    WAITING = "waiting"
    LOADING = "loading"
    CHARGING = "charging"
    PAUSED = "paused"
    MANUAL = "manual"
    FAULT = "fault"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Container:
    id: str
    direction: Direction
    size_ft: int = 40
    reefer: bool = False
    perishable: bool = False
    deadline_s: float | None = None
    location_kind: Location = Location.GATE
    location: str = ""
    customs: Customs = Customs.PENDING
    seal: Seal = Seal.SEALED
    gate_in_s: float = 0.0
    cleared_s: float | None = None
    inspected: tuple[str, ...] = ()  # checks done: "scan", "lab", "hold"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("direction", "location_kind", "customs", "seal"):
            d[key] = d[key].value
        d["inspected"] = list(self.inspected)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Container":
        return cls(
            id=d["id"],
            direction=Direction(d["direction"]),
            size_ft=int(d["size_ft"]),
            reefer=bool(d["reefer"]),
            perishable=bool(d["perishable"]),
            deadline_s=d["deadline_s"],
            location_kind=Location(d["location_kind"]),
            location=d["location"],
            customs=Customs(d["customs"]),
            seal=Seal(d["seal"]),
            gate_in_s=float(d["gate_in_s"]),
            cleared_s=d["cleared_s"],
            inspected=tuple(d.get("inspected", ())),
        )


@dataclass
class Job:
    """Move one container from one station to another (or send a vehicle to charge)."""

    id: str
    container: str | None  # None for a charging or repositioning job
    from_station: str
    to_station: str
    priority: int = 0
    earliest_s: float = 0.0
    deadline_s: float | None = None
    status: JobStatus = JobStatus.OPEN
    vehicle: str | None = None
    created_s: float = 0.0
    picked_s: float | None = None
    done_s: float | None = None
    purpose: str = "transport"  # cross, to_yard, scan, lab, hold, back_to_yard, scan_in_yard
    via_station: str | None = None  # a drive-through check (scanner bay) on the way
    to_bound: bool = True  # False: to_station is provisional until the drop leg (dispatch.bind_destination)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Job":
        values = dict(d)
        values["status"] = JobStatus(d["status"])
        return cls(**values)


@dataclass
class VehicleRecord:
    id: str
    station: str | None = None  # where it stands or last stood
    x_m: float = 0.0
    y_m: float = 0.0
    heading_rad: float = 0.0
    speed_mps: float = 0.0
    battery_pct: float = 100.0
    mode: VehicleMode = VehicleMode.OFFLINE
    laden: bool = False
    container: str | None = None
    job: str | None = None
    manual: bool = False
    paused: bool = False
    errors: list[str] = field(default_factory=list)
    last_seen_s: float = 0.0
