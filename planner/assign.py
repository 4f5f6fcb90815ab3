"""Batch assignment of transport jobs to IGVs: a min-cost flow (OR-Tools) over
travel-time estimates, with deadlines and priorities in the cost, battery feasibility
and charging orders for vehicles under a threshold.

Model
-----
A vehicle is free at ``available_s`` at station ``station`` (its current commitment's
end, or where it stands). Taking job ``j`` it drives empty to ``from_station``, waits
for ``earliest_s`` if early, loads, drives to ``to_station`` (laden legs take
``laden_time_factor`` times the map's unladen travel time) and unloads. The pair is
*feasible* when every leg is reachable and the battery covers the empty leg, the job
and the drive from the drop-off to the nearest charger with ``reserve_soc`` to spare.
Its cost::

    empty_weight * empty_s + wait_weight * (pickup_s - ready_s)
        + lateness_weight * priority * max(0, delivery_s - deadline_s)

where ``ready_s = max(now, earliest_s)``. A job may stay unassigned at a price above
any of its feasible pairs (``priority * unassigned_cost_s`` more), so the solver first
serves as much priority as it can and then minimises cost. Vehicles under
``charge_below_soc`` are not offered jobs; they are sent to the nearest free chargers
(a second min-cost assignment). Vehicles busy beyond ``now + horizon_s`` are left out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable

import numpy as np

from planner.errors import ProblemError

_COST_SCALE = 10.0
"""Min-cost flow needs integer costs: tenths of a cost unit (0.1 s of empty travel)."""


@dataclass(frozen=True)
class VehicleState:
    """An IGV as the allocator sees it."""

    id: str
    station: int
    """Station index where it is, or where its current commitment ends."""
    soc: float
    """State of charge, 0..1, at ``available_s``."""
    available_s: float = 0.0


@dataclass(frozen=True)
class TransportJob:
    """Move a container (or an empty trip when ``laden`` is False) between stations."""

    id: str
    from_station: int
    to_station: int
    earliest_s: float = 0.0
    deadline_s: float = math.inf
    priority: float = 1.0
    laden: bool = True


@dataclass(frozen=True)
class EnergyModel:
    """Battery figures (site.md estimates: 280 kWh; 1.5 kWh/km empty at 8.3 m/s,
    2.5 kWh/km laden at 5.6 m/s)."""

    capacity_kwh: float = 280.0
    unladen_kwh_per_s: float = 1.5 * 8.3 / 1000.0
    laden_kwh_per_s: float = 2.5 * 5.6 / 1000.0
    reserve_soc: float = 0.10


@dataclass(frozen=True)
class AssignOptions:
    """Cost weights and rules of the assignment."""

    empty_weight: float = 1.0
    wait_weight: float = 0.3
    lateness_weight: float = 20.0
    unassigned_cost_s: float = 3600.0
    handling_s: float = 60.0
    """Loading plus unloading time of a job."""
    laden_time_factor: float = 1.25
    """Laden legs take this times the unladen travel time (estimate: lower laden speed
    limit outside yards, 4 m/s for everyone inside)."""
    charge_below_soc: float = 0.25
    horizon_s: float = 900.0
    energy: EnergyModel = EnergyModel()


@dataclass(frozen=True, eq=False)
class AssignProblem:
    """One batch: the travel-time table, vehicles, open jobs, chargers.

    Parameters
    ----------
    travel_time_s : (S, S) float array
        Shortest unladen travel times between stations (``inf`` if unreachable), e.g.
        ``TrackMap.station_travel_time_s``.
    vehicles, jobs : tuples
    chargers : tuple of int
        Charger station indices.
    busy_chargers : tuple of int
        Chargers taken (not offered to low vehicles).
    now_s : float
    """

    travel_time_s: np.ndarray
    vehicles: tuple[VehicleState, ...]
    jobs: tuple[TransportJob, ...]
    chargers: tuple[int, ...]
    busy_chargers: tuple[int, ...] = ()
    now_s: float = 0.0

    def __post_init__(self) -> None:
        t = self.travel_time_s
        if t.ndim != 2 or t.shape[0] != t.shape[1]:
            raise ProblemError(f"travel_time_s must be a square matrix, got shape {t.shape}")
        n = t.shape[0]
        if not self.chargers:
            raise ProblemError("no charger stations given")
        for ch in self.chargers + self.busy_chargers:
            if not 0 <= ch < n:
                raise ProblemError(f"charger station {ch} outside 0..{n - 1}")
        ids = set()
        for v in self.vehicles:
            if v.id in ids:
                raise ProblemError(f"vehicle {v.id} listed twice")
            ids.add(v.id)
            if not 0 <= v.station < n:
                raise ProblemError(f"vehicle {v.id}: station {v.station} outside 0..{n - 1}")
            if not 0.0 <= v.soc <= 1.0:
                raise ProblemError(f"vehicle {v.id}: soc {v.soc} outside 0..1")
        ids = set()
        for j in self.jobs:
            if j.id in ids:
                raise ProblemError(f"job {j.id} listed twice")
            ids.add(j.id)
            for s in (j.from_station, j.to_station):
                if not 0 <= s < n:
                    raise ProblemError(f"job {j.id}: station {s} outside 0..{n - 1}")
            if not j.priority > 0:
                raise ProblemError(f"job {j.id}: priority must be positive, not {j.priority}")


class AssignStatus(Enum):
    OPTIMAL = "optimal"
    """The batch's min-cost assignment (exact)."""
    SOLVER_FAILED = "solver failed"
    """OR-Tools reported a failure (see ``reason``); nothing was assigned."""


class UnassignedReason(Enum):
    UNREACHABLE = "unreachable"
    """No route from any vehicle, from pickup to drop-off, or from the drop-off to a charger."""
    NO_VEHICLE = "no vehicle available"
    """Every vehicle is charging or busy beyond the horizon."""
    NO_CHARGED_VEHICLE = "no charged vehicle"
    """Vehicles could reach it, but none has the charge for the job and a charger after."""
    OUTBID = "vehicles serve other jobs"
    """Feasible, but the vehicles went to jobs of more priority or less cost."""


@dataclass(frozen=True)
class Assignment:
    job_id: str
    vehicle_id: str
    depart_s: float
    pickup_s: float
    delivery_s: float
    empty_travel_s: float
    lateness_s: float
    soc_after: float
    cost: float


@dataclass(frozen=True)
class ChargeOrder:
    vehicle_id: str
    charger: int
    arrive_s: float


@dataclass(frozen=True)
class AssignResult:
    status: AssignStatus
    assignments: tuple[Assignment, ...]
    charging: tuple[ChargeOrder, ...]
    unassigned: tuple[tuple[str, UnassignedReason], ...]
    waiting_for_charger: tuple[str, ...]
    """Vehicles under the threshold for which no free charger is reachable."""
    objective: float
    solve_time_s: float
    reason: str = ""


def _min_cost_matching(cost: np.ndarray, feasible: np.ndarray, unmatched_cost: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows (left) to columns (right), each used at most once; a row may stay unmatched
    at ``unmatched_cost[row]``. Returns the column of each row (-1 unmatched) and an
    error text ('' on success). Costs are integers."""
    from ortools.graph.python import min_cost_flow

    n_rows, n_cols = cost.shape
    rows, cols = np.nonzero(feasible)
    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    start = np.concatenate([np.full(n_rows, source), rows, n_rows + np.arange(n_cols), np.arange(n_rows)])
    end = np.concatenate([np.arange(n_rows), n_rows + cols, np.full(n_cols, sink), np.full(n_rows, sink)])
    unit = np.concatenate([np.zeros(n_rows), cost[rows, cols], np.zeros(n_cols), unmatched_cost]).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    # PERF: arcs are added in one vectorised call; per-arc Python calls dominate otherwise.
    arcs = flow.add_arcs_with_capacity_and_unit_cost(
        start.astype(np.int32), end.astype(np.int32), np.ones(start.shape[0], dtype=np.int64), unit
    )
    flow.set_nodes_supplies(np.array([source, sink], dtype=np.int32), np.array([n_rows, -n_rows], dtype=np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        return np.full(n_rows, -1), f"min-cost flow status {status}"
    flows = flow.flows(arcs)
    match = np.full(n_rows, -1, dtype=np.int64)
    pair_flow = flows[n_rows : n_rows + rows.shape[0]]
    used = pair_flow > 0
    match[rows[used]] = cols[used]
    return match, ""


def assign_jobs(
    problem: AssignProblem,
    options: AssignOptions = AssignOptions(),
    *,
    now: Callable[[], float] = time.perf_counter,
) -> AssignResult:
    """Assign a batch of jobs to vehicles (min-cost flow) and send low vehicles to charge.

    Parameters
    ----------
    problem : AssignProblem
    options : AssignOptions
    now : callable
        Wall clock for ``solve_time_s`` only (injected for tests).

    Returns
    -------
    AssignResult
        Assignments with their times, charge orders, and each unassigned job's reason.
    """
    t0 = now()
    p, o, e = problem, options, options.energy
    tt = p.travel_time_s
    chargers = np.asarray(p.chargers, dtype=np.int64)
    low = [v for v in p.vehicles if v.soc < o.charge_below_soc]
    pool = [v for v in p.vehicles if v.soc >= o.charge_below_soc and v.available_s <= p.now_s + o.horizon_s]
    charging, waiting = _charge_orders(p, low)
    n_j = len(p.jobs)
    if n_j == 0:
        return AssignResult(AssignStatus.OPTIMAL, (), charging, (), waiting, 0.0, now() - t0)

    src = np.array([j.from_station for j in p.jobs])
    dst = np.array([j.to_station for j in p.jobs])
    earliest = np.array([j.earliest_s for j in p.jobs], dtype=np.float64)
    deadline = np.array([j.deadline_s for j in p.jobs], dtype=np.float64)
    prio = np.array([j.priority for j in p.jobs], dtype=np.float64)
    laden = np.array([j.laden for j in p.jobs], dtype=bool)
    job_s = tt[src, dst] * np.where(laden, o.laden_time_factor, 1.0)
    job_rate = np.where(laden, e.laden_kwh_per_s, e.unladen_kwh_per_s)
    to_charger_s = tt[dst][:, chargers].min(axis=1)
    ready = np.maximum(earliest, p.now_s)
    job_ok = np.isfinite(job_s) & np.isfinite(to_charger_s)

    if pool:
        pos = np.array([v.station for v in pool])
        soc = np.array([v.soc for v in pool], dtype=np.float64)
        depart = np.maximum(np.array([v.available_s for v in pool], dtype=np.float64), p.now_s)
        empty_s = tt[pos[:, None], src[None, :]]
        reach = np.isfinite(empty_s) & job_ok[None, :]
        # Unreachable pairs compute inf - inf; they are masked out by ``feasible``.
        with np.errstate(invalid="ignore"):
            need_kwh = empty_s * e.unladen_kwh_per_s + job_s * job_rate + to_charger_s * e.unladen_kwh_per_s
            have_kwh = (soc - e.reserve_soc) * e.capacity_kwh
            feasible = reach & (need_kwh <= have_kwh[:, None] + 1e-9)
            pickup = np.maximum(depart[:, None] + empty_s, earliest[None, :])
            delivery = pickup + o.handling_s + job_s[None, :]
            late = np.maximum(delivery - deadline[None, :], 0.0)
            cost = o.empty_weight * empty_s + o.wait_weight * (pickup - ready[None, :]) + o.lateness_weight * prio[None, :] * late
        cost = np.where(feasible, cost, 0.0)
    else:
        reach = feasible = np.zeros((0, n_j), dtype=bool)
        cost = np.zeros((0, n_j))

    worst = np.where(feasible, cost, 0.0).max(axis=0) if pool else np.zeros(n_j)
    unmatched = np.round(_COST_SCALE * (worst + prio * o.unassigned_cost_s)).astype(np.int64)
    match, error = _min_cost_matching(np.round(_COST_SCALE * cost.T).astype(np.int64), feasible.T, unmatched)
    if error:
        return AssignResult(AssignStatus.SOLVER_FAILED, (), charging, (), waiting, math.inf, now() - t0, error)

    assignments = []
    unassigned = []
    objective = 0.0
    for jn, job in enumerate(p.jobs):
        vn = int(match[jn])
        if vn < 0:
            objective += float(unmatched[jn]) / _COST_SCALE
            unassigned.append((job.id, _why_unassigned(jn, pool, job_ok, reach, feasible)))
            continue
        v = pool[vn]
        used_kwh = empty_s[vn, jn] * e.unladen_kwh_per_s + job_s[jn] * job_rate[jn]
        objective += float(cost[vn, jn])
        assignments.append(
            Assignment(
                job.id,
                v.id,
                float(depart[vn]),
                float(pickup[vn, jn]),
                float(delivery[vn, jn]),
                float(empty_s[vn, jn]),
                float(late[vn, jn]),
                float(v.soc - used_kwh / e.capacity_kwh),
                float(cost[vn, jn]),
            )
        )
    return AssignResult(AssignStatus.OPTIMAL, tuple(assignments), charging, tuple(unassigned), waiting, objective, now() - t0)


def _why_unassigned(jn: int, pool: list, job_ok: np.ndarray, reach: np.ndarray, feasible: np.ndarray) -> UnassignedReason:
    if not job_ok[jn]:
        return UnassignedReason.UNREACHABLE
    if not pool:
        return UnassignedReason.NO_VEHICLE
    if not reach[:, jn].any():
        return UnassignedReason.UNREACHABLE
    if not feasible[:, jn].any():
        return UnassignedReason.NO_CHARGED_VEHICLE
    return UnassignedReason.OUTBID


def _charge_orders(p: AssignProblem, low: list[VehicleState]) -> tuple[tuple[ChargeOrder, ...], tuple[str, ...]]:
    """Low vehicles to free chargers, least total travel time first."""
    free = [c for c in dict.fromkeys(p.chargers) if c not in set(p.busy_chargers)]
    if not low:
        return (), ()
    if not free:
        return (), tuple(v.id for v in low)
    tt = p.travel_time_s[np.array([v.station for v in low])][:, np.array(free)]
    ok = np.isfinite(tt)
    cost = np.round(_COST_SCALE * np.where(ok, tt, 0.0)).astype(np.int64)
    unmatched = np.full(len(low), int(_COST_SCALE * 1e7), dtype=np.int64)
    match, error = _min_cost_matching(cost, ok, unmatched)
    orders, waiting = [], []
    for n, v in enumerate(low):
        c = int(match[n])
        if c < 0 or error:
            waiting.append(v.id)
        else:
            orders.append(ChargeOrder(v.id, free[c], max(v.available_s, p.now_s) + float(tt[n, c])))
    return tuple(orders), tuple(waiting)


def nearest_idle_vehicle(problem: AssignProblem, options: AssignOptions = AssignOptions()) -> AssignResult:
    """The greedy baseline (openTCS / Open-RMF style): jobs in order of earliest start
    (then priority), each to the nearest vehicle that is idle now and has the charge.
    Low vehicles are sent to charge exactly as in :func:`assign_jobs`."""
    p, o, e = problem, options, options.energy
    tt = p.travel_time_s
    chargers = np.asarray(p.chargers, dtype=np.int64)
    low = [v for v in p.vehicles if v.soc < o.charge_below_soc]
    charging, waiting = _charge_orders(p, low)
    idle = [v for v in p.vehicles if v.soc >= o.charge_below_soc and v.available_s <= p.now_s]
    taken: set[str] = set()
    assignments, unassigned = [], []
    for job in sorted(p.jobs, key=lambda j: (j.earliest_s, -j.priority, j.id)):
        rate = e.laden_kwh_per_s if job.laden else e.unladen_kwh_per_s
        job_s = tt[job.from_station, job.to_station] * (o.laden_time_factor if job.laden else 1.0)
        back = tt[job.to_station, chargers].min()
        best = None
        any_reach = any_charged = False
        for v in idle:
            empty = tt[v.station, job.from_station]
            if not np.isfinite(empty + job_s + back):
                continue
            any_reach = True
            need = empty * e.unladen_kwh_per_s + job_s * rate + back * e.unladen_kwh_per_s
            if need > (v.soc - e.reserve_soc) * e.capacity_kwh:
                continue
            any_charged = True
            if v.id not in taken and (best is None or empty < best[0]):
                best = (empty, v)
        if best is None:
            if not idle:
                reason = UnassignedReason.NO_VEHICLE
            elif not any_reach:
                reason = UnassignedReason.UNREACHABLE
            elif not any_charged:
                reason = UnassignedReason.NO_CHARGED_VEHICLE
            else:
                reason = UnassignedReason.OUTBID
            unassigned.append((job.id, reason))
            continue
        empty, v = best
        taken.add(v.id)
        pickup = max(p.now_s + empty, job.earliest_s)
        delivery = pickup + o.handling_s + job_s
        used = empty * e.unladen_kwh_per_s + job_s * rate
        assignments.append(
            Assignment(job.id, v.id, p.now_s, pickup, delivery, float(empty), max(0.0, delivery - job.deadline_s), v.soc - used / e.capacity_kwh, float(empty))
        )
    return AssignResult(AssignStatus.OPTIMAL, tuple(assignments), charging, tuple(unassigned), waiting, 0.0, 0.0)
