"""Synthetic run records: a stand-in for the simulation run in tests and harness checks.

:func:`synthetic_record` drives a few vehicles along random lane-following routes of a
track map (``lane_geometry``, one-way directions respected, station spurs avoided), rows
every 0.5 s, and fills every other field of a :class:`~bench.record.RunRecord` with
plausible values: bridge crossings where a route runs over a bridge lane, waits, vehicle
states and yard occupancy sampled every 60 s, clearance times, replan and tick latencies.

Unless asked otherwise the record is *clean*: the generator retries until the geometric
checker finds no contact, and its waits form chains whose heads keep moving. On request
it plants exactly what the KPI tests look for: a collision (the last vehicle follows
vehicle 0 one second behind, footprints overlapping), a cycle of waits, or a stall (a
vehicle waiting on a broken-down one). :func:`synthetic_run` has the signature of the
harness's run function, so the harness can be exercised end to end without a simulator.

It is made for a few vehicles over minutes: random walkers do not avoid each other, so
over longer runs they meet, and the generator gives up with :class:`SyntheticError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from bench.record import DIRECTIONS, SAMPLE_INTERVAL_S, STATE_NAMES, RunRecord
from bench.scenario import BRIDGE_LANE_PREFIXES
from maps.errors import InputError
from planner.collision import find_collisions

if TYPE_CHECKING:
    from bench.scenario import Scenario
    from maps.trackmap import TrackMap

ROW_STEP_S = 0.5
MAX_ATTEMPTS = 50
START_SPACING_M = 120.0
"""Minimum distance between the starting points of two vehicles."""
WAIT_START_S = 60.0
"""When the planted waits begin (clipped to fit short runs)."""


class SyntheticError(InputError):
    """The requested synthetic run cannot be made on this map."""


@dataclass(frozen=True)
class SyntheticOptions:
    """What :func:`synthetic_record` produces.

    ``plant_wait_cycle`` makes vehicles 0 -> 1 -> 2 -> 0 (or 0 <-> 1 with two vehicles)
    wait on each other, all standing still; ``plant_stall_s > 0`` makes vehicle 1 wait that
    long on vehicle 2, which has broken down; ``plant_collision`` makes the last vehicle a
    one-second-late copy of vehicle 0.
    """

    scenario: str = "synthetic"
    seed: int = 0
    n_vehicles: int = 4
    duration_s: float = 300.0
    plant_collision: bool = False
    plant_wait_cycle: bool = False
    plant_stall_s: float = 0.0
    clearance_median_h: float = 4.0
    wall_s: float = 1.0


@dataclass
class _Plan:
    """One vehicle's route (a polyline) and its timing as (t, s) knots."""

    xy: np.ndarray
    cum_m: np.ndarray
    bridge_ends: list[tuple[float, str]]  # (arc length at the end of a bridge lane, direction)
    knot_t: list[float]
    knot_s: list[float]


def synthetic_record(track_map: TrackMap, options: SyntheticOptions = SyntheticOptions()) -> RunRecord:
    """A plausible :class:`RunRecord` on ``track_map`` (deterministic for ``options.seed``)."""
    o = options
    if o.n_vehicles < 1 or o.duration_s <= 0:
        raise SyntheticError(f"synthetic run needs n_vehicles >= 1 and duration_s > 0, got {o.n_vehicles}, {o.duration_s}")
    if o.plant_collision and o.n_vehicles < 2:
        raise SyntheticError("a planted collision needs at least 2 vehicles")
    if o.plant_wait_cycle and o.n_vehicles < 2:
        raise SyntheticError("a planted wait cycle needs at least 2 vehicles")
    if o.plant_stall_s > 0 and (o.n_vehicles < 3 or o.duration_s < WAIT_START_S + o.plant_stall_s + 10.0):
        raise SyntheticError(f"a planted stall of {o.plant_stall_s:g} s needs 3 vehicles and a longer run than {o.duration_s:g} s")
    rng = np.random.default_rng(o.seed)
    vehicles = tuple(f"igv-{i + 1:03d}" for i in range(o.n_vehicles))
    times = np.arange(0.0, o.duration_s + 1e-9, ROW_STEP_S)
    for _ in range(MAX_ATTEMPTS):
        plans = _routes(track_map, o.n_vehicles, o.duration_s, rng)
        waits, stopped = _waits(o, plans, vehicles)
        trajectories = [_sample(p, times) for p in plans]
        if o.plant_collision:
            trajectories[-1] = _follower(trajectories[0], times)
        allowed = {(0, o.n_vehicles - 1)} if o.plant_collision else set()
        found = {(c.vehicle_a, c.vehicle_b) for c in find_collisions(trajectories, (track_map.vehicle.length_m, track_map.vehicle.width_m))}
        if found == allowed:
            break
    else:
        raise SyntheticError(f"no {'clean ' if not o.plant_collision else ''}placement of {o.n_vehicles} vehicles on map {track_map.name!r} in {MAX_ATTEMPTS} attempts")
    crossings = sorted((t, d) for p in plans for t, d in _crossing_times(p) if t <= o.duration_s)
    if o.plant_collision:
        crossings = sorted(crossings + [(t + 1.0, d) for t, d in _crossing_times(plans[0]) if t + 1.0 <= o.duration_s])
    states = _states(trajectories, waits, stopped, vehicles, o.duration_s)
    working = states[:, [1 + STATE_NAMES.index(s) for s in ("moving", "waiting", "loading")]].sum(axis=1)
    blocks = tuple(z.id for z in track_map.zones if z.kind == "yard_block") or ("Y1",)
    driven_km = sum(float(np.hypot(*np.diff(t[:, 1:3], axis=0).T).sum()) for t in trajectories) / 1000.0
    events = [(t, "crossing", {"direction": d}) for t, d in crossings] + [(t0, "wait", {"vehicle": v, "on": list(on)}) for v, t0, _, on in waits]
    return RunRecord(
        scenario=o.scenario,
        seed=o.seed,
        map=track_map.name,
        vehicles=vehicles,
        sim_duration_s=float(o.duration_s),
        wall_s=float(o.wall_s),
        vehicle_length_m=track_map.vehicle.length_m,
        vehicle_width_m=track_map.vehicle.width_m,
        trajectories=dict(zip(vehicles, trajectories)),
        states=states,
        waits=waits,
        crossings=crossings,
        clearance_h=rng.lognormal(math.log(o.clearance_median_h), 0.25, len(crossings)),
        replan_ms=rng.lognormal(math.log(5.0), 0.5, max(1, int(o.duration_s / 2))),
        tick_ms=rng.lognormal(math.log(2.0), 0.3, max(1, int(o.duration_s / 0.1))),
        yard=_yard(blocks, o.duration_s, rng),
        yard_blocks=blocks,
        crane_moves=2 * len(crossings),
        rehandles=int(rng.integers(0, 3)),
        deadline_misses=0,
        containers_total=len(crossings) + int(rng.integers(0, 4)),
        containers_lost=0,
        messages_dropped=0,
        energy_kwh=2.0 * driven_km,
        utilisation=float(working.mean() / o.n_vehicles) if working.size else 0.0,
        events=sorted(events, key=lambda e: e[0]),
    )


def synthetic_run(scenario: Scenario, progress: Callable[[float, float], None] | None = None) -> RunRecord:
    """A run function for the harness: a synthetic record sized by the scenario."""
    from maps import load_track_map

    record = synthetic_record(
        load_track_map(scenario.map),
        SyntheticOptions(scenario=scenario.name, seed=scenario.seed, n_vehicles=scenario.vehicles, duration_s=scenario.duration_s),
    )
    if progress is not None:
        progress(scenario.duration_s, scenario.duration_s)
    return record


# ---- routes ---------------------------------------------------------------------------------


def _routes(m: TrackMap, n: int, duration_s: float, rng: np.random.Generator) -> list[_Plan]:
    """Routes long enough for the run; vehicles 0 and 1 start on the two bridge directions."""
    spur = np.array([lane.startswith("bay:") for lane in m.lane_ids])
    bridge = [i for i, lane in enumerate(m.lane_ids) if lane.startswith(BRIDGE_LANE_PREFIXES)]
    firsts = [min((i for i in bridge if m.lane_ids[i].startswith(p)), default=None) for p in BRIDGE_LANE_PREFIXES]
    starts: list[int] = [i for i in firsts if i is not None][:n]
    candidates = rng.permutation(np.flatnonzero(~spur))
    for lane in candidates:
        if len(starts) == n:
            break
        xy = m.lane_geometry[lane][0]
        if all(np.hypot(*(xy - m.lane_geometry[s][0])) >= START_SPACING_M for s in starts):
            starts.append(int(lane))
    if len(starts) < n:
        raise SyntheticError(f"map {m.name!r} has room for only {len(starts)} vehicles {START_SPACING_M:g} m apart")
    plans = []
    for lane in starts:
        speed_factor = rng.uniform(0.6, 0.9)
        plans.append(_walk(m, int(lane), duration_s, speed_factor, spur, rng))
    return plans


def _walk(m: TrackMap, lane: int, duration_s: float, speed_factor: float, spur: np.ndarray, rng: np.random.Generator) -> _Plan:
    """A random walk from the start of ``lane`` along allowed traversals, at least long enough."""
    pieces: list[np.ndarray] = []
    knot_t, knot_s = [0.0], [0.0]
    bridge_ends: list[tuple[float, str]] = []
    node, forward, t, s = int(m.lane_to[lane]), True, 0.0, 0.0
    while t < duration_s + 10.0:
        geometry = m.lane_geometry[lane] if forward else m.lane_geometry[lane][::-1]
        pieces.append(geometry if not pieces else geometry[1:])
        length = float(np.hypot(*np.diff(geometry, axis=0).T).sum())
        speed = min(float(m.lane_speed_limit_mps[lane]), m.vehicle.max_speed_unladen_mps) * speed_factor
        s += length
        t += length / speed
        knot_t.append(t)
        knot_s.append(s)
        lane_id = m.lane_ids[lane]
        for prefix, direction in zip(BRIDGE_LANE_PREFIXES, DIRECTIONS):
            if lane_id.startswith(prefix):
                bridge_ends.append((s, direction))
        edges = range(m.node_adj_indptr[node], m.node_adj_indptr[node + 1])
        onward = [e for e in edges if m.node_adj_lane[e] != lane]
        preferred = [e for e in onward if not spur[m.node_adj_lane[e]]] or onward or list(edges)
        e = preferred[int(rng.integers(len(preferred)))]
        lane, forward, node = int(m.node_adj_lane[e]), bool(m.node_adj_forward[e]), int(m.node_adj_to[e])
    xy = np.concatenate(pieces)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    return _Plan(xy, cum, _merge_bridge(bridge_ends), knot_t, knot_s)


def _merge_bridge(ends: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """One crossing per run over consecutive bridge lanes of one direction (its last lane)."""
    merged: list[tuple[float, str]] = []
    for s, direction in ends:
        if merged and merged[-1][1] == direction and s - merged[-1][0] < 1000.0:
            merged[-1] = (s, direction)
        else:
            merged.append((s, direction))
    return merged


def _pause(plan: _Plan, t0: float, t1: float) -> None:
    """Make the vehicle stand still during ``[t0, t1]`` (later knots shift by the pause)."""
    t = np.asarray(plan.knot_t)
    s = np.asarray(plan.knot_s)
    s0 = float(np.interp(t0, t, s))
    later = t > t0
    plan.knot_t = [*t[~later], t0, t1, *(t[later] + (t1 - t0))]
    plan.knot_s = [*s[~later], s0, s0, *s[later]]


def _crossing_times(plan: _Plan) -> list[tuple[float, str]]:
    return [(float(np.interp(s, plan.knot_s, plan.knot_t)), d) for s, d in plan.bridge_ends]


def _sample(plan: _Plan, times: np.ndarray) -> np.ndarray:
    """Rows ``[t, x, y, heading]`` at ``times`` along the plan's route."""
    s = np.interp(times, plan.knot_t, plan.knot_s)
    seg = np.clip(np.searchsorted(plan.cum_m, s, side="right") - 1, 0, plan.xy.shape[0] - 2)
    seg_len = plan.cum_m[seg + 1] - plan.cum_m[seg]
    frac = np.where(seg_len > 0, (s - plan.cum_m[seg]) / np.where(seg_len > 0, seg_len, 1.0), 0.0)
    a, b = plan.xy[seg], plan.xy[seg + 1]
    xy = a + (b - a) * frac[:, None]
    heading = np.arctan2(b[:, 1] - a[:, 1], b[:, 0] - a[:, 0])
    return np.column_stack([times, xy, heading])


def _follower(leader: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The leader's path one second late: the footprints overlap the whole run."""
    rows = leader.copy()
    unwrapped = leader.copy()
    unwrapped[:, 3] = np.unwrap(leader[:, 3])
    rows[:, 1:] = np.array([np.interp(times - 1.0, leader[:, 0], unwrapped[:, k]) for k in (1, 2, 3)]).T
    return rows


# ---- waits, states, yard ---------------------------------------------------------------------


def _waits(o: SyntheticOptions, plans: list[_Plan], vehicles: tuple[str, ...]) -> tuple[list, dict[str, tuple[float, float]]]:
    """Plant the waits (and the pauses they imply); returns waits and broken-down intervals."""
    n = len(plans)
    start = min(WAIT_START_S, o.duration_s / 4)
    waits: list[tuple[str, float, float, tuple[str, ...]]] = []
    stopped: dict[str, tuple[float, float]] = {}
    if n >= 3 and not o.plant_wait_cycle and o.plant_stall_s <= 0:
        # A chain 2 -> 1 -> 0 whose head keeps moving: a clean record's waits.
        waits.append((vehicles[1], start, start + 20.0, (vehicles[0],)))
        waits.append((vehicles[2], start + 10.0, start + 25.0, (vehicles[1],)))
    if o.plant_wait_cycle:
        ring = list(range(min(3, n)))
        for a, b in zip(ring, ring[1:] + ring[:1]):
            waits.append((vehicles[a], start, start + 30.0, (vehicles[b],)))
    if o.plant_stall_s > 0:
        waits.append((vehicles[1], start, start + o.plant_stall_s, (vehicles[2],)))
        stopped[vehicles[2]] = (start - 5.0, start + o.plant_stall_s + 5.0)
    pauses: dict[int, list[tuple[float, float]]] = {}
    for vehicle, t0, t1, _ in waits:
        pauses.setdefault(vehicles.index(vehicle), []).append((t0, t1))
    for vehicle, (t0, t1) in stopped.items():
        pauses.setdefault(vehicles.index(vehicle), []).append((t0, t1))
    for i, intervals in pauses.items():
        for t0, t1 in sorted(intervals, reverse=True):  # later pauses first: earlier knots stay put
            _pause(plans[i], t0, t1)
    if o.plant_collision:  # the follower copies vehicle 0; it has no waits of its own
        waits = [w for w in waits if w[0] != vehicles[-1] and vehicles[-1] not in w[3]]
    return waits, stopped


def _states(trajectories: list[np.ndarray], waits: list, stopped: dict, vehicles: tuple[str, ...], duration_s: float) -> np.ndarray:
    """Vehicle-state counts every 60 s: waiting, fault, moving (moved in the next row) or idle."""
    sample_t = np.arange(0.0, duration_s + 1e-9, SAMPLE_INTERVAL_S)
    table = np.zeros((sample_t.shape[0], 1 + len(STATE_NAMES)))
    table[:, 0] = sample_t
    col = {name: 1 + i for i, name in enumerate(STATE_NAMES)}
    for vehicle, rows in zip(vehicles, trajectories):
        k = np.minimum(np.searchsorted(rows[:, 0], sample_t), rows.shape[0] - 2)
        moving = np.hypot(rows[k + 1, 1] - rows[k, 1], rows[k + 1, 2] - rows[k, 2]) > 1e-6
        state = np.where(moving, col["moving"], col["idle"])
        for v, t0, t1, _ in waits:
            if v == vehicle:
                state[(sample_t >= t0) & (sample_t < t1)] = col["waiting"]
        if vehicle in stopped:
            t0, t1 = stopped[vehicle]
            state[(sample_t >= t0) & (sample_t < t1)] = col["fault"]
        np.add.at(table, (np.arange(sample_t.shape[0]), state), 1.0)
    return table


def _yard(blocks: tuple[str, ...], duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Occupied slots per block every 60 s: a bounded random walk from a random level."""
    sample_t = np.arange(0.0, duration_s + 1e-9, SAMPLE_INTERVAL_S)
    level = rng.integers(200, 800, len(blocks)) + np.cumsum(rng.integers(-5, 6, (sample_t.shape[0], len(blocks))), axis=0)
    return np.column_stack([sample_t, np.clip(level, 0, 2000)]).astype(np.float64)
