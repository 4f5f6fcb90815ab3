"""The ``igv`` console script: one entry point, sub-commands found by discovery.

Each package keeps its sub-commands in ``<package>/commands/<name>.py``; a module there
defines ``NAME`` (the word typed after ``igv``), ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Discovery means a package adds a
command without touching this file, and ``igv --help`` lists only commands that exist.
Command modules keep heavy imports (numba, shapely, zmq, pygame) inside ``run`` so that
``igv --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType
from typing import NoReturn, Sequence

from maps.errors import IgvError

COMMAND_PACKAGES = ("maps", "planner", "fleet", "sim", "visualizer", "bench")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not usage plus message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def discover_commands() -> list[ModuleType]:
    """Import every ``<package>.commands.<name>`` module that defines a command."""
    found: list[ModuleType] = []
    for package_name in COMMAND_PACKAGES:
        package = importlib.import_module(f"{package_name}.commands")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package_name}.commands.{info.name}")
            if hasattr(module, "NAME") and hasattr(module, "run"):
                found.append(module)
    return sorted(found, key=lambda m: m.NAME)


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="igv",
        description="IGV fleet orchestration and motion planning for the Bac Luan II smart border gate.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for module in discover_commands():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``igv``; return the process exit code.

    An :class:`IgvError` (bad input) becomes one line on stderr and exit code 2 unless the
    command chose its own code; unexpected exceptions are bugs and keep their traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except IgvError as exc:
        print(f"igv {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"igv {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"igv {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
