"""Batch slot allocation with CP-SAT: place a batch of arriving containers (a train of
IGV deliveries, a truck wave) in one block at once.

The crane places the batch in arrival order, so a container put on a stack already
chosen for an earlier batch container lands above it. The model (Boolean ``x[c, q]``:
container ``c`` goes to stack or 40 ft column ``q``; ``u[c]``: left unplaced):

* each container once, or unplaced at a high price;
* per stack: no more new containers than free tiers; a (pair, row) column takes 40 ft
  or 20 ft containers, never both;
* two batch containers in one stack: same category, and the later one no heavier than
  the earlier one plus the tolerance (checked for every pair, which is at least as strict
  as checking the direct neighbour);
* objective: each container's slot cost against the existing stack (from
  :func:`planner.yard.candidate_costs`) plus an expected-rehandle term that also counts
  batch containers below it leaving earlier.

Candidates are limited to each container's cheapest stacks. The sequential heuristic
(:func:`planner.yard.choose_slot` one by one) is the hint; both plans are then costed
exactly, by placing them in arrival order, and the cheaper one is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence

import numpy as np

from planner.errors import ProblemError
from planner.yard import (
    BlockState,
    ContainerInfo,
    InfeasibleReason,
    Slot,
    SlotCosts,
    SlotStatus,
    candidate_costs,
    choose_slot,
    infeasible_reason,
)

_SCALE = 100
"""CP-SAT works in integers: costs in hundredths."""


class BatchStatus(Enum):
    OPTIMAL = "optimal"
    """CP-SAT proved the model's optimum (over the candidate stacks)."""
    FEASIBLE = "feasible"
    """Every container has a slot; optimality not proven."""
    PARTIAL = "partial"
    """Some containers have no slot (see ``unplaced`` for the reasons)."""


@dataclass(frozen=True)
class BatchResult:
    status: BatchStatus
    placements: tuple[tuple[str, Slot], ...]
    """(container id, slot) in arrival order."""
    unplaced: tuple[tuple[str, InfeasibleReason], ...]
    cost: float
    expected_rehandles: float
    heuristic_cost: float
    solver: str
    """"cp-sat" or "heuristic": whose plan was cheaper."""


def _position_stacks(c: ContainerInfo, pos: tuple[int, int]) -> list[tuple[int, int]]:
    i, r = pos
    return [(2 * i, r), (2 * i + 1, r)] if c.size_ft == 40 else [(i, r)]


def _to_bay(c: ContainerInfo, pos: tuple[int, int]) -> int:
    return 2 * pos[0] if c.size_ft == 40 else pos[0]


def evaluate_sequence(
    state: BlockState, containers: Sequence[ContainerInfo], positions: Sequence[tuple[int, int] | None], costs: SlotCosts
) -> tuple[float, float, list[Slot | None]] | None:
    """Place ``containers`` in order at ``positions`` on a copy of ``state``.

    Returns (cost, expected rehandles, slots), or None when a placement breaks a rule.
    Unplaced containers (position None) are not costed here.
    """
    work = state.copy()
    total, rehandles, slots = 0.0, 0.0, []
    for c, pos in zip(containers, positions):
        if pos is None:
            slots.append(None)
            continue
        cost, p_block, ok = candidate_costs(work, c, costs)
        if not ok[pos]:
            return None
        total += float(cost[pos])
        rehandles += float(p_block[pos])
        slots.append(work.place(c, _to_bay(c, pos), pos[1]))
    return total, rehandles, slots


def _unplaced_reason(
    state: BlockState, containers: Sequence[ContainerInfo], slots: list[Slot | None], c: ContainerInfo, heuristic: dict[str, InfeasibleReason]
) -> InfeasibleReason:
    """Why ``c`` has no slot: the one-by-one reason, or else what the block looks like
    once the rest of the batch is in (the batch took the room it could have had)."""
    if c.id in heuristic:
        return heuristic[c.id]
    work = state.copy()
    for other, slot in zip(containers, slots):
        if slot is not None:
            work.place(other, slot.bay, slot.row)
    return infeasible_reason(work, c) if choose_slot(work, c).status is SlotStatus.INFEASIBLE else InfeasibleReason.YARD_FULL


def allocate_batch(
    state: BlockState,
    containers: Sequence[ContainerInfo],
    costs: SlotCosts = SlotCosts(),
    *,
    time_limit_s: float = 1.0,
    candidates_per_container: int = 12,
    unplaced_cost: float = 10_000.0,
    workers: int = 2,
    seed: int = 0,
) -> BatchResult:
    """Slots for a batch of arrivals (in arrival order) minimising the total slot cost.

    Parameters
    ----------
    state : BlockState
        Not changed.
    containers : sequence of ContainerInfo
        Arrival order; ids must be new to the block and distinct.
    costs : SlotCosts
    time_limit_s : float
        CP-SAT budget.
    candidates_per_container : int
        Cheapest stacks (or 40 ft columns) each container may go to in the model.
    unplaced_cost : float
        Price of leaving a container without a slot.
    workers, seed : int
        CP-SAT search workers and random seed.

    Returns
    -------
    BatchResult
        PARTIAL with the reasons when the block cannot take everyone.
    """
    from ortools.sat.python import cp_model

    ids = [c.id for c in containers]
    if len(set(ids)) != len(ids):
        raise ProblemError("batch lists a container twice")
    for c in containers:
        if c.id in state:
            raise ProblemError(f"container {c.id} is already in the block")

    # The sequential heuristic: the hint and the fallback.
    work = state.copy()
    heur_pos: list[tuple[int, int] | None] = []
    reasons: dict[str, InfeasibleReason] = {}
    for c in containers:
        choice = choose_slot(work, c, costs)
        if choice.status is SlotStatus.PLACED and choice.slot is not None:
            work.place(c, choice.slot.bay, choice.slot.row)
            heur_pos.append((choice.slot.bay // 2 if c.size_ft == 40 else choice.slot.bay, choice.slot.row))
        else:
            heur_pos.append(None)
            reasons[c.id] = choice.reason or InfeasibleReason.NO_COMPATIBLE_STACK
    heur_eval = evaluate_sequence(state, containers, heur_pos, costs)
    if heur_eval is None:  # the heuristic places one by one with the rules; never happens
        raise ProblemError("internal: sequential placement broke a rule")
    heur_cost = heur_eval[0] + unplaced_cost * sum(p is None for p in heur_pos)

    model = cp_model.CpModel()
    tiers = state.geometry.tiers
    x: dict[tuple[int, tuple[int, int]], cp_model.IntVar] = {}
    p_of: dict[tuple[int, tuple[int, int]], float] = {}
    objective = []
    by_stack: dict[tuple[int, int], list[tuple[int, tuple[int, int]]]] = {}
    col40: dict[tuple[int, int], list] = {}
    stack20: dict[tuple[int, int], list] = {}
    unplaced = []
    for n, c in enumerate(containers):
        cost, p_block, ok = candidate_costs(state, c, costs)
        flat = np.argsort(cost, axis=None)[:candidates_per_container]
        cands = [tuple(int(v) for v in np.unravel_index(f, cost.shape)) for f in flat if np.isfinite(cost.flat[f])]
        if heur_pos[n] is not None and heur_pos[n] not in cands and ok[heur_pos[n]]:
            cands.append(heur_pos[n])
        u = model.NewBoolVar(f"u{n}")
        unplaced.append(u)
        lits = [u]
        for pos in cands:
            v = model.NewBoolVar(f"x{n}_{pos[0]}_{pos[1]}")
            x[(n, pos)] = v
            p_of[(n, pos)] = float(p_block[pos])
            lits.append(v)
            rest = float(cost[pos]) - costs.rehandle * float(p_block[pos])
            objective.append(int(round(_SCALE * rest)) * v)
            for st in _position_stacks(c, pos):
                by_stack.setdefault(st, []).append((n, pos))
            if c.size_ft == 40:
                col40.setdefault(pos, []).append(v)
            else:
                stack20.setdefault(pos, []).append(v)
        model.AddExactlyOne(lits)
        objective.append(int(round(_SCALE * unplaced_cost)) * u)
        if heur_pos[n] is None:
            model.AddHint(u, 1)
        for pos in cands:
            model.AddHint(x[(n, pos)], 1 if pos == heur_pos[n] else 0)

    for (b, r), members in by_stack.items():
        free = tiers - int(state.height[b, r])
        model.Add(sum(x[m] for m in members) <= free)
    for (i, r), v40 in col40.items():
        v20 = stack20.get((2 * i, r), []) + stack20.get((2 * i + 1, r), [])
        if v20:
            used40 = model.NewBoolVar(f"c40_{i}_{r}")
            used20 = model.NewBoolVar(f"c20_{i}_{r}")
            for v in v40:
                model.AddImplication(v, used40)
            for v in v20:
                model.AddImplication(v, used20)
            model.AddBoolOr([used40.Not(), used20.Not()])

    # Pairs of batch containers sharing a stack: rules and the rehandle term.
    tol = state.rules.weight_tolerance_t
    block = {n: [] for n in range(len(containers))}
    for members in by_stack.values():
        for a in range(len(members)):
            for b_ in range(a + 1, len(members)):
                n1, n2 = members[a][0], members[b_][0]
                if n1 == n2:
                    continue
                lo, hi = (members[a], members[b_]) if n1 < n2 else (members[b_], members[a])
                c_lo, c_hi = containers[lo[0]], containers[hi[0]]
                both = [x[lo], x[hi]]
                if c_lo.category != c_hi.category or c_lo.size_ft != c_hi.size_ft or c_hi.weight_t > c_lo.weight_t + tol:
                    model.AddBoolOr([v.Not() for v in both])
                elif c_lo.departure_s < c_hi.departure_s:
                    block[hi[0]].append(both)
    for n, pairs in block.items():
        cands = [(pos, v) for (m, pos), v in x.items() if m == n]
        if not cands:
            continue
        rh = model.NewIntVar(0, _SCALE, f"rh{n}")
        for pos, v in cands:
            weight = int(round(_SCALE * p_of[(n, pos)]))
            if weight:
                model.Add(rh >= weight).OnlyEnforceIf(v)
        for v1, v2 in pairs:
            model.Add(rh >= _SCALE).OnlyEnforceIf([v1, v2])
        objective.append(int(round(costs.rehandle)) * rh)
    model.Minimize(sum(objective))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_search_workers = max(1, workers)
    solver.parameters.random_seed = seed
    status = solver.Solve(model)

    best = (heur_cost, heur_eval, heur_pos, "heuristic")
    proven = False
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        cp_pos: list[tuple[int, int] | None] = []
        for n in range(len(containers)):
            chosen = [pos for (m, pos), v in x.items() if m == n and solver.Value(v)]
            cp_pos.append(chosen[0] if chosen else None)
        cp_eval = evaluate_sequence(state, containers, cp_pos, costs)
        if cp_eval is not None:
            cp_cost = cp_eval[0] + unplaced_cost * sum(p is None for p in cp_pos)
            if cp_cost <= heur_cost + 1e-9:
                best = (cp_cost, cp_eval, cp_pos, "cp-sat")
            proven = status == cp_model.OPTIMAL
    total, evaluated, positions, who = best
    slots = evaluated[2]
    placements = tuple((c.id, s) for c, s in zip(containers, slots) if s is not None)
    missing = tuple((c.id, _unplaced_reason(state, containers, slots, c, reasons)) for c, p in zip(containers, positions) if p is None)
    if missing:
        result_status = BatchStatus.PARTIAL
    else:
        result_status = BatchStatus.OPTIMAL if proven and who == "cp-sat" else BatchStatus.FEASIBLE
    return BatchResult(result_status, placements, missing, float(total), float(evaluated[1]), float(heur_cost), who)

