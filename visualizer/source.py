"""Where telemetry comes from: a live core over ZeroMQ, or a recording.

A source only moves messages; the Clone logic (gaps, stale patches, buffering) is the
:class:`~visualizer.mirror.StateMirror`'s. Each frame the control room calls
``source.poll(mirror.needs_snapshot, now_s)`` and hands what it returns to :func:`feed`:
:class:`Snapshot` objects and patch dicts, in arrival order.

A recording is JSON Lines: a line with ``state`` is a snapshot (``{"seq": N, "state":
{...}}``, the control API's reply without ``ok``), every other line is a patch exactly as
published (``{"seq": N, "t_s": T, "changes": {...}}``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Protocol

from visualizer.errors import TelemetryError
from visualizer.mirror import PatchOutcome, StateMirror

TELEMETRY_TOPIC = "telemetry"
SNAPSHOT_RETRY_S = 3.0
"""A snapshot request unanswered this long is sent again (the core may have restarted)."""
MAX_MESSAGES_PER_POLL = 500


@dataclass(frozen=True)
class Snapshot:
    seq: int
    state: dict[str, Any]


@dataclass(frozen=True)
class SourceStatus:
    connected: bool
    detail: str
    last_error: str = ""


class TelemetrySource(Protocol):
    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        """Snapshots and patches received since the last call (never blocks)."""

    @property
    def status(self) -> SourceStatus: ...

    def close(self) -> None: ...


@dataclass
class FeedResult:
    applied: int = 0
    errors: list[str] = field(default_factory=list)


def feed(mirror: StateMirror, messages: Iterable[Any], recorder: "RecordingWriter | None" = None) -> FeedResult:
    """Apply ``messages`` to ``mirror``; malformed ones are reported, not raised."""
    result = FeedResult()
    for message in messages:
        try:
            if isinstance(message, Snapshot):
                result.applied += mirror.apply_snapshot(message.seq, message.state)
                if recorder is not None:
                    recorder.snapshot(message.seq, message.state)
            elif mirror.apply_patch(message) is PatchOutcome.APPLIED:
                result.applied += 1
                if recorder is not None:
                    recorder.patch(message)
        except TelemetryError as exc:
            result.errors.append(str(exc))
    return result


class ZmqSource:
    """Telemetry of a running core: SUB for patches, the control API for snapshots.

    Frames and requests are those of :mod:`fleet.control_protocol`. The snapshot request
    is sent without waiting for its reply, so drawing never stalls on the network. A core
    whose ``snapshot`` op answers with the transport's topic store (``entries``) rather
    than the state document is asked with its ``state`` op instead.

    Parameters
    ----------
    telemetry_endpoint, control_endpoint : str
    security : fleet.security.ClientSecurity, optional
        The operator's keys (CurveZMQ); both sockets use them.
    """

    def __init__(self, telemetry_endpoint: str, control_endpoint: str, *, security: Any = None) -> None:
        import zmq

        from fleet.security import secure_client

        self._zmq = zmq
        self.description = f"core at {telemetry_endpoint} (control {control_endpoint})"
        self._context = zmq.Context()
        self._sub = self._context.socket(zmq.SUB)
        self._req = self._context.socket(zmq.DEALER)
        for sock in (self._sub, self._req):
            sock.linger = 0
            if security is not None:
                secure_client(sock, security)
        self._sub.setsockopt(zmq.SUBSCRIBE, TELEMETRY_TOPIC.encode())
        self._sub.connect(telemetry_endpoint)
        self._req.connect(control_endpoint)
        self._snapshot_op = "snapshot"
        self._request_id = 0
        self._asked_at_s: float | None = None
        self._last_heard_s: float | None = None
        self._last_error = ""

    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        from fleet.control_protocol import decode_update
        from fleet.errors import ProtocolError

        out: list[Any] = []
        out.extend(self._snapshot_reply())
        if needs_snapshot and not out and (self._asked_at_s is None or now_s - self._asked_at_s > SNAPSHOT_RETRY_S):
            self._ask(now_s)
        for _ in range(MAX_MESSAGES_PER_POLL):
            try:
                frames = self._sub.recv_multipart(self._zmq.NOBLOCK)
            except self._zmq.Again:
                break
            try:
                topic, _, patch = decode_update(frames)
            except ProtocolError as exc:
                self._last_error = f"telemetry: {exc}"
                continue
            if topic == TELEMETRY_TOPIC:
                self._last_heard_s = time.monotonic()
                out.append(patch)
        return out

    def _ask(self, now_s: float) -> None:
        from fleet.control_protocol import encode_request

        self._request_id += 1
        self._asked_at_s = now_s
        try:
            self._req.send_multipart(encode_request(self._request_id, self._snapshot_op, {}), self._zmq.NOBLOCK)
        except self._zmq.Again:
            self._asked_at_s = None  # not connected yet: try again next frame

    def _snapshot_reply(self) -> list[Snapshot]:
        from fleet.control_protocol import decode_reply
        from fleet.errors import ProtocolError

        while True:
            try:
                frames = self._req.recv_multipart(self._zmq.NOBLOCK)
            except self._zmq.Again:
                return []
            try:
                request_id, ok, value = decode_reply(frames)
            except ProtocolError as exc:
                self._last_error = str(exc)
                continue
            if request_id != self._request_id:
                continue  # the answer to a request that was given up
            self._asked_at_s = None
            self._last_heard_s = time.monotonic()
            if not ok:
                self._last_error = f"snapshot refused: {value}"
                return []
            if isinstance(value, dict) and "state" in value and "seq" in value:
                self._last_error = ""
                return [Snapshot(value["seq"], value["state"])]
            if isinstance(value, dict) and "entries" in value and self._snapshot_op == "snapshot":
                self._snapshot_op = "state"
                return []
            self._last_error = "snapshot reply has no state document"
            return []

    @property
    def status(self) -> SourceStatus:
        heard = self._last_heard_s
        if heard is None:
            return SourceStatus(False, f"waiting for {self.description}", self._last_error)
        age_s = time.monotonic() - heard
        connected = age_s < 5.0
        detail = self.description if connected else f"nothing from the core for {age_s:.0f} s"
        return SourceStatus(connected, detail, self._last_error)

    def close(self) -> None:
        self._sub.close(linger=0)
        self._req.close(linger=0)
        self._context.term()


class RecordingWriter:
    """Writes a recording (see the module docstring) as telemetry is applied."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] = self.path.open("w", encoding="utf-8")

    def snapshot(self, seq: int, state: dict[str, Any]) -> None:
        self._file.write(json.dumps({"seq": seq, "state": state}, separators=(",", ":")) + "\n")

    def patch(self, patch: dict[str, Any]) -> None:
        self._file.write(json.dumps(patch, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._file.close()


class RecordedSource:
    """Replays a recording.

    Parameters
    ----------
    path : str or Path
    rate : float or None
        Simulated seconds replayed per wall second (patch ``t_s`` paces the replay);
        ``None`` gives ``per_poll`` patches on each poll (tests, benchmarks).
    per_poll : int
        Patches per poll when ``rate`` is None.

    Raises
    ------
    TelemetryError
        The file does not start with a snapshot line.
    """

    def __init__(self, path: str | Path, *, rate: float | None = None, per_poll: int = 1) -> None:
        self.path = Path(path)
        self.rate = rate
        self.per_poll = per_poll
        self.description = f"recording {self.path.name}"
        self._file = self.path.open("r", encoding="utf-8")
        self._lines: Iterator[tuple[int, str]] = enumerate(self._file, start=1)
        self._last_error = ""
        self._ahead: Any = None
        self.finished = False
        first = self._next()
        if not isinstance(first, Snapshot):
            self._file.close()
            raise TelemetryError(f"{self.path}:1: a recording starts with a snapshot line")
        self._first = first
        self._t0_s: float | None = None
        self._wall0_s = 0.0

    def _next(self) -> Any:
        for number, line in self._lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                self._last_error = f"{self.path}:{number}: not JSON ({exc.msg})"
                continue
            if isinstance(record, dict) and "state" in record:
                return Snapshot(record.get("seq"), record["state"])
            return record
        self.finished = True
        return None

    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        out: list[Any] = []
        if self._first is not None:
            out.append(self._first)
            self._t0_s = float(self._first.state.get("clock", {}).get("t_s", 0.0)) if isinstance(self._first.state, dict) else 0.0
            self._wall0_s = now_s
            self._first = None
            needs_snapshot = False
        elif needs_snapshot:  # skip to the next snapshot in the file
            record = self._take()
            while record is not None and not isinstance(record, Snapshot):
                record = self._take()
            if record is not None:
                out.append(record)
            return out
        count = 0
        while not self.finished:
            record = self._peek()
            if record is None:
                break
            if self.rate is None:
                if count >= self.per_poll:
                    break
            elif _t_of(record) > (self._t0_s or 0.0) + (now_s - self._wall0_s) * self.rate:
                break
            self._take()
            if not isinstance(record, Snapshot):  # later snapshots only serve gaps
                out.append(record)
                count += 1
        return out

    def _peek(self) -> Any:
        if self._ahead is None:
            self._ahead = self._next()
        return self._ahead

    def _take(self) -> Any:
        record = self._peek()
        self._ahead = None
        return record

    @property
    def status(self) -> SourceStatus:
        detail = f"{self.description} (end)" if self.finished else self.description
        return SourceStatus(True, detail, self._last_error)

    def close(self) -> None:
        self._file.close()


def _t_of(record: Any) -> float:
    t_s = record.get("t_s", 0.0) if isinstance(record, dict) else 0.0
    return float(t_s) if isinstance(t_s, (int, float)) else 0.0
