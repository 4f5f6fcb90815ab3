"""``igv yard relocate FILE [--time-limit-s T]``: solve one restricted block relocation
instance and print the moves.

Input (whitespace separated integers; blank lines and ``#`` comments are ignored)::

    S H N            stacks, maximum height, containers
    k p1 ... pk      one line per stack: k containers bottom to top (1 = retrieved first)

Output: one line per move, ``relocate C FROM TO`` or ``retrieve C FROM`` (stacks
numbered from 1), then ``relocations=R``. Exit code 0 when a plan was printed, 1 when
the instance has no plan (or none was found in time; the reason goes to stderr), 2 for
bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maps.errors import InputError

NAME = "yard"
HELP = "yard tools: solve a block relocation instance (igv yard relocate FILE)"


class RelocationFileError(InputError):
    """A block relocation instance file cannot be read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="yard_command", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    relocate = sub.add_parser(
        "relocate",
        help="fewest relocations to retrieve every container in order",
        description="Solve a restricted block relocation instance (format in docs/allocation.md).",
    )
    relocate.add_argument("file", metavar="FILE", help="instance file: 'S H N' then one 'k p1 .. pk' line per stack")
    relocate.add_argument("--time-limit-s", type=float, default=10.0, metavar="T", help="time budget in seconds (default 10)")


def parse_relocation_instance(text: str, source: str = "<input>"):
    """Parse the ``S H N`` format into a :class:`~planner.relocation.BrpInstance`.

    Raises
    ------
    RelocationFileError
        One line naming the file, the line and what is wrong.
    """
    from planner.errors import ProblemError
    from planner.relocation import BrpInstance

    rows: list[tuple[int, list[int]]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append((lineno, [int(tok) for tok in line.split()]))
        except ValueError:
            raise RelocationFileError(f"{source}:{lineno}: expected integers, got {line!r}") from None
    if not rows:
        raise RelocationFileError(f"{source}: empty file, expected a first line 'S H N'")
    lineno, head = rows[0]
    if len(head) != 3:
        raise RelocationFileError(f"{source}:{lineno}: first line must be 'S H N' (three integers), got {len(head)} numbers")
    s_count, height, n = head
    if s_count < 1 or height < 1 or n < 0:
        raise RelocationFileError(f"{source}:{lineno}: need S >= 1, H >= 1, N >= 0, got S={s_count} H={height} N={n}")
    if len(rows) - 1 != s_count:
        raise RelocationFileError(f"{source}: S={s_count} stacks announced but {len(rows) - 1} stack lines found")
    stacks: list[tuple[int, ...]] = []
    seen: dict[int, int] = {}
    for stack_no, (lineno, nums) in enumerate(rows[1:], start=1):
        k, labels = nums[0], nums[1:]
        if k != len(labels):
            raise RelocationFileError(f"{source}:{lineno}: stack {stack_no} announces {k} containers but lists {len(labels)}")
        if k > height:
            raise RelocationFileError(f"{source}:{lineno}: stack {stack_no} holds {k} containers, above H={height}")
        for c in labels:
            if not 1 <= c <= n:
                raise RelocationFileError(f"{source}:{lineno}: container {c} outside 1..N={n}")
            if c in seen:
                raise RelocationFileError(f"{source}:{lineno}: container {c} appears twice (first on line {seen[c]})")
            seen[c] = lineno
        stacks.append(tuple(labels))
    if len(seen) != n:
        missing = min(set(range(1, n + 1)) - set(seen))
        raise RelocationFileError(f"{source}: N={n} but only {len(seen)} containers listed (container {missing} missing)")
    try:
        return BrpInstance(tuple(stacks), height)
    except ProblemError as exc:
        raise RelocationFileError(f"{source}: {exc}") from None


def format_relocation_plan(moves) -> str:
    """The output lines for a plan (stacks numbered from 1), ending in ``relocations=R``."""
    lines = []
    relocations = 0
    for m in moves:
        if m.kind == "relocate":
            relocations += 1
            lines.append(f"relocate {m.container} {m.from_stack + 1} {m.to_stack + 1}")
        else:
            lines.append(f"retrieve {m.container} {m.from_stack + 1}")
    lines.append(f"relocations={relocations}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from planner.relocation import solve_brp

    if not args.time_limit_s > 0:
        raise InputError(f"--time-limit-s must be positive, got {args.time_limit_s}")
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RelocationFileError(f"{path}: not a text file") from None
    inst = parse_relocation_instance(text, str(path))
    result = solve_brp(inst, time_limit_s=args.time_limit_s)
    if not result.found:
        print(f"igv yard relocate: {result.status.value}: {result.reason}", file=sys.stderr)
        return 1
    sys.stdout.write(format_relocation_plan(result.moves))
    if result.status.value != "optimal":
        print(
            f"igv yard relocate: not proven optimal within {args.time_limit_s:g} s (lower bound {result.lower_bound})",
            file=sys.stderr,
        )
    return 0
