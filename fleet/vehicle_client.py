"""The vehicle side of the wire, reusable by the simulator, tests and benches.

A :class:`VehicleClient` is one vehicle: a DEALER whose routing id is its serial number,
connected to the core's vehicle ROUTER, and a :class:`~fleet.link.Link` with its own
session. It sends ``connection`` ONLINE on :meth:`~VehicleClient.connect`, stamps and sends
``state``, ``visualization`` and ``factsheet``, and returns each received order and
instant-action message once. It answers a ``factsheetRequest`` instant action itself when
it was given a factsheet.

Above the link's exactly-once delivery it also drops VDA-level repeats, which a core may
send after it restarts: an order whose (``orderId``, ``orderUpdateId``) equals the last one
received, and instant actions whose ``actionId`` was already received.

Many clients can share one :class:`zmq.Context` and be served by one loop with
:class:`ClientGroup`. Nothing blocks; the clock is injected.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

import zmq

from fleet.codec import CORE_TO_VEHICLE, MessageLimits
from fleet.endpoint import LinkEndpoint
from fleet.factsheet import Factsheet
from fleet.link import Link, LinkEvent, LinkTiming
from fleet.messages import Connection, ConnectionState, InstantActions, Order, State, Visualization
from fleet.security import ClientSecurity, secure_client
from fleet.transport import DEFAULT_VEHICLE_ENDPOINT, ZMTP_HEARTBEAT_IVL_MS, ZMTP_HEARTBEAT_TIMEOUT_MS
from fleet.validation import check_serial

log = logging.getLogger("fleet.vehicle_client")

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2000
REMEMBERED_ACTION_IDS = 4096
"""Instant-action ids remembered for duplicate suppression."""


@dataclass(frozen=True)
class VehicleClientConfig:
    serial_number: str
    manufacturer: str
    endpoint: str = DEFAULT_VEHICLE_ENDPOINT
    security: ClientSecurity | None = None
    timing: LinkTiming = field(default_factory=LinkTiming)
    limits: MessageLimits = field(default_factory=MessageLimits)
    factsheet: Factsheet | None = None
    """Sent in answer to a ``factsheetRequest`` instant action."""
    verify_outbound: bool = True
    """Check each outgoing message as the core will (catches simulator bugs early). It
    roughly doubles the cost of a send (~30 us for a state); a load generator turns it off."""


class VehicleClient:
    """One vehicle's connection to the core (see the module docstring).

    Parameters
    ----------
    config : VehicleClientConfig
    context : zmq.Context, optional
        Shared context; by default the global instance.
    clock, wall_clock : callable
        Monotonic seconds for link timing; epoch seconds for VDA timestamps.
    session : int, optional
        Link session; random by default. A restarted vehicle must use a new one.
    current_order : tuple of (str, int), optional
        (``orderId``, ``orderUpdateId``) the vehicle already holds after a restart, so
        that a repeat of it is not executed twice.
    """

    def __init__(
        self,
        config: VehicleClientConfig,
        *,
        context: zmq.Context | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        session: int | None = None,
        current_order: tuple[str, int] | None = None,
    ) -> None:
        check_serial(config.serial_number)
        self.config = config
        self._context = context or zmq.Context.instance()
        self._clock = clock
        self._wall_clock = wall_clock
        now = clock()
        session = session if session is not None else secrets.randbelow(2**32 - 1) + 1
        link = Link(config.timing, session, now, keepalive_offline=True)
        self.endpoint = LinkEndpoint(
            config.serial_number, link, CORE_TO_VEHICLE, config.limits, log, now, manufacturer=config.manufacturer
        )
        self.socket: zmq.Socket | None = None
        self._last_order = current_order
        self._action_ids: OrderedDict[str, None] = OrderedDict()
        self.duplicates_ignored = 0
        self.tx_dropped = 0
        self.events: list[LinkEvent] = []

    @property
    def serial(self) -> str:
        return self.config.serial_number

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock the link runs on."""
        return self._clock

    @property
    def link(self) -> Link:
        return self.endpoint.link

    @property
    def connection_state(self) -> ConnectionState:
        """What this vehicle knows of the core: ONLINE once the core has answered."""
        return self.endpoint.link.state

    # ------------------------------------------------------------------ socket

    def _open(self) -> None:
        sock = self._context.socket(zmq.DEALER)
        sock.linger = 0
        sock.routing_id = self.serial.encode("ascii")
        sock.setsockopt(zmq.IMMEDIATE, 1)  # no queueing towards a core that is not there
        sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
        sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
        sock.sndhwm = 1000
        if self.config.security is not None:
            secure_client(sock, self.config.security)
        sock.connect(self.config.endpoint)
        self.socket = sock

    def connect(self) -> None:
        """Open the socket and announce ``connection`` ONLINE (reliable)."""
        if self.socket is None:
            self._open()
        self._send(Connection(connection_state=ConnectionState.ONLINE))

    def reconnect(self) -> None:
        """Drop the socket and open a new one, keeping the link: the session resumes."""
        self.drop()
        self._open()

    def drop(self) -> None:
        """Close the socket without a word, as a vehicle that loses power or radio would."""
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None

    def close(self, *, timeout_s: float = 1.0) -> bool:
        """Announce ``connection`` OFFLINE, wait up to ``timeout_s`` for its ack, close.

        Returns True if the core acknowledged the goodbye.
        """
        if self.socket is None:
            return False
        rseq = self._send(Connection(connection_state=ConnectionState.OFFLINE))
        end = time.monotonic() + timeout_s
        while self.link.awaiting(rseq) and time.monotonic() < end:
            self.poll(10)
        self.drop()
        return not self.link.awaiting(rseq)

    # ------------------------------------------------------------------ sending

    def _send(self, message: Any) -> int:
        rseq, frames, _ = self.endpoint.send(
            message, self._clock(), self._wall_clock(), verify=self.config.verify_outbound
        )
        self._transmit(frames)
        return rseq

    def _transmit(self, frames: list[bytes]) -> None:
        if self.socket is None:
            self.tx_dropped += 1
            return
        try:
            self.socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:  # not connected (IMMEDIATE) or queue full: reliable ones are resent
            self.tx_dropped += 1

    def send_state(self, state: State) -> None:
        """Stamp and send a state (unreliable: the next one supersedes it)."""
        self._send(state)

    def send_visualization(self, visualization: Visualization) -> None:
        self._send(visualization)

    def send_factsheet(self, factsheet: Factsheet) -> int:
        """Send the factsheet (reliable); returns its ``rseq``."""
        return self._send(factsheet)

    # ------------------------------------------------------------------ receiving

    def poll(self, timeout_ms: int = 0) -> list[Order | InstantActions]:
        """Receive what is waiting (waiting up to ``timeout_ms``), then run the link timers.

        Returns the new orders and instant actions, in order, each once.
        """
        if self.socket is not None and timeout_ms > 0:
            self.socket.poll(timeout_ms, zmq.POLLIN)
        return self.process()

    def process(self, *, receive: bool = True, timers: bool = True) -> list[Order | InstantActions]:
        """Like :meth:`poll` without waiting; ``receive=False`` only runs the timers (for a
        caller that polled the socket itself and found nothing), ``timers=False`` only
        receives (for a caller about to send its state: run the timers after it, or a
        state sent every heartbeat interval goes with a heartbeat it makes redundant)."""
        out: list[Order | InstantActions] = []
        now = self._clock()
        if receive and self.socket is not None:
            while True:
                try:
                    frames = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                delivered, outgoing = self.endpoint.receive(frames, now)
                for frames_out in outgoing:
                    self._transmit(frames_out)
                out.extend(self._filter(delivered))
        if timers and now >= self.endpoint.link.deadline_s:
            for frames_out in self.endpoint.tick(now):
                self._transmit(frames_out)
        if self.endpoint.link.events:
            self.events.extend(self.endpoint.link.take_events())
        return out

    def take_events(self) -> list[LinkEvent]:
        """Link events (ONLINE, CONNECTIONBROKEN, DELIVERED, ...) since the last call."""
        events, self.events = self.events, []
        return events

    def _filter(self, delivered: Iterable[Any]) -> Iterable[Order | InstantActions]:
        for message in delivered:
            if isinstance(message, Order):
                key = (message.order_id, message.order_update_id)
                if key == self._last_order:
                    self.duplicates_ignored += 1
                    continue
                self._last_order = key
                yield message
            elif isinstance(message, InstantActions):
                fresh = tuple(a for a in message.actions if a.action_id not in self._action_ids)
                self.duplicates_ignored += len(message.actions) - len(fresh)
                for action in fresh:
                    self._action_ids[action.action_id] = None
                    if len(self._action_ids) > REMEMBERED_ACTION_IDS:
                        self._action_ids.popitem(last=False)
                if not fresh:
                    continue
                if self.config.factsheet is not None and any(a.action_type == "factsheetRequest" for a in fresh):
                    self.send_factsheet(self.config.factsheet)
                yield message if len(fresh) == len(message.actions) else replace(message, actions=fresh)


TIMER_INTERVAL_S = 0.01
"""A :class:`ClientGroup` runs its clients' link timers at most this often."""


class ClientGroup:
    """Serve many clients from one loop (the simulator and the benches run hundreds)."""

    def __init__(self, clients: Iterable[VehicleClient] = (), *, clock: Callable[[], float] | None = None) -> None:
        self.clients: list[VehicleClient] = list(clients)
        # The timers follow the clients' clock (virtual in lockstep simulations).
        self._clock = clock or (self.clients[0].clock if self.clients else time.monotonic)
        self._poller = zmq.Poller()
        self._registered: list[zmq.Socket] = []
        self._next_timers_s = -math.inf

    def poll(self, timeout_ms: int) -> dict[str, list[Order | InstantActions]]:
        """Wait up to ``timeout_ms`` for any client's socket, receive on the ready ones and
        run all link timers (at most every :data:`TIMER_INTERVAL_S`); return the new
        messages by serial number (non-empty entries only)."""
        sockets = [c.socket for c in self.clients if c.socket is not None]
        if sockets != self._registered:  # a client connected, reconnected or dropped
            self._poller = zmq.Poller()
            for sock in sockets:
                self._poller.register(sock, zmq.POLLIN)
            self._registered = sockets
        ready = dict(self._poller.poll(timeout_ms))
        out: dict[str, list[Order | InstantActions]] = {}
        now = self._clock()
        # PERF: with hundreds of clients, walking all of them on every wake-up costs more
        # than the messages; idle clients only need their timers every TIMER_INTERVAL_S.
        if now >= self._next_timers_s:
            self._next_timers_s = now + TIMER_INTERVAL_S
            due = self.clients
        else:
            due = [c for c in self.clients if c.socket in ready] if ready else []
        for client in due:
            messages = client.process(receive=client.socket in ready)
            if messages:
                out[client.serial] = messages
        return out
