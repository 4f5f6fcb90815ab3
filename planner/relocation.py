"""The restricted block relocation problem (BRP): retrieve containers in a given order
with as few relocations as possible.

Model
-----
Stacks hold containers labelled ``1..N`` bottom to top; label ``1`` is retrieved first.
Only labels ``1..n_retrieve`` are retrieved (the others stay; their labels still rank
them, e.g. by expected departure, which the heuristic uses). The *restricted* rule: the
next container to retrieve is always the smallest remaining label; a container is
retrieved as soon as it is on top; only containers above it may be relocated, each to
the top of another stack below ``max_height``. Two optional boolean tables restrict
where a container may go (the yard uses them for 20/40 ft, segregation, reefer plugs
and weights): ``stack_ok[c - 1, s]`` (label ``c`` may stand in stack ``s`` at all) and
``on_ok[a - 1, b - 1]`` (label ``a`` may be put directly on label ``b``).

Methods
-------
* :func:`heuristic_plan`: the min-max rule (put a blocker on the stack whose smallest
  waiting label is the smallest one above the blocker's; if none exists, on the stack
  whose smallest label is the largest), optionally with a rollout ("pilot method") that
  tries each destination, completes the plan with the plain rule and keeps the best.
* :func:`exact_plan`: iterative-deepening depth-first branch and bound with a
  lower bound and a transposition table; optimal when it finishes within the budget.
* :func:`solve_brp`: the entry point; exact within the time budget, seeded by the
  heuristic, falling back to the heuristic's plan when the budget runs out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable

import numpy as np

from planner.errors import ProblemError

_INF = 1 << 60
_MEMO_LIMIT = 400_000
"""States the exact search remembers (a few hundred bytes each)."""


class BrpStatus(Enum):
    """How a block relocation instance was solved."""

    OPTIMAL = "optimal"
    """The plan has the fewest relocations possible (proven)."""
    FEASIBLE = "feasible"
    """A valid plan; the budget ran out before optimality was proven."""
    INFEASIBLE = "infeasible"
    """No valid plan exists (proven)."""
    UNKNOWN = "unknown"
    """No plan was found within the budget and infeasibility was not proven."""


@dataclass(frozen=True)
class BrpMove:
    """One crane move; stacks are 0-based. ``to_stack`` is ``None`` for a retrieval."""

    kind: str  # "relocate" or "retrieve"
    container: int
    from_stack: int
    to_stack: int | None = None


@dataclass(frozen=True, eq=False)
class BrpInstance:
    """A restricted block relocation instance (see the module docstring).

    Parameters
    ----------
    stacks : tuple of tuple of int
        Labels ``1..N`` bottom to top, each exactly once.
    max_height : int
        Most containers a stack may hold.
    n_retrieve : int, optional
        Retrieve labels ``1..n_retrieve``; default all ``N``.
    stack_ok : (N, S) bool array, optional
    on_ok : (N, N) bool array, optional
    """

    stacks: tuple[tuple[int, ...], ...]
    max_height: int
    n_retrieve: int | None = None
    stack_ok: np.ndarray | None = None
    on_ok: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.stacks) < 1:
            raise ProblemError("a relocation instance needs at least one stack")
        if self.max_height < 1:
            raise ProblemError(f"max_height must be at least 1, not {self.max_height}")
        labels = sorted(c for stack in self.stacks for c in stack)
        if labels != list(range(1, len(labels) + 1)):
            raise ProblemError("container labels must be 1..N, each exactly once")
        for i, stack in enumerate(self.stacks):
            if len(stack) > self.max_height:
                raise ProblemError(f"stack {i + 1} holds {len(stack)} containers, above max height {self.max_height}")
        n = len(labels)
        if self.n_retrieve is not None and not 0 <= self.n_retrieve <= n:
            raise ProblemError(f"n_retrieve must be in 0..{n}, not {self.n_retrieve}")
        if self.stack_ok is not None and self.stack_ok.shape != (n, len(self.stacks)):
            raise ProblemError(f"stack_ok must have shape {(n, len(self.stacks))}, not {self.stack_ok.shape}")
        if self.on_ok is not None and self.on_ok.shape != (n, n):
            raise ProblemError(f"on_ok must have shape {(n, n)}, not {self.on_ok.shape}")

    @property
    def n_containers(self) -> int:
        return sum(len(s) for s in self.stacks)

    @property
    def retrieve_count(self) -> int:
        return self.n_containers if self.n_retrieve is None else self.n_retrieve

    @property
    def unrestricted_destinations(self) -> bool:
        """True when every stack accepts every container (stacks are interchangeable)."""
        return self.stack_ok is None and self.on_ok is None


@dataclass(frozen=True)
class BrpResult:
    """A relocation plan with its status; ``moves`` is empty unless a plan was found."""

    status: BrpStatus
    moves: tuple[BrpMove, ...]
    relocations: int
    lower_bound: int
    reason: str = ""
    solve_time_s: float = 0.0

    @property
    def found(self) -> bool:
        return self.status in (BrpStatus.OPTIMAL, BrpStatus.FEASIBLE)


# ---------------------------------------------------------------------------------------
# shared state helpers


class _State:
    """Mutable stacks plus each stack's smallest waiting label (``_INF`` if none)."""

    def __init__(self, inst: BrpInstance) -> None:
        self.inst = inst
        self.k = inst.retrieve_count
        self.h = inst.max_height
        self.stacks = [list(s) for s in inst.stacks]
        self.where = {c: i for i, s in enumerate(self.stacks) for c in s}
        self.next = 1
        self.stack_ok = inst.stack_ok
        self.on_ok = inst.on_ok
        # PERF: stack minima are kept up to date instead of rescanned for every candidate.
        self.mins = [self._scan_min(s) for s in range(len(self.stacks))]

    def copy(self) -> "_State":
        other = _State.__new__(_State)
        other.inst, other.k, other.h = self.inst, self.k, self.h
        other.stacks = [list(s) for s in self.stacks]
        other.where = dict(self.where)
        other.next = self.next
        other.stack_ok, other.on_ok = self.stack_ok, self.on_ok
        other.mins = list(self.mins)
        return other

    def _scan_min(self, s: int) -> int:
        m = _INF
        for c in self.stacks[s]:
            if c <= self.k and c < m:
                m = c
        return m

    def stack_min(self, s: int) -> int:
        """Smallest label in stack ``s`` that will be retrieved, ``_INF`` if none."""
        return self.mins[s]

    def can_put(self, c: int, s: int) -> bool:
        stack = self.stacks[s]
        if len(stack) >= self.h:
            return False
        if self.stack_ok is not None and not self.stack_ok[c - 1, s]:
            return False
        if self.on_ok is not None and stack and not self.on_ok[c - 1, stack[-1] - 1]:
            return False
        return True

    def pop(self, s: int) -> int:
        c = self.stacks[s].pop()
        if c == self.mins[s]:
            self.mins[s] = self._scan_min(s)
        return c

    def push(self, c: int, s: int) -> None:
        self.stacks[s].append(c)
        self.where[c] = s
        if c <= self.k and c < self.mins[s]:
            self.mins[s] = c

    def retrieve_ready(self, moves: list[BrpMove] | None) -> list[tuple[int, int]]:
        """Retrieve while the next container is on top; returns (label, stack) retrieved."""
        done = []
        while self.next <= self.k:
            s = self.where[self.next]
            if self.stacks[s][-1] != self.next:
                break
            self.pop(s)
            del self.where[self.next]
            if moves is not None:
                moves.append(BrpMove("retrieve", self.next, s))
            done.append((self.next, s))
            self.next += 1
        return done

    def blocker(self) -> tuple[int, int] | None:
        """(top container that must move next, its stack), or None when done."""
        if self.next > self.k:
            return None
        s = self.where[self.next]
        return self.stacks[s][-1], s

    def relocate(self, c: int, src: int, dst: int) -> None:
        self.pop(src)
        self.push(c, dst)

    def undo(self, retrieved: list[tuple[int, int]], c: int, src: int, dst: int) -> None:
        """Reverse one relocation and the retrievals that followed it."""
        for label, s in reversed(retrieved):
            self.push(label, s)
        if retrieved:
            self.next = retrieved[0][0]
        self.pop(dst)
        self.push(c, src)

    def key(self, symmetric: bool) -> tuple:
        stacks = tuple(tuple(s) for s in self.stacks)
        return tuple(sorted(stacks)) if symmetric else stacks


def lower_bound(stacks: list[list[int]], n_retrieve: int, next_label: int = 1) -> int:
    """Relocations still needed, at least.

    Every container above a smaller waiting label must move once (the classic bound);
    a container above the next target moves a second time when no other stack's
    smallest waiting label is larger than its own (wherever it goes it blocks again).
    Full stacks and the ``stack_ok``/``on_ok`` tables are ignored, which keeps the bound
    valid (they only remove options).
    """
    count = 0
    mins: list[int] = []
    target_stack = -1
    for i, stack in enumerate(stacks):
        m = _INF
        for c in stack:
            if m < c:
                count += 1
            if c <= n_retrieve and c < m:
                m = c
            if c == next_label:
                target_stack = i
        mins.append(m)
    if target_stack < 0 or next_label > n_retrieve:
        return count
    best_other = max((m for i, m in enumerate(mins) if i != target_stack), default=-1)
    stack = stacks[target_stack]
    for c in reversed(stack):
        if c == next_label:
            break
        if best_other < c:
            count += 1
    return count


def _candidates(state: _State, c: int, src: int) -> list[tuple[int, int, int]]:
    """(stack, its smallest waiting label, height) of every legal destination."""
    out = []
    for s in range(len(state.stacks)):
        if s != src and state.can_put(c, s):
            out.append((s, state.mins[s], len(state.stacks[s])))
    return out


def _ranked(c: int, cands: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Destinations in min-max order: stacks where ``c`` will not block again (smallest
    waiting label above ``c``), tightest first, higher stacks first on ties; then the
    others, latest next retrieval first, lower stacks first on ties."""
    good = sorted((x for x in cands if x[1] > c), key=lambda x: (x[1], -x[2], x[0]))
    bad = sorted((x for x in cands if x[1] <= c), key=lambda x: (-x[1], x[2], x[0]))
    return good + bad


def _min_max_choice(c: int, cands: list[tuple[int, int, int]]) -> int:
    """The min-max rule: the first destination in :func:`_ranked` order (by ``min``:
    the greedy finish of every rollout calls this, sorting would cost more)."""
    good = [x for x in cands if x[1] > c]
    if good:
        return min(good, key=lambda x: (x[1], -x[2], x[0]))[0]
    return min(cands, key=lambda x: (-x[1], x[2], x[0]))[0]


def _greedy_finish(state: _State, moves: list[BrpMove] | None) -> int | None:
    """Complete the plan with the min-max rule; relocations used, None if stuck."""
    used = 0
    state.retrieve_ready(moves)
    while True:
        top = state.blocker()
        if top is None:
            return used
        c, src = top
        cands = _candidates(state, c, src)
        if not cands:
            return None
        dst = _min_max_choice(c, cands)
        state.relocate(c, src, dst)
        if moves is not None:
            moves.append(BrpMove("relocate", c, src, dst))
        used += 1
        state.retrieve_ready(moves)


def heuristic_plan(
    inst: BrpInstance,
    *,
    rollout_width: int = 8,
    time_limit_s: float = 1.0,
    now: Callable[[], float] = time.perf_counter,
) -> BrpResult:
    """A plan by the min-max rule, improved by a rollout at each relocation.

    Parameters
    ----------
    inst : BrpInstance
    rollout_width : int
        At each relocation, try the first ``rollout_width`` destinations in min-max
        order, finish the plan greedily from each and keep the one with the fewest
        relocations (ties: min-max order). 0 gives the plain min-max rule. After
        ``time_limit_s`` the plain rule finishes the plan.
    time_limit_s : float
    now : callable
        Clock, injected for tests.
    """
    t0 = now()
    lb = lower_bound([list(s) for s in inst.stacks], inst.retrieve_count)
    state = _State(inst)
    moves: list[BrpMove] = []
    state.retrieve_ready(moves)
    used = 0
    while True:
        top = state.blocker()
        if top is None:
            break
        c, src = top
        cands = _candidates(state, c, src)
        if not cands:
            return BrpResult(BrpStatus.UNKNOWN, (), 0, lb, f"the heuristic found no stack that may take container {c}", now() - t0)
        ranked = _ranked(c, cands)
        dst = ranked[0][0]
        if rollout_width > 0 and len(ranked) > 1 and now() - t0 < time_limit_s:
            best: tuple[int, int] | None = None
            for s, _, _ in ranked[:rollout_width]:
                trial = state.copy()
                trial.relocate(c, src, s)
                rest = _greedy_finish(trial, None)
                if rest is not None and (best is None or rest < best[0]):
                    best = (rest, s)
            if best is not None:
                dst = best[1]
        state.relocate(c, src, dst)
        moves.append(BrpMove("relocate", c, src, dst))
        used += 1
        state.retrieve_ready(moves)
    status = BrpStatus.OPTIMAL if used == lb else BrpStatus.FEASIBLE
    return BrpResult(status, tuple(moves), used, lb, "", now() - t0)


class _Timeout(Exception):
    pass


def exact_plan(
    inst: BrpInstance,
    *,
    time_limit_s: float = 10.0,
    upper_bound: BrpResult | None = None,
    now: Callable[[], float] = time.perf_counter,
) -> BrpResult:
    """Fewest relocations by iterative-deepening branch and bound.

    IDA* with memory: each round searches depth first for a plan with at most ``bound``
    relocations, pruning where relocations so far plus a lower bound on the rest exceed
    it. The lower bound of a state is :func:`lower_bound` or, when larger, what an
    earlier visit proved (a transposition table kept across rounds; stacks are sorted
    first when they are interchangeable). The next round's bound is the smallest total
    that was pruned, so the first plan found is optimal; when nothing was pruned, every
    plan was searched and none exists.

    Parameters
    ----------
    inst : BrpInstance
    time_limit_s : float
        Budget; on expiry the ``upper_bound`` plan (if any) is returned as FEASIBLE.
    upper_bound : BrpResult, optional
        A known plan (e.g. from :func:`heuristic_plan`); the search stops below it.
    now : callable
    """
    t0 = now()
    deadline = t0 + time_limit_s
    symmetric = inst.unrestricted_destinations
    root = _State(inst)
    root_moves: list[BrpMove] = []
    root.retrieve_ready(root_moves)
    lb0 = lower_bound(root.stacks, root.k, root.next)
    incumbent = upper_bound if upper_bound is not None and upper_bound.found else None
    path: list[BrpMove] = []
    counter = [0]
    # Transposition table: state -> proven lower bound on the relocations it still needs.
    memo: dict[tuple, int] = {}

    def dfs(state: _State, g: int, bound: int) -> int:
        """-1 when a plan within ``bound`` is found (left in ``path``); otherwise the
        smallest total that exceeded the bound (``_INF``: no plan from here at all)."""
        counter[0] += 1
        if counter[0] & 1023 == 0 and now() > deadline:
            raise _Timeout
        top = state.blocker()
        if top is None:
            return -1
        key = state.key(symmetric)
        h = max(lower_bound(state.stacks, state.k, state.next), memo.get(key, 0))
        if g + h > bound:
            return g + h
        c, src = top
        best = _INF
        tried_empty = False
        for s, _, height in _ranked(c, _candidates(state, c, src)):
            if symmetric and height == 0:
                # PERF: empty stacks are interchangeable when every stack accepts every container.
                if tried_empty:
                    continue
                tried_empty = True
            mark = len(path)
            state.relocate(c, src, s)
            path.append(BrpMove("relocate", c, src, s))
            retrieved = state.retrieve_ready(path)
            found = dfs(state, g + 1, bound)
            if found < 0:
                return -1
            best = min(best, found)
            state.undo(retrieved, c, src, s)
            del path[mark:]
        # PERF: remember what this state was shown to need, across rounds (IDA* with memory).
        if key in memo or len(memo) < _MEMO_LIMIT:
            memo[key] = max(memo.get(key, 0), best - g)
        return best

    bound = lb0
    try:
        while incumbent is None or bound < incumbent.relocations:
            state = root.copy()
            path.clear()
            found = dfs(state, 0, bound)
            if found < 0:
                return BrpResult(BrpStatus.OPTIMAL, tuple(root_moves + path), bound, lb0, "", now() - t0)
            if found >= _INF:
                break  # every plan was searched: none exists
            bound = found
    except _Timeout:
        if incumbent is not None:
            return BrpResult(BrpStatus.FEASIBLE, incumbent.moves, incumbent.relocations, bound, "time limit reached", now() - t0)
        return BrpResult(BrpStatus.UNKNOWN, (), 0, bound, f"no plan found within {time_limit_s:g} s", now() - t0)
    if incumbent is not None:
        return BrpResult(BrpStatus.OPTIMAL, incumbent.moves, incumbent.relocations, incumbent.relocations, "", now() - t0)
    return BrpResult(BrpStatus.INFEASIBLE, (), 0, lb0, "no relocation plan exists: no stack the rules allow has room", now() - t0)


def capacity_infeasibility(inst: BrpInstance) -> str | None:
    """Why an instance without destination tables has no plan, or None if it has one.

    Containers never move below another, so a container with ``d`` others under it can
    be dug out only if the rest of the yard holds the ``H - d - 1`` slots above it:
    ``remaining <= S * H - H + d + 1`` when its turn comes.
    """
    if not inst.unrestricted_destinations:
        return None
    s_count, h = len(inst.stacks), inst.max_height
    remaining = inst.n_containers
    depth = {c: i for stack in inst.stacks for i, c in enumerate(stack)}
    for c in range(1, inst.retrieve_count + 1):
        if remaining > s_count * h - h + depth[c] + 1:
            return f"container {c} cannot be dug out: the other stacks lack room for the containers above it"
        remaining -= 1
    return None


def solve_brp(
    inst: BrpInstance,
    *,
    time_limit_s: float = 5.0,
    exact_max_containers: int = 60,
    rollout_width: int = 8,
    now: Callable[[], float] = time.perf_counter,
) -> BrpResult:
    """Solve a restricted block relocation instance within a time budget.

    The rollout heuristic gives a first plan (and an upper bound); when the instance
    has at most ``exact_max_containers`` containers, branch and bound then proves it
    optimal or finds a better one, within what remains of the budget.

    Returns
    -------
    BrpResult
        OPTIMAL, FEASIBLE (budget ran out), INFEASIBLE (with the reason) or UNKNOWN.
    """
    t0 = now()
    reason = capacity_infeasibility(inst)
    lb = lower_bound([list(s) for s in inst.stacks], inst.retrieve_count)
    if reason is not None:
        return BrpResult(BrpStatus.INFEASIBLE, (), 0, lb, reason, now() - t0)
    heur = heuristic_plan(inst, rollout_width=rollout_width, time_limit_s=time_limit_s / 4, now=now)
    if heur.status is BrpStatus.OPTIMAL:
        return _timed(heur, now() - t0)
    if inst.n_containers > exact_max_containers and heur.found:
        return _timed(heur, now() - t0)
    remaining = max(0.0, time_limit_s - (now() - t0))
    exact = exact_plan(inst, time_limit_s=remaining, upper_bound=heur, now=now)
    return _timed(exact, now() - t0)


def _timed(result: BrpResult, elapsed_s: float) -> BrpResult:
    return BrpResult(result.status, result.moves, result.relocations, result.lower_bound, result.reason, elapsed_s)
