"""A small client of the core's control API, and a telemetry mirror (Clone pattern).

:class:`ControlClient` sends requests over a DEALER and waits for the matching reply.
:class:`TelemetryMirror` keeps a local copy of the core's telemetry: it subscribes first,
asks for a snapshot, then applies only updates newer than the snapshot (zguide, chapter
5, "Clone"). The visualizer is its main user; tests and tools use both.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import zmq

from fleet.control_protocol import decode_reply, decode_update, encode_request
from fleet.errors import FleetError, ProtocolError
from fleet.security import ClientSecurity, secure_client
from fleet.transport import DEFAULT_CONTROL_ENDPOINT


class ControlError(FleetError):
    """The core refused a control request, or did not answer in time."""


class ControlClient:
    """Request/reply client of the control ROUTER.

    Parameters
    ----------
    endpoint : str
        The core's control endpoint.
    security : ClientSecurity, optional
        Key pair and core public key; needed when the core runs with keys.
    context : zmq.Context, optional
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_CONTROL_ENDPOINT,
        *,
        security: ClientSecurity | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.security = security
        self.context = context or zmq.Context.instance()
        self._ids = itertools.count(1)
        self._socket = self.context.socket(zmq.DEALER)
        self._socket.linger = 0
        if security is not None:
            secure_client(self._socket, security)
        self._socket.connect(endpoint)

    def request(self, op: str, args: dict[str, Any] | None = None, *, timeout_ms: int = 2000) -> Any:
        """Call ``op`` and return its result.

        Raises
        ------
        ControlError
            The core answered with an error (e.g. ``forbidden``) or not within ``timeout_ms``.
        """
        request_id = next(self._ids)
        self._socket.send_multipart(encode_request(request_id, op, args or {}))
        end = time.monotonic() + timeout_ms / 1000.0
        while True:
            remaining_ms = int((end - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not self._socket.poll(remaining_ms, zmq.POLLIN):
                raise ControlError(f"control {op!r}: no reply from {self.endpoint} within {timeout_ms} ms")
            try:
                reply_id, ok, value = decode_reply(self._socket.recv_multipart())
            except ProtocolError as exc:
                raise ControlError(f"control {op!r}: {exc}") from None
            if reply_id != request_id:
                continue  # the late answer to an earlier request that timed out
            if not ok:
                raise ControlError(f"control {op!r}: {value}")
            return value

    def close(self) -> None:
        self._socket.close(linger=0)

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TelemetryMirror:
    """A local copy of the telemetry topics under ``prefix`` (Clone pattern).

    Call :meth:`sync` once (subscribe, snapshot), then :meth:`poll` in the owner's loop.
    :attr:`topics` maps each live topic to its latest payload; :attr:`seq` is the last
    applied sequence number.
    """

    def __init__(self, telemetry_endpoint: str, control: ControlClient, *, prefix: str = "") -> None:
        self.control = control
        self.prefix = prefix
        self.topics: dict[str, Any] = {}
        self.seq = 0
        self._socket = control.context.socket(zmq.SUB)
        self._socket.linger = 0
        if control.security is not None:
            secure_client(self._socket, control.security)
        self._socket.setsockopt(zmq.SUBSCRIBE, prefix.encode("utf-8"))
        self._socket.connect(telemetry_endpoint)
        self._synced = False

    def sync(self, *, timeout_ms: int = 2000, settle_ms: int = 100) -> None:
        """Subscribe, then load the snapshot; updates that raced it are applied after.

        ``settle_ms`` gives the subscription time to reach the publisher first, so that
        nothing published after the snapshot is missed.
        """
        time.sleep(settle_ms / 1000.0)
        early = self._receive()
        snapshot = self.control.request("snapshot", {"prefix": self.prefix}, timeout_ms=timeout_ms)
        self.topics = {topic: payload for topic, _, payload in snapshot["entries"]}
        self.seq = int(snapshot["seq"])
        self._synced = True
        self._apply(early + self._receive())

    def poll(self, timeout_ms: int = 0) -> list[tuple[str, int, Any]]:
        """Apply waiting updates (waiting up to ``timeout_ms``); return those applied."""
        if not self._synced:
            raise FleetError("TelemetryMirror.poll before sync()")
        if timeout_ms > 0:
            self._socket.poll(timeout_ms, zmq.POLLIN)
        return self._apply(self._receive())

    def _receive(self) -> list[tuple[str, int, Any]]:
        updates = []
        while True:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return updates
            updates.append(decode_update(frames))

    def _apply(self, updates: list[tuple[str, int, Any]]) -> list[tuple[str, int, Any]]:
        applied = []
        for topic, seq, payload in updates:
            if seq <= self.seq:
                continue  # already in the snapshot
            if payload is None:
                self.topics.pop(topic, None)
            else:
                self.topics[topic] = payload
            self.seq = seq
            applied.append((topic, seq, payload))
        return applied

    def close(self) -> None:
        self._socket.close(linger=0)
