"""An independent validator for cell-time plans.

It shares no code with the planner: it reads the track map and the plain arrays of each
path (``cells``, ``arrive_s``, ``depart_s``, ``leg``) and recomputes everything from the
rules below, so a bug in the planner's occupancy or reservation code cannot hide itself.
The first broken rule raises :class:`~planner.errors.InvalidPlanError` naming the vehicle,
the time and the rule.

Rules
-----
* **path**: every vehicle has a path; times are finite and ordered (``arrive <= depart``
  at each entry, each move takes positive time, the last entry never departs).
* **start**: the path begins on the vehicle's start cell, at the problem's start time.
* **teleport** / **lane direction**: consecutive cells are joined by a move of the cell
  graph; a move only allowed the other way is a lane-direction violation.
* **speed**: a move takes at least ``length / min(lane limit, vehicle speed of the leg)``.
* **goal**: legs advance only on their goal cell after the dwell time, in order, and the
  path ends on the last goal.
* **conflict**: a vehicle occupies the cell whose stretch (half a move either side of the
  cell's point) holds its reference point, moving at constant speed between departure and
  arrival; so it enters a cell's stretch at the midpoint of the move into it. No two
  vehicles (parked ones included, for ever) may occupy conflicting cells over
  overlapping times.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from numba import njit

from maps.trackmap import TrackMap
from planner.errors import InvalidPlanError

if TYPE_CHECKING:
    from planner.types import Problem

TOLERANCE_S = 1e-6
"""Overlaps and speed excesses up to this many seconds are rounding, not violations."""


def _fail(vehicle: str, t_s: float, rule: str, detail: str) -> InvalidPlanError:
    return InvalidPlanError(f"vehicle {vehicle!r} at t={t_s:.3f} s: {rule}: {detail}")


def _edge(tm: TrackMap, a: int, b: int) -> int:
    lo, hi = int(tm.cell_adj_indptr[a]), int(tm.cell_adj_indptr[a + 1])
    hits = np.flatnonzero(tm.cell_adj_to[lo:hi] == b)
    return lo + int(hits[0]) if hits.size else -1


def _check_one(tm: TrackMap, problem: "Problem", index: int, path: Any, check_start_time: bool) -> None:
    task = problem.vehicles[index]
    vid = task.id
    cells = np.asarray(path.cells)
    arrive = np.asarray(path.arrive_s, dtype=np.float64)
    depart = np.asarray(path.depart_s, dtype=np.float64)
    legs = np.asarray(path.leg)
    n = cells.shape[0]
    if n == 0 or not (arrive.shape[0] == depart.shape[0] == legs.shape[0] == n):
        raise _fail(vid, problem.start_time_s, "path", "empty path or arrays of different lengths")
    if check_start_time and abs(arrive[0] - problem.start_time_s) > TOLERANCE_S:
        raise _fail(vid, float(arrive[0]), "start", f"path begins at {arrive[0]:.3f} s, not at the start time {problem.start_time_s:.3f} s")
    if int(cells[0]) != task.start_cell:
        raise _fail(vid, float(arrive[0]), "start", f"path begins on cell {int(cells[0])}, the vehicle stands on cell {task.start_cell}")
    if not np.isfinite(arrive).all() or not np.isfinite(depart[:-1]).all() or depart[-1] != math.inf:
        raise _fail(vid, float(arrive[0]), "path", "times must be finite and the last entry must never depart (inf)")
    for k in range(n):
        c = int(cells[k])
        if not 0 <= c < tm.n_cells:
            raise _fail(vid, float(arrive[k]), "path", f"cell {c} is not a cell of the map")
        if depart[k] < arrive[k] - TOLERANCE_S:
            raise _fail(vid, float(arrive[k]), "path", f"departs cell {c} at {depart[k]:.3f} s before arriving")
    leg = 0
    n_legs = len(task.legs)
    for k in range(n):
        c = int(cells[k])
        dwell = 0.0
        while leg < n_legs - 1 and int(legs[k]) > leg and c == task.legs[leg].goal_cell:
            dwell += task.legs[leg].dwell_s
            leg += 1
        if int(legs[k]) != leg:
            raise _fail(vid, float(arrive[k]), "goal", f"claims leg {int(legs[k])} on cell {c}, but has finished {leg} leg(s) there")
        if k + 1 < n and depart[k] - arrive[k] < dwell - TOLERANCE_S:
            raise _fail(vid, float(arrive[k]), "goal", f"leaves goal cell {c} after {depart[k] - arrive[k]:.3f} s, dwell is {dwell:.3f} s")
        if k + 1 == n:
            break
        b = int(cells[k + 1])
        e = _edge(tm, c, b)
        if e < 0:
            if _edge(tm, b, c) >= 0:
                raise _fail(vid, float(depart[k]), "lane direction", f"moves {c} -> {b} against the lane's direction")
            raise _fail(vid, float(depart[k]), "teleport", f"jumps from cell {c} to cell {b}, which are not adjacent")
        duration = arrive[k + 1] - depart[k]
        speed = min(float(tm.cell_adj_speed_limit_mps[e]), task.legs[leg].max_speed_mps)
        needed = float(tm.cell_adj_length_m[e]) / speed
        if duration < needed - TOLERANCE_S:
            raise _fail(vid, float(depart[k]), "speed",
                        f"moves {c} -> {b} ({tm.cell_adj_length_m[e]:.2f} m) in {duration:.3f} s, at least {needed:.3f} s at {speed:.2f} m/s")
    if leg != n_legs - 1 or int(cells[-1]) != task.goal_cell:
        raise _fail(vid, float(arrive[-1]), "goal", f"ends on cell {int(cells[-1])} after {leg + 1} of {n_legs} leg(s); last goal is cell {task.goal_cell}")


@njit(cache=True)
def _find_conflict(indptr, start, end, owner, conf_indptr, conf_idx, tol):
    """Earliest overlap between different owners on conflicting cells.

    ``start``/``end``/``owner`` are occupancies grouped by cell (CSR ``indptr``), sorted
    by start within a cell. Returns ``(time, owner_a, owner_b, cell_a, cell_b)``, ``a``
    being the one that entered last, or ``time = inf``.
    """
    n_cells = indptr.shape[0] - 1
    best_t = math.inf
    ba, bb, ca, cb = -1, -1, -1, -1
    # Within a cell: sorted by start, so an overlap shows up between neighbours first.
    for c in range(n_cells):
        for r in range(indptr[c] + 1, indptr[c + 1]):
            if start[r] < end[r - 1] - tol and owner[r] != owner[r - 1]:
                if start[r] < best_t:
                    best_t = start[r]
                    ba, bb, ca, cb = owner[r - 1], owner[r], c, c
    # Across conflicting cells: two sorted lists, every pair whose intervals overlap.
    for x in range(n_cells):
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            y = conf_idx[j]
            if y <= x:
                continue
            q = indptr[y]
            for r in range(indptr[x], indptr[x + 1]):
                while q < indptr[y + 1] and end[q] <= start[r] + tol:
                    q += 1
                m = q
                while m < indptr[y + 1] and start[m] < end[r] - tol:
                    if owner[m] != owner[r] and end[m] > start[r] + tol:
                        t = max(start[m], start[r])
                        if t < best_t:
                            best_t = t
                            # the one that entered last is the one that broke in
                            if start[m] >= start[r]:
                                ba, bb, ca, cb = owner[m], owner[r], y, x
                            else:
                                ba, bb, ca, cb = owner[r], owner[m], x, y
                    m += 1
    return best_t, ba, bb, ca, cb


def validate_plan(
    track_map: TrackMap, problem: "Problem", paths: Mapping[str, Any], *, check_start_time: bool = True,
) -> None:
    """Raise :class:`InvalidPlanError` unless ``paths`` solve ``problem`` without conflicts.

    Parameters
    ----------
    track_map : TrackMap
    problem : Problem
        Starts, legs (goal cells, dwell, speed) and parked vehicles.
    paths : mapping of vehicle id to path
        Objects with ``cells``, ``arrive_s``, ``depart_s`` and ``leg`` arrays, one per
        vehicle of the problem (a vehicle that does not move has a one-entry path).
    check_start_time : bool
        Require every path to begin at ``problem.start_time_s`` (off for replanned paths
        that begin with an earlier committed prefix).
    """
    tm = track_map
    owners: list[str] = []
    cell_l, start_l, end_l = [], [], []
    for index, task in enumerate(problem.vehicles):
        path = paths.get(task.id)
        if path is None:
            raise _fail(task.id, problem.start_time_s, "path", "no path")
        _check_one(tm, problem, index, path, check_start_time)
        arrive = np.asarray(path.arrive_s, dtype=np.float64)
        depart = np.asarray(path.depart_s, dtype=np.float64)
        enter = np.concatenate([[arrive[0]], 0.5 * (depart[:-1] + arrive[1:])])
        cell_l.append(np.asarray(path.cells, dtype=np.int64))
        start_l.append(enter)
        end_l.append(np.concatenate([enter[1:], [math.inf]]))
        owners.append(task.id)
    unknown = sorted(set(paths) - set(owners))
    if unknown:
        raise _fail(unknown[0], problem.start_time_s, "path", "vehicle is not part of the problem")
    for p in problem.parked:
        cell_l.append(np.array([p.cell], dtype=np.int64))
        start_l.append(np.array([problem.start_time_s]))
        end_l.append(np.array([math.inf]))
        owners.append(p.id)
    if not owners:
        return
    owner = np.concatenate([np.full(c.shape[0], k, dtype=np.int64) for k, c in enumerate(cell_l)])
    cells = np.concatenate(cell_l)
    start = np.concatenate(start_l)
    end = np.concatenate(end_l)
    order = np.lexsort((start, cells))
    indptr = np.zeros(tm.n_cells + 1, dtype=np.int64)
    np.add.at(indptr, cells + 1, 1)
    np.cumsum(indptr, out=indptr)
    t, a, b, ca, cb = _find_conflict(
        indptr, start[order], end[order], owner[order],
        np.asarray(tm.conflict_indptr, dtype=np.int64), np.asarray(tm.conflict_indices, dtype=np.int64), TOLERANCE_S,
    )
    if math.isfinite(t):
        raise _fail(owners[a], float(t), "conflict",
                    f"occupies cell {ca} while {owners[b]!r} occupies conflicting cell {cb}")
