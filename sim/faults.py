"""Vehicle faults on a scenario's schedule: stall, slow, communication loss, position jump,
dead battery.

A :class:`Fault` hits one vehicle on ``[start_s, start_s + duration_s)`` (``duration_s``
None: for the rest of the run). Each vehicle gets a :class:`FaultTimeline` of its faults;
the vehicle asks it for the :class:`FaultEffects` in force and for the faults that started
or ended since it last asked (a dead battery empties the pack when it starts and, when it
has a duration, the pack is swapped when it ends).

What each kind does to a :class:`~sim.vehicle.VirtualIGV`:

========================  ==================================================================
``stall``                 the drive fails: emergency braking, no motion; FATAL error
                          ``driveStall`` while it lasts (the core takes its jobs away);
                          afterwards the vehicle holds until told (``VehicleConfig``)
``slow``                  top speed times ``speed_factor``; WARNING ``reducedSpeed``
``comm_loss``             the radio is down: no messages either way (the firmware wrapper or
                          the lockstep harness checks :meth:`VirtualIGV.comm_lost`); the
                          vehicle keeps driving its released base, as VDA 5050 says
``position_jump``         reported positions are off by ``jump_m`` (a GNSS/RTK glitch the
                          vehicle does not notice; the true pose is unchanged)
``dead_battery``          the pack is empty at once: FATAL ``batteryEmpty``; after
                          ``duration_s`` (if given) a swapped pack at ``battery_after_pct``
========================  ==================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from maps.errors import ScenarioError


class FaultKind(str, Enum):
    STALL = "stall"
    SLOW = "slow"
    COMM_LOSS = "comm_loss"
    POSITION_JUMP = "position_jump"
    DEAD_BATTERY = "dead_battery"


@dataclass(frozen=True)
class Fault:
    """One fault of one vehicle (see the module docstring)."""

    kind: FaultKind
    vehicle: str
    start_s: float
    duration_s: float | None = None
    speed_factor: float = 0.5
    """``slow``: share of the normal top speed, in (0, 1]."""
    jump_m: tuple[float, float] = (0.0, 0.0)
    """``position_jump``: offset (dx, dy) of reported positions."""
    battery_after_pct: float = 60.0
    """``dead_battery`` with a duration: charge of the swapped pack."""

    def __post_init__(self) -> None:
        where = f"fault {self.kind.value} of {self.vehicle!r}"
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise ScenarioError(f"{where}: start_s must be a finite time >= 0, got {self.start_s}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ScenarioError(f"{where}: duration_s must be positive, got {self.duration_s}")
        if not 0 < self.speed_factor <= 1:
            raise ScenarioError(f"{where}: speed_factor must be in (0, 1], got {self.speed_factor}")
        if len(self.jump_m) != 2 or not all(math.isfinite(v) for v in self.jump_m):
            raise ScenarioError(f"{where}: jump_m must be two finite numbers, got {self.jump_m!r}")
        if not 0 < self.battery_after_pct <= 100:
            raise ScenarioError(f"{where}: battery_after_pct must be in (0, 100], got {self.battery_after_pct}")

    @property
    def end_s(self) -> float:
        return math.inf if self.duration_s is None else self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class FaultEffects:
    """What is in force at one moment."""

    stalled: bool = False
    speed_factor: float = 1.0
    comm_lost: bool = False
    jump_dx_m: float = 0.0
    jump_dy_m: float = 0.0
    battery_dead: bool = False


NO_EFFECTS = FaultEffects()


class FaultTimeline:
    """The faults of one vehicle, queried with a non-decreasing time.

    PERF: effects are recomputed only when ``now_s`` crosses a fault's start or end, so
    the per-step query is one comparison.
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults = tuple(sorted(faults, key=lambda f: (f.start_s, f.kind.value)))
        times = {f.start_s for f in self.faults} | {f.end_s for f in self.faults if f.duration_s is not None}
        self._changes = sorted(times)
        self._cursor = 0
        self._effects = NO_EFFECTS
        self._next_change_s = self._changes[0] if self._changes else math.inf
        self._active: set[int] = set()

    @property
    def next_change_s(self) -> float:
        return self._next_change_s

    def advance(self, now_s: float) -> list[tuple[Fault, bool]]:
        """Move to ``now_s``; return ``(fault, started)`` for each start (True) or end
        (False) passed since the last call, in time order."""
        if now_s < self._next_change_s:
            return []
        transitions: list[tuple[Fault, bool]] = []
        while self._cursor < len(self._changes) and self._changes[self._cursor] <= now_s:
            t = self._changes[self._cursor]
            for i, f in enumerate(self.faults):
                if f.end_s == t and i in self._active:
                    self._active.discard(i)
                    transitions.append((f, False))
            for i, f in enumerate(self.faults):
                if f.start_s == t:
                    self._active.add(i)
                    transitions.append((f, True))
            self._cursor += 1
        self._next_change_s = self._changes[self._cursor] if self._cursor < len(self._changes) else math.inf
        self._effects = self._combine()
        return transitions

    def effects(self) -> FaultEffects:
        """Effects in force at the time of the last :meth:`advance`."""
        return self._effects

    def _combine(self) -> FaultEffects:
        if not self._active:
            return NO_EFFECTS
        active = [self.faults[i] for i in sorted(self._active)]
        kinds = {f.kind for f in active}
        slow = [f.speed_factor for f in active if f.kind is FaultKind.SLOW]
        jumps = [f.jump_m for f in active if f.kind is FaultKind.POSITION_JUMP]
        return FaultEffects(
            stalled=FaultKind.STALL in kinds,
            speed_factor=min(slow) if slow else 1.0,
            comm_lost=FaultKind.COMM_LOSS in kinds,
            jump_dx_m=sum(j[0] for j in jumps),
            jump_dy_m=sum(j[1] for j in jumps),
            battery_dead=FaultKind.DEAD_BATTERY in kinds,
        )


@dataclass(frozen=True)
class FaultSchedule:
    """All faults of a run, by vehicle."""

    faults: tuple[Fault, ...] = ()
    _by_vehicle: Mapping[str, tuple[Fault, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by: dict[str, list[Fault]] = {}
        for f in self.faults:
            by.setdefault(f.vehicle, []).append(f)
        object.__setattr__(self, "_by_vehicle", {k: tuple(v) for k, v in by.items()})

    def for_vehicle(self, serial: str) -> tuple[Fault, ...]:
        return self._by_vehicle.get(serial, ())

    def timeline(self, serial: str) -> FaultTimeline:
        return FaultTimeline(self.for_vehicle(serial))

    @classmethod
    def from_dicts(cls, items: Sequence[Mapping[str, Any]], *, vehicles: Iterable[str] | None = None,
                   where: str = "faults") -> FaultSchedule:
        """Read a scenario's fault list, e.g. ``[{"kind": "stall", "vehicle": "igv-003",
        "start_s": 600, "duration_s": 300}]``; one-line :class:`ScenarioError` if bad."""
        known = set(vehicles) if vehicles is not None else None
        allowed = {"kind", "vehicle", "start_s", "duration_s", "speed_factor", "jump_m", "battery_after_pct"}
        out = []
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            if not isinstance(item, Mapping):
                raise ScenarioError(f"{at}: must be a table of fault fields, got {type(item).__name__}")
            extra = sorted(set(item) - allowed)
            if extra:
                raise ScenarioError(f"{at}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
            kind = item.get("kind")
            if kind not in {k.value for k in FaultKind}:
                raise ScenarioError(f"{at}.kind: {kind!r} is not one of {', '.join(k.value for k in FaultKind)}")
            vehicle = item.get("vehicle")
            if not isinstance(vehicle, str) or (known is not None and vehicle not in known):
                raise ScenarioError(f"{at}.vehicle: unknown vehicle {vehicle!r}")
            kwargs: dict[str, Any] = {}
            for key in ("start_s", "duration_s", "speed_factor", "battery_after_pct"):
                if key in item:
                    value = item[key]
                    if not isinstance(value, (int, float)) or isinstance(value, bool):
                        raise ScenarioError(f"{at}.{key}: must be a number, got {value!r}")
                    kwargs[key] = float(value)
            if "start_s" not in kwargs:
                raise ScenarioError(f"{at}.start_s: missing")
            if "jump_m" in item:
                jump = item["jump_m"]
                if not (isinstance(jump, (list, tuple)) and len(jump) == 2 and all(isinstance(v, (int, float)) for v in jump)):
                    raise ScenarioError(f"{at}.jump_m: must be [dx, dy] in metres, got {jump!r}")
                kwargs["jump_m"] = (float(jump[0]), float(jump[1]))
            try:
                out.append(Fault(kind=FaultKind(kind), vehicle=vehicle, **kwargs))
            except ScenarioError as exc:
                raise ScenarioError(f"{at}: {exc}") from None
        return cls(tuple(out))


def share_faults(kind: FaultKind, share: float, start_s: float, duration_s: float | None, serials: Sequence[str],
                 rng: np.random.Generator, **params: Any) -> list[Fault]:
    """The same fault for ``share`` of the fleet (at least one vehicle if share > 0),
    the vehicles drawn from ``rng``; maps a bench scenario's fleet-share faults."""
    if not 0 <= share <= 1:
        raise ScenarioError(f"fault share must be in [0, 1], got {share}")
    count = 0 if share == 0 or not serials else max(1, round(share * len(serials)))
    chosen = sorted(rng.choice(len(serials), size=count, replace=False).tolist()) if count else []
    return [Fault(kind=kind, vehicle=serials[i], start_s=start_s, duration_s=duration_s, **params) for i in chosen]


def random_faults(serials: Sequence[str], duration_s: float, rng: np.random.Generator, *,
                  per_vehicle_per_h: float = 0.1, kinds: Sequence[FaultKind] = tuple(FaultKind),
                  mean_duration_s: float = 300.0) -> list[Fault]:
    """Faults as a Poisson process per vehicle, kinds drawn uniformly (a robustness run).

    Durations are exponential with mean ``mean_duration_s``, at least 10 s; slow faults
    halve the speed, position jumps are 3-15 m in a random direction, dead batteries
    are swapped at 60 % after the fault's duration.
    """
    out: list[Fault] = []
    rate_per_s = per_vehicle_per_h / 3600.0
    for serial in serials:
        t = 0.0
        while rate_per_s > 0:
            t += float(rng.exponential(1.0 / rate_per_s))
            if t >= duration_s:
                break
            kind = kinds[int(rng.integers(len(kinds)))]
            length = max(10.0, float(rng.exponential(mean_duration_s)))
            angle = float(rng.uniform(0.0, 2.0 * math.pi))
            dist = float(rng.uniform(3.0, 15.0))
            out.append(Fault(kind=kind, vehicle=serial, start_s=round(t, 3), duration_s=round(length, 3),
                             jump_m=(dist * math.cos(angle), dist * math.sin(angle))))
    return out
