"""``igv serve``: the real-time core alone, for real vehicles or ``igv sim``."""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "run the real-time core (vehicles, telemetry and control sockets) until stopped"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fleet.transport import DEFAULT_CONTROL_ENDPOINT, DEFAULT_TELEMETRY_ENDPOINT, DEFAULT_VEHICLE_ENDPOINT

    parser.add_argument("--map", default="bac_luan_2", metavar="NAME|FILE", help="track map (default: bac_luan_2)")
    parser.add_argument("--state-dir", default=".state", metavar="DIR", help="journal directory (default: .state)")
    parser.add_argument("--keys", metavar="DIR", help="CurveZMQ key directory (from 'igv keys generate'); secures all sockets")
    parser.add_argument("--vehicles-endpoint", default=DEFAULT_VEHICLE_ENDPOINT)
    parser.add_argument("--telemetry-endpoint", default=DEFAULT_TELEMETRY_ENDPOINT)
    parser.add_argument("--control-endpoint", default=DEFAULT_CONTROL_ENDPOINT)
    parser.add_argument("--insecure", action="store_true", help="allow binding beyond loopback without keys (warns)")
    parser.add_argument("--tick-s", type=float, default=0.1, help="core tick period in seconds (default 0.1)")
    parser.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds (default: run until Ctrl-C)")


def run(args: argparse.Namespace) -> int:
    import signal
    import time
    from pathlib import Path

    from fleet.core.config import CoreConfig
    from fleet.core.manager import FleetManager, quiet_gc
    from fleet.transport import CoreTransport, TransportConfig
    from maps import load_track_map
    from maps.errors import InputError

    if args.tick_s <= 0:
        raise InputError(f"--tick-s must be positive, got {args.tick_s}")
    security = None
    if args.keys:
        from fleet.security import load_server_security

        security = load_server_security(args.keys)
    track_map = load_track_map(args.map)
    transport = CoreTransport(
        TransportConfig(vehicle_endpoint=args.vehicles_endpoint, telemetry_endpoint=args.telemetry_endpoint,
                        control_endpoint=args.control_endpoint, security=security, insecure=args.insecure),
        clock=time.monotonic,
    )
    start = time.monotonic()
    # Epoch seconds: journaled times (gate-in, deadlines) stay meaningful across restarts.
    manager = FleetManager(track_map, CoreConfig(map_name=args.map, state_dir=Path(args.state_dir)),
                           clock=time.time, transport=transport)
    quiet_gc()
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ep = transport.endpoints
    print(f"igv core on map {track_map.name}: vehicles {ep.vehicles}, telemetry {ep.telemetry}, control {ep.control}", flush=True)
    try:
        next_tick = time.monotonic()
        while not stop["now"]:
            if args.duration_s is not None and time.monotonic() - start >= args.duration_s:
                break
            manager.tick()
            next_tick += args.tick_s
            time.sleep(max(0.0, next_tick - time.monotonic()))
    finally:
        manager.close()
        transport.close()
    print("igv core stopped", flush=True)
    return 0
