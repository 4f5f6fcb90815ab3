"""Prioritized planning with SIPP, priority heuristics and randomized restarts.

Vehicles are routed one at a time in priority order, each against the reservations of
those before it (Erdmann & Lozano-Perez 1987; with SIPP as in Yakovlev & Andreychuk
2017). A vehicle that finds no path names its *blockers*: the earlier vehicles whose
reservations its lone best path runs into. The next attempt moves it just ahead of its
first blocker; when an order repeats or a vehicle keeps failing, a random perturbation
of the priorities restarts the search elsewhere.

The first order follows two heuristics: a vehicle whose start lies under another
vehicle's goal goes before that vehicle (it must leave before the other arrives), and
otherwise shorter trips go first (as in shortest-processing-time scheduling, this keeps
the sum of travel times low). Vehicles not yet planned *hold* their start cell, so that
nobody plans to drive through a vehicle that has not moved yet or to wait in its bay.
When reordering cannot help, because the vehicle in the way would have to wait for the
failing one to clear out (a swap through a siding), the vehicles in the way are held
on their starts a little longer at each attempt.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from planner.reservations import ReservationTable
from planner.sipp import FOUND, RoutingGraph, plan_vehicle, reserve_path
from planner.types import Problem, VehiclePath


DELAY_STEP_S = 8.0
"""First departure delay given to a vehicle that others cannot get out of the way of."""
MAX_DELAY_S = 512.0


@dataclass
class RoutingSession:
    """Everything the routing layers share for one problem.

    Owners of ``table``: vehicle ``i`` is owner ``i``; parked vehicle ``k`` is owner
    ``n_vehicles + k`` (always active); the *start hold* of vehicle ``i`` (its start cell,
    reserved for ever while it is not yet planned) is owner ``hold_owner(i)``; its
    committed reservations (already released steps, when replanning) are owner
    ``committed_owner(i)``, active for everyone but itself.

    ``start_times_s[i]`` is when vehicle ``i`` stands on its start and may be planned
    from (the problem's start time unless it finishes a committed prefix first).
    Vehicles in ``no_hold`` get no start hold: their holds blocked each other in turn.
    """

    graph: RoutingGraph
    problem: Problem
    table: ReservationTable
    heuristics: list[np.ndarray]
    lower_bounds_s: np.ndarray
    goal_sitters: list[list[int]]
    start_times_s: np.ndarray
    no_hold: set[int] = field(default_factory=set)
    committed: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray], ...] = ()
    max_expansions: int = 200_000
    expansions: int = 0
    searches: int = 0

    @property
    def n_vehicles(self) -> int:
        return self.problem.n_vehicles

    def hold_owner(self, i: int) -> int:
        return self.n_vehicles + len(self.problem.parked) + i

    def committed_owner(self, i: int) -> int:
        return 2 * self.n_vehicles + len(self.problem.parked) + i

    def reset(self) -> None:
        """Empty the table but for parked vehicles and committed reservations."""
        self.table.clear()
        n = self.n_vehicles
        t0 = self.problem.start_time_s
        for k, p in enumerate(self.problem.parked):
            self.table.add(n + k, np.array([p.cell]), np.array([t0]), np.array([math.inf]))
        for i, cells, start, end in self.committed:
            self.table.add(self.committed_owner(i), cells, start, end)

    def add_holds(self, vehicles: list[int]) -> None:
        """Reserve the start cells of ``vehicles`` for ever (they are not planned yet)."""
        for i in vehicles:
            if i in self.no_hold:
                continue
            self.table.add(self.hold_owner(i), np.array([self.problem.vehicles[i].start_cell]),
                           np.array([self.start_times_s[i]]), np.array([math.inf]))

    def release_hold(self, i: int) -> None:
        self.table.remove(self.hold_owner(i), np.array([self.problem.vehicles[i].start_cell]))

    def active_mask(self, vehicles: np.ndarray | list[int] | None = None) -> np.ndarray:
        """Parked vehicles plus ``vehicles`` (all vehicles when None); no start holds."""
        mask = np.zeros(self.table.n_owners, dtype=np.bool_)
        n, p = self.n_vehicles, len(self.problem.parked)
        mask[n : n + p] = True
        mask[2 * n + p :] = True
        if vehicles is None:
            mask[:n] = True
        else:
            mask[np.asarray(vehicles, dtype=np.int64)] = True
        return mask

    def hold_mask(self, i: int) -> np.ndarray:
        """Everything active except the holds that vehicle ``i`` must ignore: its own and
        those of vehicles standing on one of its goals (they are to leave before it comes)."""
        mask = np.ones(self.table.n_owners, dtype=np.bool_)
        mask[self.hold_owner(i)] = False
        for j in self.goal_sitters[i]:
            mask[self.hold_owner(j)] = False
        return mask

    def search(self, i: int, active: np.ndarray | None = None, delay_s: float = 0.0):
        """SIPP for vehicle ``i`` against the table (never against its own commitments),
        leaving its start no earlier than ``delay_s`` after it may."""
        task = self.problem.vehicles[i]
        if delay_s > 0.0:
            task = replace(task, ready_s=max(task.ready_s, float(self.start_times_s[i])) + delay_s)
        active = self.table.all_active() if active is None else active.copy()
        active[self.committed_owner(i)] = False
        outcome = plan_vehicle(
            self.graph, self.table, task, start_time_s=float(self.start_times_s[i]), active=active,
            heuristics=self.heuristics[i], max_expansions=self.max_expansions,
        )
        self.expansions += outcome.expansions
        self.searches += 1
        return outcome

    def blockers(self, i: int, active: np.ndarray) -> tuple[list[int], list[int]]:
        """Who is in the way of vehicle ``i``'s path planned with parked vehicles only:
        ``(vehicles, held)``, the active vehicles whose paths and the vehicles whose start
        holds (active in ``active``) it runs into."""
        outcome = self.search(i, self.active_mask([]))
        if outcome.path is None:
            return [], []
        start, end = outcome.path.occupancy()
        owners = self.table.overlapping_owners(outcome.path.cells, start, end, i, active)
        n, p = self.n_vehicles, len(self.problem.parked)
        return [int(o) for o in owners if o < n], [int(o) - n - p for o in owners if n + p <= o < 2 * n + p]


def make_session(
    graph: RoutingGraph,
    problem: Problem,
    max_expansions: int = 200_000,
    committed: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray], ...] = (),
) -> RoutingSession:
    """Heuristics, lower bounds and a table holding parked vehicles and ``committed``
    reservations ``(vehicle, cells, start_s, end_s)`` for ``problem``."""
    graph.prefetch([(leg.goal_cell, leg.max_speed_mps) for v in problem.vehicles for leg in v.legs])
    heuristics = [graph.leg_heuristics(v) for v in problem.vehicles]
    starts = problem.start_times()
    lbs = np.array([max(v.ready_s - s, 0.0) + float(h[0, v.start_cell]) for v, h, s in zip(problem.vehicles, heuristics, starts)])
    # owners: vehicles, parked, start holds, commitments
    table = ReservationTable(problem.track_map, 3 * problem.n_vehicles + len(problem.parked))
    tm = problem.track_map
    standing_on: dict[int, list[int]] = {}
    for j, v in enumerate(problem.vehicles):
        for c in tm.cell_conflicts(v.start_cell):
            standing_on.setdefault(int(c), []).append(j)
    sitters = [
        sorted({j for leg in v.legs for j in standing_on.get(leg.goal_cell, []) if j != i}) for i, v in enumerate(problem.vehicles)
    ]
    session = RoutingSession(graph, problem, table, heuristics, lbs, sitters, starts, set(), tuple(committed), max_expansions)
    session.reset()
    return session


def priority_order(session: RoutingSession, noise: float = 0.0, rng: np.random.Generator | None = None) -> list[int]:
    """The heuristic priority order (optionally with multiplicative noise on trip lengths)."""
    n = session.n_vehicles
    key = session.lower_bounds_s.copy()
    if noise > 0 and rng is not None:
        key *= rng.uniform(1.0 - noise, 1.0 + noise, size=n)
    # b -> a: b stands where a wants to stop, so b goes first
    after: list[list[int]] = [[] for _ in range(n)]
    indegree = np.zeros(n, dtype=np.int64)
    for a in range(n):
        for b in session.goal_sitters[a]:
            after[b].append(a)
            indegree[a] += 1
    heap = [(float(key[i]), i) for i in range(n) if indegree[i] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    placed = np.zeros(n, dtype=bool)
    while len(order) < n:
        if not heap:
            # a cycle of start/goal swaps: break it at its longest trip
            rest = [i for i in range(n) if not placed[i]]
            i = min(rest, key=lambda j: key[j])
            indegree[i] = 0
            heap.append((float(key[i]), i))
        _, i = heapq.heappop(heap)
        if placed[i]:
            continue
        placed[i] = True
        order.append(i)
        for a in after[i]:
            indegree[a] -= 1
            if indegree[a] == 0 and not placed[a]:
                heapq.heappush(heap, (float(key[a]), a))
    return order


@dataclass
class Attempt:
    """One pass of prioritized planning over an order."""

    order: list[int]
    paths: list[VehiclePath | None]
    failed: int = -1
    planned: int = 0


def run_order(session: RoutingSession, order: list[int], deadline_s: float = math.inf,
              now: Callable[[], float] = time.perf_counter, standing: frozenset[int] = frozenset(),
              delays: dict[int, float] | None = None) -> Attempt:
    """Plan vehicles in ``order``; stop at the first that fails (or at the deadline).

    Vehicles in ``standing`` do not move: they stay on their start for ever (used to
    build partial plans). ``delays[i]`` holds vehicle ``i`` on its start that much longer.
    """
    delays = delays or {}
    session.reset()
    problem = session.problem
    paths: list[VehiclePath | None] = [None] * session.n_vehicles
    for i in standing:
        paths[i] = VehiclePath.standing(problem.vehicles[i].start_cell, float(session.start_times_s[i]))
        reserve_path(session.table, i, paths[i])
    attempt = Attempt(list(order), paths)
    # Unplanned vehicles hold their starts, so that nobody plans to drive through a
    # vehicle that has not moved yet (or to wait in its bay).
    session.add_holds([i for i in order if i not in standing])
    for i in order:
        if i in standing:
            continue
        if now() > deadline_s:
            attempt.failed = i
            return attempt
        outcome = session.search(i, session.hold_mask(i), delays.get(i, 0.0))
        if outcome.code != FOUND:
            attempt.failed = i
            return attempt
        session.release_hold(i)
        paths[i] = outcome.path
        reserve_path(session.table, i, outcome.path)
        attempt.planned += 1
    return attempt


@dataclass
class PrioritizedResult:
    paths: list[VehiclePath | None]
    solved: bool
    restarts: int
    failures: dict[int, int] = field(default_factory=dict)
    best: Attempt | None = None


def plan_prioritized(
    session: RoutingSession,
    rng: np.random.Generator,
    deadline_s: float,
    now: Callable[[], float] = time.perf_counter,
    max_restarts: int = 1_000_000,
) -> PrioritizedResult:
    """Prioritized planning with restarts until solved, the deadline or ``max_restarts``.

    Returns the solved paths, or the attempt that planned the most vehicles.
    """
    order = priority_order(session)
    delays: dict[int, float] = {}
    seen: set[tuple] = set()
    failures: dict[int, int] = {}
    best: Attempt | None = None
    restarts = 0
    while True:
        seen.add((tuple(order), tuple(sorted(delays.items()))))
        attempt = run_order(session, order, deadline_s, now, delays=delays)
        if attempt.failed < 0:
            return PrioritizedResult(attempt.paths, True, restarts, failures, attempt)
        if best is None or attempt.planned > best.planned:
            best = attempt
        if now() > deadline_s or restarts >= max_restarts:
            return PrioritizedResult(best.paths, False, restarts, failures, best)
        restarts += 1
        f = attempt.failed
        failures[f] = failures.get(f, 0) + 1
        position = {v: k for k, v in enumerate(order)}
        blockers, held = session.blockers(f, session.hold_mask(f))
        blockers = [b for b in blockers if position[b] < position[f]]
        if held and failures[f] > 1:
            # holds that keep failing the same vehicle are blocking each other in turn
            # (two vehicles each standing in the other's way): let them go
            session.no_hold.update(held)
            session.no_hold.add(f)
        new_order = None
        if (blockers or held) and failures[f] <= 3:
            # f goes just ahead of the first vehicle in its way; vehicles whose starts are
            # in its way go just ahead of f (their real paths replace their holds)
            first = min([position[b] for b in blockers] + [position[f]])
            moved = [f] if not held else [*held, f]
            candidate = [v for v in order[:first] if v not in moved] + moved + [v for v in order[first:] if v not in moved]
            if (tuple(candidate), tuple(sorted(delays.items()))) not in seen:
                new_order = candidate
        if new_order is None and blockers:
            # Neither order works when the vehicle first in line has to wait for the
            # other to get out of its way (a swap through a siding): hold the vehicles in
            # the way on their starts, a little longer each time.
            longer = {**delays, **{b: min(max(2.0 * delays.get(b, 0.0), DELAY_STEP_S), MAX_DELAY_S) for b in blockers}}
            if longer != delays and (tuple(order), tuple(sorted(longer.items()))) not in seen:
                delays = longer
                new_order = order
        if new_order is None:
            # A perturbed heuristic order keeps most of the good structure (start
            # before goal, short trips first) while escaping the cycle of repairs.
            new_order = priority_order(session, noise=0.5, rng=rng)
            boosted = sorted(failures, key=lambda v: -failures[v])
            head = [v for v in boosted if rng.random() < 0.5]
            new_order = head + [v for v in new_order if v not in set(head)]
            delays = {}
        order = new_order


def best_of_orders(
    session: RoutingSession,
    paths: list[VehiclePath],
    rng: np.random.Generator,
    deadline_s: float,
    now: Callable[[], float] = time.perf_counter,
    noise: float = 0.5,
) -> list[VehiclePath]:
    """Anytime improvement: plan perturbed heuristic orders until the deadline and keep
    the complete plan with the least total travel time (``paths`` if none beats it).

    Leaves ``session.table`` holding the returned paths.
    """
    begin = session.start_times_s
    best = list(paths)
    best_cost = float(sum(p.end_s - b for p, b in zip(best, begin)))
    while now() < deadline_s:
        attempt = run_order(session, priority_order(session, noise=noise, rng=rng), deadline_s, now)
        if attempt.failed >= 0:
            continue
        cost = float(sum(p.end_s - b for p, b in zip(attempt.paths, begin)))
        if cost < best_cost:
            best, best_cost = list(attempt.paths), cost
    session.reset()
    for i, p in enumerate(best):
        reserve_path(session.table, i, p)
    return best

