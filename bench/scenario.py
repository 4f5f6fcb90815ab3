"""Bench scenarios: TOML files naming the map, the fleet, the demand, the faults, the seed.

A scenario is a frozen :class:`Scenario`. :func:`load_scenario` reads a shipped name
(``bench/scenarios/<name>.toml``) or a path and checks every key; a bad file raises a
one-line :class:`~maps.errors.ScenarioError` naming the file, the key and the problem.
The format (every key, its unit and default) is documented in docs/bench.md.

Faults are windows ``[start_s, start_s + duration_s)`` on the simulated clock;
:func:`fault_events` flattens them into a time-ordered list of switch events for the
simulation run.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maps.errors import ScenarioError

if TYPE_CHECKING:
    from maps.trackmap import TrackMap

BRIDGE_LANE_PREFIXES = ("BN/", "BS/")
"""Lane ids of the bridge on ``bac_luan_2``: ``BN/`` northbound, ``BS/`` southbound."""

HOURS_PER_DAY = 24
SECONDS_PER_HOUR = 3600.0
FLAT_PROFILE = (1.0,) * HOURS_PER_DAY


@dataclass(frozen=True)
class Demand:
    """Containers entering the system; each one crosses the bridge once.

    ``peak_profile`` holds 24 hourly weights normalised to a mean of 1: the rate in hour
    ``h`` of the day is ``per_day / 24 * peak_profile[h]``, so ``max(peak_profile)`` is the
    peak hour's multiple of the daily average. Shares are fractions of all containers.
    """

    export_per_day: float
    """Northbound: road truck -> export yard -> bridge -> Dongxing handover."""
    import_per_day: float
    """Southbound: Dongxing handover -> bridge -> import yard -> road truck."""
    perishable_share: float = 0.0
    reefer_share: float = 0.0
    perishable_deadline_h: float = 6.0
    """A perishable container must be cleared within this time of entering."""
    scan_share: float = 0.0
    """Containers customs sends through the scanner."""
    lab_share: float = 0.0
    """Containers customs sends to the lab for sampling."""
    hold_share: float = 0.0
    """Containers customs sends to the inspection hold."""
    peak_profile: tuple[float, ...] = FLAT_PROFILE
    start_hour: int = 0
    """Hour of the day at simulated time 0: a run shorter than a day can start at the peak."""

    @property
    def per_day(self) -> float:
        return self.export_per_day + self.import_per_day

    @property
    def peak_factor(self) -> float:
        """The busiest hour's rate over the daily average."""
        return max(self.peak_profile)

    def rate_per_h(self, t_s: float) -> tuple[float, float]:
        """``(export, import)`` containers per hour at simulated time ``t_s`` (day repeats)."""
        weight = self.peak_profile[(self.start_hour + int(t_s // SECONDS_PER_HOUR)) % HOURS_PER_DAY]
        return self.export_per_day / HOURS_PER_DAY * weight, self.import_per_day / HOURS_PER_DAY * weight

    def expected_containers(self, t0_s: float, t1_s: float) -> float:
        """Containers (both directions) expected to enter during ``[t0_s, t1_s)``."""
        if t1_s <= t0_s:
            return 0.0
        total = 0.0
        t = t0_s
        while t < t1_s:
            hour_end = (math.floor(t / SECONDS_PER_HOUR) + 1) * SECONDS_PER_HOUR
            t_next = min(hour_end, t1_s)
            total += sum(self.rate_per_h(t)) * (t_next - t) / SECONDS_PER_HOUR
            t = t_next
        return total


@dataclass(frozen=True)
class Window:
    """A fault active on ``[start_s, start_s + duration_s)``."""

    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class LaneBlock(Window):
    lanes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VehicleShareFault(Window):
    """A fault hitting ``share`` of the fleet (which vehicles: drawn from the scenario seed)."""

    share: float = 0.0


@dataclass(frozen=True)
class SpeedChange(Window):
    """Every speed limit multiplied by ``factor`` (weather)."""

    factor: float = 1.0


@dataclass(frozen=True)
class Faults:
    lane_blocks: tuple[LaneBlock, ...] = ()
    vehicle_faults: tuple[VehicleShareFault, ...] = ()
    """Vehicles broken down (state ``fault``) for the window."""
    comm_losses: tuple[VehicleShareFault, ...] = ()
    """Vehicles whose link is down (no messages either way) for the window."""
    speed_changes: tuple[SpeedChange, ...] = ()
    bridge_closures: tuple[Window, ...] = ()
    """Every bridge lane (:data:`BRIDGE_LANE_PREFIXES`) blocked for the window."""

    @property
    def empty(self) -> bool:
        return not (self.lane_blocks or self.vehicle_faults or self.comm_losses or self.speed_changes or self.bridge_closures)


@dataclass(frozen=True)
class Equipment:
    """Terminal equipment the scenario sets instead of the defaults (None: the map's crane
    count per yard block, :class:`sim.terminal.TerminalConfig`'s other figures). A study
    of a bigger gate (more cranes, more handover machines) changes these, not the code."""

    cranes_per_block: int | None = None
    """1: one crane does both ends; 2: a waterside and a landside crane; 3: those two and a
    passing crane that works at whichever end is busier (triple ARMG)."""
    handover_machines: int | None = None
    lab_samplers: int | None = None
    inspectors: int | None = None

    def overrides(self) -> dict[str, int]:
        """The figures set, by :class:`sim.terminal.TerminalConfig` field name."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Scenario:
    """One bench scenario; see the module docstring and docs/bench.md."""

    name: str
    map: str
    vehicles: int
    demand: Demand
    seed: int
    duration_s: float
    faults: Faults = field(default_factory=Faults)
    equipment: Equipment = field(default_factory=Equipment)
    description: str = ""
    source: str = ""
    """The file it was read from (empty when made in code)."""

    def with_vehicles(self, count: int) -> Scenario:
        return replace(self, vehicles=int(count))

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=int(seed))

    def with_duration(self, duration_s: float) -> Scenario:
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ScenarioError(f"scenario {self.name!r}: duration_s: must be a positive number of seconds, got {duration_s!r}")
        return replace(self, duration_s=float(duration_s))

    def with_start_hour(self, hour: int) -> Scenario:
        """The same scenario starting at ``hour`` of the day (its demand profile shifted;
        fault times stay relative to the start). Named ``<name>_from_<HH>h`` so its result
        folder does not overwrite the whole day's."""
        if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour < HOURS_PER_DAY:
            raise ScenarioError(f"scenario {self.name!r}: start_hour: must be a whole hour 0..23, got {hour!r}")
        return replace(self, name=f"{self.name}_from_{hour:02d}h", demand=replace(self.demand, start_hour=hour))


class FaultKind(str, Enum):
    BLOCK_LANE = "block_lane"
    UNBLOCK_LANE = "unblock_lane"
    VEHICLE_FAULT = "vehicle_fault"
    VEHICLE_RECOVER = "vehicle_recover"
    COMM_LOSS = "comm_loss"
    COMM_RESTORE = "comm_restore"
    SPEED_FACTOR = "speed_factor"


@dataclass(frozen=True)
class FaultEvent:
    """Switch something at ``t_s``: ``target`` is a lane id (lane events) or ``""``; ``value``
    is the fleet share (vehicle and comm events) or the speed factor now in force."""

    t_s: float
    kind: FaultKind
    target: str = ""
    value: float = 0.0
    window: int = -1
    """Vehicle and comm events: index of the window in its list, pairing start and end."""


def fault_events(scenario: Scenario, track_map: TrackMap) -> list[FaultEvent]:
    """The scenario's faults as switch events, sorted by time (ends before starts at a tie).

    Bridge closures become lane blocks of every bridge lane of ``track_map``. A lane's
    blocks are merged, so each lane alternates block / unblock. Vehicle and communication
    faults keep one start and one end per window (``window`` pairs them: each window hits
    its own draw of vehicles). Events at or after ``scenario.duration_s`` are dropped.
    """
    f = scenario.faults
    events: list[FaultEvent] = []
    spans: dict[str, list[tuple[float, float]]] = {}
    for block in f.lane_blocks:
        for lane in block.lanes:
            spans.setdefault(lane, []).append((block.start_s, block.end_s))
    for closure in f.bridge_closures:
        for lane in bridge_lanes(track_map):
            spans.setdefault(lane, []).append((closure.start_s, closure.end_s))
    for lane, intervals in spans.items():
        for t0, t1 in _union(intervals):
            events += [FaultEvent(t0, FaultKind.BLOCK_LANE, lane), FaultEvent(t1, FaultKind.UNBLOCK_LANE, lane)]
    for i, w in enumerate(f.vehicle_faults):
        events += [FaultEvent(w.start_s, FaultKind.VEHICLE_FAULT, value=w.share, window=i),
                   FaultEvent(w.end_s, FaultKind.VEHICLE_RECOVER, value=w.share, window=i)]
    for i, w in enumerate(f.comm_losses):
        events += [FaultEvent(w.start_s, FaultKind.COMM_LOSS, value=w.share, window=i),
                   FaultEvent(w.end_s, FaultKind.COMM_RESTORE, value=w.share, window=i)]
    for i, s in enumerate(f.speed_changes):
        events += [FaultEvent(s.start_s, FaultKind.SPEED_FACTOR, value=s.factor, window=i),
                   FaultEvent(s.end_s, FaultKind.SPEED_FACTOR, value=1.0, window=i)]
    ends = {FaultKind.UNBLOCK_LANE, FaultKind.VEHICLE_RECOVER, FaultKind.COMM_RESTORE}
    events = [e for e in events if e.t_s < scenario.duration_s]
    # A speed change's end (factor 1.0) sorts before another change starting at that time.
    return sorted(events, key=lambda e: (e.t_s, not (e.kind in ends or (e.kind is FaultKind.SPEED_FACTOR and e.value == 1.0))))


def _union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for t0, t1 in sorted(intervals):
        if merged and t0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t1)
        else:
            merged.append([t0, t1])
    return [(a, b) for a, b in merged]


def bridge_lanes(track_map: TrackMap) -> tuple[str, ...]:
    """The bridge lanes of a map: ids starting with one of :data:`BRIDGE_LANE_PREFIXES`."""
    return tuple(lane for lane in track_map.lane_ids if lane.startswith(BRIDGE_LANE_PREFIXES))


def check_against_map(scenario: Scenario, track_map: TrackMap) -> None:
    """Raise :class:`ScenarioError` if the scenario names lanes the map lacks."""
    known = set(track_map.lane_ids)
    where = scenario.source or f"scenario {scenario.name!r}"
    for i, block in enumerate(scenario.faults.lane_blocks):
        for lane in block.lanes:
            if lane not in known:
                raise ScenarioError(f"{where}: faults.lane_blocks[{i}].lanes: no lane {lane!r} on map {track_map.name!r}")
    if scenario.faults.bridge_closures and not bridge_lanes(track_map):
        raise ScenarioError(f"{where}: faults.bridge_closures: map {track_map.name!r} has no bridge lanes ({', '.join(BRIDGE_LANE_PREFIXES)}...)")


# ---- finding and reading files -------------------------------------------------------------


def shipped_scenario_names() -> tuple[str, ...]:
    folder = resources.files("bench") / "scenarios"
    return tuple(sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml")))


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """The file behind a shipped scenario name or a path; one-line ScenarioError if neither."""
    text = str(name_or_path)
    if text in shipped_scenario_names():
        return Path(str(resources.files("bench") / "scenarios" / f"{text}.toml"))
    path = Path(text)
    if path.is_file():
        return path
    raise ScenarioError(f"no scenario {text!r}: not a shipped scenario ({', '.join(shipped_scenario_names())}) and no such file")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read and check a scenario: a shipped name (e.g. ``peak_2030``) or a TOML file."""
    path = resolve_scenario_path(name_or_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text: {exc}") from None
    return parse_scenario(doc, source=str(path), default_name=path.stem)


def parse_scenario(doc: dict[str, Any], source: str, default_name: str) -> Scenario:
    """Build a :class:`Scenario` from a parsed TOML document; ``source`` names it in errors."""
    top = _Table(doc, source, "")
    name = top.string("name", default=default_name)
    map_ref = top.string("map", default="bac_luan_2")
    if map_ref.endswith((".geojson", ".json", ".map")) and not Path(map_ref).is_absolute():
        map_ref = str(Path(source).parent / map_ref)  # a map file next to the scenario
    duration_s = top.number("duration_s", minimum=0.0, exclusive=True)
    scenario = Scenario(
        name=name,
        map=map_ref,
        vehicles=top.integer("vehicles", minimum=1),
        demand=_demand(top.table("demand")),
        seed=top.integer("seed", minimum=0),
        duration_s=duration_s,
        faults=_faults(top.table("faults", required=False), duration_s),
        equipment=_equipment(top.table("terminal", required=False)),
        description=top.string("description", default=""),
        source=source,
    )
    top.done()
    return scenario


def _demand(t: _Table) -> Demand:
    shares = {k: t.number(k, default=0.0, minimum=0.0, maximum=1.0) for k in ("perishable_share", "reefer_share", "scan_share", "lab_share", "hold_share")}
    if shares["scan_share"] + shares["lab_share"] + shares["hold_share"] > 1.0:
        raise t.error("scan_share", "scan_share + lab_share + hold_share must not exceed 1")
    profile = t.numbers("peak_profile", length=HOURS_PER_DAY, default=FLAT_PROFILE, minimum=0.0)
    mean = sum(profile) / HOURS_PER_DAY
    if mean <= 0.0:
        raise t.error("peak_profile", "needs at least one positive hourly weight")
    demand = Demand(
        export_per_day=t.number("export_per_day", minimum=0.0),
        import_per_day=t.number("import_per_day", minimum=0.0),
        perishable_deadline_h=t.number("perishable_deadline_h", default=6.0, minimum=0.0, exclusive=True),
        peak_profile=tuple(w / mean for w in profile),
        start_hour=_hour(t),
        **shares,
    )
    if demand.per_day <= 0.0:
        raise t.error("export_per_day", "export_per_day + import_per_day must be positive")
    t.done()
    return demand


def _equipment(t: _Table | None) -> Equipment:
    if t is None:
        return Equipment()
    limits = {"cranes_per_block": 3, "handover_machines": 100, "lab_samplers": 100, "inspectors": 100}
    values = {key: t.integer(key, minimum=1, maximum=most) for key, most in limits.items() if key in t.data}
    t.done()
    return Equipment(**values)


def _hour(t: _Table) -> int:
    hour = t.number("start_hour", default=0, minimum=0, maximum=HOURS_PER_DAY - 1)
    if not hour.is_integer():
        raise t.error("start_hour", f"must be a whole hour 0..23, got {hour:g}")
    return int(hour)


def _faults(t: _Table | None, duration_s: float) -> Faults:
    if t is None:
        return Faults()

    def window(w: _Table) -> dict[str, float]:
        start_s = w.number("start_s", minimum=0.0)
        if start_s >= duration_s:
            raise w.error("start_s", f"starts at {start_s:g} s, not before the end of the scenario ({duration_s:g} s)")
        return {"start_s": start_s, "duration_s": w.number("duration_s", minimum=0.0, exclusive=True)}

    def share(w: _Table) -> VehicleShareFault:
        return VehicleShareFault(**window(w), share=w.number("share", minimum=0.0, maximum=1.0, exclusive=True))

    lane_blocks = tuple(_done(w, LaneBlock(**window(w), lanes=w.strings("lanes"))) for w in t.tables("lane_blocks"))
    vehicle_faults = tuple(_done(w, share(w)) for w in t.tables("vehicle_faults"))
    comm_losses = tuple(_done(w, share(w)) for w in t.tables("comm_losses"))
    speed_changes = tuple(
        _done(w, SpeedChange(**window(w), factor=w.number("factor", minimum=0.0, exclusive=True))) for w in t.tables("speed_changes")
    )
    ordered = sorted(enumerate(speed_changes), key=lambda p: p[1].start_s)
    for (_, a), (j, b) in zip(ordered, ordered[1:]):
        if b.start_s < a.end_s:
            raise t.error(f"speed_changes[{j}]", "overlaps another speed change (one factor at a time)")
    bridge_closures = tuple(_done(w, Window(**window(w))) for w in t.tables("bridge_closures"))
    t.done()
    return Faults(lane_blocks, vehicle_faults, comm_losses, speed_changes, bridge_closures)


def _done(t: _Table, value: Any) -> Any:
    t.done()
    return value


class _Table:
    """Typed access to one TOML table that remembers which keys were read.

    Every getter raises a one-line :class:`ScenarioError` naming the file and the dotted
    key; :meth:`done` rejects keys nobody read (typos).
    """

    def __init__(self, data: dict[str, Any], source: str, prefix: str) -> None:
        self.data, self.source, self.prefix = data, source, prefix
        self.read: set[str] = set()

    def key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {self.key(key)}: {problem}")

    def _get(self, key: str, required: bool) -> Any:
        self.read.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "missing")
            return None
        return self.data[key]

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            return default  # type: ignore[return-value]
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, True)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"must be a non-empty list of strings, got {value!r}")
        return tuple(value)

    def number(self, key: str, default: float | None = None, minimum: float | None = None,
               maximum: float | None = None, exclusive: bool = False) -> float:
        value = self._get(key, default is None)
        if value is None:
            return float(default)  # type: ignore[arg-type]
        return self._check_number(key, value, minimum, maximum, exclusive)

    def _check_number(self, key: str, value: Any, minimum: float | None, maximum: float | None, exclusive: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value!r}")
        if minimum is not None and (value < minimum or (exclusive and value == minimum)):
            raise self.error(key, f"must be {'>' if exclusive else '>='} {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum:g}, got {value!r}")
        return float(value)

    def numbers(self, key: str, length: int, default: tuple[float, ...], minimum: float) -> tuple[float, ...]:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, list) or len(value) != length:
            raise self.error(key, f"must be a list of {length} numbers, got {value!r}")
        return tuple(self._check_number(f"{key}[{i}]", v, minimum, None, False) for i, v in enumerate(value))

    def integer(self, key: str, minimum: int, maximum: int | None = None) -> int:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {value!r}")
        if value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be <= {maximum}, got {value}")
        return value

    def table(self, key: str, required: bool = True) -> _Table | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table ([{self.key(key)}]), got {value!r}")
        return _Table(value, self.source, f"{self.key(key)}.")

    def tables(self, key: str) -> list[_Table]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"must be an array of tables ([[{self.key(key)}]]), got {value!r}")
        return [_Table(v, self.source, f"{self.key(key)}[{i}].") for i, v in enumerate(value)]

    def done(self) -> None:
        extra = sorted(set(self.data) - self.read)
        if extra:
            raise self.error(extra[0], "unknown key")
