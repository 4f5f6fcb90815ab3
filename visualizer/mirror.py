"""A read-only mirror of the core's telemetry state document (docs/telemetry.md).

zguide's *Clone* pattern, without sockets: a snapshot ``(seq, state)`` is the state after
patch ``seq``; patches must then arrive with ``seq`` rising by exactly one. A patch older
than the mirror is discarded, a jump in ``seq`` is a gap: the mirror keeps showing what it
has (marked stale) and asks for a new snapshot. Patches that arrive while a snapshot is
awaited are buffered and applied after it if they are newer.

Everything is checked before anything is applied, so a malformed patch never leaves a
half-updated state; it counts as a gap (its changes are lost) and raises
:class:`~visualizer.errors.TelemetryError` with one line naming what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from visualizer.errors import TelemetryError

ENTITY_SECTIONS = ("vehicles", "containers", "yard", "queues")
"""Sections whose patch entries are whole entities keyed by id (``None`` removes one)."""
WHOLE_SECTIONS = ("clock", "blocked", "kpi", "map")
"""Sections replaced whole when present in a patch."""
ALERTS_KEPT = 200
MAX_PENDING = 2000
"""Patches buffered while a snapshot is awaited; older ones are dropped beyond this."""


class PatchOutcome(Enum):
    APPLIED = "applied"
    STALE = "stale"  # not newer than the mirror: discarded
    GAP = "gap"  # a sequence number was skipped: a snapshot is needed
    BUFFERED = "buffered"  # kept until the awaited snapshot arrives


@dataclass
class MirrorStats:
    snapshots: int = 0
    applied: int = 0
    stale: int = 0
    gaps: int = 0
    rejected: int = 0


def empty_state() -> dict[str, Any]:
    """The state document before any telemetry: every section present and empty."""
    return {
        "map": "",
        "clock": {"t_s": 0.0, "speed_factor": 1.0, "paused": False},
        "vehicles": {},
        "containers": {},
        "yard": {},
        "queues": {},
        "blocked": {"lanes": [], "zones": []},
        "kpi": {},
        "alerts": [],
    }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_path(where: str, path: Any) -> None:
    if not isinstance(path, list):
        raise TelemetryError(f"{where} must be a list of [x_m, y_m] points")
    for point in path:
        if not (isinstance(point, list) and len(point) == 2 and _number(point[0]) and _number(point[1])):
            raise TelemetryError(f"{where} must be a list of [x_m, y_m] points")


def _check_vehicle(vid: str, v: Any) -> None:
    where = f"vehicle {vid[:40]!r}"
    if not isinstance(v, dict):
        raise TelemetryError(f"{where} must be a map")
    for key in ("x_m", "y_m", "heading_rad"):
        if not _number(v.get(key)):
            raise TelemetryError(f"{where}: {key} must be a finite number")
    if not isinstance(v.get("state", ""), str):
        raise TelemetryError(f"{where}: state must be a string")
    for key in ("released_path", "planned_path"):
        if key in v:
            _check_path(f"{where}: {key}", v[key])
    cells = v.get("reserved_cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in cells):
        raise TelemetryError(f"{where}: reserved_cells must be a list of cell indices")


def _check_entities(section: str, entities: Any, *, removals: bool) -> None:
    if not isinstance(entities, dict):
        raise TelemetryError(f"{section} must be a map of id to entity")
    for key, value in entities.items():
        if not isinstance(key, str):
            raise TelemetryError(f"{section}: ids must be strings")
        if value is None:
            if removals:
                continue
            raise TelemetryError(f"{section} {key[:40]!r}: null is only allowed in patches")
        if section == "vehicles":
            _check_vehicle(key, value)
        elif section == "queues":
            if not (isinstance(value, int) and not isinstance(value, bool)):
                raise TelemetryError(f"queues {key[:40]!r} must be an integer")
        elif not isinstance(value, dict):
            raise TelemetryError(f"{section} {key[:40]!r} must be a map")


def _check_whole(section: str, value: Any) -> None:
    if section == "map":
        if not isinstance(value, str):
            raise TelemetryError("map must be a string")
        return
    if not isinstance(value, dict):
        raise TelemetryError(f"{section} must be a map")
    if section == "clock":
        for key in ("t_s", "speed_factor"):
            if key in value and not _number(value[key]):
                raise TelemetryError(f"clock.{key} must be a finite number")
    if section == "blocked":
        for key in ("lanes", "zones"):
            ids = value.get(key, [])
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise TelemetryError(f"blocked.{key} must be a list of ids")


def _check_alerts(alerts: Any) -> None:
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        raise TelemetryError("alerts must be a list of maps")


def check_state(state: Any) -> dict[str, Any]:
    """A complete state document from a snapshot's ``state`` (missing sections empty).

    Raises
    ------
    TelemetryError
        Naming the first section or entity that breaks docs/telemetry.md.
    """
    if not isinstance(state, dict):
        raise TelemetryError("snapshot state must be a map")
    out = empty_state()
    for section in ENTITY_SECTIONS:
        if section in state:
            _check_entities(section, state[section], removals=False)
            out[section] = dict(state[section])
    for section in WHOLE_SECTIONS:
        if section in state:
            _check_whole(section, state[section])
            out[section] = state[section]
    if "alerts" in state:
        _check_alerts(state["alerts"])
        out["alerts"] = list(state["alerts"])[-ALERTS_KEPT:]
    return out


def check_patch(patch: Any) -> tuple[int, dict[str, Any]]:
    """``(seq, changes)`` of a patch, checked whole; raises :class:`TelemetryError`."""
    if not isinstance(patch, dict):
        raise TelemetryError("patch must be a map with seq and changes")
    seq = patch.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise TelemetryError("patch seq must be a non-negative integer")
    changes = patch.get("changes", {})
    if not isinstance(changes, dict):
        raise TelemetryError(f"patch {seq}: changes must be a map")
    for section, value in changes.items():
        if section in ENTITY_SECTIONS:
            try:
                _check_entities(section, value, removals=True)
            except TelemetryError as exc:
                raise TelemetryError(f"patch {seq}: {exc}") from None
        elif section in WHOLE_SECTIONS:
            try:
                _check_whole(section, value)
            except TelemetryError as exc:
                raise TelemetryError(f"patch {seq}: {exc}") from None
        elif section == "alerts":
            try:
                _check_alerts(value)
            except TelemetryError as exc:
                raise TelemetryError(f"patch {seq}: {exc}") from None
        # Unknown sections are ignored: a newer core may add some.
    return seq, changes


class StateMirror:
    """The local copy of the state document; see the module docstring.

    Attributes
    ----------
    state : dict
        The mirrored state document (every section present). Treat it as read-only.
    seq : int or None
        The last applied patch, ``None`` while a snapshot is needed.
    version : int
        Rises with every change of :attr:`state`, so drawing code can cache by it.
    t_s : float
        Simulation time of the last snapshot or patch.
    """

    def __init__(self) -> None:
        self.state: dict[str, Any] = empty_state()
        self.seq: int | None = None
        self.version = 0
        self.t_s = 0.0
        self.stats = MirrorStats()
        self._pending: dict[int, dict[str, Any]] = {}
        self._synced_once = False

    @property
    def needs_snapshot(self) -> bool:
        """True until the first snapshot and after every gap."""
        return self.seq is None

    @property
    def stale(self) -> bool:
        """True when the state shown is known to be behind the core (after a gap)."""
        return self.seq is None and self._synced_once

    def apply_snapshot(self, seq: int, state: Any) -> int:
        """Replace the state by a snapshot, then apply buffered newer patches.

        Returns the number of buffered patches applied after it.
        """
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise TelemetryError("snapshot seq must be a non-negative integer")
        self.state = check_state(state)
        self.seq = seq
        self.t_s = float(self.state["clock"].get("t_s", 0.0))
        self.version += 1
        self.stats.snapshots += 1
        self._synced_once = True
        pending, self._pending = self._pending, {}
        applied = 0
        for pseq in sorted(pending):
            if self.seq is None:  # a gap inside the buffer: keep the rest for the next snapshot
                self._pending[pseq] = pending[pseq]
                continue
            applied += self.apply_patch(pending[pseq]) is PatchOutcome.APPLIED
        return applied

    def apply_patch(self, patch: Any) -> PatchOutcome:
        """Apply one patch (see the module docstring for the outcomes).

        Raises
        ------
        TelemetryError
            The patch is malformed; nothing was applied and a snapshot is now needed.
        """
        try:
            seq, changes = check_patch(patch)
        except TelemetryError:
            self.stats.rejected += 1
            self._lose_sync()
            raise
        if self.seq is None:
            self._pending[seq] = patch
            if len(self._pending) > MAX_PENDING:
                del self._pending[min(self._pending)]
            return PatchOutcome.BUFFERED
        if seq <= self.seq:
            self.stats.stale += 1
            return PatchOutcome.STALE
        if seq != self.seq + 1:
            self.stats.gaps += 1
            self._lose_sync()
            self._pending[seq] = patch
            return PatchOutcome.GAP
        self._apply(changes)
        self.seq = seq
        t_s = patch.get("t_s")
        if _number(t_s):
            self.t_s = float(t_s)
        self.version += 1
        self.stats.applied += 1
        return PatchOutcome.APPLIED

    def _lose_sync(self) -> None:
        self.seq = None
        self._pending.clear()

    def _apply(self, changes: dict[str, Any]) -> None:
        state = self.state
        for section in ENTITY_SECTIONS:
            delta = changes.get(section)
            if delta:
                target = state[section]
                for key, value in delta.items():
                    if value is None:
                        target.pop(key, None)
                    else:
                        target[key] = value
        for section in WHOLE_SECTIONS:
            if section in changes:
                state[section] = changes[section]
        if changes.get("alerts"):
            state["alerts"] = (state["alerts"] + changes["alerts"])[-ALERTS_KEPT:]
