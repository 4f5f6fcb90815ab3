"""Independent validator of grid MAPF solutions (MovingAI rules), for tests and the bench.

It shares no code with the solvers: it reads the grid as a boolean mask and the solution
as (x, y) positions, and checks the rules of the benchmark (Stern et al. 2019):

* one position per agent per time step, inside the grid, on a free cell;
* time step 0 is the starts and the last one the goals of the scenario's first N agents;
* between consecutive steps an agent waits or moves to one of its 4 neighbours;
* no two agents in one cell at one time (vertex conflict), none swapping along an edge
  (swap conflict);
* the costs a file reports (``soc``, ``makespan``, ``sum_of_loss``) are the ones the
  solution has (LaCAM3's definitions).

Every problem is one line naming the rule, the agents and the time step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maps.movingai import load_scenario, parse_grid
from planner.mapf_io import MapfLog, read_log

MAX_PROBLEMS = 20
"""At most this many problems are listed (the count says how many more)."""


@dataclass(frozen=True)
class GridCheck:
    """Outcome of a validation; costs are computed from the solution (None if empty)."""

    problems: tuple[str, ...]
    sum_of_costs: int | None = None
    sum_of_loss: int | None = None
    makespan: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _xy(p: np.ndarray) -> str:
    return f"({int(p[0])},{int(p[1])})"


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.extra = 0

    def add(self, text: str) -> None:
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(text)
        else:
            self.extra += 1

    def result(self) -> tuple[str, ...]:
        more = (f"... and {self.extra} more problems",) if self.extra else ()
        return tuple(self.lines) + more


def solution_costs_xy(solution: np.ndarray, goals: np.ndarray) -> tuple[int, int, int]:
    """(sum of costs, sum of loss, makespan) of a (T + 1, N, 2) solution, as LaCAM3 counts:
    an agent's cost is one past its last step away from its goal; its loss the steps not
    spent resting at the goal."""
    at_goal = np.all(solution == goals[None, :, :], axis=2)
    away = ~at_goal
    horizon = solution.shape[0]
    last_away = np.where(away.any(axis=0), horizon - 1 - np.argmax(away[::-1], axis=0), -1)
    loss = int((~(at_goal[1:] & at_goal[:-1])).sum())
    return int((last_away + 1).sum()), loss, horizon - 1


def validate_grid_solution(free: np.ndarray, starts: np.ndarray, goals: np.ndarray, solution: np.ndarray) -> GridCheck:
    """Check a solution against the grid and the agents' starts and goals.

    Parameters
    ----------
    free : (H, W) bool
        True where the grid is passable (``free[y, x]``).
    starts, goals : (N, 2) int
        (x, y) per agent.
    solution : (T + 1, N, 2) int
        (x, y) per time step and agent.
    """
    p = _Problems()
    starts = np.asarray(starts, dtype=np.int64)
    goals = np.asarray(goals, dtype=np.int64)
    solution = np.asarray(solution, dtype=np.int64)
    n = starts.shape[0]
    if goals.shape != starts.shape:
        return GridCheck((f"{starts.shape[0]} starts but {goals.shape[0]} goals",))
    if solution.ndim != 3 or solution.shape[1:] != (n, 2) or solution.shape[0] == 0:
        return GridCheck((f"solution must have at least one step of {n} positions, got shape {solution.shape}",))
    h, w = free.shape
    x, y = solution[..., 0], solution[..., 1]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    for t, i in zip(*np.nonzero(~inside)):
        p.add(f"agent {i} at t={t}: ({x[t, i]},{y[t, i]}) is outside the {w}x{h} grid")
    xc, yc = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    blocked = inside & ~free[yc, xc]
    for t, i in zip(*np.nonzero(blocked)):
        p.add(f"agent {i} at t={t}: ({x[t, i]},{y[t, i]}) is a blocked cell")
    for i in np.nonzero(np.any(solution[0] != starts, axis=1))[0]:
        p.add(f"agent {i}: starts at {_xy(solution[0, i])}, its start is {_xy(starts[i])}")
    for i in np.nonzero(np.any(solution[-1] != goals, axis=1))[0]:
        p.add(f"agent {i}: ends at {_xy(solution[-1, i])} at t={solution.shape[0] - 1}, its goal is {_xy(goals[i])}")
    step = np.abs(np.diff(solution, axis=0)).sum(axis=2)  # (T, N)
    for t, i in zip(*np.nonzero(step > 1)):
        p.add(f"agent {i} at t={t}->{t + 1}: jumps from {_xy(solution[t, i])} to {_xy(solution[t + 1, i])}")
    key = yc * w + xc  # cell id per time step and agent
    for t in range(solution.shape[0]):
        row = key[t]
        order = np.argsort(row, kind="stable")
        dup = np.nonzero(row[order][1:] == row[order][:-1])[0]
        for d in dup:
            a, b = sorted((int(order[d]), int(order[d + 1])))
            p.add(f"vertex conflict at t={t}: agents {a} and {b} both at ({x[t, a]},{y[t, a]})")
        if t == 0:
            continue
        prev = key[t - 1]
        moved = np.nonzero(prev != row)[0]
        if moved.size:
            # a swap: agent a goes u->v while agent b goes v->u
            edges = {(int(prev[a]), int(row[a])): int(a) for a in moved}
            for (u, v), a in edges.items():
                b = edges.get((v, u))
                if b is not None and a < b:
                    p.add(f"swap conflict at t={t - 1}->{t}: agents {a} and {b} trade ({u % w},{u // w}) and ({v % w},{v // w})")
    soc, loss, makespan = solution_costs_xy(solution, goals)
    return GridCheck(p.result(), sum_of_costs=soc, sum_of_loss=loss, makespan=makespan)


def validate_log(log: MapfLog, free: np.ndarray, starts: np.ndarray, goals: np.ndarray) -> GridCheck:
    """Check a parsed solution file against the grid and the scenario's agents."""
    head: list[str] = []
    n = starts.shape[0]
    if log.agents != n or log.starts.shape[0] != n or log.goals.shape[0] != n:
        return GridCheck((f"file has {log.agents} agents ({log.starts.shape[0]} starts), the scenario's first {n} were expected",))
    for label, got, want in (("start", log.starts, starts), ("goal", log.goals, goals)):
        for i in np.nonzero(np.any(got != want, axis=1))[0][:MAX_PROBLEMS]:
            head.append(f"agent {i}: file {label} {_xy(got[i])} differs from the scenario's {_xy(want[i])}")
    if not log.solved:
        if log.solution.shape[0]:
            head.append("solved=0 but a solution follows")
        return GridCheck(tuple(head))
    if log.solution.shape[0] == 0:
        return GridCheck(tuple(head) + ("solved=1 but the solution is empty",))
    check = validate_grid_solution(free, starts, goals, log.solution)
    reported = (("soc", log.soc, check.sum_of_costs), ("makespan", log.makespan, check.makespan), ("sum_of_loss", log.sum_of_loss, check.sum_of_loss))
    for key, got, want in reported:
        if got != want:
            head.append(f"file says {key}={got}, the solution has {want}")
    return GridCheck(tuple(head) + check.problems, check.sum_of_costs, check.sum_of_loss, check.makespan)


def validate_solution_file(solution_path: str | Path, map_path: str | Path, scen_path: str | Path) -> GridCheck:
    """Read a solution file, the ``.map`` and the ``.scen``, and check them together.

    The file's agent count N selects the scenario's first N agents.
    """
    log = read_log(solution_path)
    free = parse_grid(map_path)
    agents = load_scenario(scen_path)
    if log.agents > len(agents):
        return GridCheck((f"file has {log.agents} agents, scenario {scen_path} only {len(agents)}",))
    chosen = agents[: log.agents]
    starts = np.array([a.start_xy for a in chosen], dtype=np.int64).reshape(-1, 2)
    goals = np.array([a.goal_xy for a in chosen], dtype=np.int64).reshape(-1, 2)
    return validate_log(log, free, starts, goals)
