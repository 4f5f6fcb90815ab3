"""Trajectory timing: cell-time paths become ``[t_s, x_m, y_m, heading_rad]`` rows.

The planner's moves run at constant top speed; real vehicles accelerate at 0.5 m/s²,
brake at 1.0 m/s², stop to reverse and to dwell at goals. So the times of a plan cannot
be kept; its *order* can. This module executes the plan the way the fleet does, through
the dependency graph of :mod:`planner.dependencies`, in a fixed-step simulation:

* every step, each vehicle's order is released as far as its dependencies allow
  (:func:`planner.dependencies.releasable` semantics, on exact stretch entries);
* a vehicle drives as fast as the lane limit and its leg's top speed (laden or unladen)
  allow, accelerating at most ``accel_mps2``, and keeps a braking envelope
  (``brake_mps2``) to every lower limit ahead and to its *stop point*: the nearer of the
  end of its released steps and its next forced stop (goal, dwell, reversal);
* at a forced stop it stands for the dwell (``ready_s`` at the start) before going on.

So a follower slows down behind a slow leader instead of stopping dead, and it never
passes a point the plan's order does not allow yet: the trajectories are as safe as the
plan, and deadlock-free because the graph is acyclic. Positions follow the lane geometry
between cell points; the heading follows the lane but keeps the vehicle's orientation
when it reverses (bidirectional IGVs), so the footprint never turns on the spot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numba import njit

from maps.trackmap import TrackMap
from planner.dependencies import DependencyGraph
from planner.types import Problem, VehiclePath, VehicleTask


@dataclass(frozen=True)
class Kinematics:
    """Vehicle motion limits (site.md) and the output sampling step."""

    accel_mps2: float = 0.5
    brake_mps2: float = 1.0
    sample_dt_s: float = 0.5
    step_s: float = 0.1
    """Simulation step; ``sample_dt_s`` must be a whole multiple of it."""


class EdgeGeometry:
    """The polyline of every cell-graph move, from one cell point to the next along its lane."""

    def __init__(self, track_map: TrackMap) -> None:
        tm = track_map
        self.track_map = tm
        lines = [shapely.LineString(g) for g in tm.lane_geometry]
        self._lane_len = np.array([line.length for line in lines])
        interior = np.flatnonzero(tm.cell_lane >= 0)
        pos = np.full(tm.n_cells, np.nan)
        if interior.size:
            pos[interior] = shapely.line_locate_point(
                np.asarray(lines, dtype=object)[tm.cell_lane[interior]], shapely.points(tm.cell_xy[interior])
            )
        self._cell_pos = pos
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _position(self, cell: int, lane: int) -> float:
        tm = self.track_map
        if tm.cell_lane[cell] == lane:
            return float(self._cell_pos[cell])
        node = int(tm.cell_node[cell])
        return 0.0 if node == int(tm.lane_from[lane]) else float(self._lane_len[lane])

    def move(self, edge: int) -> tuple[np.ndarray, np.ndarray]:
        """``(points (m, 2), cumulative length (m,))`` of move ``edge``, in driving order."""
        hit = self._cache.get(edge)
        if hit is not None:
            return hit
        tm = self.track_map
        a = int(np.searchsorted(tm.cell_adj_indptr, edge, side="right") - 1)
        b = int(tm.cell_adj_to[edge])
        lane = int(tm.cell_adj_lane[edge])
        coords = tm.lane_geometry[lane]
        s_cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])
        s_a, s_b = self._position(a, lane), self._position(b, lane)
        lo, hi = min(s_a, s_b), max(s_a, s_b)
        inner = [coords[k] for k in range(len(coords)) if lo < s_cum[k] < hi]
        pts = np.array([tm.cell_xy[a] if s_a <= s_b else tm.cell_xy[b], *inner, tm.cell_xy[b] if s_a <= s_b else tm.cell_xy[a]])
        if s_a > s_b:
            pts = pts[::-1]
        # A cut point a hair away from a polyline vertex leaves a degenerate segment
        # whose direction is noise; drop it so headings stay along the lane.
        kept = [pts[0]]
        for p in pts[1:-1]:
            if math.hypot(*(p - kept[-1])) > 1e-6:
                kept.append(p)
        if len(kept) > 1 and math.hypot(*(pts[-1] - kept[-1])) <= 1e-6:
            kept[-1] = pts[-1]
        else:
            kept.append(pts[-1])
        pts = np.array(kept)
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
        self._cache[edge] = (pts, cum)
        return pts, cum


def edge_index(tm: TrackMap, a: int, b: int) -> int:
    lo, hi = int(tm.cell_adj_indptr[a]), int(tm.cell_adj_indptr[a + 1])
    hits = np.flatnonzero(tm.cell_adj_to[lo:hi] == b)
    if not hits.size:
        raise ValueError(f"cells {a} -> {b} are not a move of the map")
    return lo + int(hits[0])


# ---- the execution simulation ---------------------------------------------------------------


@njit(cache=True)
def _max_accel(v, s, dt, u, target_s, brake):
    """Largest acceleration keeping speed within the braking envelope towards ``u`` at ``target_s``.

    The envelope is ``v² <= u² + 2 b (target_s - s)``, checked at the end of the step.
    Returns ``-inf`` when even full braking cannot keep it (never for a valid state).
    """
    d = target_s - s - v * dt
    qa = dt * dt
    qb = 2.0 * v * dt + brake * dt * dt
    qc = v * v - u * u - 2.0 * brake * d
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0.0:
        return -math.inf
    return (-qb + math.sqrt(disc)) / (2.0 * qa)


# PERF: the fixed-step execution of every vehicle runs in one Numba call; releases look
# at each vehicle's next step only, so a step costs O(vehicles) (bench/routing.py exec q).
@njit(cache=True)
def _simulate(eoff, node_s, cap, forced, hold, offset, dep_indptr, dep_vehicle, dep_step,
              t0, dt, every, accel, brake, max_steps):
    """Run every vehicle through its path; returns (samples of s, arrival, step times, status)."""
    n_vehicles = eoff.shape[0] - 1
    n_entries = eoff[1:] - eoff[:-1]
    pos = np.zeros(n_vehicles)
    vel = np.zeros(n_vehicles)
    released = np.zeros(n_vehicles, np.int64)
    done = np.zeros(n_vehicles, np.int64)
    next_forced = np.zeros(n_vehicles, np.int64)  # entry index of the next forced stop
    wait_until = np.full(n_vehicles, math.inf)
    arrival = np.full(n_vehicles, math.inf)
    step_time = np.full(offset[-1], math.inf)
    for v in range(n_vehicles):
        next_forced[v] = 0
    cap_rows = 1024
    samples = np.zeros((cap_rows, n_vehicles))
    rows = 1
    t = t0
    finished = 0
    for v in range(n_vehicles):
        if n_entries[v] == 1:
            arrival[v] = t0
            finished += 1
            next_forced[v] = 1
    status = 0
    steps = 0
    idle = 0
    while finished < n_vehicles:
        steps += 1
        if steps > max_steps:
            status = 1
            break
        # releases: a step may be performed once all its dependencies are done
        for v in range(n_vehicles):
            n_steps = n_entries[v] - 1
            r = released[v]
            while r < n_steps:
                g = offset[v] + r
                ok = True
                for j in range(dep_indptr[g], dep_indptr[g + 1]):
                    if done[dep_vehicle[j]] < dep_step[j]:
                        ok = False
                        break
                if not ok:
                    break
                r += 1
            released[v] = r
        moved = False
        for v in range(n_vehicles):
            if arrival[v] < math.inf:
                continue
            base = eoff[v]
            n = n_entries[v]
            nf = next_forced[v]
            # standing at the forced stop: dwell, then the next forced stop applies
            if vel[v] == 0.0 and pos[v] >= node_s[base + nf] - 1e-9:
                if wait_until[v] == math.inf:
                    wait_until[v] = t + hold[base + nf]
                if t + 1e-9 >= wait_until[v]:
                    if nf == n - 1:
                        arrival[v] = t if hold[base + nf] == 0.0 else wait_until[v]
                        finished += 1
                        continue
                    wait_until[v] = math.inf
                    nf += 1
                    while not forced[base + nf]:
                        nf += 1
                    next_forced[v] = nf
            target = released[v] if released[v] < nf else nf
            stop_s = node_s[base + target]
            s = pos[v]
            u = vel[v]
            m = 0  # current move: node_s[m] <= s < node_s[m + 1]
            lo = 0
            hi = n - 1
            while lo < hi:
                mid = (lo + hi + 1) >> 1
                if node_s[base + mid] <= s + 1e-12:
                    lo = mid
                else:
                    hi = mid - 1
            m = lo
            if m >= n - 1:
                m = n - 2
            a = accel
            if u + a * dt > cap[base + m]:
                a = (cap[base + m] - u) / dt
            x = _max_accel(u, s, dt, 0.0, stop_s, brake)
            if x < a:
                a = x
            reach = s + u * dt + 0.5 * (u * u) / brake + 1.0
            j = m + 1
            while j < target and node_s[base + j] <= reach + cap[base + j] * dt * 4.0:
                if cap[base + j] < u + accel * dt:
                    x = _max_accel(u, s, dt, cap[base + j], node_s[base + j], brake)
                    if x < a:
                        a = x
                j += 1
            if a < -brake:
                a = -brake
            nu = u + a * dt
            if nu <= 0.0:
                # stops within the step
                ts = u / -a if a < 0.0 else 0.0
                ns = s + u * ts + 0.5 * a * ts * ts
                nu = 0.0
            else:
                ns = s + u * dt + 0.5 * a * dt * dt
            if ns > stop_s:
                ns = stop_s
                nu = 0.0
            if stop_s - ns < 1e-6 and nu < 1e-3:
                ns = stop_s
                nu = 0.0
            if ns != s or nu != u:
                moved = True
            # stretch entries passed during the step (midpoints of moves)
            k = done[v] + 1
            while k <= n - 1 and 0.5 * (node_s[base + k - 1] + node_s[base + k]) <= ns + 1e-12:
                step_time[offset[v] + k - 1] = t + dt
                k += 1
            done[v] = k - 1
            pos[v] = ns
            vel[v] = nu
        t += dt
        if steps % every == 0:
            if rows >= samples.shape[0]:
                bigger = np.zeros((2 * samples.shape[0], n_vehicles))
                bigger[:rows] = samples[:rows]
                samples = bigger
            samples[rows] = pos
            rows += 1
        if moved:
            idle = 0
        else:
            idle += 1
            if idle > max_steps // 10 + 100000:
                status = 2
                break
    if (steps % every) != 0 or rows == 1:
        if rows >= samples.shape[0]:
            bigger = np.zeros((samples.shape[0] + 1, n_vehicles))
            bigger[:rows] = samples[:rows]
            samples = bigger
        samples[rows] = pos
        rows += 1
    return samples[:rows], arrival, step_time, status


@dataclass(frozen=True, eq=False)
class Schedule:
    """A plan executed with kinematics: distances along each path over time.

    ``distance_m[j, v]`` is how far vehicle ``v`` has driven along its path at
    ``t0_s + j * sample_dt_s``; ``arrival_s[v]`` when it stood at its last goal;
    ``step_time_s`` the stretch-entry time of every step (dependency-graph order).
    """

    t0_s: float
    sample_dt_s: float
    distance_m: np.ndarray
    arrival_s: np.ndarray
    step_time_s: np.ndarray
    edges: tuple[np.ndarray, ...]
    node_s: tuple[np.ndarray, ...]


def _vehicle_arrays(geometry: EdgeGeometry, task: VehicleTask, path: VehiclePath, t0: float):
    tm = geometry.track_map
    n = int(path.cells.shape[0])
    edges = np.array([edge_index(tm, int(path.cells[k]), int(path.cells[k + 1])) for k in range(n - 1)], dtype=np.int64)
    node_s = np.concatenate([[0.0], np.cumsum(tm.cell_adj_length_m[edges])]) if n > 1 else np.zeros(1)
    cap = np.zeros(n)
    forced = np.zeros(n, dtype=np.bool_)
    hold = np.zeros(n)
    forced[0] = True
    forced[n - 1] = True
    hold[0] = max(task.ready_s - t0, 0.0)
    for k in range(n - 1):
        cap[k] = min(float(tm.cell_adj_speed_limit_mps[edges[k]]), task.legs[int(path.leg[k])].max_speed_mps)
    for k in range(n):
        previous = int(path.leg[k - 1]) if k > 0 else 0
        if int(path.leg[k]) != previous:
            forced[k] = True
            hold[k] += sum(task.legs[j].dwell_s for j in range(previous, int(path.leg[k])))
        if 0 < k < n - 1 and _reverses(geometry, int(edges[k - 1]), int(edges[k])):
            forced[k] = True
    return edges, node_s, cap, forced, hold


def _reverses(geometry: EdgeGeometry, edge_in: int, edge_out: int) -> bool:
    """Does the motion turn back (more than 90 degrees) from one move to the next?"""
    p_in, _ = geometry.move(edge_in)
    p_out, _ = geometry.move(edge_out)
    d_in = p_in[-1] - p_in[-2]
    d_out = p_out[1] - p_out[0]
    return float(np.dot(d_in, d_out)) < 0.0


def schedule_plan(
    track_map: TrackMap,
    problem: Problem,
    paths: list[VehiclePath],
    graph: DependencyGraph,
    kinematics: Kinematics = Kinematics(),
    max_duration_s: float = 86_400.0,
    geometry: EdgeGeometry | None = None,
) -> Schedule:
    """Execute ``paths`` (in problem order) through ``graph`` with kinematic limits.

    Raises
    ------
    ValueError
        If the simulation does not finish (a cyclic graph: the plan was not conflict-free).
    """
    t0 = problem.start_time_s
    every = int(round(kinematics.sample_dt_s / kinematics.step_s))
    if every < 1 or abs(every * kinematics.step_s - kinematics.sample_dt_s) > 1e-9:
        raise ValueError("sample_dt_s must be a whole multiple of step_s")
    geometry = geometry if geometry is not None else EdgeGeometry(track_map)
    parts = [_vehicle_arrays(geometry, task, p, t0) for task, p in zip(problem.vehicles, paths)]
    eoff = np.zeros(len(paths) + 1, dtype=np.int64)
    np.cumsum([p.cells.shape[0] for p in paths], out=eoff[1:])
    cat = (lambda i, dtype: np.concatenate([part[i] for part in parts]).astype(dtype) if parts else np.zeros(0, dtype))
    samples, arrival, step_time, status = _simulate(
        eoff, cat(1, np.float64), cat(2, np.float64), cat(3, np.bool_), cat(4, np.float64),
        graph.offset, graph.dep_indptr, graph.dep_vehicle, graph.dep_step,
        float(t0), float(kinematics.step_s), every, float(kinematics.accel_mps2), float(kinematics.brake_mps2),
        int(max_duration_s / kinematics.step_s),
    )
    if status != 0:
        raise ValueError("executing the plan through its dependency graph does not finish: the plan is not conflict-free")
    return Schedule(t0, kinematics.sample_dt_s, samples, arrival, step_time, tuple(p[0] for p in parts), tuple(p[1] for p in parts))


# ---- sampling --------------------------------------------------------------------------------


def _wrap(angle):
    """Angle(s) wrapped into [-pi, pi)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def vehicle_trajectory(geometry: EdgeGeometry, path: VehiclePath, schedule: Schedule, v: int) -> np.ndarray:
    """Rows ``[t_s, x_m, y_m, heading_rad]`` of vehicle ``v`` at the schedule's sample times,
    up to the first row at which it stands at its last goal (it holds that pose after)."""
    tm = geometry.track_map
    rows = int(math.ceil((schedule.arrival_s[v] - schedule.t0_s) / schedule.sample_dt_s - 1e-9)) + 1
    s = schedule.distance_m[: max(1, min(rows, schedule.distance_m.shape[0])), v]
    times = schedule.t0_s + schedule.sample_dt_s * np.arange(s.shape[0])
    node_s = schedule.node_s[v]
    edges = schedule.edges[v]
    x = np.full(s.shape, tm.cell_xy[int(path.cells[0]), 0])
    y = np.full(s.shape, tm.cell_xy[int(path.cells[0]), 1])
    tangent = np.full(s.shape, np.nan)
    if edges.shape[0]:
        move = np.clip(np.searchsorted(node_s, s, side="right") - 1, 0, edges.shape[0] - 1)
        for k in np.unique(move):
            pts, cum = geometry.move(int(edges[k]))
            sel = move == k
            along = np.clip((s[sel] - node_s[k]) * cum[-1] / (node_s[k + 1] - node_s[k]), 0.0, cum[-1])
            x[sel] = np.interp(along, cum, pts[:, 0])
            y[sel] = np.interp(along, cum, pts[:, 1])
            seg = np.clip(np.searchsorted(cum, along, side="right") - 1, 0, len(pts) - 2)
            d = pts[seg + 1] - pts[seg]
            tangent[sel] = np.arctan2(d[:, 1], d[:, 0])
    # Orientation: the tangent or its opposite, whichever keeps the heading continuous
    # (a bidirectional IGV reverses out of a bay without turning). Between rows the
    # tangent turns a little, or by about pi where the motion turns back: count those.
    start = float(tm.cell_heading_rad[int(path.cells[0])])
    known = ~np.isnan(tangent)
    if not known.any():
        return np.column_stack([times, x, y, np.full(s.shape, start)])
    first = int(np.argmax(known))
    filled = tangent.copy()
    filled[:first] = tangent[first]
    for i in np.flatnonzero(~known[first:]) + first:  # rare: keep the last known tangent
        filled[i] = filled[i - 1]
    turns = np.abs(_wrap(np.diff(filled))) > math.pi / 2.0
    flips = np.concatenate([[abs(_wrap(filled[0] - start)) > math.pi / 2.0], turns])
    heading = _wrap(filled + math.pi * (np.cumsum(flips) % 2))
    heading[:first] = heading[first]
    return np.column_stack([times, x, y, heading])


def plan_trajectories(
    track_map: TrackMap,
    problem: Problem,
    paths: list[VehiclePath],
    graph: DependencyGraph,
    kinematics: Kinematics = Kinematics(),
    geometry: EdgeGeometry | None = None,
) -> tuple[list[np.ndarray], Schedule]:
    """Trajectories of every vehicle (problem order) on one common time grid."""
    geometry = geometry if geometry is not None else EdgeGeometry(track_map)
    schedule = schedule_plan(track_map, problem, paths, graph, kinematics, geometry=geometry)
    return [vehicle_trajectory(geometry, p, schedule, v) for v, p in enumerate(paths)], schedule
