"""Retrieval planning in a yard block: the relocations that take out containers in a
given order with as few rehandles as possible, under every stacking rule.

The block is cut into parts whose relocations never leave them: each bay, or each bay
pair holding 40 ft containers (a relocation then stays within a short crane move).
Each part is a restricted block relocation instance (:mod:`planner.relocation`) whose
destination tables encode the rules: sizes (20 ft stacks, 40 ft columns), segregation,
weights and reefer plugs. Labels rank the containers to retrieve first, then the rest
by expected departure, so the heuristic keeps blockers off earlier leavers. If some
part has no plan, the whole block is solved as one instance (relocations may cross
bays). The plan is replayed on a copy of the block, so every move is checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from planner.errors import ProblemError
from planner.relocation import BrpInstance, BrpStatus, solve_brp
from planner.yard import BlockState, Slot


@dataclass(frozen=True)
class YardMove:
    kind: str  # "relocate" or "retrieve"
    container_id: str
    from_slot: Slot
    to_slot: Slot | None = None


@dataclass(frozen=True)
class RetrievalPlan:
    status: BrpStatus
    moves: tuple[YardMove, ...]
    relocations: int
    reason: str = ""

    @property
    def found(self) -> bool:
        return self.status in (BrpStatus.OPTIMAL, BrpStatus.FEASIBLE)


@dataclass
class _Unit:
    """Stacks that a BRP instance covers. ``stacks`` map BRP stacks to physical places:
    ("col", 2p, r) is the (pair p, row r) column, taking 40 ft containers or 20 ft ones
    in bay 2p; ("20", b, r) takes only 20 ft containers."""

    stacks: list[tuple[str, int, int]]
    contents: list[list[int]]


def _pair_stacks(state: BlockState, b0: int, unit: _Unit) -> None:
    """Add a bay pair's stacks: all-40 or empty columns as one stack, others as two."""
    for r in range(state.geometry.rows):
        a, b = _column(state, b0, r), _column(state, b0 + 1, r)
        if (not a and not b) or (a and state.containers[a[0]].size_ft == 40):
            unit.stacks.append(("col", b0, r))
            unit.contents.append(a)
        else:
            unit.stacks += [("20", b0, r), ("20", b0 + 1, r)]
            unit.contents += [a, b]


def _units(state: BlockState, scope: str) -> dict[int, _Unit]:
    """Units keyed by their first bay. ``scope="bay"``: a bay, or a bay pair when it
    holds 40 ft containers; ``scope="block"``: the whole block as one unit."""
    g = state.geometry
    units: dict[int, _Unit] = {}
    whole = _Unit([], [])
    for b0 in range(0, g.bays, 2):
        if b0 + 1 >= g.bays:
            unit = whole if scope == "block" else units.setdefault(b0, _Unit([], []))
            unit.stacks += [("20", b0, r) for r in range(g.rows)]
            unit.contents += [_column(state, b0, r) for r in range(g.rows)]
        elif scope == "block":
            _pair_stacks(state, b0, whole)
        elif _column_has_40(state, b0):
            units[b0] = _Unit([], [])
            _pair_stacks(state, b0, units[b0])
        else:
            for b in (b0, b0 + 1):
                units[b] = _Unit([("20", b, r) for r in range(g.rows)], [_column(state, b, r) for r in range(g.rows)])
    if scope == "block":
        units[0] = whole
    return units


def _column_has_40(state: BlockState, b0: int) -> bool:
    col = state.slot_container[b0]
    return any(state.containers[int(i)].size_ft == 40 for i in col[col >= 0])


def _column(state: BlockState, b: int, r: int) -> list[int]:
    col = state.slot_container[b, r]
    return [int(i) for i in col[col >= 0]]


def _unit_instance(state: BlockState, unit: _Unit, order: list[int]) -> tuple[BrpInstance, list[int]]:
    """The BRP instance of a unit; returns it and the container index of each label.

    Labels: the wanted containers in retrieval order, then the others by expected
    departure (the heuristic keeps them out of the way of earlier leavers).
    """
    members = {i for stack in unit.contents for i in stack}
    wanted = [i for i in order if i in members]
    rest = sorted(members - set(wanted), key=lambda i: (state.containers[i].departure_s, state.containers[i].id))
    by_label = wanted + rest
    label = {i: n + 1 for n, i in enumerate(by_label)}
    infos = [state.containers[i] for i in by_label]
    g = state.geometry
    size = np.array([c.size_ft for c in infos])
    cat = np.array([int(c.category) for c in infos])
    weight = np.array([c.weight_t for c in infos])
    reefer = np.array([c.reefer for c in infos], dtype=bool)
    stack_row = np.array([row for _, _, row in unit.stacks])
    stack_20 = np.array([kind == "20" for kind, _, _ in unit.stacks], dtype=bool)
    stack_ok = ~(reefer[:, None] & ~g.reefer_mask[stack_row][None, :])
    stack_ok &= ~((size[:, None] == 40) & stack_20[None, :])
    on_ok = (size[:, None] == size[None, :]) & (cat[:, None] == cat[None, :])
    on_ok &= weight[:, None] <= weight[None, :] + state.rules.weight_tolerance_t
    stacks = tuple(tuple(label[i] for i in stack) for stack in unit.contents)
    return BrpInstance(stacks, g.tiers, len(wanted), stack_ok, on_ok), by_label


def plan_retrievals(
    state: BlockState,
    order: Sequence[str],
    *,
    time_limit_s: float = 1.0,
    now: Callable[[], float] = time.perf_counter,
) -> RetrievalPlan:
    """Relocations and retrievals that take out ``order`` (in that order) with as few
    relocations as possible.

    First each bay (a bay pair when it holds 40 ft containers) is solved as its own
    restricted BRP, relocations staying in it (short crane moves; exact when small).
    If any bay has no plan under the stacking rules, the whole block is solved as one
    instance (relocations may cross bays).

    Returns
    -------
    RetrievalPlan
        The moves with the slots they use (checked by replaying them on a copy of
        ``state``; ``state`` itself is not changed), or a typed failure with the reason.
    """
    if len(set(order)) != len(order):
        raise ProblemError("retrieval order lists a container twice")
    wanted = [state._idx(cid) for cid in order]
    t0 = now()
    plan = _plan_scope(state, wanted, "bay", time_limit_s * 0.5, now)
    if not plan.found:
        plan = _plan_scope(state, wanted, "block", max(0.0, time_limit_s - (now() - t0)), now)
    return plan


def _plan_scope(state: BlockState, wanted: list[int], scope: str, time_limit_s: float, now: Callable[[], float]) -> RetrievalPlan:
    units = _units(state, scope)
    unit_of = {i: key for key, unit in units.items() for stack in unit.contents for i in stack}
    active = sorted({unit_of[i] for i in wanted})
    budget = time_limit_s / max(1, len(active))
    plans: dict[int, list] = {}
    labels: dict[int, list[int]] = {}
    worst = BrpStatus.OPTIMAL
    for key in active:
        inst, by_label = _unit_instance(state, units[key], wanted)
        result = solve_brp(inst, time_limit_s=budget, now=now)
        if not result.found:
            first = state.containers[by_label[0]].id
            where = "block" if scope == "block" else f"bay {key}"
            return RetrievalPlan(result.status, (), 0, f"{where} (retrieving {first}): {result.reason}")
        if result.status is BrpStatus.FEASIBLE:
            worst = BrpStatus.FEASIBLE
        plans[key] = list(result.moves)
        labels[key] = by_label
    work = state.copy()
    moves: list[YardMove] = []
    cursor = {key: 0 for key in active}
    for idx in wanted:
        key = unit_of[idx]
        unit, plan = units[key], plans[key]
        while True:
            m = plan[cursor[key]]
            cursor[key] += 1
            cid = state.containers[labels[key][m.container - 1]].id
            src = work.slot_of(cid)
            if m.kind == "retrieve":
                work.remove(cid)
                moves.append(YardMove("retrieve", cid, src))
                break
            _, bay, row = unit.stacks[m.to_stack]
            moves.append(YardMove("relocate", cid, src, work.move(cid, bay, row)))
    relocations = sum(1 for m in moves if m.kind == "relocate")
    return RetrievalPlan(worst, tuple(moves), relocations)
