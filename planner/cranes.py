"""Scheduling the rail-mounted gantry cranes of one yard block.

Requests are IGV deliveries and pickups at the waterside transfer point, road-truck
services at the landside one, and relocations inside the block. A crane move: gantry
travel to the pick position, a hoist cycle (``hoist_cycle_s``: lower, lock, raise),
gantry travel to the drop position, a hoist cycle. A delivering vehicle is released
when the crane has lifted its container, a collecting one when the container is set
down on it. The objective is the weighted time vehicles spend at the block (an IGV
waiting costs more than a truck; relocations weigh little).

With two cranes on one block the waterside crane (0) always stays at least
``min_separation_m`` below the landside crane (1). Timing follows one exact rule set
(:func:`decode`): every crane move holds the stretch of rail between its start, pick
and drop positions from departure to the end of its last hoist cycle, and a resting
crane holds its position; stretches held at the same time by the two cranes must be
``min_separation_m`` apart. A crane in the way is first sent out of the way (a
repositioning move). Given each crane's sequence of requests the decoder gives the
earliest such times. The sequences come from CP-SAT (a circuit per crane, sequence-
dependent gantry travel, release times, precedence, the two cranes kept apart on
conflicting requests) improved by a local search on the decoded objective; the
first-come-first-served rule (:func:`fcfs_schedule`) is the baseline.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Sequence

import numpy as np

from planner.errors import ProblemError


class RequestKind(Enum):
    IGV_DELIVERY = "igv_delivery"
    IGV_PICKUP = "igv_pickup"
    TRUCK_DELIVERY = "truck_delivery"
    TRUCK_PICKUP = "truck_pickup"
    RELOCATION = "relocation"


_DELIVERIES = (RequestKind.IGV_DELIVERY, RequestKind.TRUCK_DELIVERY)


@dataclass(frozen=True)
class CraneRequest:
    """One crane move. ``bay`` is the slot's bay (source of pickups and relocations,
    destination of deliveries); ``to_bay`` the destination of a relocation."""

    id: str
    kind: RequestKind
    bay: int
    release_s: float = 0.0
    """Vehicle arrival at the transfer point (relocations: when they may start)."""
    to_bay: int | None = None
    weight: float | None = None
    """Cost per second at the block; None takes ``CraneOptions`` by kind."""
    after: tuple[str, ...] = ()
    """Requests that must end before this one starts (e.g. a relocation before a pickup)."""


@dataclass(frozen=True)
class CraneBlock:
    """Rail geometry and crane speeds (site.md: gantry 4 m/s, 90-150 s a move)."""

    bays: int = 40
    bay_length_m: float = 6.5
    gantry_speed_mps: float = 4.0
    hoist_cycle_s: float = 30.0
    min_separation_m: float = 13.0
    """Closest approach of the two cranes' gantry centres (estimate: two bays)."""

    def __post_init__(self) -> None:
        if self.bays < 1 or not self.bay_length_m > 0 or not self.gantry_speed_mps > 0 or self.hoist_cycle_s < 0:
            raise ProblemError("crane block needs bays >= 1, positive bay length and gantry speed, hoist cycle >= 0")

    @property
    def waterside_m(self) -> float:
        return 0.0

    @property
    def landside_m(self) -> float:
        return (self.bays + 1) * self.bay_length_m

    def bay_m(self, bay: int) -> float:
        return (bay + 1) * self.bay_length_m


@dataclass(frozen=True)
class CraneOptions:
    igv_weight: float = 3.0
    truck_weight: float = 1.0
    relocation_weight: float = 0.05
    cp_sat_share: float = 0.3
    """Share of the time budget given to CP-SAT; local search gets the rest."""
    workers: int = 2
    seed: int = 0


@dataclass(frozen=True)
class CraneState:
    position_m: float
    free_s: float = 0.0


@dataclass(frozen=True)
class CraneMove:
    """A timed crane move. ``request_id`` None: a repositioning move (no hoisting;
    ``pick_m == drop_m``, ``pick_start_s == drop_start_s == end_s`` = arrival).
    The crane rests at ``from_m`` until ``depart_s``, travels at gantry speed to
    ``pick_m``, waits there, hoists from ``pick_start_s``, travels to ``drop_m``, waits,
    hoists from ``drop_start_s`` and ends at ``end_s``."""

    crane: int
    request_id: str | None
    depart_s: float
    from_m: float
    pick_m: float
    pick_start_s: float
    drop_m: float
    drop_start_s: float
    end_s: float


class CraneStatus(Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class CraneSchedule:
    status: CraneStatus
    moves: tuple[tuple[CraneMove, ...], ...]
    """Per crane, in time order (repositioning moves included)."""
    served_s: dict[str, float]
    """When each request's vehicle was released (relocations: their end)."""
    objective: float
    reason: str = ""
    solver: str = ""

    def wait_s(self, requests: Sequence[CraneRequest], kinds: Sequence[RequestKind]) -> list[float]:
        """Time at the block (served - release) of the requests of these kinds."""
        return [self.served_s[r.id] - r.release_s for r in requests if r.kind in kinds and r.id in self.served_s]


@dataclass(frozen=True)
class _Req:
    idx: int
    pick_m: float
    drop_m: float
    release_s: float
    weight: float
    delivery: bool
    """The vehicle is released when the container is lifted (served at pick)."""
    pick_after_release: bool
    drop_after_release: bool
    after: tuple[int, ...]
    eligible: tuple[int, ...]


def _prepare(block: CraneBlock, requests: Sequence[CraneRequest], n_cranes: int, options: CraneOptions) -> tuple[list[_Req], str]:
    """Positions, weights and eligible cranes; a reason text if some request fits no crane."""
    ids = {r.id: n for n, r in enumerate(requests)}
    if len(ids) != len(requests):
        raise ProblemError("a crane request id appears twice")
    out: list[_Req] = []
    reason = ""
    for n, r in enumerate(requests):
        if not 0 <= r.bay < block.bays or (r.to_bay is not None and not 0 <= r.to_bay < block.bays):
            raise ProblemError(f"request {r.id}: bay outside 0..{block.bays - 1}")
        if r.kind is RequestKind.RELOCATION and r.to_bay is None:
            raise ProblemError(f"request {r.id}: a relocation needs to_bay")
        for a in r.after:
            if a not in ids:
                raise ProblemError(f"request {r.id}: unknown predecessor {a!r}")
        slot = block.bay_m(r.bay)
        if r.kind is RequestKind.IGV_DELIVERY:
            pick, drop, w = block.waterside_m, slot, options.igv_weight
        elif r.kind is RequestKind.IGV_PICKUP:
            pick, drop, w = slot, block.waterside_m, options.igv_weight
        elif r.kind is RequestKind.TRUCK_DELIVERY:
            pick, drop, w = block.landside_m, slot, options.truck_weight
        elif r.kind is RequestKind.TRUCK_PICKUP:
            pick, drop, w = slot, block.landside_m, options.truck_weight
        else:
            pick, drop, w = slot, block.bay_m(r.to_bay), options.relocation_weight  # type: ignore[arg-type]
        lo, hi = min(pick, drop), max(pick, drop)
        if n_cranes == 1:
            eligible: tuple[int, ...] = (0,)
        else:
            sep = block.min_separation_m
            eligible = tuple(k for k, ok in ((0, hi <= block.landside_m - sep), (1, lo >= block.waterside_m + sep)) if ok)
        if not eligible and not reason:
            reason = f"request {r.id} (bay {r.bay}) is out of reach of every crane"
        pickup = r.kind in (RequestKind.IGV_PICKUP, RequestKind.TRUCK_PICKUP)
        weight = r.weight if r.weight is not None else w
        after = tuple(ids[a] for a in r.after)
        out.append(_Req(n, pick, drop, r.release_s, weight, r.kind in _DELIVERIES, not pickup, pickup, after, eligible))
    _check_acyclic(out, requests)
    return out, reason


def _check_acyclic(reqs: list[_Req], requests: Sequence[CraneRequest]) -> None:
    state = [0] * len(reqs)

    def visit(i: int) -> None:
        state[i] = 1
        for a in reqs[i].after:
            if state[a] == 1:
                raise ProblemError(f"request {requests[i].id}: precedence cycle through {requests[a].id}")
            if state[a] == 0:
                visit(a)
        state[i] = 2

    for i in range(len(reqs)):
        if state[i] == 0:
            visit(i)


# ---------------------------------------------------------------------------------------
# the decoder: exact timing of given sequences


class _Crane:
    def __init__(self, state: CraneState) -> None:
        self.pos = state.position_m
        self.free = state.free_s
        self.occ: list[tuple[float, float, float, float]] = []  # (t0, t1, lo, hi)
        # (request index or -1, depart, from, pick, pick start, drop, drop start, end)
        self.moves: list[tuple[int, float, float, float, float, float, float, float]] = []


def _clash(k: int, lo: float, hi: float, other_lo: float, other_hi: float, sep: float) -> bool:
    """Do stretches of crane ``k`` and the other crane come closer than ``sep``?"""
    if k == 0:
        return hi + sep > other_lo + 1e-9
    return other_hi + sep > lo + 1e-9


def decode(
    block: CraneBlock, reqs: list[_Req], states: Sequence[CraneState], sequences: Sequence[Sequence[int]]
) -> tuple[float, list[_Crane], dict[int, float]] | None:
    """Earliest timing of per-crane request sequences; None if the sequences deadlock on
    precedence. Returns (objective, cranes with their moves, served time per request)."""
    v, h = block.gantry_speed_mps, block.hoist_cycle_s
    cranes = [_Crane(s) for s in states]
    ends: dict[int, float] = {}
    served: dict[int, float] = {}
    cursor = [0] * len(sequences)
    objective = 0.0
    total = sum(len(s) for s in sequences)
    while len(ends) < total:
        best = None
        for k, seq in enumerate(sequences):
            if cursor[k] >= len(seq):
                continue
            r = reqs[seq[cursor[k]]]
            if any(a not in ends for a in r.after):
                continue
            c = cranes[k]
            ready = max(c.free + abs(c.pos - r.pick_m) / v, r.release_s if r.pick_after_release else r.release_s - h - abs(r.pick_m - r.drop_m) / v)
            if best is None or ready < best[0]:
                best = (ready, k)
        if best is None:
            return None
        k = best[1]
        r = reqs[sequences[k][cursor[k]]]
        cursor[k] += 1
        c = cranes[k]
        start_after = max([c.free] + [ends[a] for a in r.after])
        if len(cranes) == 2:
            start_after = _clear_way(block, cranes, k, r, start_after)
        depart, pick_start, drop_start, end = _times(block, c.pos, r, start_after)
        lo, hi = min(c.pos, r.pick_m, r.drop_m), max(c.pos, r.pick_m, r.drop_m)
        if depart > c.free:
            c.occ.append((c.free, depart, c.pos, c.pos))
        c.occ.append((depart, end, lo, hi))
        c.moves.append((r.idx, depart, c.pos, r.pick_m, pick_start, r.drop_m, drop_start, end))
        c.pos, c.free = r.drop_m, end
        ends[r.idx] = end
        served[r.idx] = pick_start + h if r.delivery else end
        objective += r.weight * (served[r.idx] - r.release_s)
    return objective, cranes, served


def _times(block: CraneBlock, pos: float, r: _Req, start_after: float) -> tuple[float, float, float, float]:
    """Depart, pick start, drop start, end of a move leaving no earlier than ``start_after``
    and arriving just in time for the vehicle."""
    v, h = block.gantry_speed_mps, block.hoist_cycle_s
    t1 = abs(pos - r.pick_m) / v
    t2 = abs(r.pick_m - r.drop_m) / v
    pick_start = start_after + t1
    if r.pick_after_release:
        pick_start = max(pick_start, r.release_s)
    if r.drop_after_release:
        pick_start = max(pick_start, r.release_s - h - t2)
    drop_start = pick_start + h + t2
    if r.drop_after_release:
        drop_start = max(drop_start, r.release_s)
    return pick_start - t1, pick_start, drop_start, drop_start + h


def _clear_way(block: CraneBlock, cranes: list[_Crane], k: int, r: _Req, start_after: float) -> float:
    """The earliest departure of crane ``k``'s move that keeps clear of the other crane,
    sending the other crane out of the way when its rest position blocks the move."""
    sep = block.min_separation_m
    c, o = cranes[k], cranes[1 - k]
    lo, hi = min(c.pos, r.pick_m, r.drop_m), max(c.pos, r.pick_m, r.drop_m)
    yielded = False
    while True:
        depart, _, _, end = _times(block, c.pos, r, start_after)
        # Crane k rests at c.pos until departing, holds [lo, hi] while moving, then rests
        # at the drop position: none of it may come near what the other crane holds.
        later = start_after
        for t0, t1, olo, ohi in o.occ:
            if t1 <= c.free:
                continue
            rest_before = t0 < depart and c.free < t1 and _clash(k, c.pos, c.pos, olo, ohi, sep)
            moving = t0 < end and depart < t1 and _clash(k, lo, hi, olo, ohi, sep)
            rest_after = t1 > end and _clash(k, r.drop_m, r.drop_m, olo, ohi, sep)
            if rest_before or moving or rest_after:
                later = max(later, t1)
        if later > start_after:
            start_after = later
            continue
        held_lo, held_hi = (lo, hi) if end > o.free else (r.drop_m, r.drop_m)
        if _clash(k, held_lo, held_hi, o.pos, o.pos, sep):
            if yielded:  # pragma: no cover - a repositioning move always clears the stretch
                raise ProblemError("internal: crane repositioning did not clear the way")
            _reposition(block, o, hi + sep if k == 0 else lo - sep)
            yielded = True
            continue
        return start_after


def _reposition(block: CraneBlock, o: _Crane, target: float) -> None:
    arrive = o.free + abs(o.pos - target) / block.gantry_speed_mps
    o.occ.append((o.free, arrive, min(o.pos, target), max(o.pos, target)))
    o.moves.append((-1, o.free, o.pos, target, arrive, target, arrive, arrive))
    o.pos, o.free = target, arrive


# ---------------------------------------------------------------------------------------
# sequences: FCFS, CP-SAT, local search


def _fcfs_sequences(reqs: list[_Req], states: Sequence[CraneState], n_cranes: int) -> list[list[int]]:
    seqs: list[list[int]] = [[] for _ in range(n_cranes)]
    for r in sorted(reqs, key=lambda r: (r.release_s, r.idx)):
        if len(r.eligible) == 1:
            seqs[r.eligible[0]].append(r.idx)
        else:
            seqs[min(r.eligible, key=lambda k: abs(states[k].position_m - r.pick_m))].append(r.idx)
    return seqs


def _cp_sat_sequences(
    block: CraneBlock,
    reqs: list[_Req],
    states: Sequence[CraneState],
    n_cranes: int,
    time_limit_s: float,
    options: CraneOptions,
    hint: list[list[int]],
) -> tuple[list[list[int]], bool] | None:
    """Sequences from a CP-SAT model (0.1 s time units), starting from the ``hint``
    sequences; returns (sequences, proven optimal) or None if nothing was found."""
    from ortools.sat.python import cp_model

    scale = 10.0
    v, h, sep = block.gantry_speed_mps, block.hoist_cycle_s, block.min_separation_m
    n = len(reqs)
    move_max = 2 * h + 2 * block.landside_m / v
    horizon = int(scale * (max([r.release_s for r in reqs] + [s.free_s for s in states]) + (n + 2) * move_max)) + 1
    m = cp_model.CpModel()
    pick = [m.NewIntVar(0, horizon, f"p{i}") for i in range(n)]
    drop = [m.NewIntVar(0, horizon, f"d{i}") for i in range(n)]
    on: dict[tuple[int, int], cp_model.IntVar] = {}
    obj = []
    for r in reqs:
        i = r.idx
        m.Add(drop[i] >= pick[i] + int(math.ceil(scale * (h + abs(r.pick_m - r.drop_m) / v))))
        if r.pick_after_release:
            m.Add(pick[i] >= int(math.ceil(scale * r.release_s)))
        if r.drop_after_release:
            m.Add(drop[i] >= int(math.ceil(scale * r.release_s)))
        for a in r.after:
            m.Add(pick[i] >= drop[a] + int(scale * h))
        lits = []
        for k in r.eligible:
            on[(i, k)] = m.NewBoolVar(f"on{i}_{k}")
            lits.append(on[(i, k)])
        m.AddExactlyOne(lits)
        served = pick[i] if r.delivery else drop[i]
        obj.append(int(round(100 * r.weight)) * served)
    arc_lit: dict[tuple[int, int, int], cp_model.IntVar] = {}
    for k in range(n_cranes):
        mine = [r for r in reqs if (r.idx, k) in on]
        arc_lit[(k, -1, -1)] = m.NewBoolVar(f"idle{k}")
        arcs = [(0, 0, arc_lit[(k, -1, -1)])]
        for r in mine:
            i = r.idx
            arcs.append((i + 1, i + 1, on[(i, k)].Not()))
            first = m.NewBoolVar(f"f{k}_{i}")
            arc_lit[(k, -1, i)] = first
            arcs.append((0, i + 1, first))
            m.Add(pick[i] >= int(scale * (states[k].free_s + abs(states[k].position_m - r.pick_m) / v))).OnlyEnforceIf(first)
            arc_lit[(k, i, -1)] = m.NewBoolVar(f"l{k}_{i}")
            arcs.append((i + 1, 0, arc_lit[(k, i, -1)]))
            for q in mine:
                if q.idx == i:
                    continue
                lit = m.NewBoolVar(f"a{k}_{i}_{q.idx}")
                arc_lit[(k, i, q.idx)] = lit
                arcs.append((i + 1, q.idx + 1, lit))
                gap = int(math.ceil(scale * (h + abs(r.drop_m - q.pick_m) / v)))
                m.Add(pick[q.idx] >= drop[i] + gap).OnlyEnforceIf(lit)
        m.AddCircuit(arcs)
    if n_cranes == 2:
        for r in reqs:
            for q in reqs:
                if (r.idx, 0) not in on or (q.idx, 1) not in on or r.idx == q.idx:
                    continue
                if max(r.pick_m, r.drop_m) + sep <= min(q.pick_m, q.drop_m):
                    continue
                first = m.NewBoolVar(f"o{r.idx}_{q.idx}")
                both = [on[(r.idx, 0)], on[(q.idx, 1)]]
                m.Add(pick[q.idx] >= drop[r.idx] + int(scale * h)).OnlyEnforceIf(both + [first])
                m.Add(pick[r.idx] >= drop[q.idx] + int(scale * h)).OnlyEnforceIf(both + [first.Not()])
    m.Minimize(sum(obj))
    _add_hint(m, block, reqs, states, hint, on, arc_lit, pick, drop, scale)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_search_workers = max(1, options.workers)
    solver.parameters.random_seed = options.seed
    status = solver.Solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    seqs: list[list[int]] = [[] for _ in range(n_cranes)]
    for (i, k), lit in on.items():
        if solver.Value(lit):
            seqs[k].append(i)
    for k in range(n_cranes):
        seqs[k].sort(key=lambda i: solver.Value(pick[i]))
    return seqs, status == cp_model.OPTIMAL and n_cranes == 1


def _add_hint(m, block, reqs, states, hint, on, arc_lit, pick, drop, scale) -> None:
    """Hint CP-SAT with the decoded timing of ``hint`` sequences."""
    out = decode(block, reqs, states, hint)
    if out is None:
        return
    for k, crane in enumerate(out[1]):
        for mv in crane.moves:
            if mv[0] >= 0:
                m.AddHint(pick[mv[0]], int(round(scale * mv[4])))
                m.AddHint(drop[mv[0]], int(round(scale * mv[6])))
    for (i, k), lit in on.items():
        m.AddHint(lit, 1 if i in hint[k] else 0)
    used = set()
    for k, seq in enumerate(hint):
        chain = [-1] + list(seq) + [-1]
        used.update((k, a, b) for a, b in zip(chain, chain[1:]) if (a, b) != (-1, -1) or not seq)
        if not seq:
            used.add((k, -1, -1))
    for key, lit in arc_lit.items():
        m.AddHint(lit, 1 if key in used else 0)


def _local_search(
    block: CraneBlock,
    reqs: list[_Req],
    states: Sequence[CraneState],
    seqs: list[list[int]],
    best_obj: float,
    deadline: float,
    now: Callable[[], float],
    rng: np.random.Generator,
) -> tuple[list[list[int]], float]:
    """First-improvement search over moving one request to another position (or crane)."""
    n_cranes = len(seqs)
    improved = True
    while improved and now() < deadline:
        improved = False
        for k in range(n_cranes):
            for pos in range(len(seqs[k])):
                if now() >= deadline:
                    return seqs, best_obj
                if pos >= len(seqs[k]):
                    break
                i = seqs[k][pos]
                for k2 in reqs[i].eligible:
                    targets = list(range(len(seqs[k2]) + (0 if k2 == k else 1)))
                    rng.shuffle(targets)
                    for new_pos in targets:
                        if k2 == k and new_pos == pos:
                            continue
                        trial = [list(s) for s in seqs]
                        trial[k].pop(pos)
                        trial[k2].insert(new_pos, i)
                        out = decode(block, reqs, states, trial)
                        if out is not None and out[0] < best_obj - 1e-6:
                            seqs, best_obj, improved = trial, out[0], True
                            break
                    if improved:
                        break
                if improved:
                    break
            if improved:
                break
    return seqs, best_obj


def _result(block: CraneBlock, requests: Sequence[CraneRequest], reqs: list[_Req], states, seqs, status: CraneStatus, solver: str) -> CraneSchedule:
    out = decode(block, reqs, states, seqs)
    if out is None:  # pragma: no cover - sequences are built in precedence order
        raise ProblemError("internal: crane sequences deadlock on precedence")
    objective, cranes, served = out
    moves = tuple(
        tuple(CraneMove(k, None if m[0] < 0 else requests[m[0]].id, *m[1:]) for m in c.moves) for k, c in enumerate(cranes)
    )
    return CraneSchedule(status, moves, {requests[i].id: t for i, t in served.items()}, objective, "", solver)


def _setup(block, requests, states, n_cranes, options):
    if n_cranes not in (1, 2):
        raise ProblemError(f"one or two cranes per block, not {n_cranes}")
    if len(states) != n_cranes:
        raise ProblemError(f"{n_cranes} cranes but {len(states)} crane states")
    if n_cranes == 2 and states[0].position_m + block.min_separation_m > states[1].position_m + 1e-9:
        raise ProblemError("crane 0 must start at least min_separation_m below crane 1")
    return _prepare(block, requests, n_cranes, options)


def fcfs_schedule(
    block: CraneBlock, requests: Sequence[CraneRequest], states: Sequence[CraneState], options: CraneOptions = CraneOptions()
) -> CraneSchedule:
    """The baseline: each crane serves its requests first come, first served (a
    relocation goes to the nearer crane), timed by the same decoder."""
    reqs, reason = _setup(block, requests, states, len(states), options)
    if reason:
        return CraneSchedule(CraneStatus.INFEASIBLE, (), {}, math.inf, reason, "fcfs")
    seqs = _topological(reqs, _fcfs_sequences(reqs, states, len(states)))
    return _result(block, requests, reqs, states, seqs, CraneStatus.FEASIBLE, "fcfs")


def _topological(reqs: list[_Req], seqs: list[list[int]]) -> list[list[int]]:
    """Keep each crane's order but move a request after its predecessors when needed."""
    rank = {i: (n, k) for k, s in enumerate(seqs) for n, i in enumerate(s)}
    placed: set[int] = set()
    out: list[list[int]] = [[] for _ in seqs]
    pending = sorted(rank, key=lambda i: rank[i])
    while pending:
        i = next(i for i in pending if all(a in placed for a in reqs[i].after))
        pending.remove(i)
        placed.add(i)
        out[rank[i][1]].append(i)
    return out


def schedule_cranes(
    block: CraneBlock,
    requests: Sequence[CraneRequest],
    states: Sequence[CraneState],
    options: CraneOptions = CraneOptions(),
    *,
    time_limit_s: float = 1.0,
    now: Callable[[], float] = time.perf_counter,
) -> CraneSchedule:
    """Schedule one block's requests on its one or two cranes.

    Parameters
    ----------
    block : CraneBlock
    requests : sequence of CraneRequest
    states : one CraneState per crane (crane 0 waterside, crane 1 landside)
    options : CraneOptions
    time_limit_s : float
        Total budget (CP-SAT, then local search).
    now : callable

    Returns
    -------
    CraneSchedule
        OPTIMAL when CP-SAT proved a one-crane schedule optimal; FEASIBLE otherwise;
        INFEASIBLE (with the reason) when a request is out of every crane's reach.
    """
    t0 = now()
    n_cranes = len(states)
    reqs, reason = _setup(block, requests, states, n_cranes, options)
    if reason:
        return CraneSchedule(CraneStatus.INFEASIBLE, (), {}, math.inf, reason, "")
    if not reqs:
        return CraneSchedule(CraneStatus.OPTIMAL, tuple(() for _ in states), {}, 0.0, "", "empty")
    candidates = [(_topological(reqs, _fcfs_sequences(reqs, states, n_cranes)), "fcfs")]
    cp = _cp_sat_sequences(block, reqs, states, n_cranes, time_limit_s * options.cp_sat_share, options, candidates[0][0])
    proven = False
    if cp is not None:
        candidates.append((_topological(reqs, cp[0]), "cp-sat"))
        proven = cp[1]
    scored = []
    for seqs, who in candidates:
        out = decode(block, reqs, states, seqs)
        if out is not None:
            scored.append((out[0], seqs, who))
    best_obj, seqs, who = min(scored, key=lambda x: x[0])
    if not proven:
        rng = np.random.default_rng(options.seed)
        seqs, obj = _local_search(block, reqs, states, seqs, best_obj, t0 + time_limit_s, now, rng)
        if obj < best_obj - 1e-6:
            who = f"{who}+local"
    status = CraneStatus.OPTIMAL if proven and who == "cp-sat" else CraneStatus.FEASIBLE
    return _result(block, requests, reqs, states, seqs, status, who)
