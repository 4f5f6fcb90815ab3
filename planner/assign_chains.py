"""Look-ahead job chains: up to a few jobs per IGV in sequence, planned with the OR-Tools
routing solver as a pickup-and-delivery problem with time windows.

Where :func:`planner.assign.assign_jobs` gives each vehicle its next job, this plans the
next two or three, so that a job is taken by the vehicle whose *later* position suits it
(the one delivering nearby), not only by the one nearest now. Same problem data, same
cost weights and the same rules as the one-step assignment:

* a vehicle starts at ``available_s`` from its station, drives empty to a pickup, waits
  for ``earliest_s`` if early, loads (``handling_s``), drives laden (``laden_time_factor``)
  to the drop-off; one container at a time; at most ``max_jobs`` jobs;
* the battery covers the whole chain plus the drive from the last drop-off to the
  nearest charger, with ``reserve_soc`` kept;
* cost: ``empty_weight`` per second of empty driving, ``lateness_weight * priority`` per
  second late (soft deadline); a job left out costs ``priority * unassigned_cost_s``.

Vehicles under ``charge_below_soc`` or busy beyond the horizon get no chain (charging
orders are :func:`planner.assign.assign_jobs`'s business). Times are whole seconds inside
the solver; the chains returned are re-timed exactly from the travel table.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable

import numpy as np

from planner.assign import AssignOptions, AssignProblem, UnassignedReason
from planner.errors import ProblemError

_WH = 1000.0
"""Energy inside the solver: whole watt-hours."""


class ChainStatus(Enum):
    SOLVED = "solved"
    """The routing solver's best plan within the budget (local search, no optimality proof)."""
    SOLVER_FAILED = "solver failed"
    """The solver returned no plan (see ``reason``); nothing was assigned."""


@dataclass(frozen=True)
class ChainStep:
    job_id: str
    depart_s: float
    pickup_s: float
    delivery_s: float
    empty_travel_s: float
    lateness_s: float


@dataclass(frozen=True)
class JobChain:
    vehicle_id: str
    steps: tuple[ChainStep, ...]
    soc_after: float
    """State of charge after the last delivery."""


@dataclass(frozen=True)
class ChainResult:
    status: ChainStatus
    chains: tuple[JobChain, ...]
    unassigned: tuple[tuple[str, UnassignedReason], ...]
    objective: float
    solve_time_s: float
    reason: str = ""


def plan_chains(
    problem: AssignProblem,
    options: AssignOptions = AssignOptions(),
    *,
    max_jobs: int = 3,
    time_limit_s: float = 1.0,
    now: Callable[[], float] = time.perf_counter,
) -> ChainResult:
    """Chains of up to ``max_jobs`` jobs per vehicle (see the module docstring).

    Parameters
    ----------
    problem : AssignProblem
    options : AssignOptions
    max_jobs : int
        Jobs per vehicle, 1..5 (2-3 is the intended look-ahead).
    time_limit_s : float
        Routing-solver budget (guided local search after a first plan).
    now : callable
        Wall clock for ``solve_time_s`` only.

    Returns
    -------
    ChainResult
        Chains (each vehicle's jobs in order, exactly timed) and the unassigned jobs
        with their reasons.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    if not 1 <= max_jobs <= 5:
        raise ProblemError(f"max_jobs must be 1..5, not {max_jobs}")
    t0 = now()
    p, o, e = problem, options, options.energy
    tt = p.travel_time_s
    fleet = [v for v in p.vehicles if v.soc >= o.charge_below_soc and v.available_s <= p.now_s + o.horizon_s]
    jobs = list(p.jobs)
    n_v, n_j = len(fleet), len(jobs)
    if n_j == 0 or n_v == 0:
        reason = UnassignedReason.NO_VEHICLE
        return ChainResult(ChainStatus.SOLVED, (), tuple((j.id, _reason(p, o, j, fleet, reason)) for j in jobs), 0.0, now() - t0)

    to_charger = tt[:, np.asarray(p.chargers)].min(axis=1)
    # Nodes: vehicle starts, vehicle ends (free, anywhere), then pickup/delivery per job.
    station = [v.station for v in fleet] + [-1] * n_v + [s for j in jobs for s in (j.from_station, j.to_station)]
    kind = ["start"] * n_v + ["end"] * n_v + ["pickup", "delivery"] * n_j
    job_of = [-1] * (2 * n_v) + [n for n in range(n_j) for _ in range(2)]
    manager = pywrapcp.RoutingIndexManager(len(station), n_v, list(range(n_v)), list(range(n_v, 2 * n_v)))
    routing = pywrapcp.RoutingModel(manager)
    huge = 10**9

    def leg(a: int, b: int) -> tuple[float, float]:
        """(seconds, kWh) from node a to node b, service at a included."""
        if kind[b] == "end":
            back = to_charger[station[a]]
            return 0.0, back * e.unladen_kwh_per_s if math.isfinite(back) else math.inf
        t = tt[station[a], station[b]]
        if kind[a] == "pickup":
            j = jobs[job_of[a]]
            t *= o.laden_time_factor if j.laden else 1.0
            return o.handling_s + t, t * (e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s)
        return t, t * e.unladen_kwh_per_s

    n_nodes = len(station)
    secs = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    kwh = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    arc_cost = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    for a in range(n_nodes):
        for b in range(n_nodes):
            if a == b or kind[a] == "end" or kind[b] == "start":
                continue
            s_ab, k_ab = leg(a, b)
            ok = math.isfinite(s_ab) and math.isfinite(k_ab)
            secs[a, b] = int(math.ceil(s_ab)) if ok else huge
            kwh[a, b] = int(math.ceil(_WH * k_ab)) if ok else huge
            if kind[b] == "pickup":
                arc_cost[a, b] = int(round(10 * o.empty_weight * s_ab)) if ok else huge

    # PERF: callbacks read precomputed tables; the solver calls them millions of times.
    time_cb = routing.RegisterTransitCallback(lambda i, j: int(secs[manager.IndexToNode(i), manager.IndexToNode(j)]))
    cost_cb = routing.RegisterTransitCallback(lambda i, j: int(arc_cost[manager.IndexToNode(i), manager.IndexToNode(j)]))
    energy_cb = routing.RegisterTransitCallback(lambda i, j: int(kwh[manager.IndexToNode(i), manager.IndexToNode(j)]))
    load_cb = routing.RegisterUnaryTransitCallback(lambda i: {"pickup": 1, "delivery": -1}.get(kind[manager.IndexToNode(i)], 0))
    count_cb = routing.RegisterUnaryTransitCallback(lambda i: 1 if kind[manager.IndexToNode(i)] == "pickup" else 0)
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)

    horizon = int(max([p.now_s] + [v.available_s for v in fleet] + [j.earliest_s for j in jobs]) + 24 * 3600)
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    clock = routing.GetDimensionOrDie("time")
    capacity = [max(0, int(_WH * (v.soc - e.reserve_soc) * e.capacity_kwh)) for v in fleet]
    routing.AddDimensionWithVehicleCapacity(energy_cb, 0, capacity, True, "energy")
    routing.AddDimension(load_cb, 0, 1, True, "load")
    routing.AddDimension(count_cb, 0, max_jobs, True, "count")
    for k, v in enumerate(fleet):
        start = int(math.ceil(max(v.available_s, p.now_s)))
        clock.CumulVar(routing.Start(k)).SetRange(start, start)
    for n, j in enumerate(jobs):
        pick = manager.NodeToIndex(2 * n_v + 2 * n)
        drop = manager.NodeToIndex(2 * n_v + 2 * n + 1)
        routing.AddPickupAndDelivery(pick, drop)
        routing.solver().Add(routing.VehicleVar(pick) == routing.VehicleVar(drop))
        routing.solver().Add(routing.ActiveVar(pick) == routing.ActiveVar(drop))
        routing.solver().Add(clock.CumulVar(pick) <= clock.CumulVar(drop))
        clock.CumulVar(pick).SetMin(int(math.ceil(j.earliest_s)))
        if math.isfinite(j.deadline_s):
            clock.SetCumulVarSoftUpperBound(drop, int(j.deadline_s), int(round(10 * o.lateness_weight * j.priority)))
        penalty = int(round(10 * j.priority * o.unassigned_cost_s))
        routing.AddDisjunction([pick], penalty)
        routing.AddDisjunction([drop], 0)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(max(10, int(1000 * time_limit_s)))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return ChainResult(ChainStatus.SOLVER_FAILED, (), (), math.inf, now() - t0, f"routing solver status {routing.status()}")

    chains, served, objective = [], set(), 0.0
    for k, v in enumerate(fleet):
        order = []
        index = routing.Start(k)
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            if kind[node] == "pickup":
                order.append(jobs[job_of[node]])
            index = solution.Value(routing.NextVar(index))
        if order:
            chain, cost = _timed_chain(p, o, v, order)
            chains.append(chain)
            objective += cost
            served.update(j.id for j in order)
    unassigned = tuple((j.id, _reason(p, o, j, fleet, UnassignedReason.OUTBID)) for j in jobs if j.id not in served)
    objective += sum(j.priority * o.unassigned_cost_s for j in jobs if j.id not in served)
    return ChainResult(ChainStatus.SOLVED, tuple(chains), unassigned, objective, now() - t0)


def _timed_chain(p: AssignProblem, o: AssignOptions, v, order) -> tuple[JobChain, float]:
    """Exact times and cost of a vehicle doing ``order`` back to back."""
    e = o.energy
    tt = p.travel_time_s
    t, pos, used, cost = max(v.available_s, p.now_s), v.station, 0.0, 0.0
    steps = []
    for j in order:
        empty = float(tt[pos, j.from_station])
        job_s = float(tt[j.from_station, j.to_station]) * (o.laden_time_factor if j.laden else 1.0)
        pickup = max(t + empty, j.earliest_s)
        delivery = pickup + o.handling_s + job_s
        late = max(0.0, delivery - j.deadline_s)
        steps.append(ChainStep(j.id, t, pickup, delivery, empty, late))
        used += empty * e.unladen_kwh_per_s + job_s * (e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s)
        cost += o.empty_weight * empty + o.lateness_weight * j.priority * late
        t, pos = delivery, j.to_station
    return JobChain(v.id, tuple(steps), v.soc - used / e.capacity_kwh), cost


def _reason(p: AssignProblem, o: AssignOptions, j, fleet, otherwise: UnassignedReason) -> UnassignedReason:
    """Why a job has no vehicle, judged as for a one-job chain."""
    e = o.energy
    tt = p.travel_time_s
    job_s = tt[j.from_station, j.to_station] * (o.laden_time_factor if j.laden else 1.0)
    back = min(tt[j.to_station, c] for c in p.chargers)
    if not math.isfinite(job_s + back):
        return UnassignedReason.UNREACHABLE
    if not fleet:
        return UnassignedReason.NO_VEHICLE
    reach = [v for v in fleet if math.isfinite(tt[v.station, j.from_station])]
    if not reach:
        return UnassignedReason.UNREACHABLE
    rate = e.laden_kwh_per_s if j.laden else e.unladen_kwh_per_s
    for v in reach:
        need = (tt[v.station, j.from_station] + back) * e.unladen_kwh_per_s + job_s * rate
        if need <= (v.soc - e.reserve_soc) * e.capacity_kwh:
            return otherwise
    return UnassignedReason.NO_CHARGED_VEHICLE
