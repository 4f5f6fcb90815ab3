"""Geometric collision checking of vehicle trajectories (design sections 4 and 7).

The cell model keeps plans apart by construction; this module is the independent,
geometric proof. It samples every trajectory at common times ``t0, t0 + step_s, ...``
(poses linear between rows, held before the first and after the last row) and checks:

* **contacts** (:func:`find_collisions`): two footprints intersect. A footprint is the
  ``length_m`` x ``width_m`` rectangle centred on (x, y) along the heading, grown by
  ``margin_m`` on every side; rectangles are closed, so touching counts;
* **zone intrusions** (:func:`find_zone_intrusions`): a grown footprint meets a forbidden
  zone polygon (``building`` / ``no_go``);
* **corridor** (:func:`find_corridor_violations`): a reference point is farther than half
  the lane width plus a tolerance from every lane centreline;
* **speed** (:func:`find_speed_violations`): the speed between two rows exceeds the limit
  of the lane the vehicle is on.

A contact shorter than one sampling step can fall between samples: with closing speed
``v`` a pair moves ``v * step_s`` per step, so a margin of ``v * step_s / 2`` makes the check
conservative. :func:`check_plan` runs all four on a plan file and a track map.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Sequence

import numpy as np
from shapely.geometry import Polygon

from maps.errors import InputError
from planner.kernels import fleet, lanes
from planner.kernels.sampling import sample_times
from planner.plan_file import PlanFile, check_plan_crs, trajectory_problem

if TYPE_CHECKING:
    from maps.trackmap import TrackMap

DEFAULT_STEP_S = 0.1
SWEEP_WINDOW_S = 2.0
"""Time span of one broad-phase window of the contact check (see ``fleet.contact_episodes``)."""
DEFAULT_CORRIDOR_TOLERANCE_M = 0.25
"""Allowance beyond half the lane width; covers chords of curved lanes between rows."""
DEFAULT_SPEED_TOLERANCE_MPS = 0.05
"""Allowance on speed limits for rounding in planned trajectories."""


class TrajectoryError(InputError):
    """Trajectories or footprints handed to the checker are malformed."""


class CheckStatus(Enum):
    CLEAN = "clean"
    PROBLEMS = "problems"


@dataclass(frozen=True)
class Pose:
    x_m: float
    y_m: float
    heading_rad: float


@dataclass(frozen=True)
class Collision:
    """Footprints of ``vehicle_a < vehicle_b`` in contact from ``time_s`` to ``end_time_s``."""

    vehicle_a: int
    vehicle_b: int
    time_s: float
    end_time_s: float
    pose_a: Pose
    pose_b: Pose
    depth_m: float
    """Penetration depth at first contact (0 when only touching)."""
    max_depth_m: float
    """Largest penetration depth over the episode."""


@dataclass(frozen=True)
class ZoneIntrusion:
    vehicle: int
    zone: int
    time_s: float
    end_time_s: float
    pose: Pose


@dataclass(frozen=True)
class CorridorViolation:
    vehicle: int
    lane: int
    """Nearest lane (-1 when the map has none)."""
    time_s: float
    end_time_s: float
    pose: Pose
    distance_m: float
    """Distance of the reference point to that lane's centreline at ``time_s``."""
    half_width_m: float


@dataclass(frozen=True)
class SpeedViolation:
    vehicle: int
    lane: int
    time_s: float
    end_time_s: float
    pose: Pose
    speed_mps: float
    limit_mps: float
    max_speed_mps: float


@dataclass(frozen=True)
class CheckReport:
    """Everything :func:`check_plan` found, each tuple sorted by time."""

    status: CheckStatus
    collisions: tuple[Collision, ...]
    zone_intrusions: tuple[ZoneIntrusion, ...]
    corridor_violations: tuple[CorridorViolation, ...]
    speed_violations: tuple[SpeedViolation, ...]
    n_vehicles: int
    n_samples: int
    step_s: float
    margin_m: float

    @property
    def n_problems(self) -> int:
        return len(self.collisions) + len(self.zone_intrusions) + len(self.corridor_violations) + len(self.speed_violations)


# ---- input packing ---------------------------------------------------------------------------


def pack_trajectories(trajectories: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate trajectories into ``rows`` (R, 4) and CSR ``offsets`` (N + 1,).

    Raises :class:`TrajectoryError` for an empty, non-finite or non-increasing trajectory
    (the 0.5 s row spacing of plan files is not required here).
    """
    arrays = []
    for i, trajectory in enumerate(trajectories):
        array = np.asarray(trajectory, dtype=np.float64)
        problem = trajectory_problem(array, max_gap_s=np.inf)
        if problem is not None:
            raise TrajectoryError(f"vehicle {i}: {problem}")
        arrays.append(array)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([a.shape[0] for a in arrays], out=offsets[1:])
    rows = np.ascontiguousarray(np.concatenate(arrays) if arrays else np.empty((0, 4)))
    return rows, offsets


def common_times(rows: np.ndarray, offsets: np.ndarray, step_s: float) -> np.ndarray:
    """Sample times from the earliest first row to the latest last row, ``step_s`` apart."""
    if offsets.shape[0] < 2:
        return np.empty(0)
    return sample_times(float(rows[offsets[:-1], 0].min()), float(rows[offsets[1:] - 1, 0].max()), step_s)


def _half_extents(footprints: np.ndarray | Sequence[float], n: int, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    sizes = np.asarray(footprints, dtype=np.float64)
    if sizes.shape == (2,):
        sizes = np.broadcast_to(sizes, (n, 2))
    if sizes.shape != (n, 2):
        raise TrajectoryError(f"footprints must be (length_m, width_m) or one row per vehicle ({n}, 2), got shape {sizes.shape}")
    if not (np.isfinite(sizes).all() and (sizes > 0).all()):
        raise TrajectoryError("footprint lengths and widths must be positive finite numbers")
    if not (np.isfinite(margin_m) and margin_m >= 0.0):
        raise TrajectoryError(f"margin_m must be a finite number >= 0, got {margin_m}")
    return np.ascontiguousarray(sizes[:, 0] / 2 + margin_m), np.ascontiguousarray(sizes[:, 1] / 2 + margin_m)


def _step(step_s: float) -> float:
    if not (np.isfinite(step_s) and step_s > 0.0):
        raise TrajectoryError(f"step_s must be a positive finite number, got {step_s}")
    return float(step_s)


def _pose(values: np.ndarray) -> Pose:
    return Pose(float(values[0]), float(values[1]), float(values[2]))


# ---- the checks ------------------------------------------------------------------------------


def find_collisions(
    trajectories: Sequence[np.ndarray],
    footprints: np.ndarray | Sequence[float],
    step_s: float = DEFAULT_STEP_S,
    margin_m: float = 0.0,
) -> tuple[Collision, ...]:
    """Pairs of vehicles whose footprints touch or overlap at a common sample time.

    Parameters
    ----------
    trajectories : sequence of (n_i, 4) arrays
        Rows ``[t_s, x_m, y_m, heading_rad]`` per vehicle, times strictly increasing.
    footprints : (2,) or (N, 2) array-like
        ``(length_m, width_m)`` for all vehicles or per vehicle.
    step_s : float
        Sampling step.
    margin_m : float
        Safety margin added to every side of every footprint.

    Returns
    -------
    tuple of Collision
        One record per contact episode (consecutive samples in contact), by time then pair.
    """
    rows, offsets = pack_trajectories(trajectories)
    half_length, half_width = _half_extents(footprints, offsets.shape[0] - 1, margin_m)
    times = common_times(rows, offsets, _step(step_s))
    window = max(1, int(round(SWEEP_WINDOW_S / step_s)))
    ints, floats = fleet.contact_episodes(rows, offsets, half_length, half_width, times, window)
    found = [
        Collision(int(a), int(b), float(times[k0]), float(times[k1]), _pose(f[0:3]), _pose(f[3:6]), float(f[6]), float(f[7]))
        for (a, b, k0, k1), f in zip(ints, floats)
    ]
    return tuple(sorted(found, key=lambda c: (c.time_s, c.vehicle_a, c.vehicle_b)))


def pack_polygons(polygons: Sequence[Polygon]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Polygons as ``(xy, ring_indptr, zone_ring_indptr, bbox)`` arrays for the kernels."""
    xy_parts: list[np.ndarray] = []
    ring_sizes: list[int] = []
    zone_rings = [0]
    boxes = np.empty((len(polygons), 4))
    for z, polygon in enumerate(polygons):
        if polygon.is_empty:
            raise TrajectoryError(f"zone {z}: empty polygon")
        for ring in (polygon.exterior, *polygon.interiors):
            coords = np.asarray(ring.coords, dtype=np.float64)[:-1, :2]  # drop the closing vertex
            xy_parts.append(coords)
            ring_sizes.append(coords.shape[0])
        zone_rings.append(len(ring_sizes))
        boxes[z] = polygon.bounds
    ring_indptr = np.zeros(len(ring_sizes) + 1, dtype=np.int64)
    np.cumsum(ring_sizes, out=ring_indptr[1:])
    xy = np.ascontiguousarray(np.concatenate(xy_parts) if xy_parts else np.empty((0, 2)))
    return xy, ring_indptr, np.asarray(zone_rings, dtype=np.int64), boxes


def find_zone_intrusions(
    trajectories: Sequence[np.ndarray],
    footprints: np.ndarray | Sequence[float],
    zones: Sequence[Polygon],
    step_s: float = DEFAULT_STEP_S,
    margin_m: float = 0.0,
) -> tuple[ZoneIntrusion, ...]:
    """Vehicles whose (grown) footprint meets one of ``zones`` at a common sample time.

    ``zones`` are shapely polygons in the trajectories' CRS (holes are honoured); the
    ``zone`` of a record indexes this sequence. One record per (vehicle, zone) episode.
    """
    rows, offsets = pack_trajectories(trajectories)
    half_length, half_width = _half_extents(footprints, offsets.shape[0] - 1, margin_m)
    times = common_times(rows, offsets, _step(step_s))
    window = max(1, int(round(SWEEP_WINDOW_S / step_s)))
    ints, floats = fleet.zone_episodes(rows, offsets, half_length, half_width, times, window, *pack_polygons(zones))
    found = [ZoneIntrusion(int(v), int(z), float(times[k0]), float(times[k1]), _pose(f)) for (v, z, k0, k1), f in zip(ints, floats)]
    return tuple(sorted(found, key=lambda r: (r.time_s, r.vehicle, r.zone)))


def find_corridor_violations(
    trajectories: Sequence[np.ndarray],
    lane_geometry: Sequence[np.ndarray],
    lane_width_m: np.ndarray,
    step_s: float = DEFAULT_STEP_S,
    tolerance_m: float = DEFAULT_CORRIDOR_TOLERANCE_M,
) -> tuple[CorridorViolation, ...]:
    """Samples where a reference point is outside every lane corridor (one record per episode)."""
    rows, offsets = pack_trajectories(trajectories)
    index = lanes.build_lane_index(tuple(lane_geometry), lane_width_m, np.zeros(len(lane_geometry)), tolerance_m)
    times = common_times(rows, offsets, _step(step_s))
    ints, floats = lanes.corridor_episodes(rows, offsets, times, index)
    found = [
        CorridorViolation(int(v), int(lane), float(times[k0]), float(times[k1]), _pose(f), float(f[3]), float(f[4]))
        for (v, lane, k0, k1), f in zip(ints, floats)
    ]
    return tuple(sorted(found, key=lambda r: (r.time_s, r.vehicle)))


def find_speed_violations(
    trajectories: Sequence[np.ndarray],
    lane_geometry: Sequence[np.ndarray],
    lane_width_m: np.ndarray,
    lane_speed_limit_mps: np.ndarray,
    corridor_tolerance_m: float = DEFAULT_CORRIDOR_TOLERANCE_M,
    tolerance_mps: float = DEFAULT_SPEED_TOLERANCE_MPS,
) -> tuple[SpeedViolation, ...]:
    """Rows driven faster than the lane allows (see :func:`planner.kernels.lanes.speed_episodes`)."""
    rows, offsets = pack_trajectories(trajectories)
    index = lanes.build_lane_index(tuple(lane_geometry), lane_width_m, lane_speed_limit_mps, corridor_tolerance_m)
    ints, floats = lanes.speed_episodes(rows, offsets, index, float(tolerance_mps))
    found = [
        SpeedViolation(int(v), int(lane), float(rows[r0, 0]), float(rows[r1 + 1, 0]), _pose(f), float(f[3]), float(f[4]), float(f[5]))
        for (v, lane, r0, r1), f in zip(ints, floats)
    ]
    return tuple(sorted(found, key=lambda r: (r.time_s, r.vehicle)))


def check_plan(
    plan: PlanFile,
    track_map: TrackMap,
    *,
    margin_m: float = 0.0,
    step_s: float = DEFAULT_STEP_S,
    corridor_tolerance_m: float = DEFAULT_CORRIDOR_TOLERANCE_M,
    speed_tolerance_mps: float = DEFAULT_SPEED_TOLERANCE_MPS,
) -> CheckReport:
    """Run every check of this module on a plan against its track map.

    Zones are the map's ``building`` and ``no_go`` zones (record ``zone`` indexes
    ``forbidden_zones(track_map)``). Corridor and speed checks are skipped on maps without
    lane geometry (MovingAI grids). Raises :class:`~planner.errors.PlanFileError` when the
    plan's CRS is not the map's.
    """
    check_plan_crs(plan, track_map.crs, f"plan for map {plan.map!r}")
    trajectories = plan.trajectories
    footprint = (plan.vehicle_length_m, plan.vehicle_width_m)
    collisions = find_collisions(trajectories, footprint, step_s, margin_m)
    zones = forbidden_zones(track_map)
    intrusions = find_zone_intrusions(trajectories, footprint, [z.polygon for z in zones], step_s, margin_m) if zones else ()
    corridor: tuple[CorridorViolation, ...] = ()
    speed: tuple[SpeedViolation, ...] = ()
    if track_map.n_lanes and track_map.grid is None:
        geometry, widths = track_map.lane_geometry, track_map.lane_width_m
        corridor = find_corridor_violations(trajectories, geometry, widths, step_s, corridor_tolerance_m)
        speed = find_speed_violations(trajectories, geometry, widths, track_map.lane_speed_limit_mps, corridor_tolerance_m, speed_tolerance_mps)
    rows, offsets = pack_trajectories(trajectories)
    n_samples = int(common_times(rows, offsets, step_s).shape[0])
    status = CheckStatus.PROBLEMS if (collisions or intrusions or corridor or speed) else CheckStatus.CLEAN
    return CheckReport(status, collisions, intrusions, corridor, speed, len(trajectories), n_samples, float(step_s), float(margin_m))


def forbidden_zones(track_map: TrackMap) -> tuple:
    """The zones no footprint may enter (kinds ``building`` and ``no_go``), in map order."""
    from maps.trackmap import FORBIDDEN_ZONE_KINDS

    return tuple(z for z in track_map.zones if z.kind in FORBIDDEN_ZONE_KINDS)


def warm_up() -> None:
    """Run every kernel once on tiny inputs so later calls pay no compilation.

    With ``cache=True`` compiled code is stored next to the modules; the first call in a
    fresh installation compiles (seconds), later processes load it (a fraction of that).
    """
    trajectory = np.array([[0.0, 0.0, 0.0, 0.0], [0.5, 1.0, 0.0, 0.0]])
    other = trajectory + np.array([0.0, 2.0, 0.0, 0.0])
    lane = (np.array([[-10.0, 0.0], [10.0, 0.0]]),)
    square = Polygon([(5, -5), (6, -5), (6, 5), (5, 5)])
    find_collisions([trajectory, other], (4.0, 2.0))
    find_zone_intrusions([trajectory], (4.0, 2.0), [square])
    find_corridor_violations([trajectory], lane, np.array([3.75]))
    find_speed_violations([trajectory], lane, np.array([3.75]), np.array([1.0]))
