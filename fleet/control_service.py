"""The core's control API and telemetry store, without sockets.

:class:`ControlService` answers control requests (frames in, frames out): it decodes a
request, checks the caller's role against the operation's minimum role, runs the
registered handler and encodes the reply. :class:`TelemetryStore` numbers telemetry
updates and keeps the latest one of each topic for Clone-pattern snapshots.
:class:`fleet.transport.CoreTransport` owns both and does the socket work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import msgpack

from fleet.control_protocol import ControlRejected, decode_request, encode_reply, encode_update
from fleet.errors import FleetError
from fleet.security import Role
from maps.errors import IgvError

MAX_TOPIC_LEN = 256


@dataclass(frozen=True)
class ControlRequest:
    """A control API call passed to a registered handler."""

    client: str
    role: Role
    op: str
    args: dict[str, Any]


ControlHandler = Callable[[ControlRequest], Any]


class ControlService:
    """Registered operations, role checks and counters of the control API.

    Parameters
    ----------
    logger : logging.Logger
    warn : callable
        Rate-limited warning for bad requests (a flood must not flood the log).
    """

    def __init__(self, logger: logging.Logger, warn: Callable[..., None]) -> None:
        self.logger = logger
        self._warn = warn
        self._ops: dict[str, tuple[ControlHandler, Role]] = {}
        self.requests = 0
        self.denied = 0
        self.invalid = 0

    def register(self, op: str, handler: ControlHandler, min_role: Role) -> None:
        if op in self._ops:
            raise FleetError(f"control op {op!r} is already registered")
        self._ops[op] = (handler, min_role)

    def serve(self, frames: list[bytes], client: str, role: Role | None) -> list[bytes]:
        """The reply frames to one request from ``client`` (``role`` None: unknown key)."""
        try:
            call = decode_request(frames)
        except ControlRejected as exc:
            self.invalid += 1
            self._warn("control client %s: bad request: %s", client, exc)
            return encode_reply(exc.request_id or 0, error=f"bad request: {exc}")
        self.requests += 1
        entry = self._ops.get(call.op)
        if entry is None:
            return encode_reply(call.request_id, error=f"unknown op {call.op!r}")
        handler, min_role = entry
        if role is None or not role.allows(min_role):
            self.denied += 1
            shown = role.value if role else "unknown"
            self.logger.warning("control client %s (%s) may not %r: refused", client, shown, call.op)
            return encode_reply(call.request_id, error=f"forbidden: {shown} keys may not {call.op!r}")
        try:
            return encode_reply(call.request_id, result=handler(ControlRequest(client, role, call.op, call.args)))
        except IgvError as exc:
            return encode_reply(call.request_id, error=str(exc))
        except Exception:  # a handler bug must not take the core down; it is logged in full
            self.logger.exception("control op %r failed", call.op)
            return encode_reply(call.request_id, error=f"internal error in {call.op!r}")


class TelemetryStore:
    """Sequence-numbered telemetry updates and the latest update of every topic."""

    def __init__(self) -> None:
        self.seq = 0
        self.updates = 0
        self._latest: dict[str, tuple[int, bytes]] = {}

    def update(self, topic: str, seq: int, payload: Any) -> list[bytes]:
        """Record an update; return its PUB frames. ``payload`` None deletes ``topic``.

        Raises
        ------
        FleetError
            ``seq`` not above the last one, a bad topic, or a payload msgpack cannot encode.
        """
        if seq <= self.seq:
            raise FleetError(f"telemetry seq {seq} must be above the last one, {self.seq}")
        if not 0 < len(topic) <= MAX_TOPIC_LEN:
            raise FleetError(f"telemetry topic must have 1 to {MAX_TOPIC_LEN} characters, got {len(topic)}")
        try:
            frames = encode_update(topic, seq, payload)
        except (TypeError, ValueError, OverflowError) as exc:
            raise FleetError(f"telemetry {topic}: payload cannot be encoded: {exc}") from None
        if payload is None:
            self._latest.pop(topic, None)
        else:
            self._latest[topic] = (seq, frames[2])
        self.seq = seq
        self.updates += 1
        return frames

    def snapshot(self, prefix: str) -> dict[str, Any]:
        """``{"seq": last seq, "entries": [[topic, seq, payload], ...]}`` for ``prefix``."""
        entries = [
            [topic, seq, msgpack.unpackb(body, raw=False)]
            for topic, (seq, body) in self._latest.items()
            if topic.startswith(prefix)
        ]
        return {"seq": self.seq, "entries": entries}
