"""Deadlock detection from the recorded waits, independent of the planner's claims.

The run record lists every interval a vehicle stood still waiting for released steps, and
the vehicles it waited on (docs/run-record.md). Two kinds of deadlock are found:

* **cycle**: at some instant the waits-for graph (an edge ``a -> b`` while ``a`` waits on
  ``b``) holds a cycle: every vehicle on it waits for the next, so none can ever move.
  A sweep over the wait intervals adds and removes edges in time order; each added edge
  that closes a cycle starts a cycle episode, which lasts until one of its edges ends.
* **stall**: a vehicle waits longer than ``stall_bound_s`` while none of the vehicles it
  waits on moves (each may itself wait, be broken down or lost). This catches what a
  cycle misses: waiting forever on a vehicle that will never move. Movement comes from the
  recorded trajectories (ground truth), not from vehicle states.

* **gridlock** (:func:`find_gridlocks`): for longer than ``stall_bound_s`` no vehicle
  moves at all while some job waits unassigned the whole time (from the core's event
  log: created or handed back, not yet assigned, done or cancelled). This catches the
  deadlock no traffic wait shows: vehicles standing at rest on the stations one another
  need, each holding work it cannot finish (the ``day_2026`` stop at 11:00).

* **stuck** (:func:`find_stuck`): a vehicle holds a job (assigned or resumed, not yet done,
  handed back or cancelled) and does not move for longer than ``stuck_bound_s`` (2 h),
  unless it broke down or fell silent in that time (a ``vehicle_fault`` alert or a
  ``vehicle_frozen`` event). A vehicle that cannot get a route never waits on a released
  step, so neither a cycle nor a stall shows it, and the rest of the fleet moving hides it
  from a gridlock: ten vehicles stood 15 h that way in a ``day_2026`` run judged
  deadlock-free (bench/README.md).

Gridlocks and stuck vehicles count only standing-still time outside the run's
*disturbances* (:func:`disturbances`): a lane blocked, a vehicle broken down or silent, from
the core's event log. Vehicles standing behind a breakdown on the only road over the bridge
are held by the breakdown, not deadlocked: in ``disruption`` two vehicles broke down on the
two bridge lanes for 2 h, the fleet stood for an hour and seven vehicles for just over 2 h,
all moving again within 5 min of the faults clearing. A deadlock outlives its cause, and
time after the disturbances still counts in full; what a disturbance costs shows in the
throughput. The spans excused this way are listed apart (``safety.held_by_disturbances`` of
the report).

A stall whose vehicle is on a cycle episode overlapping it is that cycle, not a second
deadlock. Intervals of the same (vehicle, waited-on) pair that touch or overlap are merged
first, so a wait recorded in pieces counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping, Sequence

import numpy as np

DEFAULT_STALL_BOUND_S = 1800.0
"""Longer than any legitimate stand-still of a vehicle being waited on (a lab sampling
takes about 20 min, site.md), short enough to flag a vehicle stuck for good."""
DEFAULT_STUCK_BOUND_S = 7200.0
"""Longer than any service a vehicle waits through while holding a job (a lab sampling,
queue included, is under an hour at the day's peak)."""
MOVE_EPS_M = 1e-3
"""A row-to-row displacement above this is movement."""


class DeadlockKind(str, Enum):
    CYCLE = "cycle"
    STALL = "stall"
    GRIDLOCK = "gridlock"
    STUCK = "stuck"


@dataclass(frozen=True)
class Deadlock:
    kind: DeadlockKind
    vehicles: tuple[str, ...]
    """The cycle in waits-for order, or the stalled vehicle followed by those it waited on."""
    t_start_s: float
    t_end_s: float


def find_deadlocks(
    waits: Sequence[tuple[str, float, float, Sequence[str]]],
    trajectories: Mapping[str, np.ndarray],
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
) -> tuple[Deadlock, ...]:
    """Cycle and stall deadlocks in a run's waits, sorted by start time.

    Parameters
    ----------
    waits : sequence of (vehicle, t_start_s, t_end_s, waiting_on)
        Wait intervals as recorded.
    trajectories : mapping vehicle -> (n, 4) array
        Rows ``[t_s, x_m, y_m, heading_rad]``; a vehicle without a trajectory never moves.
    stall_bound_s : float
        Longest tolerated wait on vehicles that do not move.
    """
    edges = _merged_edges(waits)
    cycles = _cycle_episodes(edges)
    moving = {v: _moving_intervals(rows) for v, rows in trajectories.items()}
    stalls = []
    for vehicle, t0, t1, on in _merged_waits(waits):
        gap = _longest_still(on, moving, t0, t1)
        if gap is None or gap[1] - gap[0] <= stall_bound_s:
            continue
        if any(vehicle in c.vehicles and c.t_start_s < gap[1] and gap[0] < c.t_end_s for c in cycles):
            continue
        stalls.append(Deadlock(DeadlockKind.STALL, (vehicle, *on), gap[0], gap[1]))
    return tuple(sorted(cycles + stalls, key=lambda d: (d.t_start_s, d.kind.value, d.vehicles)))


OPENS_JOB = frozenset({"job_created", "job_injected", "job_reassigned"})
CLOSES_JOB = frozenset({"job_assigned", "job_resumed", "job_done", "job_cancelled"})
"""Core events that put a job in, and take it out of, the unassigned queue."""


def disturbances(events: Sequence[tuple[float, str, Mapping[str, object]]], end_s: float) -> list[tuple[float, float]]:
    """Merged spans when something the fleet does not control held vehicles: a lane blocked
    (``block_lane`` to ``unblock_lane``), a vehicle broken down or silent (a critical
    ``vehicle_fault`` alert or a ``vehicle_frozen`` event, to its ``vehicle_back``). Only
    spans that end count: a disturbance still in force at ``end_s`` (a vehicle that never
    comes back) excuses nothing, since standing behind it to the end cannot be told from a
    deadlock. (``end_s`` is kept for the signature's symmetry with the finders.)"""
    spans: list[tuple[float, float]] = []
    since: dict[tuple[str, str], float] = {}
    for t_s, kind, payload in sorted(events, key=lambda e: e[0]):
        if not isinstance(payload, Mapping):
            continue
        if kind == "block_lane":
            since.setdefault(("lane", str(payload.get("lane"))), float(t_s))
        elif kind == "vehicle_frozen" or (kind == "alert" and payload.get("kind") == "vehicle_fault"
                                          and payload.get("severity") == "critical"):
            who = payload.get("vehicle") if kind == "vehicle_frozen" else payload.get("subject")
            since.setdefault(("vehicle", str(who)), float(t_s))
        elif kind in ("unblock_lane", "vehicle_back"):
            key = ("lane", str(payload.get("lane"))) if kind == "unblock_lane" else ("vehicle", str(payload.get("vehicle")))
            if key in since:
                spans.append((since.pop(key), float(t_s)))
    return _merge([(t0, min(t1, float(end_s))) for t0, t1 in spans])


def _outside(t0: float, t1: float, windows: Sequence[tuple[float, float]]) -> float:
    """How much of ``[t0, t1]`` lies outside ``windows`` (merged, sorted)."""
    inside = sum(max(0.0, min(t1, w1) - max(t0, w0)) for w0, w1 in windows)
    return (t1 - t0) - inside


def find_gridlocks(
    events: Sequence[tuple[float, str, Mapping[str, object]]],
    trajectories: Mapping[str, np.ndarray],
    end_s: float,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
    windows: Sequence[tuple[float, float]] | None = None,
) -> tuple[Deadlock, ...]:
    """Intervals with no vehicle moving and a job unassigned, longer than ``stall_bound_s``
    outside ``windows`` (default: the run's :func:`disturbances`; ``()`` counts all time).

    Parameters
    ----------
    events : sequence of (t_s, kind, payload)
        The core's event log; job events carry ``payload["job"]``.
    trajectories : mapping vehicle -> (n, 4) array
        Ground-truth poses, as for :func:`find_deadlocks`.
    end_s : float
        End of the run (a job still unassigned at the end is waiting until then).
    """
    waiting: list[tuple[float, float]] = []
    since: dict[str, float] = {}
    for t_s, kind, payload in sorted(events, key=lambda e: e[0]):
        job = payload.get("job") if isinstance(payload, Mapping) else None
        if not isinstance(job, str):
            continue
        if kind in OPENS_JOB:
            since.setdefault(job, float(t_s))
        elif kind in CLOSES_JOB and job in since:
            waiting.append((since.pop(job), float(t_s)))
    waiting += [(t0, float(end_s)) for t0 in since.values()]
    moving = _merge([(float(a), float(b)) for rows in trajectories.values() for a, b in zip(*_moving_intervals(rows))])
    # The still gaps of the whole fleet inside each job's wait.
    found = [gap for w0, w1 in waiting for gap in _still_gaps(moving, w0, w1, stall_bound_s)]
    windows = disturbances(events, end_s) if windows is None else windows
    return tuple(Deadlock(DeadlockKind.GRIDLOCK, (), t0, t1) for t0, t1 in _merge(found)
                 if _outside(t0, t1, windows) > stall_bound_s)


def _still_gaps(moving: Sequence[tuple[float, float]], t0: float, t1: float, bound_s: float) -> list[tuple[float, float]]:
    """The sub-intervals of ``[t0, t1]`` longer than ``bound_s`` that no span of ``moving``
    (sorted ``(start, end)`` pairs) touches."""
    gaps = []
    cursor = t0
    for m0, m1 in [m for m in moving if m[1] > t0 and m[0] < t1] + [(t1, t1)]:
        if m0 - cursor > bound_s:
            gaps.append((cursor, m0))
        cursor = max(cursor, m1)
    return gaps


HOLDS_JOB = frozenset({"job_assigned", "job_resumed"})
ENDS_HOLD = frozenset({"job_done", "job_cancelled", "job_reassigned"})


def find_stuck(
    events: Sequence[tuple[float, str, Mapping[str, object]]],
    trajectories: Mapping[str, np.ndarray],
    end_s: float,
    stuck_bound_s: float = DEFAULT_STUCK_BOUND_S,
    windows: Sequence[tuple[float, float]] | None = None,
) -> tuple[Deadlock, ...]:
    """Vehicles standing still while holding a job, longer than ``stuck_bound_s`` outside
    ``windows`` (as for :func:`find_gridlocks`).

    Parameters are those of :func:`find_gridlocks`. A still span during which the vehicle
    broke down or fell silent (an alert ``vehicle_fault`` about it, an event
    ``vehicle_frozen``) is not counted: the breakdown is the cause, not a deadlock.
    """
    windows = disturbances(events, end_s) if windows is None else windows
    holds: dict[str, list[tuple[float, float]]] = {}
    held: dict[str, tuple[str, float]] = {}
    excuses: dict[str, list[float]] = {}
    for t_s, kind, payload in sorted(events, key=lambda e: e[0]):
        if not isinstance(payload, Mapping):
            continue
        job, vehicle = payload.get("job"), payload.get("vehicle")
        if kind == "vehicle_frozen" or (kind == "alert" and payload.get("kind") == "vehicle_fault"):
            who = vehicle if kind == "vehicle_frozen" else payload.get("subject")
            excuses.setdefault(str(who), []).append(float(t_s))
        if not isinstance(job, str):
            continue
        if job in held and (kind in ENDS_HOLD or kind in HOLDS_JOB):
            who, t0 = held.pop(job)
            holds.setdefault(who, []).append((t0, float(t_s)))
        if kind in HOLDS_JOB and isinstance(vehicle, str):
            held[job] = (vehicle, float(t_s))
    for who, t0 in held.values():
        holds.setdefault(who, []).append((t0, float(end_s)))
    found = []
    for vehicle, spans in sorted(holds.items()):
        starts, ends = _moving_intervals(trajectories[vehicle]) if vehicle in trajectories else (np.empty(0), np.empty(0))
        moving = [(float(a), float(b)) for a, b in zip(starts, ends)]
        stuck = [(g0, g1) for h0, h1 in _merge(spans) for g0, g1 in _still_gaps(moving, h0, h1, stuck_bound_s)
                 if not any(g0 <= t <= g1 for t in excuses.get(vehicle, ())) and _outside(g0, g1, windows) > stuck_bound_s]
        found += [Deadlock(DeadlockKind.STUCK, (vehicle,), t0, t1) for t0, t1 in _merge(stuck)]
    return tuple(found)


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for t0, t1 in sorted(intervals):
        if merged and t0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t1)
        else:
            merged.append([t0, t1])
    return [(a, b) for a, b in merged]


def _merged_edges(waits: Sequence[tuple[str, float, float, Sequence[str]]]) -> list[tuple[str, str, float, float]]:
    """``(a, b, t0, t1)``: ``a`` waits on ``b`` during ``[t0, t1)``, touching pieces merged."""
    per_pair: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for vehicle, t0, t1, on in waits:
        for other in on:
            if other != vehicle:
                per_pair.setdefault((vehicle, other), []).append((float(t0), float(t1)))
    return [(a, b, t0, t1) for (a, b), spans in per_pair.items() for t0, t1 in _merge(spans) if t1 > t0]


def _merged_waits(waits: Sequence[tuple[str, float, float, Sequence[str]]]) -> list[tuple[str, float, float, tuple[str, ...]]]:
    """Waits of one vehicle on the same set of vehicles, touching pieces merged."""
    per_key: dict[tuple[str, tuple[str, ...]], list[tuple[float, float]]] = {}
    for vehicle, t0, t1, on in waits:
        others = tuple(sorted(set(on) - {vehicle}))
        if others:
            per_key.setdefault((vehicle, others), []).append((float(t0), float(t1)))
    return [(v, t0, t1, on) for (v, on), spans in per_key.items() for t0, t1 in _merge(spans)]


def _cycle_episodes(edges: list[tuple[str, str, float, float]]) -> list[Deadlock]:
    """Sweep the edges in time (removals before additions at a tie) and record cycles."""
    events = sorted([(t1, 0, i) for i, (_, _, _, t1) in enumerate(edges)] + [(t0, 1, i) for i, (_, _, t0, _) in enumerate(edges)])
    out: dict[str, set[str]] = {}
    active: dict[int, tuple[str, str]] = {}
    open_cycles: list[tuple[frozenset[int], tuple[str, ...], float]] = []
    found: list[Deadlock] = []
    for t, adding, i in events:
        a, b = edges[i][0], edges[i][1]
        if not adding:
            # Merged intervals of one pair never overlap, so the pair's edge goes with it.
            del active[i]
            out[a].discard(b)
            still = []
            for ids, ring, t_start in open_cycles:
                if i in ids:
                    found.append(Deadlock(DeadlockKind.CYCLE, ring, t_start, t))
                else:
                    still.append((ids, ring, t_start))
            open_cycles = still
            continue
        active[i] = (a, b)
        out.setdefault(a, set()).add(b)
        path = _path(out, b, a)
        if path is None:
            continue
        ring = (a, *path[:-1])  # a -> b -> ... -> a
        if any(set(ring) == set(r) for _, r, _ in open_cycles):
            continue
        pairs = set(zip(ring, ring[1:] + ring[:1]))
        ids = frozenset(j for j, e in active.items() if e in pairs)
        open_cycles.append((ids, ring, t))
    return found  # every edge ends at a finite time, so every episode was closed


def _path(out: dict[str, set[str]], source: str, target: str) -> list[str] | None:
    """Vertices of a path ``source -> ... -> target`` in the graph, or None (iterative DFS)."""
    parent: dict[str, str | None] = {source: None}
    stack = [source]
    while stack:
        node = stack.pop()
        if node == target:
            path = [node]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for nxt in sorted(out.get(node, ())):
            if nxt not in parent:
                parent[nxt] = node
                stack.append(nxt)
    return None


def _moving_intervals(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times of the row-to-row steps in which the vehicle moved, merged."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.shape[0] < 2:
        return np.empty(0), np.empty(0)
    step = np.hypot(np.diff(rows[:, 1]), np.diff(rows[:, 2])) > MOVE_EPS_M
    if not step.any():
        return np.empty(0), np.empty(0)
    edges = np.diff(np.concatenate([[0], step.astype(np.int8), [0]]))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1)  # exclusive step index
    return rows[first, 0], rows[last, 0]


def _longest_still(on: tuple[str, ...], moving: Mapping[str, tuple[np.ndarray, np.ndarray]], t0: float, t1: float) -> tuple[float, float] | None:
    """The longest sub-interval of ``[t0, t1]`` in which none of ``on`` moves (None if empty)."""
    if not on or t1 <= t0:
        return None
    spans: list[tuple[float, float]] = []
    for vehicle in on:
        starts, ends = moving.get(vehicle, (np.empty(0), np.empty(0)))
        lo = int(np.searchsorted(ends, t0, side="right"))
        hi = int(np.searchsorted(starts, t1, side="left"))
        spans += [(max(float(s), t0), min(float(e), t1)) for s, e in zip(starts[lo:hi], ends[lo:hi])]
    best: tuple[float, float] = (t0, t0)
    cursor = t0
    for s, e in _merge(spans) + [(t1, t1)]:
        if s - cursor > best[1] - best[0]:
            best = (cursor, s)
        cursor = max(cursor, e)
    return best
