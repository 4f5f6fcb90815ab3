"""Operator commands: the :class:`ControlSender` interface and its implementations.

The control room changes nothing itself: every operator action is a command dict of
docs/telemetry.md (``{"cmd": "block_lane", "lane": "R5/012"}``) sent to the core's control
API, whose reply (``{"ok": true, ...}`` or ``{"ok": false, "error": "one line"}``) is shown
to the operator. :class:`CommandRunner` keeps slow replies off the drawing loop.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Any, Protocol


class ControlSender(Protocol):
    """Sends one control-API command and returns the reply (never raises for a refusal)."""

    def send(self, command: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


def reply_error(text: str) -> dict[str, Any]:
    return {"ok": False, "error": text}


class ZmqControlSender:
    """Commands over the core's control ROUTER with :class:`fleet.control_client.ControlClient`.

    The client (and its socket) is made on first use, in the thread that sends: with
    :class:`CommandRunner` that is its worker thread, which then owns the socket.

    Parameters
    ----------
    endpoint : str
        The core's control endpoint.
    security : fleet.security.ClientSecurity, optional
        The operator's key pair and the core's public key.
    timeout_ms : int
        How long to wait for each reply.
    """

    def __init__(self, endpoint: str, *, security: Any = None, timeout_ms: int = 3000) -> None:
        self.endpoint = endpoint
        self.security = security
        self.timeout_ms = timeout_ms
        self._client: Any = None

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        from fleet.control_client import ControlClient, ControlError

        cmd = command.get("cmd")
        if not isinstance(cmd, str):
            return reply_error("command has no 'cmd'")
        if self._client is None:
            self._client = ControlClient(self.endpoint, security=self.security)
        args = {key: value for key, value in command.items() if key != "cmd"}
        try:
            result = self._client.request(cmd, args, timeout_ms=self.timeout_ms)
        except ControlError as exc:
            return reply_error(str(exc))
        return {"ok": True, **result} if isinstance(result, dict) else {"ok": True, "result": result}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class ReadOnlySender:
    """For replays: every command is refused with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        return reply_error(self.reason)

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class CommandResult:
    command: dict[str, Any]
    reply: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.reply.get("ok") is True

    def describe(self) -> str:
        """One line for the status bar: the command and its outcome."""
        cmd = str(self.command.get("cmd", "?"))
        subject = next((str(v) for k, v in self.command.items() if k not in ("cmd", "confirm")), "")
        head = f"{cmd} {subject}".strip()
        if self.ok:
            return f"{head}: ok"
        return f"{head}: refused: {self.reply.get('error', 'no reason given')}"


class CommandRunner:
    """Runs commands in order, in a worker thread when ``threaded``.

    :meth:`submit` returns at once; :meth:`results` hands back the replies that arrived
    since its last call, in the order the commands were sent. Without ``threaded`` each
    command is sent inside :meth:`submit` (tests, scripted sessions).
    """

    def __init__(self, sender: ControlSender, *, threaded: bool = True) -> None:
        self.sender = sender
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="igv-control") if threaded else None
        self._futures: list[tuple[dict[str, Any], concurrent.futures.Future[dict[str, Any]]]] = []
        self._done: list[CommandResult] = []

    def submit(self, command: dict[str, Any]) -> None:
        if self._pool is None:
            self._done.append(CommandResult(command, self._safe_send(command)))
        else:
            self._futures.append((command, self._pool.submit(self._safe_send, command)))

    def _safe_send(self, command: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.sender.send(command)
        except Exception as exc:  # a transport failure must reach the operator, not kill the loop
            return reply_error(f"{type(exc).__name__}: {exc}")

    def results(self) -> list[CommandResult]:
        while self._futures and self._futures[0][1].done():
            command, future = self._futures.pop(0)
            self._done.append(CommandResult(command, future.result()))
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # the worker is done with the sender after this
        self.sender.close()
