"""Yard slot allocation in a block of bays x rows x tiers.

Stacking rules (hard, checked independently by :mod:`planner.allocation_check`):

* a stack holds at most ``tiers`` containers, without gaps;
* a 20 ft container takes one stack; a 40 ft container takes the same tier of the two
  stacks ``(b, r)`` and ``(b + 1, r)`` of an even bay pair ``b = 2p``. A 20 ft container
  never stands on a 40 ft one and a 40 ft one stands only on another 40 ft one (or the
  ground of two empty stacks), so each (pair, row) column is all-20 or all-40;
* a reefer container needs a plug: only rows listed in ``reefer_rows``;
* heavier below lighter: a container may weigh at most ``weight_tolerance_t`` more than
  the one directly below;
* segregation: one stack holds one category (import, export, inspection hold).

Soft (the objective): expected rehandles (a container leaving later placed above one
leaving earlier), crane gantry travel, tight departure fit, keeping reefer plugs and
empty stacks free, low tiers. :func:`choose_slot` is the real-time single-arrival path
(one compiled pass over all stacks); :mod:`planner.yard_batch` optimises a batch with
CP-SAT; :mod:`planner.yard_retrieval` plans the relocations for a retrieval order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Mapping

import numpy as np
from numba import njit

from planner.errors import ProblemError

_FAR_S = 1e9
"""Departures beyond this (e.g. unknown, ``inf``) count as this far away."""


class Category(IntEnum):
    """Segregation class of a container; one stack holds one class."""

    IMPORT = 0
    EXPORT = 1
    HOLD = 2


class BlockEnd(IntEnum):
    """Where a container enters or leaves the block: IGVs at the waterside end (before
    bay 0), road trucks at the landside end (after the last bay)."""

    WATERSIDE = 0
    LANDSIDE = 1


@dataclass(frozen=True)
class BlockGeometry:
    """Bays x rows x tiers of one yard block (site default 40 x 10 x 5)."""

    bays: int = 40
    rows: int = 10
    tiers: int = 5
    reefer_rows: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.bays < 1 or self.rows < 1 or self.tiers < 1:
            raise ProblemError(f"block needs bays, rows, tiers >= 1, got {self.bays} x {self.rows} x {self.tiers}")
        for r in self.reefer_rows:
            if not 0 <= r < self.rows:
                raise ProblemError(f"reefer row {r} outside 0..{self.rows - 1}")

    @classmethod
    def from_properties(cls, props: Mapping[str, object]) -> "BlockGeometry":
        """From a ``yard_block`` zone's properties: ``bays``, ``rows``, ``tiers`` and
        ``reefer_rows``, either a list of row indices or a count ``n`` (rows ``0..n-1``)."""
        try:
            rows = int(props.get("rows", 10))  # type: ignore[arg-type]
            reefer = props.get("reefer_rows", ()) or ()
            reefer_rows = tuple(range(int(reefer))) if isinstance(reefer, (int, float)) else tuple(int(r) for r in reefer)  # type: ignore[union-attr]
            return cls(
                bays=int(props.get("bays", 40)),  # type: ignore[arg-type]
                rows=rows,
                tiers=int(props.get("tiers", 5)),  # type: ignore[arg-type]
                reefer_rows=reefer_rows,
            )
        except (TypeError, ValueError) as exc:
            raise ProblemError(f"yard block properties are not integers: {exc}") from None

    @property
    def reefer_mask(self) -> np.ndarray:
        mask = np.zeros(self.rows, dtype=bool)
        mask[list(self.reefer_rows)] = True
        return mask

    @property
    def pairs(self) -> int:
        """Even bay pairs that can take 40 ft containers."""
        return self.bays // 2


@dataclass(frozen=True)
class ContainerInfo:
    """What the allocator knows about a container."""

    id: str
    size_ft: int = 20
    weight_t: float = 20.0
    reefer: bool = False
    category: Category = Category.IMPORT
    departure_s: float = math.inf
    """Expected time it leaves the block (an estimate; see ``SlotCosts.departure_sigma_s``)."""
    arrival_end: BlockEnd = BlockEnd.WATERSIDE
    departure_end: BlockEnd = BlockEnd.LANDSIDE

    def __post_init__(self) -> None:
        if self.size_ft not in (20, 40):
            raise ProblemError(f"container {self.id}: size_ft must be 20 or 40, not {self.size_ft}")
        if not self.weight_t > 0:
            raise ProblemError(f"container {self.id}: weight_t must be positive, not {self.weight_t}")


@dataclass(frozen=True)
class StackingRules:
    """Hard-rule parameters."""

    weight_tolerance_t: float = 0.0
    """How much heavier than the container below a container may be."""


@dataclass(frozen=True)
class SlotCosts:
    """Weights of the slot objective (cost units are 'one expected rehandle = rehandle')."""

    rehandle: float = 100.0
    departure_sigma_s: float = 1800.0
    """Uncertainty of departure estimates; 0 makes the rehandle term a step."""
    fit_per_h: float = 2.0
    """Per hour between the new container's departure and the earliest one below it."""
    open_stack: float = 6.0
    """Taking an empty stack (column for 40 ft), times ``1 + scarcity * (share of the
    block's columns no longer empty)``: empty stacks get dearer as they run out."""
    scarcity: float = 4.0
    break_column: float = 4.0
    """A 20 ft container opening a stack whose twin is empty spoils a 40 ft column."""
    weight_waste_per_t: float = 0.5
    """Per tonne the top below is heavier: keep heavy tops for heavy containers."""
    reefer_waste: float = 30.0
    gantry_per_bay: float = 0.05
    tier: float = 0.3


@dataclass(frozen=True)
class Slot:
    """A slot; for a 40 ft container ``bay`` is the even first bay of its pair."""

    bay: int
    row: int
    tier: int


class SlotStatus(Enum):
    PLACED = "placed"
    INFEASIBLE = "infeasible"


class InfeasibleReason(Enum):
    YARD_FULL = "yard full"
    NO_REEFER_PLUG = "no reefer plug free"
    NO_COMPATIBLE_STACK = "no stack allowed by the stacking rules"


@dataclass(frozen=True)
class SlotChoice:
    status: SlotStatus
    slot: Slot | None
    reason: InfeasibleReason | None = None
    cost: float = math.inf
    expected_rehandles: float = 0.0


@dataclass
class BlockState:
    """Occupancy of one block plus per-stack summaries kept up to date for speed.

    ``slot_container[b, r, t]`` is an index into ``containers`` or -1. Use
    :meth:`place`, :meth:`remove` and :meth:`move`; they keep the summaries right and
    refuse moves that break the stacking rules.
    """

    geometry: BlockGeometry
    rules: StackingRules = StackingRules()
    slot_container: np.ndarray = field(init=False)
    containers: list[ContainerInfo] = field(init=False, default_factory=list)
    index: dict[str, int] = field(init=False, default_factory=dict)
    position: dict[int, Slot] = field(init=False, default_factory=dict)
    height: np.ndarray = field(init=False)
    top_size: np.ndarray = field(init=False)
    top_weight: np.ndarray = field(init=False)
    top_index: np.ndarray = field(init=False)
    category: np.ndarray = field(init=False)
    min_departure: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        g = self.geometry
        self.slot_container = np.full((g.bays, g.rows, g.tiers), -1, dtype=np.int32)
        self.height = np.zeros((g.bays, g.rows), dtype=np.int16)
        self.top_size = np.zeros((g.bays, g.rows), dtype=np.int16)
        self.top_weight = np.full((g.bays, g.rows), np.inf)
        self.top_index = np.full((g.bays, g.rows), -1, dtype=np.int32)
        self.category = np.full((g.bays, g.rows), -1, dtype=np.int8)
        self.min_departure = np.full((g.bays, g.rows), np.inf)

    def copy(self) -> "BlockState":
        other = BlockState(self.geometry, self.rules)
        for name in ("slot_container", "height", "top_size", "top_weight", "top_index", "category", "min_departure"):
            setattr(other, name, getattr(self, name).copy())
        other.containers = list(self.containers)
        other.index = dict(self.index)
        other.position = dict(self.position)
        return other

    # ---- queries ------------------------------------------------------------------
    def __contains__(self, container_id: str) -> bool:
        return container_id in self.index

    def __len__(self) -> int:
        return len(self.index)

    def info(self, container_id: str) -> ContainerInfo:
        return self.containers[self._idx(container_id)]

    def slot_of(self, container_id: str) -> Slot:
        return self.position[self._idx(container_id)]

    def stacks_of(self, slot: Slot, size_ft: int) -> tuple[tuple[int, int], ...]:
        if size_ft == 40:
            return ((slot.bay, slot.row), (slot.bay + 1, slot.row))
        return ((slot.bay, slot.row),)

    def above(self, container_id: str) -> list[str]:
        """Ids of the containers on top of this one (nearest first)."""
        idx = self._idx(container_id)
        slot = self.position[idx]
        found: list[int] = []
        for b, r in self.stacks_of(slot, self.containers[idx].size_ft):
            for t in range(slot.tier + 1, int(self.height[b, r])):
                j = int(self.slot_container[b, r, t])
                if j not in found:
                    found.append(j)
        return [self.containers[j].id for j in found]

    def placement_problem(self, c: ContainerInfo, bay: int, row: int) -> str | None:
        """Why ``c`` may not go on top of stack ``(bay, row)`` (pair for 40 ft), or None."""
        g = self.geometry
        if not (0 <= bay < g.bays and 0 <= row < g.rows):
            return f"stack ({bay}, {row}) outside the block"
        if c.reefer and not g.reefer_mask[row]:
            return f"row {row} has no reefer plugs"
        h = int(self.height[bay, row])
        if c.size_ft == 40:
            if bay % 2 or bay + 1 >= g.bays:
                return f"40 ft containers need an even bay pair, bay {bay} is not one"
            if int(self.height[bay + 1, row]) != h:
                return f"stacks ({bay}, {row}) and ({bay + 1}, {row}) differ in height"
            if h and (self.top_size[bay, row] != 40 or self.top_index[bay, row] != self.top_index[bay + 1, row]):
                return "a 40 ft container must stand on a 40 ft container"
        elif h and self.top_size[bay, row] == 40:
            return "a 20 ft container may not stand on a 40 ft container"
        if h >= g.tiers:
            return f"stack ({bay}, {row}) is at the tier limit {g.tiers}"
        if h:
            if int(self.category[bay, row]) != int(c.category):
                return f"stack ({bay}, {row}) holds another category"
            if c.weight_t > float(self.top_weight[bay, row]) + self.rules.weight_tolerance_t:
                return f"{c.weight_t} t is heavier than the {float(self.top_weight[bay, row])} t container below"
        return None

    # ---- changes ------------------------------------------------------------------
    def place(self, c: ContainerInfo, bay: int, row: int) -> Slot:
        """Put ``c`` on top of stack ``(bay, row)``; ProblemError if a rule forbids it."""
        if c.id in self.index:
            raise ProblemError(f"container {c.id} is already in the block")
        problem = self.placement_problem(c, bay, row)
        if problem is not None:
            raise ProblemError(f"cannot place {c.id}: {problem}")
        idx = len(self.containers)
        self.containers.append(c)
        self.index[c.id] = idx
        slot = Slot(bay, row, int(self.height[bay, row]))
        self._put(idx, slot)
        return slot

    def remove(self, container_id: str) -> Slot:
        """Take a container off the top; ProblemError if something stands on it."""
        idx = self._idx(container_id)
        slot = self._take(idx, container_id)
        del self.index[container_id]
        return slot

    def move(self, container_id: str, bay: int, row: int) -> Slot:
        """Relocate a top container to the top of another stack (rules apply)."""
        idx = self._idx(container_id)
        src = self.position[idx]
        if (src.bay, src.row) == (bay, row):
            raise ProblemError(f"cannot move {container_id} onto its own stack")
        self._take(idx, container_id)
        c = self.containers[idx]
        problem = self.placement_problem(c, bay, row)
        if problem is not None:
            self._put(idx, src)
            raise ProblemError(f"cannot move {container_id}: {problem}")
        slot = Slot(bay, row, int(self.height[bay, row]))
        self._put(idx, slot)
        return slot

    def _take(self, idx: int, container_id: str) -> Slot:
        above = self.above(container_id)
        if above:
            raise ProblemError(f"cannot take {container_id} out: {above[0]} stands on it")
        slot = self.position.pop(idx)
        for b, r in self.stacks_of(slot, self.containers[idx].size_ft):
            self.slot_container[b, r, slot.tier] = -1
            self._refresh(b, r)
        return slot

    def _idx(self, container_id: str) -> int:
        idx = self.index.get(container_id)
        if idx is None:
            raise ProblemError(f"unknown container {container_id!r} in the block")
        return idx

    def _put(self, idx: int, slot: Slot) -> None:
        self.position[idx] = slot
        for b, r in self.stacks_of(slot, self.containers[idx].size_ft):
            self.slot_container[b, r, slot.tier] = idx
            self._refresh(b, r)

    def _refresh(self, b: int, r: int) -> None:
        col = self.slot_container[b, r]
        h = int(np.count_nonzero(col >= 0))
        self.height[b, r] = h
        if h == 0:
            self.top_size[b, r], self.top_weight[b, r], self.top_index[b, r] = 0, np.inf, -1
            self.category[b, r], self.min_departure[b, r] = -1, np.inf
            return
        top = self.containers[int(col[h - 1])]
        self.top_size[b, r], self.top_weight[b, r], self.top_index[b, r] = top.size_ft, top.weight_t, int(col[h - 1])
        self.category[b, r] = int(self.containers[int(col[0])].category)
        self.min_departure[b, r] = min(self.containers[int(i)].departure_s for i in col[:h])


# ---------------------------------------------------------------------------------------
# single arrival (the real-time path)


def candidate_costs(state: BlockState, c: ContainerInfo, costs: SlotCosts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cost and expected rehandles of putting ``c`` on every stack (20 ft: (B, R)) or
    bay-pair column (40 ft: (B // 2, R)); ``inf`` cost where the rules forbid it.

    Cost terms (weights in :class:`SlotCosts`): expected rehandles (probability that
    the earliest-leaving container below leaves before ``c``, departures normal with
    ``departure_sigma_s``), hours between the two departures when ``c`` leaves first
    (tight fits keep stacks ordered), taking an empty stack (dearer as empty columns run
    out), a 20 ft container spoiling an empty 40 ft column, a lighter container taking a
    heavier top, a non-reefer on a plug, gantry travel from the arrival end and to the
    departure end, and the tier.

    Returns
    -------
    cost, expected_rehandles, feasible
    """
    g = state.geometry
    n_i = g.pairs if c.size_ft == 40 else g.bays
    cost = np.empty((n_i, g.rows))
    p_block = np.empty((n_i, g.rows))
    _slot_cost_kernel(
        state.height, state.top_size, state.top_weight, state.top_index, state.category, state.min_departure,
        g.reefer_mask, c.size_ft == 40, c.weight_t, state.rules.weight_tolerance_t, c.reefer, int(c.category),
        min(c.departure_s, _FAR_S), -1.0 if c.arrival_end is BlockEnd.WATERSIDE else float(g.bays),
        -1.0 if c.departure_end is BlockEnd.WATERSIDE else float(g.bays),
        np.array([costs.rehandle, costs.departure_sigma_s, costs.fit_per_h, costs.open_stack, costs.scarcity,
                  costs.break_column, costs.weight_waste_per_t, costs.reefer_waste, costs.gantry_per_bay, costs.tier]),
        g.tiers, cost, p_block,
    )  # fmt: skip
    return cost, p_block, np.isfinite(cost)


# PERF: one compiled pass over the stacks, no temporaries: the single-arrival path runs
# in tens of microseconds, short enough that a scheduler tick rarely lands inside it
# (a NumPy version took ~0.1 ms and its p99 was set by preemption; bench.allocation).
@njit(cache=True)
def _slot_cost_kernel(height, top_size, top_weight, top_index, category, min_dep, reefer_mask, is40, weight, tol, reefer,
                      cat, dep, end_in, end_out, w, tiers, out_cost, out_p):  # fmt: skip
    n_bays, rows = height.shape
    pairs = n_bays // 2
    empty_cols = 0
    for i in range(pairs):
        for r in range(rows):
            if height[2 * i, r] == 0 and height[2 * i + 1, r] == 0:
                empty_cols += 1
    used_share = 1.0 - empty_cols / (pairs * rows) if pairs > 0 else 1.0
    open_cost = w[3] * (1.0 + w[4] * used_share)
    sigma = w[1]
    for i in range(out_cost.shape[0]):
        for r in range(rows):
            out_cost[i, r] = np.inf
            out_p[i, r] = 0.0
            if is40:
                a, b = 2 * i, 2 * i + 1
                h = height[a, r]
                if h >= tiers or height[b, r] != h:
                    continue
                if h > 0 and (top_size[a, r] != 40 or top_index[a, r] != top_index[b, r]):
                    continue
                md = min(min_dep[a, r], min_dep[b, r])
                pos = 2.0 * i + 0.5
                breaks = False
            else:
                a = i
                h = height[a, r]
                if h >= tiers or top_size[a, r] == 40:
                    continue
                md = min_dep[a, r]
                pos = float(i)
                twin = i ^ 1
                breaks = h == 0 and twin < n_bays and height[twin, r] == 0
            if reefer and not reefer_mask[r]:
                continue
            if h > 0 and (category[a, r] != cat or weight > top_weight[a, r] + tol):
                continue
            md = min(md, 1e9)
            total = 0.0
            if h > 0:
                if sigma > 0:
                    z = max(-50.0, min(50.0, (dep - md) / (sigma * math.sqrt(2.0))))
                    p = 0.5 * (1.0 + math.erf(z))
                else:
                    p = 1.0 if md < dep else 0.0
                out_p[i, r] = p
                total += w[0] * p + w[2] * min(max(md - dep, 0.0) / 3600.0, 24.0)
                total += w[6] * max(top_weight[a, r] - weight, 0.0)
            else:
                total += open_cost
            if breaks:
                total += w[5]
            if reefer_mask[r] and not reefer:
                total += w[7]
            total += w[8] * (abs(pos - end_in) + abs(pos - end_out)) + w[9] * h
            out_cost[i, r] = total


def infeasible_reason(state: BlockState, c: ContainerInfo) -> InfeasibleReason:
    """Why no stack takes ``c`` (call only when none does)."""
    g = state.geometry
    h = state.height
    if c.size_ft == 40:
        p2 = 2 * g.pairs
        room = (h[0:p2:2] < g.tiers) & (h[1:p2:2] < g.tiers)
    else:
        room = h < g.tiers
    if not room.any():
        return InfeasibleReason.YARD_FULL
    if c.reefer and not (room & g.reefer_mask[None, :]).any():
        return InfeasibleReason.NO_REEFER_PLUG
    return InfeasibleReason.NO_COMPATIBLE_STACK


def choose_slot(state: BlockState, c: ContainerInfo, costs: SlotCosts = SlotCosts()) -> SlotChoice:
    """The cheapest legal slot for one arriving container (does not change ``state``).

    Returns
    -------
    SlotChoice
        PLACED with the slot, its cost and expected rehandles, or INFEASIBLE with the
        reason (yard full, no reefer plug free, no stack the rules allow).
    """
    cost, p_block, ok = candidate_costs(state, c, costs)
    flat = int(np.argmin(cost))
    i, r = divmod(flat, cost.shape[1])
    if not np.isfinite(cost[i, r]):
        return SlotChoice(SlotStatus.INFEASIBLE, None, infeasible_reason(state, c))
    bay = 2 * i if c.size_ft == 40 else i
    tier = int(state.height[bay, r])
    return SlotChoice(SlotStatus.PLACED, Slot(bay, r, tier), None, float(cost[i, r]), float(p_block[i, r]))


def first_fit_slot(state: BlockState, c: ContainerInfo) -> SlotChoice:
    """The baseline: the first legal stack in bay, row order (lowest bay first)."""
    _, _, ok = candidate_costs(state, c, SlotCosts(departure_sigma_s=0.0))
    where = np.argwhere(ok)
    if where.shape[0] == 0:
        return SlotChoice(SlotStatus.INFEASIBLE, None, infeasible_reason(state, c))
    i, r = int(where[0, 0]), int(where[0, 1])
    bay = 2 * i if c.size_ft == 40 else i
    return SlotChoice(SlotStatus.PLACED, Slot(bay, r, int(state.height[bay, r])), None, 0.0, 0.0)
