"""``igv keys generate``: CurveZMQ key pairs and the allow-list for the core.

Writes, in one key directory, ``core.key``/``core.key_secret`` (created once, kept after),
one pair per vehicle serial number and per control-room client, and adds them to
``allow.json`` with their role. Give each vehicle its ``.key_secret`` and ``core.key``;
keep ``core.key_secret`` and ``allow.json`` on the core.
"""

from __future__ import annotations

import argparse

NAME = "keys"
HELP = "manage CurveZMQ keys: 'igv keys generate DIR --vehicle igv-001 --operator desk-1'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    generate = actions.add_parser("generate", help="write key pairs and update the allow-list")
    generate.add_argument("directory", help="key directory (created if missing)")
    generate.add_argument("--vehicle", nargs="+", default=[], metavar="SERIAL", help="vehicle serial numbers")
    generate.add_argument("--operator", nargs="+", default=[], metavar="NAME", help="control clients that may command")
    generate.add_argument("--viewer", nargs="+", default=[], metavar="NAME", help="control clients that may only watch")
    generate.add_argument("--force", action="store_true", help="replace existing key pairs of the names given")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fleet.errors import SecurityError
    from fleet.security import (
        ALLOW_LIST_NAME,
        SERVER_KEY_NAME,
        Role,
        check_key_name,
        load_allow_list,
        update_allow_list,
        write_key_pair,
    )

    key_dir = Path(args.directory)
    names = [*args.vehicle, *args.operator, *args.viewer]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SecurityError(f"name given twice: {duplicates[0]}")
    if SERVER_KEY_NAME in names:
        raise SecurityError(f"{SERVER_KEY_NAME!r} is the core's own key name")
    if (key_dir / ALLOW_LIST_NAME).exists():
        load_allow_list(key_dir / ALLOW_LIST_NAME)
    for name in names:  # check everything before writing anything
        check_key_name(key_dir, name, force=args.force)
    if not (key_dir / f"{SERVER_KEY_NAME}.key_secret").exists():
        write_key_pair(key_dir, SERVER_KEY_NAME)
        print(f"wrote {key_dir / SERVER_KEY_NAME}.key and .key_secret (the core)")
    vehicles = {}
    for serial in args.vehicle:
        vehicles[serial] = write_key_pair(key_dir, serial, force=args.force).public
    control = {}
    for names_of_role, role in ((args.operator, Role.OPERATOR), (args.viewer, Role.VIEWER)):
        for name in names_of_role:
            control[name] = (write_key_pair(key_dir, name, force=args.force).public, role)
    update_allow_list(key_dir / ALLOW_LIST_NAME, vehicles, control)
    for name in names:
        print(f"wrote {key_dir / name}.key and .key_secret")
    print(f"allow-list {key_dir / ALLOW_LIST_NAME}: {len(vehicles)} vehicle(s), {len(control)} control client(s) added")
    return 0
