"""``igv sim``: simulated IGVs (and optionally the terminal) for a core running elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "sim"
HELP = "run N simulated IGVs on the wire protocol against a core running elsewhere ('igv serve')"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", default="tcp://127.0.0.1:5560", metavar="ENDPOINT",
                        help="the core's vehicle endpoint (default tcp://127.0.0.1:5560)")
    parser.add_argument("--vehicles", type=int, default=10, metavar="N", help="number of vehicles (default 10)")
    parser.add_argument("--map", default="bac_luan_2", metavar="NAME|FILE", help="track map (default bac_luan_2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of start stations, batteries, terminal (default 0)")
    parser.add_argument("--speed", type=float, default=1.0, metavar="F",
                        help="simulated seconds per wall second; must match the core's clock (default 1)")
    parser.add_argument("--duration-s", type=float, default=None, metavar="D",
                        help="stop after D simulated seconds (default: until Ctrl-C)")
    parser.add_argument("--state-hz", type=float, default=10.0, help="state reports per second while driving (default 10)")
    parser.add_argument("--gnss-sigma-m", type=float, default=0.0, help="noise on reported positions, metres (default 0)")
    parser.add_argument("--faults", metavar="FILE", help="fault schedule: TOML ([[faults]] tables) or JSON (a list)")
    parser.add_argument("--keys", metavar="DIR", help="key directory with SERIAL.key_secret and core.key (CurveZMQ)")
    parser.add_argument("--terminal", metavar="CONTROL_ENDPOINT",
                        help="also simulate the terminal, feeding the core's control API at this endpoint")
    parser.add_argument("--terminal-key", default="terminal", metavar="NAME",
                        help="control key name of the terminal in --keys (default 'terminal')")
    parser.add_argument("--demand-scale", type=float, default=1.0,
                        help="terminal demand as a share of the site's design peak day (default 1)")


def _load_faults(path: str, vehicles: list[str]) -> Any:
    import json
    import tomllib

    from maps.errors import ScenarioError
    from sim.faults import FaultSchedule

    file = Path(path)
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix == ".json":
            items = json.loads(text)
        else:
            items = tomllib.loads(text).get("faults", [])
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid {'JSON' if file.suffix == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(items, list):
        raise ScenarioError(f"{path}: the fault schedule must be a list of faults")
    return FaultSchedule.from_dicts(items, vehicles=vehicles, where=f"{path}: faults")


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import time

    from maps import load_track_map
    from maps.errors import InputError
    from sim.clock import RealtimeClock
    from sim.firmware import Firmware
    from sim.service import FixedService
    from sim.spawn import build_fleet, serials
    from sim.vehicle import VehicleConfig

    if args.vehicles < 1:
        raise InputError(f"--vehicles must be at least 1, got {args.vehicles}")
    if not args.speed > 0:
        raise InputError(f"--speed must be positive, got {args.speed}")
    if not args.state_hz > 0 or args.gnss_sigma_m < 0 or args.demand_scale < 0:
        raise InputError("--state-hz must be positive, --gnss-sigma-m and --demand-scale not negative")
    if args.duration_s is not None and not args.duration_s > 0:
        raise InputError(f"--duration-s must be positive, got {args.duration_s}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    track_map = load_track_map(args.map)
    names = serials(args.vehicles)
    faults = _load_faults(args.faults, names) if args.faults else None
    clock = RealtimeClock(args.speed)
    terminal, control = None, None
    service: Any = FixedService()
    if args.terminal:
        from fleet.control_client import ControlClient, ControlError
        from sim.demand import Demand, DemandConfig
        from sim.terminal import Terminal, split_event

        control_security = None
        if args.keys:
            from fleet.security import load_client_security

            control_security = load_client_security(args.keys, args.terminal_key)
        control = ControlClient(args.terminal, security=control_security)

        def send(event: dict[str, Any]) -> Any:
            op, call_args = split_event(event)
            try:
                return control.request(op, call_args, timeout_ms=500)  # never stall the vehicles long
            except ControlError as exc:
                logging.getLogger("sim.terminal").warning("%s", exc)
                return False

        terminal = Terminal(track_map, Demand(DemandConfig().scaled(args.demand_scale), seed=args.seed), send, seed=args.seed)
        service = terminal.service
    template = VehicleConfig(serial="igv", map_id=track_map.name, state_interval_driving_s=1.0 / args.state_hz,
                             gnss_sigma_m=args.gnss_sigma_m)
    fleet = build_fleet(track_map, args.vehicles, seed=args.seed, service=service, faults=faults, template=template)
    security = None
    if args.keys:
        from fleet.security import load_client_security

        keys = args.keys
        security = lambda serial: load_client_security(keys, serial)  # noqa: E731
    firmware = Firmware(fleet, args.connect, clock, terminal=terminal, security=security)
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"igv sim: {args.vehicles} vehicles on {track_map.name} -> {args.connect} at {args.speed:g}x"
          f"{' with the terminal -> ' + args.terminal if terminal else ''}", flush=True)
    started = time.monotonic()
    firmware.connect()
    try:
        firmware.run(duration_s=args.duration_s, should_stop=lambda: stop["now"])
    finally:
        firmware.close()
        if control is not None:
            control.close()
    online = sum(1 for c in firmware.clients.values() if c.link.heard)
    print(f"igv sim: stopped after {clock.now_s():.1f} simulated s ({time.monotonic() - started:.1f} s wall); "
          f"{online}/{args.vehicles} vehicles heard the core, {firmware.received} orders/instant actions received, "
          f"{firmware.states_sent} states sent", flush=True)
    return 0
