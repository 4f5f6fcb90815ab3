"""Routing problems, options and results (design sections 4 and 5).

Time model, shared by every routing module
------------------------------------------
Vehicles move on the cell graph of a :class:`~maps.trackmap.TrackMap`. A move from cell
``a`` to its successor ``b`` takes at least ``length_m / min(speed limit, vehicle speed)``.
A path is a list of *entries* ``(cell, arrive_s, depart_s)``: the vehicle reaches the cell
at ``arrive_s``, waits, leaves at ``depart_s`` and reaches the next cell at the next entry's
``arrive_s``. The first entry's ``arrive_s`` is the time the path begins; the last entry's
``depart_s`` is ``inf`` (a vehicle at its final goal keeps occupying it).

*Occupancy* follows the cell model of :mod:`maps.cells`: a cell stands for the stretch of
lane within half a piece of its point, and a vehicle occupies the cell whose stretch holds
its reference point. Plans move at constant speed between ``depart_s`` and the next
``arrive_s``, so a vehicle leaves one stretch for the next at the *midpoint* of each
move. Entry ``k`` therefore occupies its cell from the midpoint of the move into it
(``arrive_s[0]`` for the first entry) to the midpoint of the move out of it (``inf`` for
the last). Two vehicles conflict when they occupy conflicting cells
(``TrackMap.cells_conflict``) over overlapping open intervals.

Execution does not need these exact times: :mod:`planner.dependencies` only keeps their
order, and a vehicle enters a stretch only after every vehicle that the plan lets through
a conflicting stretch first has left it, whatever the delays.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
from shapely.geometry import Point

from maps.trackmap import FORBIDDEN_ZONE_KINDS, TrackMap
from planner.errors import ProblemError


class PlanStatus(enum.Enum):
    """Outcome of a routing call."""

    SOLVED = "solved"
    """Every vehicle has a conflict-free path to its last goal."""
    PARTIAL = "partial"
    """Some vehicles have paths; the others (``PlanResult.unplanned``) stay where they are."""
    TIMEOUT = "timeout"
    """The time budget ran out before any valid plan was found."""
    UNSOLVABLE = "unsolvable"
    """Provably no plan: ``PlanResult.blocking`` names the vehicles in the way."""

    @property
    def file_value(self) -> str:
        """The status word written to plan JSON (design section 7: solved/partial/timeout/failed)."""
        return "failed" if self is PlanStatus.UNSOLVABLE else self.value


@dataclass(frozen=True)
class Leg:
    """One stretch of a vehicle's task: drive to ``goal_cell`` at most ``max_speed_mps``
    and stay there at least ``dwell_s`` (a crane transfer, a scan) before the next leg."""

    goal_cell: int
    max_speed_mps: float
    dwell_s: float = 0.0
    goal_station: str = ""


@dataclass(frozen=True)
class VehicleTask:
    """A vehicle standing on ``start_cell`` with legs to drive, in order.

    ``ready_s`` is the earliest time it may leave its start (it is still loading).
    """

    id: str
    start_cell: int
    legs: tuple[Leg, ...]
    ready_s: float = 0.0
    start_station: str = ""

    @property
    def goal_cell(self) -> int:
        return self.legs[-1].goal_cell


@dataclass(frozen=True)
class ParkedVehicle:
    """A vehicle that does not move (parked, broken down, stopped by an operator)."""

    id: str
    cell: int


@dataclass(frozen=True, eq=False)
class Problem:
    """Vehicles to route on one track map, from ``start_time_s`` on.

    Use :meth:`from_stations` to build one from station ids; the constructor checks cell
    ranges, unique ids, distinct and non-overlapping starts.

    ``vehicle_start_times_s`` (replanning) gives each vehicle its own start time, no
    earlier than ``start_time_s``: it stands on its start from then on. Starts at
    different times may overlap, so the overlap check is left to the caller.
    """

    track_map: TrackMap
    vehicles: tuple[VehicleTask, ...]
    parked: tuple[ParkedVehicle, ...] = ()
    start_time_s: float = 0.0
    vehicle_start_times_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        object.__setattr__(self, "parked", tuple(self.parked))
        object.__setattr__(self, "vehicle_start_times_s", tuple(float(t) for t in self.vehicle_start_times_s))
        tm = self.track_map
        seen: set[str] = set()
        for v in (*self.vehicles, *self.parked):
            if v.id in seen:
                raise ProblemError(f"vehicle id {v.id!r} appears twice")
            seen.add(v.id)
        for v in self.vehicles:
            if not v.legs:
                raise ProblemError(f"vehicle {v.id!r} has no goal")
            for cell in (v.start_cell, *(leg.goal_cell for leg in v.legs)):
                if not 0 <= cell < tm.n_cells:
                    raise ProblemError(f"vehicle {v.id!r}: cell {cell} is not a cell of map {tm.name!r}")
            for leg in v.legs:
                if not (leg.max_speed_mps > 0 and math.isfinite(leg.max_speed_mps)):
                    raise ProblemError(f"vehicle {v.id!r}: speed {leg.max_speed_mps} m/s must be a positive number")
                if not (leg.dwell_s >= 0 and math.isfinite(leg.dwell_s)):
                    raise ProblemError(f"vehicle {v.id!r}: dwell {leg.dwell_s} s must be a non-negative number")
        for p in self.parked:
            if not 0 <= p.cell < tm.n_cells:
                raise ProblemError(f"parked vehicle {p.id!r}: cell {p.cell} is not a cell of map {tm.name!r}")
        if self.vehicle_start_times_s:
            if len(self.vehicle_start_times_s) != len(self.vehicles):
                raise ProblemError(f"{len(self.vehicles)} vehicles but {len(self.vehicle_start_times_s)} start times")
            if min(self.vehicle_start_times_s) < self.start_time_s:
                raise ProblemError(f"a vehicle start time is before the problem's start time {self.start_time_s} s")
            return
        standing = [(v.id, v.start_cell) for v in self.vehicles] + [(p.id, p.cell) for p in self.parked]
        by_cell: dict[int, str] = {}
        for vid, cell in standing:
            if cell in by_cell:
                raise ProblemError(f"vehicles {by_cell[cell]!r} and {vid!r} both start on cell {cell} ({_where(tm, cell)})")
            by_cell[cell] = vid
        for vid, cell in standing:
            for other in tm.cell_conflicts(cell):
                other_id = by_cell.get(int(other))
                if other_id is not None and other_id != vid and vid < other_id:
                    raise ProblemError(f"vehicles {vid!r} and {other_id!r} start overlapping each other ({_where(tm, cell)})")

    @property
    def n_vehicles(self) -> int:
        return len(self.vehicles)

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.vehicles)

    def start_times(self) -> np.ndarray:
        """Each vehicle's start time (``start_time_s`` unless given per vehicle)."""
        if self.vehicle_start_times_s:
            return np.array(self.vehicle_start_times_s, dtype=np.float64)
        return np.full(len(self.vehicles), float(self.start_time_s))

    @classmethod
    def from_stations(
        cls,
        track_map: TrackMap,
        starts: Sequence[str],
        goals: Sequence[str | Sequence[str]],
        *,
        vehicle_ids: Sequence[str] | None = None,
        laden: Sequence[bool] | None = None,
        dwell_s: float = 0.0,
        parked: Mapping[str, str] | None = None,
        start_time_s: float = 0.0,
    ) -> "Problem":
        """A problem from station ids.

        Parameters
        ----------
        track_map : TrackMap
        starts : sequence of str
            Start station of each vehicle.
        goals : sequence of str or of sequences of str
            Goal station of each vehicle, or several stations to visit in order.
        vehicle_ids : sequence of str, optional
            Default ``igv-001``, ``igv-002``, ...
        laden : sequence of bool, optional
            Laden vehicles drive at ``max_speed_laden_mps``, the others at
            ``max_speed_unladen_mps`` of the map's vehicle spec.
        dwell_s : float
            Dwell at every goal but the last.
        parked : mapping of vehicle id to station id, optional
            Vehicles standing still at stations: obstacles for everyone else.

        Raises
        ------
        ProblemError
            Unknown station, a start or goal inside a ``no_go`` or ``building`` zone, two
            vehicles on one start, mismatched list lengths.
        """
        n = len(starts)
        if len(goals) != n:
            raise ProblemError(f"{n} starts but {len(goals)} goals")
        ids = list(vehicle_ids) if vehicle_ids is not None else [f"igv-{k + 1:03d}" for k in range(n)]
        if len(ids) != n:
            raise ProblemError(f"{n} starts but {len(ids)} vehicle ids")
        flags = list(laden) if laden is not None else [False] * n
        if len(flags) != n:
            raise ProblemError(f"{n} starts but {len(flags)} laden flags")
        spec = track_map.vehicle
        forbidden = [z for z in track_map.zones if z.kind in FORBIDDEN_ZONE_KINDS]

        def cell_of(station: str, what: str) -> int:
            if station not in track_map.station_index:
                raise ProblemError(f"{what}: unknown station {station!r} on map {track_map.name!r}")
            cell = track_map.station_cell_of(station)
            point = Point(*track_map.cell_xy[cell])
            for zone in forbidden:
                if zone.polygon.covers(point):
                    raise ProblemError(f"{what}: station {station!r} lies in {zone.kind} zone {zone.id!r}")
            return cell

        tasks = []
        for k in range(n):
            stops = [goals[k]] if isinstance(goals[k], str) else list(goals[k])
            if not stops:
                raise ProblemError(f"vehicle {ids[k]!r} has no goal")
            speed = spec.max_speed_laden_mps if flags[k] else spec.max_speed_unladen_mps
            legs = tuple(
                Leg(cell_of(g, f"vehicle {ids[k]!r} goal"), speed, dwell_s if j + 1 < len(stops) else 0.0, g)
                for j, g in enumerate(stops)
            )
            tasks.append(VehicleTask(ids[k], cell_of(starts[k], f"vehicle {ids[k]!r} start"), legs, 0.0, starts[k]))
        standing = [ParkedVehicle(pid, cell_of(station, f"parked vehicle {pid!r}")) for pid, station in (parked or {}).items()]
        return cls(track_map, tuple(tasks), tuple(standing), start_time_s)


    @classmethod
    def random_stations(
        cls, track_map: TrackMap, n_vehicles: int, rng: np.random.Generator, *, laden_fraction: float = 0.0,
    ) -> "Problem":
        """``n_vehicles`` vehicles with random distinct starts and random distinct goals.

        Starts are pairwise distinct and so are goals; no vehicle's goal is its own start
        (a goal may be another vehicle's start: that vehicle has to leave first). Stations
        inside forbidden zones, and stations whose cells overlap each other, are skipped.
        """
        forbidden = [z.polygon for z in track_map.zones if z.kind in FORBIDDEN_ZONE_KINDS]
        usable: list[str] = []
        taken: set[int] = set()
        for s in track_map.stations:
            cell = int(track_map.station_cell[track_map.station_index[s.id]])
            if any(p.covers(Point(*track_map.cell_xy[cell])) for p in forbidden):
                continue
            if taken.intersection(int(c) for c in track_map.cell_conflicts(cell)):
                continue
            taken.add(cell)
            usable.append(s.id)
        if n_vehicles > len(usable) or len(usable) < 2:
            raise ProblemError(f"{n_vehicles} vehicles need distinct stations; map {track_map.name!r} has {len(usable)} usable")
        starts = rng.permutation(len(usable))[:n_vehicles]
        goals = rng.permutation(len(usable))[:n_vehicles]
        for k in range(n_vehicles):
            if goals[k] == starts[k]:
                j = (k + 1) % n_vehicles
                if n_vehicles > 1 and goals[j] != starts[k] and goals[k] != starts[j]:
                    goals[k], goals[j] = goals[j], goals[k]
                else:
                    unused = sorted(set(range(len(usable))) - set(goals.tolist()) - {int(starts[k])})
                    goals[k] = unused[int(rng.integers(len(unused)))]
        laden = (rng.random(n_vehicles) < laden_fraction).tolist()
        return cls.from_stations(track_map, [usable[i] for i in starts], [usable[i] for i in goals], laden=laden)


def _where(tm: TrackMap, cell: int) -> str:
    x, y = tm.cell_xy[cell]
    return f"x={x:.1f} y={y:.1f}"


def occupancy_of_paths(arrive_s: np.ndarray, depart_s: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each entry's occupancy (module docstring) for paths laid end to end
    in ``arrive_s`` and ``depart_s``, path ``v`` starting at entry ``head[v]`` (``head[0]`` is 0).

    An entry's occupancy starts when the vehicle enters its stretch, the midpoint of the
    move into it (a path's first entry: at its arrival), and ends when the next entry's
    starts (a path's last entry: never). One array pass for any number of paths (the
    dependency graph takes all of them at once).
    """
    start = np.empty_like(arrive_s)
    start[0] = arrive_s[0]
    start[1:] = 0.5 * (depart_s[:-1] + arrive_s[1:])
    end = np.empty_like(start)
    end[:-1] = start[1:]
    end[-1] = math.inf
    if head.shape[0] > 1:  # PERF: a single path (the hot case: every reservation) skips the fancy indexing
        later = head[1:]
        start[later] = arrive_s[later]
        end[later - 1] = math.inf
    return start, end


_FIRST_ONLY = np.zeros(1, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class VehiclePath:
    """A cell-time path (see the module docstring for the time model).

    ``leg[k]`` is the index of the leg the vehicle is driving when it leaves entry ``k``
    (it selects the speed of that move); it steps up at each reached goal.
    """

    cells: np.ndarray  # (n,) int32
    arrive_s: np.ndarray  # (n,) float64
    depart_s: np.ndarray  # (n,) float64, last is inf
    leg: np.ndarray  # (n,) int32

    def __post_init__(self) -> None:
        for name, dtype in (("cells", np.int32), ("arrive_s", np.float64), ("depart_s", np.float64), ("leg", np.int32)):
            array = np.array(getattr(self, name), dtype=dtype, copy=True)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def n_steps(self) -> int:
        """Moves in the path (entries minus one)."""
        return int(self.cells.shape[0]) - 1

    @property
    def start_s(self) -> float:
        return float(self.arrive_s[0])

    @property
    def end_s(self) -> float:
        """Arrival at the last cell."""
        return float(self.arrive_s[-1])

    def stretch_entry_s(self) -> np.ndarray:
        """When the vehicle enters each entry's stretch: the midpoint of the move into it
        (``arrive_s[0]`` for the first entry)."""
        return self.occupancy()[0]

    def occupancy(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end of each entry's occupancy (module docstring)."""
        return occupancy_of_paths(self.arrive_s, self.depart_s, _FIRST_ONLY)

    @classmethod
    def standing(cls, cell: int, t_s: float) -> "VehiclePath":
        """A vehicle that stays on ``cell`` from ``t_s`` on."""
        return cls(np.array([cell]), np.array([t_s]), np.array([math.inf]), np.array([0]))


@dataclass(frozen=True)
class PlanOptions:
    """How hard and how long to try.

    Attributes
    ----------
    time_limit_s : float
        Wall-time budget for the whole call.
    seed : int
        Seeds the restarts' random priority perturbations.
    max_expansions : int
        Cap on SIPP state expansions per vehicle search.
    use_pbs : bool
        Fall back to priority-based search when prioritized planning fails.
    partial : bool
        When no complete plan is found in time, return a valid partial plan (the
        vehicles that could not be routed stay on their starts) instead of TIMEOUT.
    pp_share : float
        Largest share of ``time_limit_s`` for prioritized planning's restarts before the
        repair layers take over.
    improve_time_s : float
        Time to shorten a found plan (0 disables it): other priority orders, then large
        neighbourhood search.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    max_expansions: int = 200_000
    use_pbs: bool = True
    partial: bool = True
    pp_share: float = 0.3
    improve_time_s: float = 3.0

    def __post_init__(self) -> None:
        if not (self.time_limit_s > 0 and math.isfinite(self.time_limit_s)):
            raise ProblemError(f"time limit {self.time_limit_s} s must be a positive number")
        if not 0.0 < self.pp_share <= 1.0:
            raise ProblemError(f"pp_share {self.pp_share} must be in (0, 1]")
        if not (self.improve_time_s >= 0 and math.isfinite(self.improve_time_s)):
            raise ProblemError(f"improve_time_s {self.improve_time_s} must be a non-negative number")
        if self.max_expansions < 1:
            raise ProblemError(f"max_expansions {self.max_expansions} must be at least 1")


@dataclass(frozen=True, eq=False)
class PlanResult:
    """What a routing call returns.

    ``paths`` maps vehicle id to path for every planned vehicle (all of them when SOLVED;
    unplanned ones of a PARTIAL plan stand still on their start and appear in
    ``unplanned``). ``cost_s[id]`` is the arrival time at the last goal minus the path
    start; ``lower_bound_s[id]`` the same for the vehicle alone on the map.
    """

    status: PlanStatus
    paths: Mapping[str, VehiclePath]
    cost_s: Mapping[str, float] = field(default_factory=dict)
    lower_bound_s: Mapping[str, float] = field(default_factory=dict)
    blocking: tuple[str, ...] = ()
    unplanned: tuple[str, ...] = ()
    reason: str = ""
    planning_time_s: float = 0.0
    stats: Mapping[str, float] = field(default_factory=dict)

    @property
    def solved(self) -> bool:
        return self.status is PlanStatus.SOLVED

    @property
    def sum_of_costs_s(self) -> float:
        return float(sum(self.cost_s.values()))

    @property
    def quality_ratio(self) -> float:
        """Sum of travel times over the sum of the vehicles' lone shortest travel times."""
        lb = sum(self.lower_bound_s[v] for v in self.cost_s)
        return float(self.sum_of_costs_s / lb) if lb > 0 else 1.0
