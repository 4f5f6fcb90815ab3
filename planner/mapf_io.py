"""The MAPF solution file of design section 7, byte for byte the layout LaCAM3 writes.

::

    agents=3
    map_file=random-32-32-20.map
    solver=lacam-star-numba
    solved=1
    soc=...
    soc_lb=...
    makespan=...
    makespan_lb=...
    sum_of_loss=...
    sum_of_loss_lb=...
    comp_time=...            (whole milliseconds)
    seed=0
    <further key=value lines: LaCAM3's search statistics, kept in order>
    starts=(x,y),(x,y),(x,y),
    goals=(x,y),(x,y),(x,y),
    solution=
    0:(x,y),(x,y),(x,y),
    1:(x,y),(x,y),(x,y),
    ...

x is the column and y the row of the grid. An unsolved instance has ``solved=0``, zero
costs and no lines after ``solution=``. Readers of other solvers' files get every
``key=value`` line they do not know in :attr:`MapfLog.extra`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from planner.errors import PlanFileError

_HEAD_KEYS = (
    "agents",
    "map_file",
    "solver",
    "solved",
    "soc",
    "soc_lb",
    "makespan",
    "makespan_lb",
    "sum_of_loss",
    "sum_of_loss_lb",
    "comp_time",
    "seed",
)
_INT_KEYS = frozenset(("agents", "soc", "soc_lb", "makespan", "makespan_lb", "sum_of_loss", "sum_of_loss_lb", "seed"))
_COORD = re.compile(r"\((-?\d+),(-?\d+)\),")


@dataclass(frozen=True)
class MapfLog:
    """One solution file.

    ``solution`` is (T + 1, N, 2) int: ``solution[t, i] = (x, y)`` of agent ``i`` at time
    ``t``; shape (0, N, 2) when unsolved. ``starts`` and ``goals`` are (N, 2).
    """

    agents: int
    map_file: str
    solver: str
    solved: bool
    soc: int
    soc_lb: int
    makespan: int
    makespan_lb: int
    sum_of_loss: int
    sum_of_loss_lb: int
    comp_time_ms: float
    seed: int
    starts: np.ndarray
    goals: np.ndarray
    solution: np.ndarray
    extra: tuple[tuple[str, str], ...] = field(default=())


def _coords(xy: np.ndarray) -> str:
    return "".join(f"({int(x)},{int(y)})," for x, y in xy)


def format_log(log: MapfLog) -> str:
    """The file text (LaCAM3's ``make_log`` layout)."""
    lines = [
        f"agents={log.agents}",
        f"map_file={log.map_file}",
        f"solver={log.solver}",
        f"solved={int(log.solved)}",
        f"soc={log.soc}",
        f"soc_lb={log.soc_lb}",
        f"makespan={log.makespan}",
        f"makespan_lb={log.makespan_lb}",
        f"sum_of_loss={log.sum_of_loss}",
        f"sum_of_loss_lb={log.sum_of_loss_lb}",
        f"comp_time={int(round(log.comp_time_ms))}",
        f"seed={log.seed}",
    ]
    lines += [f"{k}={v}" for k, v in log.extra]
    lines.append("starts=" + _coords(log.starts))
    lines.append("goals=" + _coords(log.goals))
    lines.append("solution=")
    for t, row in enumerate(log.solution):
        lines.append(f"{t}:" + _coords(row))
    return "\n".join(lines) + "\n"


def write_log(path: str | Path, log: MapfLog) -> None:
    """Write ``log`` to ``path`` (parent directories must exist)."""
    Path(path).write_text(format_log(log), encoding="utf-8")


def _parse_coords(path: str, lineno: int, text: str, expected: int | None) -> np.ndarray:
    pairs = _COORD.findall(text)
    if "".join(f"({x},{y})," for x, y in pairs) != text.strip():
        raise PlanFileError(f"{path}:{lineno}: expected '(x,y),' repeated, got {text[:40]!r}")
    if expected is not None and len(pairs) != expected:
        raise PlanFileError(f"{path}:{lineno}: expected {expected} positions, got {len(pairs)}")
    return np.array(pairs, dtype=np.int64).reshape(len(pairs), 2)


def read_log(path: str | Path) -> MapfLog:
    """Read a solution file; :class:`PlanFileError` names the file and line of any defect."""
    p = Path(path)
    if not p.is_file():
        raise PlanFileError(f"{p}: no such file")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from None
    name = str(p)
    head: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    starts = goals = None
    rows: list[np.ndarray] = []
    in_solution = False
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if in_solution:
            t_text, sep, rest = line.partition(":")
            if not sep or not t_text.strip().isdigit():
                raise PlanFileError(f"{name}:{lineno}: expected 't:(x,y),...', got {line[:40]!r}")
            if int(t_text) != len(rows):
                raise PlanFileError(f"{name}:{lineno}: time step {int(t_text)} out of order, expected {len(rows)}")
            rows.append(_parse_coords(name, lineno, rest, int(head["agents"]) if "agents" in head else None))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise PlanFileError(f"{name}:{lineno}: expected 'key=value', got {line[:40]!r}")
        key = key.strip()
        if key == "solution":
            if value.strip():
                raise PlanFileError(f"{name}:{lineno}: 'solution=' must end its line")
            in_solution = True
        elif key in ("starts", "goals"):
            coords = _parse_coords(name, lineno, value, int(head["agents"]) if "agents" in head else None)
            if key == "starts":
                starts = coords
            else:
                goals = coords
        elif key in _HEAD_KEYS:
            if key in head:
                raise PlanFileError(f"{name}:{lineno}: '{key}' given twice")
            if key in _INT_KEYS or key == "solved":
                try:
                    int(value)
                except ValueError:
                    raise PlanFileError(f"{name}:{lineno}: '{key}' must be a whole number, got {value[:20]!r}") from None
            elif key == "comp_time":
                try:
                    float(value)
                except ValueError:
                    raise PlanFileError(f"{name}:{lineno}: 'comp_time' must be a number, got {value[:20]!r}") from None
            head[key] = value.strip()
        else:
            extra.append((key, value))
    for key in ("agents", "solved"):
        if key not in head:
            raise PlanFileError(f"{name}: missing '{key}=' line")
    if starts is None or goals is None:
        raise PlanFileError(f"{name}: missing 'starts=' or 'goals=' line")
    if not in_solution:
        raise PlanFileError(f"{name}: missing 'solution=' line")
    n = int(head["agents"])
    solution = np.stack(rows) if rows else np.zeros((0, n, 2), dtype=np.int64)
    return MapfLog(
        agents=n,
        map_file=head.get("map_file", ""),
        solver=head.get("solver", ""),
        solved=int(head["solved"]) != 0,
        soc=int(head.get("soc", 0)),
        soc_lb=int(head.get("soc_lb", 0)),
        makespan=int(head.get("makespan", 0)),
        makespan_lb=int(head.get("makespan_lb", 0)),
        sum_of_loss=int(head.get("sum_of_loss", 0)),
        sum_of_loss_lb=int(head.get("sum_of_loss_lb", 0)),
        comp_time_ms=float(head.get("comp_time", 0)),
        seed=int(head.get("seed", 0)),
        starts=starts,
        goals=goals,
        solution=solution,
        extra=tuple(extra),
    )
