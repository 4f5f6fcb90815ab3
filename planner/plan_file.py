"""Reading and writing plan files: the plan JSON of design section 7.

A plan file is what ``igv plan`` writes and ``igv check`` (and any other program) reads::

    {"map": "bac_luan_2", "crs": "EPSG:3405", "status": "solved",
     "planning_time_s": 0.41,
     "vehicle": {"length_m": 15.5, "width_m": 3.0},
     "vehicles": [{"id": "igv-001", "start_station": "P-01", "goal_station": "X-03",
                   "trajectory": [[0.0, 807512.3, 2383790.1, 1.571],
                                  [0.5, 807512.3, 2383791.4, 1.571]]}]}

Trajectory rows are ``[t_s, x_m, y_m, heading_rad]`` in the map's projected CRS, with
strictly increasing times at most :data:`MAX_ROW_GAP_S` apart; poses are linear between
rows (the heading along the shorter arc), and a vehicle holds its first pose before its
first row and its last pose after its last row. The footprint is the ``length_m`` x
``width_m`` rectangle centred on (x, y) along the heading.

Use :func:`write_plan_file` to write one (it validates first, so a written file always
reads back bit-identical) and :func:`read_plan_file` to read one; every problem is a
:class:`~planner.errors.PlanFileError` with a one-line message naming the file and the
place (``plan.json: vehicles[2] 'igv-003': trajectory row 17: ...``). A planner writes::

    plan = make_plan_file(track_map.name, track_map.crs, ["igv-001", "igv-002"], [traj_1, traj_2],
                          vehicle_length_m=15.5, vehicle_width_m=3.0,
                          start_stations=["P-01", "P-02"], goal_stations=["X-01", "X-02"],
                          status="solved", planning_time_s=0.41)
    write_plan_file("plan.json", plan)

and a reader checks the CRS against its map with
``read_plan_file("plan.json", expected_crs=track_map.crs)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from planner.errors import PlanFileError

MAX_ROW_GAP_S = 0.5
"""Largest allowed time between consecutive trajectory rows (design section 7)."""

_GAP_SLACK_S = 1e-9
"""Rounding allowance on :data:`MAX_ROW_GAP_S` (rows written as 0.1 * k are not exact)."""

KNOWN_STATUSES = ("solved", "partial", "timeout", "failed")
"""Statuses planners write; others are accepted on read (the format is open) but not made up here."""


@dataclass(frozen=True, eq=False)
class VehiclePlan:
    """One vehicle's plan: its stations and its trajectory.

    Attributes
    ----------
    id : str
        Vehicle serial number, e.g. ``"igv-001"``.
    start_station, goal_station : str
        Station ids on the plan's map.
    trajectory : (n, 4) float64 ndarray, read-only
        Rows ``[t_s, x_m, y_m, heading_rad]``; converted from any float sequence.
    """

    id: str
    start_station: str
    goal_station: str
    trajectory: np.ndarray

    def __post_init__(self) -> None:
        array = np.array(self.trajectory, dtype=np.float64, copy=True)
        if array.ndim != 2 or array.shape[1] != 4:
            raise PlanFileError(f"vehicle {self.id!r}: trajectory must be rows of [t_s, x_m, y_m, heading_rad], got shape {array.shape}")
        array.setflags(write=False)
        object.__setattr__(self, "trajectory", array)


@dataclass(frozen=True, eq=False)
class PlanFile:
    """The contents of a plan file (design section 7).

    Attributes
    ----------
    map : str
        Map name (or path) the plan was made on.
    crs : str
        Projected CRS of the trajectory coordinates; must equal the map's.
    status : str
        Planner outcome, normally one of :data:`KNOWN_STATUSES`.
    planning_time_s : float
        Wall time the planner took.
    vehicle_length_m, vehicle_width_m : float
        Footprint of every vehicle.
    vehicles : tuple of VehiclePlan
        One entry per vehicle, ids unique.
    """

    map: str
    crs: str
    status: str
    planning_time_s: float
    vehicle_length_m: float
    vehicle_width_m: float
    vehicles: tuple[VehiclePlan, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "vehicles", tuple(self.vehicles))

    @property
    def vehicle_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.vehicles)

    @property
    def trajectories(self) -> tuple[np.ndarray, ...]:
        """The (n, 4) trajectory of every vehicle, in vehicle order."""
        return tuple(v.trajectory for v in self.vehicles)


def trajectory_problem(trajectory: np.ndarray, max_gap_s: float = MAX_ROW_GAP_S) -> str | None:
    """What is wrong with one trajectory array, or ``None`` if it is valid.

    Rules: shape (n, 4) with n >= 1, every value finite, times strictly increasing and at
    most ``max_gap_s`` apart. The message names the first offending row.
    """
    if trajectory.ndim != 2 or trajectory.shape[1] != 4:
        return f"trajectory must be rows of [t_s, x_m, y_m, heading_rad], got shape {trajectory.shape}"
    if trajectory.shape[0] == 0:
        return "trajectory has no rows"
    finite = np.isfinite(trajectory)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        name = ("t_s", "x_m", "y_m", "heading_rad")[col]
        return f"trajectory row {row}: {name} is {float(trajectory[row, col])} (must be a finite number)"
    dt = np.diff(trajectory[:, 0])
    bad = np.flatnonzero(dt <= 0.0)
    if bad.size:
        row = int(bad[0]) + 1
        return f"trajectory row {row}: time {float(trajectory[row, 0])!r} s is not after the previous row's {float(trajectory[row - 1, 0])!r} s"
    bad = np.flatnonzero(dt > max_gap_s + _GAP_SLACK_S)
    if bad.size:
        row = int(bad[0]) + 1
        return f"trajectory row {row}: {dt[row - 1]:.6g} s after the previous row (at most {max_gap_s} s allowed)"
    return None


# ---- reading ---------------------------------------------------------------------------------


def read_plan_file(path: str | Path, *, expected_crs: str | None = None) -> PlanFile:
    """Read and validate a plan file.

    Parameters
    ----------
    path : str or Path
        The JSON file.
    expected_crs : str, optional
        The CRS of the map the plan will be used with (``TrackMap.crs``); a plan in
        another CRS is rejected.

    Returns
    -------
    PlanFile

    Raises
    ------
    PlanFileError
        One line naming the file and what is wrong: unreadable or invalid JSON, missing or
        mistyped keys, duplicate vehicle ids, a bad trajectory (NaN, non-increasing times,
        rows more than :data:`MAX_ROW_GAP_S` apart), or a CRS other than ``expected_crs``.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"{source}: cannot read plan file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{source}: plan file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    plan = plan_from_dict(data, source)
    if expected_crs is not None:
        check_plan_crs(plan, expected_crs, source)
    return plan


def check_plan_crs(plan: PlanFile, map_crs: str, source: str = "plan") -> None:
    """Raise :class:`PlanFileError` unless the plan's CRS is the map's CRS."""
    if plan.crs.strip().upper() != map_crs.strip().upper():
        raise PlanFileError(f"{source}: plan CRS {plan.crs!r} differs from the map's CRS {map_crs!r}")


def plan_from_dict(data: Any, source: str = "plan") -> PlanFile:
    """Build a validated :class:`PlanFile` from parsed JSON (see :func:`read_plan_file`)."""
    if not isinstance(data, dict):
        raise PlanFileError(f"{source}: a plan file must be a JSON object, got {type(data).__name__}")
    map_name = _get(data, "map", str, source)
    crs = _get(data, "crs", str, source)
    status = _get(data, "status", str, source)
    planning_time_s = _number(_get(data, "planning_time_s", (int, float), source), "planning_time_s", source)
    vehicle = _get(data, "vehicle", dict, source)
    length_m = _positive(_get(vehicle, "length_m", (int, float), source, "vehicle"), "vehicle.length_m", source)
    width_m = _positive(_get(vehicle, "width_m", (int, float), source, "vehicle"), "vehicle.width_m", source)
    entries = _get(data, "vehicles", list, source)
    vehicles = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"vehicles[{index}]"
        if not isinstance(entry, dict):
            raise PlanFileError(f"{source}: {where} must be an object, got {type(entry).__name__}")
        vehicle_id = _get(entry, "id", str, source, where)
        where = f"{where} {vehicle_id!r}"
        if vehicle_id in seen:
            raise PlanFileError(f"{source}: {where}: duplicate vehicle id (also vehicles[{seen[vehicle_id]}])")
        seen[vehicle_id] = index
        start = _get(entry, "start_station", str, source, where)
        goal = _get(entry, "goal_station", str, source, where)
        rows = _get(entry, "trajectory", list, source, where)
        vehicles.append(VehiclePlan(vehicle_id, start, goal, _trajectory_array(rows, f"{source}: {where}")))
    return PlanFile(map_name, crs, status, planning_time_s, length_m, width_m, tuple(vehicles))


_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str, where: str = "") -> Any:
    place = f"{source}: {where}: " if where else f"{source}: "
    if key not in data:
        raise PlanFileError(f"{place}missing key {key!r}")
    value = data[key]
    # bool is an int subclass; True is never a valid number or string here
    if isinstance(value, bool) or not isinstance(value, kind):
        wanted = _JSON_NAMES[kind if isinstance(kind, type) else kind[0]]
        raise PlanFileError(f"{place}key {key!r} must be {wanted}, got {_JSON_NAMES.get(type(value), type(value).__name__)}")
    return value


def _number(value: float, name: str, source: str) -> float:
    if not math.isfinite(value):
        raise PlanFileError(f"{source}: {name} is {value} (must be a finite number)")
    return float(value)


def _positive(value: float, name: str, source: str) -> float:
    value = _number(value, name, source)
    if value <= 0.0:
        raise PlanFileError(f"{source}: {name} is {value} (must be > 0)")
    return value


def _trajectory_array(rows: list, where: str) -> np.ndarray:
    if not rows:
        raise PlanFileError(f"{where}: trajectory has no rows")
    try:
        array = np.asarray(rows)
    except ValueError:  # ragged rows
        array = None
    # PERF: one vectorised conversion for the common well-formed case; the per-row scan
    # that names the bad row runs only when that fails
    if array is None or array.dtype.kind not in "iuf" or array.shape != (len(rows), 4):
        bad = next((i for i, r in enumerate(rows) if not _is_row(r)), 0)
        raise PlanFileError(f"{where}: trajectory row {bad} must be 4 numbers [t_s, x_m, y_m, heading_rad], got {json.dumps(rows[bad])[:60]}")
    array = array.astype(np.float64, copy=False)
    problem = trajectory_problem(array)
    if problem is not None:
        raise PlanFileError(f"{where}: {problem}")
    return array


def _is_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)


# ---- writing ---------------------------------------------------------------------------------


def plan_to_dict(plan: PlanFile) -> dict[str, Any]:
    """The JSON object of design section 7 (after validating the plan)."""
    _validate(plan)
    return {
        "map": plan.map,
        "crs": plan.crs,
        "status": plan.status,
        "planning_time_s": float(plan.planning_time_s),
        "vehicle": {"length_m": float(plan.vehicle_length_m), "width_m": float(plan.vehicle_width_m)},
        "vehicles": [
            {
                "id": v.id,
                "start_station": v.start_station,
                "goal_station": v.goal_station,
                "trajectory": v.trajectory.tolist(),
            }
            for v in plan.vehicles
        ],
    }


def write_plan_file(path: str | Path, plan: PlanFile) -> None:
    """Validate ``plan`` and write it as plan JSON, one trajectory row per line.

    Floats are written with full precision (``repr``), so reading the file back gives
    bit-identical arrays. The file is written to a temporary name and renamed, so a
    reader never sees half a plan.

    Raises
    ------
    PlanFileError
        If the plan breaks a rule :func:`read_plan_file` would reject.
    """
    data = plan_to_dict(plan)
    lines = ["{"]
    for key in ("map", "crs", "status", "planning_time_s", "vehicle"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(data[key], allow_nan=False)},")
    lines.append('  "vehicles": [')
    for index, vehicle in enumerate(data["vehicles"]):
        head = {k: vehicle[k] for k in ("id", "start_station", "goal_station")}
        lines.append("    {" + json.dumps(head)[1:-1] + ', "trajectory": [')
        rows = vehicle["trajectory"]
        lines.extend(f"      {json.dumps(row, allow_nan=False)}{',' if r + 1 < len(rows) else ''}" for r, row in enumerate(rows))
        lines.append("    ]}" + ("," if index + 1 < len(data["vehicles"]) else ""))
    lines.append("  ]")
    lines.append("}")
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(target)


def _validate(plan: PlanFile) -> None:
    source = f"plan for map {plan.map!r}"
    for name, value in (("map", plan.map), ("crs", plan.crs), ("status", plan.status)):
        if not isinstance(value, str) or not value:
            raise PlanFileError(f"{source}: {name} must be a non-empty string")
    _number(plan.planning_time_s, "planning_time_s", source)
    _positive(plan.vehicle_length_m, "vehicle.length_m", source)
    _positive(plan.vehicle_width_m, "vehicle.width_m", source)
    seen: set[str] = set()
    for index, vehicle in enumerate(plan.vehicles):
        if vehicle.id in seen:
            raise PlanFileError(f"{source}: vehicles[{index}] {vehicle.id!r}: duplicate vehicle id")
        seen.add(vehicle.id)
        problem = trajectory_problem(vehicle.trajectory)
        if problem is not None:
            raise PlanFileError(f"{source}: vehicles[{index}] {vehicle.id!r}: {problem}")


def make_plan_file(
    map_name: str,
    crs: str,
    vehicle_ids: Sequence[str],
    trajectories: Sequence[np.ndarray],
    *,
    vehicle_length_m: float,
    vehicle_width_m: float,
    start_stations: Sequence[str] | None = None,
    goal_stations: Sequence[str] | None = None,
    status: str = "solved",
    planning_time_s: float = 0.0,
) -> PlanFile:
    """Convenience constructor from parallel lists (stations default to ``""``)."""
    n = len(vehicle_ids)
    if len(trajectories) != n:
        raise PlanFileError(f"plan for map {map_name!r}: {n} vehicle ids but {len(trajectories)} trajectories")
    starts = list(start_stations) if start_stations is not None else [""] * n
    goals = list(goal_stations) if goal_stations is not None else [""] * n
    vehicles = tuple(VehiclePlan(vid, s, g, traj) for vid, s, g, traj in zip(vehicle_ids, starts, goals, trajectories))
    return PlanFile(map_name, crs, status, float(planning_time_s), float(vehicle_length_m), float(vehicle_width_m), vehicles)
