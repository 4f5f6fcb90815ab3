"""The run record: everything a simulated run hands to the bench harness (docs/run-record.md).

A lockstep run produces one :class:`RunRecord`. The bench computes every KPI of
``report.json`` from it and judges safety on its own (collisions from the recorded
trajectories, deadlocks from the recorded waits). :func:`save_record` writes it to a run
folder as ``record.npz`` (the arrays) plus ``record.json`` (everything else);
:func:`load_record` reads it back and checks it.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from maps.errors import InputError
from planner.plan_file import trajectory_problem

STATE_NAMES = ("idle", "moving", "waiting", "loading", "charging", "paused", "manual", "fault", "offline")
"""Vehicle states, the columns 1.. of :attr:`RunRecord.states` (docs/telemetry.md)."""

WORKING_STATES = ("moving", "waiting", "loading")
"""States in which a vehicle counts as working (utilisation)."""

DIRECTIONS = ("northbound", "southbound")
"""Crossing directions: ``northbound`` export handed over, ``southbound`` import into the yard."""

SAMPLE_INTERVAL_S = 60.0
"""Nominal sampling interval of :attr:`RunRecord.states` and :attr:`RunRecord.yard`."""

RECORD_NPZ = "record.npz"
RECORD_JSON = "record.json"
FORMAT_VERSION = 1

Wait = tuple[str, float, float, tuple[str, ...]]
"""``(vehicle, t_start_s, t_end_s, waiting_on)``."""


class RecordError(InputError):
    """A run record is malformed, or its files cannot be read."""


@dataclass(frozen=True)
class RunRecord:
    """One simulated run, as the harness sees it. Field meanings: docs/run-record.md."""

    scenario: str
    seed: int
    map: str
    vehicles: tuple[str, ...]
    sim_duration_s: float
    wall_s: float
    vehicle_length_m: float
    vehicle_width_m: float
    trajectories: Mapping[str, np.ndarray]
    states: np.ndarray
    waits: tuple[Wait, ...]
    crossings: tuple[tuple[float, str], ...]
    clearance_h: np.ndarray
    replan_ms: np.ndarray
    tick_ms: np.ndarray
    yard: np.ndarray
    yard_blocks: tuple[str, ...]
    crane_moves: int
    rehandles: int
    deadline_misses: int
    containers_total: int
    containers_lost: int
    messages_dropped: int
    energy_kwh: float
    utilisation: float
    events: tuple[tuple[float, str, Mapping[str, Any]], ...] = field(default_factory=tuple)
    open_age_h: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __post_init__(self) -> None:
        # Normalise the containers the producer may hand over as lists, so records that
        # went through save/load compare equal to the originals.
        set_ = object.__setattr__
        set_(self, "vehicles", tuple(str(v) for v in self.vehicles))
        set_(self, "yard_blocks", tuple(str(b) for b in self.yard_blocks))
        set_(self, "waits", tuple((str(v), float(t0), float(t1), tuple(str(u) for u in on)) for v, t0, t1, on in self.waits))
        set_(self, "crossings", tuple((float(t), str(d)) for t, d in self.crossings))
        set_(self, "events", tuple((float(t), str(k), dict(d)) for t, k, d in self.events))
        set_(self, "trajectories", {str(v): np.asarray(a, dtype=np.float64) for v, a in self.trajectories.items()})
        for name in ("clearance_h", "replan_ms", "tick_ms", "open_age_h"):
            set_(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(-1))
        for name in ("states", "yard"):
            set_(self, name, np.asarray(getattr(self, name), dtype=np.float64))

    def check(self) -> None:
        """Raise :class:`RecordError` (one line) at the first rule the record breaks."""
        where = f"run record of {self.scenario!r}"
        if len(set(self.vehicles)) != len(self.vehicles):
            raise RecordError(f"{where}: vehicles: duplicate vehicle ids")
        if set(self.trajectories) != set(self.vehicles):
            odd = sorted(set(self.trajectories) ^ set(self.vehicles))
            raise RecordError(f"{where}: trajectories: vehicles and trajectories differ on {odd[:3]}")
        for vehicle in self.vehicles:
            problem = trajectory_problem(self.trajectories[vehicle], max_gap_s=np.inf)
            if problem is not None:
                raise RecordError(f"{where}: trajectories[{vehicle!r}]: {problem}")
        for name in ("sim_duration_s", "wall_s", "vehicle_length_m", "vehicle_width_m", "energy_kwh"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise RecordError(f"{where}: {name}: must be a finite number >= 0, got {value!r}")
        if not (self.vehicle_length_m > 0 and self.vehicle_width_m > 0):
            raise RecordError(f"{where}: vehicle footprint must be positive, got {self.vehicle_length_m} x {self.vehicle_width_m}")
        if not (0.0 <= self.utilisation <= 1.0):
            raise RecordError(f"{where}: utilisation: must be within [0, 1], got {self.utilisation!r}")
        for name in ("crane_moves", "rehandles", "deadline_misses", "containers_total", "containers_lost", "messages_dropped"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise RecordError(f"{where}: {name}: must be an integer >= 0, got {value!r}")
        _check_table(where, "states", self.states, len(STATE_NAMES))
        _check_table(where, "yard", self.yard, len(self.yard_blocks))
        for name in ("clearance_h", "replan_ms", "tick_ms", "open_age_h"):
            values = getattr(self, name)
            if not (np.isfinite(values).all() and (values >= 0).all()):
                raise RecordError(f"{where}: {name}: every value must be a finite number >= 0")
        known = set(self.vehicles)
        for i, (vehicle, t0, t1, on) in enumerate(self.waits):
            if vehicle not in known or not set(on) <= known:
                raise RecordError(f"{where}: waits[{i}]: unknown vehicle in {(vehicle, *on)}")
            if not (np.isfinite(t0) and np.isfinite(t1) and t0 <= t1):
                raise RecordError(f"{where}: waits[{i}]: needs finite t_start_s <= t_end_s, got {t0!r}, {t1!r}")
        for i, (t, direction) in enumerate(self.crossings):
            if direction not in DIRECTIONS or not np.isfinite(t):
                raise RecordError(f"{where}: crossings[{i}]: needs a finite time and a direction in {DIRECTIONS}, got {(t, direction)}")

    @property
    def footprint_m(self) -> tuple[float, float]:
        return (self.vehicle_length_m, self.vehicle_width_m)


def _check_table(where: str, name: str, table: np.ndarray, columns: int) -> None:
    if table.ndim != 2 or table.shape[1] != 1 + columns:
        raise RecordError(f"{where}: {name}: must be a (k, {1 + columns}) array of t_s then one column each, got shape {table.shape}")
    if not np.isfinite(table).all():
        raise RecordError(f"{where}: {name}: every value must be finite")
    if table.shape[0] > 1 and not (np.diff(table[:, 0]) > 0).all():
        raise RecordError(f"{where}: {name}: sample times must increase")


# ---- files ---------------------------------------------------------------------------------

_SCALARS = (
    "scenario", "seed", "map", "sim_duration_s", "wall_s", "vehicle_length_m", "vehicle_width_m",
    "crane_moves", "rehandles", "deadline_misses", "containers_total", "containers_lost",
    "messages_dropped", "energy_kwh", "utilisation",
)
_ARRAYS = ("states", "yard", "clearance_h", "replan_ms", "tick_ms", "open_age_h")
_OPTIONAL_ARRAYS = ("open_age_h",)
"""Arrays added after format version 1 was written; a record without them reads as empty."""


def save_record(record: RunRecord, folder: str | Path) -> tuple[Path, Path]:
    """Write ``record.npz`` and ``record.json`` into ``folder`` (created if missing).

    Trajectories are packed in the order of ``record.vehicles`` as ``trajectory_rows``
    (R, 4) plus CSR ``trajectory_offsets`` (N + 1,). Returns the two paths.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pieces = [record.trajectories[v] for v in record.vehicles]
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([p.shape[0] for p in pieces], out=offsets[1:])
    rows = np.concatenate(pieces) if pieces else np.empty((0, 4))
    npz_path = folder / RECORD_NPZ
    np.savez_compressed(
        npz_path, trajectory_rows=rows, trajectory_offsets=offsets, **{name: getattr(record, name) for name in _ARRAYS}
    )
    doc: dict[str, Any] = {"format_version": FORMAT_VERSION}
    doc.update({name: _plain(getattr(record, name)) for name in _SCALARS})
    doc["vehicles"] = list(record.vehicles)
    doc["yard_blocks"] = list(record.yard_blocks)
    doc["waits"] = [[v, t0, t1, list(on)] for v, t0, t1, on in record.waits]
    doc["crossings"] = [[t, d] for t, d in record.crossings]
    doc["events"] = [[t, k, d] for t, k, d in record.events]
    json_path = folder / RECORD_JSON
    try:
        text = json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"run record of {record.scenario!r}: cannot be written as JSON: {exc}") from None
    json_path.write_text(text)
    return npz_path, json_path


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_record(folder: str | Path) -> RunRecord:
    """Read and check the record saved in ``folder``; one-line :class:`RecordError` if broken."""
    folder = Path(folder)
    json_path, npz_path = folder / RECORD_JSON, folder / RECORD_NPZ
    try:
        doc = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{json_path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{json_path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format_version") != FORMAT_VERSION:
        raise RecordError(f"{json_path}: not a run record of format version {FORMAT_VERSION}")
    try:
        with np.load(npz_path) as npz:
            arrays = {name: npz[name] for name in (*_ARRAYS, "trajectory_rows", "trajectory_offsets")
                      if name in npz.files or name not in _OPTIONAL_ARRAYS}
    except FileNotFoundError:
        raise RecordError(f"{npz_path}: no such file") from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise RecordError(f"{npz_path}: not a run record archive: {exc}") from None
    try:
        vehicles = [str(v) for v in doc["vehicles"]]
        offsets = arrays["trajectory_offsets"]
        if offsets.shape != (len(vehicles) + 1,):
            raise RecordError(f"{npz_path}: trajectory_offsets has shape {offsets.shape}, expected ({len(vehicles) + 1},)")
        rows = arrays["trajectory_rows"]
        trajectories = {v: rows[offsets[i] : offsets[i + 1]] for i, v in enumerate(vehicles)}
        record = RunRecord(
            **{name: doc[name] for name in _SCALARS},
            vehicles=vehicles,
            trajectories=trajectories,
            waits=[(v, t0, t1, on) for v, t0, t1, on in doc["waits"]],
            crossings=[(t, d) for t, d in doc["crossings"]],
            yard_blocks=doc["yard_blocks"],
            events=[(t, k, d) for t, k, d in doc["events"]],
            **{name: arrays[name] for name in _ARRAYS if name in arrays},
        )
    except KeyError as exc:
        raise RecordError(f"{json_path}: missing key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{json_path}: malformed entry: {exc}") from None
    record.check()
    return record


def records_equal(a: RunRecord, b: RunRecord) -> bool:
    """Whether two records hold the same data (arrays compared exactly)."""
    for name in (*_SCALARS, "vehicles", "yard_blocks", "waits", "crossings", "events"):
        if getattr(a, name) != getattr(b, name):
            return False
    if any(not np.array_equal(getattr(a, name), getattr(b, name)) for name in _ARRAYS):
        return False
    return a.trajectories.keys() == b.trajectories.keys() and all(
        np.array_equal(a.trajectories[v], b.trajectories[v]) for v in a.trajectories
    )

