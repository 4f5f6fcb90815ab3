"""What a vehicle asks of the terminal at a station, and where the stations are.

A virtual IGV does not decide how long a ``pick``, ``drop`` or ``scan`` takes: the
equipment at the station does (a yard crane with a queue, a scanner bay, the lab's
sampling team, the Dongxing handover equipment). The vehicle calls an injected
:data:`Service` with a :class:`ServiceRequest` when the action starts and finishes the
action ``duration_s`` later. :class:`sim.terminal.Terminal` is the full service;
:class:`FixedService` gives constant durations (``igv sim`` without a terminal, tests).

:class:`StationLocator` answers "which station is at this position" for the vehicle
(an order names nodes, not stations, unless the action carries ``stationId``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from maps.errors import InputError
from maps.trackmap import TrackMap

SERVICE_ACTIONS = frozenset({"pick", "drop", "scan"})
"""Node actions whose duration the station's equipment decides."""


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """A vehicle starts a station action.

    Attributes
    ----------
    vehicle : str
        Serial number.
    action_type : str
        ``pick``, ``drop`` or ``scan``.
    action_id : str
    container : str or None
        The container handled (``containerId`` extension or the ``loadId`` parameter).
    station : str or None
        The station id (``stationId`` parameter, else located from the position).
    station_kind : str or None
    x_m, y_m : float
        Where the vehicle stands (map CRS metres).
    now_s : float
        Simulated time the action starts.
    """

    vehicle: str
    action_type: str
    action_id: str
    container: str | None
    station: str | None
    station_kind: str | None
    x_m: float
    y_m: float
    now_s: float


@dataclass(frozen=True, slots=True)
class ServiceOutcome:
    """How the station answers: the action takes ``duration_s`` (queueing included), or
    fails at once with a one-line ``failure`` reason."""

    duration_s: float
    failure: str | None = None

    def __post_init__(self) -> None:
        if not (self.duration_s >= 0.0 and math.isfinite(self.duration_s)):
            raise InputError(f"service duration must be a finite number >= 0, got {self.duration_s}")


Service = Callable[[ServiceRequest], ServiceOutcome]
"""Called once per station action, at its start."""


@dataclass(frozen=True)
class FixedService:
    """Constant durations per action type (estimates: a crane move of ~2 min)."""

    pick_s: float = 120.0
    drop_s: float = 120.0
    scan_s: float = 120.0

    def __call__(self, request: ServiceRequest) -> ServiceOutcome:
        duration = {"pick": self.pick_s, "drop": self.drop_s, "scan": self.scan_s}.get(request.action_type, 0.0)
        return ServiceOutcome(duration)


class StationLocator:
    """Stations by position: the nearest one within a tolerance.

    Parameters
    ----------
    ids, kinds : sequence of str
    xy : (S, 2) array
        Station positions (map CRS metres).
    """

    def __init__(self, ids: list[str], kinds: list[str], xy: np.ndarray) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if not len(ids) == len(kinds) == xy.shape[0]:
            raise InputError("station ids, kinds and positions differ in length")
        self.ids = tuple(ids)
        self.kinds = tuple(kinds)
        self.xy = xy
        self._kind_of = dict(zip(ids, kinds))
        self._index = {sid: i for i, sid in enumerate(ids)}

    @classmethod
    def from_map(cls, track_map: TrackMap) -> StationLocator:
        xy = track_map.cell_xy[np.asarray(track_map.station_cell, dtype=np.int64)] if track_map.n_stations else np.zeros((0, 2))
        return cls([s.id for s in track_map.stations], [s.kind for s in track_map.stations], xy)

    def kind_of(self, station_id: str) -> str | None:
        return self._kind_of.get(station_id)

    def position_of(self, station_id: str) -> tuple[float, float]:
        index = self._index.get(station_id)
        if index is None:
            raise InputError(f"unknown station {station_id!r}")
        return float(self.xy[index, 0]), float(self.xy[index, 1])

    def at(self, x_m: float, y_m: float, tolerance_m: float = 2.0) -> tuple[str, str] | None:
        """``(id, kind)`` of the nearest station within ``tolerance_m``, or None."""
        if not self.ids:
            return None
        d2 = (self.xy[:, 0] - x_m) ** 2 + (self.xy[:, 1] - y_m) ** 2
        best = int(np.argmin(d2))
        if d2[best] > tolerance_m * tolerance_m:
            return None
        return self.ids[best], self.kinds[best]
