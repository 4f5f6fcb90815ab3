"""``igv view``: the control room, attached to a running core (or a recording, or a demo)."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "view"
HELP = "open the control room on a running core: 'igv view --connect tcp://127.0.0.1:5561'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--connect", metavar="ENDPOINT", help="the core's telemetry PUB endpoint (e.g. tcp://127.0.0.1:5561)")
    what.add_argument("--replay", metavar="FILE", help="replay a recording (JSON Lines, see docs/control-room.md)")
    what.add_argument("--demo", type=int, metavar="N", help="no core: N scripted vehicles on the map (commands work on them)")
    parser.add_argument("--control", metavar="ENDPOINT",
                        help="the core's control endpoint (default: the telemetry endpoint's port + 1)")
    parser.add_argument("--keys", metavar="DIR", help="key directory with this desk's NAME.key_secret and core.key (CurveZMQ)")
    parser.add_argument("--as", dest="key_name", metavar="NAME", help="which key in DIR (default: the only one there)")
    parser.add_argument("--map", metavar="NAME|FILE", help="track map (default: the one named by the telemetry)")
    parser.add_argument("--record", metavar="FILE", help="write the telemetry shown to a recording")
    parser.add_argument("--replay-rate", type=float, default=20.0, metavar="X",
                        help="replay speed in simulated seconds per second (default 20)")
    parser.add_argument("--size", default="1280x800", metavar="WxH", help="window size (default 1280x800)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="quit after N frames (smoke tests, scripted captures)")


def parse_size(text: str) -> tuple[int, int]:
    from maps.errors import InputError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like 1280x800, got {text!r}") from None
    if w < 1000 or h < 640:
        raise InputError(f"--size {text}: the control room needs at least 1000x640")
    return w, h


def control_endpoint_for(telemetry: str) -> str:
    """The control endpoint next to a telemetry endpoint: same host, port + 1."""
    from maps.errors import InputError

    scheme, _, rest = telemetry.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not host or not port.isdigit():
        raise InputError(f"cannot derive the control endpoint from {telemetry!r}: give --control ENDPOINT")
    return f"tcp://{host}:{int(port) + 1}"


def client_security(key_dir: str, name: str | None) -> Any:
    """The desk's CurveZMQ keys: ``NAME.key_secret`` and ``core.key`` in ``key_dir``."""
    from pathlib import Path

    from fleet.errors import SecurityError
    from fleet.security import SERVER_KEY_NAME, load_client_security

    directory = Path(key_dir)
    if not directory.is_dir():
        raise SecurityError(f"--keys {key_dir}: not a directory")
    if name is None:
        names = sorted(p.name[: -len(".key_secret")] for p in directory.glob("*.key_secret")
                       if p.name != f"{SERVER_KEY_NAME}.key_secret")
        if len(names) != 1:
            found = ", ".join(names) or "none"
            raise SecurityError(f"--keys {key_dir}: {len(names)} client keys ({found}); name one with --as NAME")
        name = names[0]
    return load_client_security(directory, name), name


def run(args: argparse.Namespace) -> int:
    from maps.errors import InputError

    size = parse_size(args.size)
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError("--max-frames must be at least 1")
    if args.demo is not None and not 1 <= args.demo <= 2000:
        raise InputError(f"--demo takes 1 to 2000 vehicles, got {args.demo}")
    if args.replay_rate <= 0:
        raise InputError(f"--replay-rate must be positive, got {args.replay_rate}")
    from maps import load_track_map
    from visualizer.app import run_control_room
    from visualizer.control import ReadOnlySender, ZmqControlSender
    from visualizer.source import RecordedSource, RecordingWriter, ZmqSource

    track_map = load_track_map(args.map) if args.map else None
    operator = ""
    if args.connect:
        import zmq

        control = args.control or control_endpoint_for(args.connect)
        security = None
        if args.keys:
            security, operator = client_security(args.keys, args.key_name)
        try:
            source: Any = ZmqSource(args.connect, control, security=security)
        except zmq.ZMQError as exc:
            raise InputError(f"cannot connect to {args.connect} / {control}: {exc.strerror}") from None
        sender: Any = ZmqControlSender(control, security=security)
        label = "LIVE"
    elif args.replay:
        source = RecordedSource(args.replay, rate=args.replay_rate)
        sender = ReadOnlySender("replay: commands are not sent anywhere")
        label = "REPLAY"
    else:
        from visualizer.fake import FakeFleet, FakeSource

        fleet = FakeFleet(track_map or load_track_map("bac_luan_2"), args.demo)
        source, sender, label = FakeSource(fleet), fleet, "DEMO"
    recorder = RecordingWriter(args.record) if args.record else None
    return run_control_room(source, sender, track_map=track_map, size=size, link_label=label, operator=operator,
                            recorder=recorder, max_frames=args.max_frames)
