"""The core's side of the wire: three sockets, one poll loop, a link per vehicle.

:class:`CoreTransport` binds

* a ROUTER for vehicles (each a DEALER whose routing id is its serial number),
* a PUB for telemetry (sequence-numbered updates; snapshots through the control API,
  zguide's Clone pattern),
* a ROUTER for the control API (operator and viewer clients),

and, with keys, a ZAP handler on the same loop. Its owner (the FleetManager) calls
:meth:`CoreTransport.poll` with a timeout and gets the decoded inbound messages and the
link events; it sends with :meth:`send_order`, :meth:`send_instant_actions` (reliable,
acknowledged, retransmitted) and :meth:`publish`, and registers control operations with
:meth:`register_control`. Link logic runs on the injected ``clock``, so tests can drive
it in virtual time; only the wait inside ``poll`` uses real time.

Nothing here blocks: sends are non-blocking, a vehicle that cannot take a message loses
it (reliable messages are retransmitted), and each poll handles at most
``max_batch`` messages per socket before it does housekeeping.
"""

from __future__ import annotations

import argparse
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import zmq

from fleet.codec import VEHICLE_TO_CORE, MessageLimits, MessageRejected
from fleet.control_service import ControlHandler, ControlRequest, ControlService, TelemetryStore
from fleet.endpoint import LinkEndpoint, TokenBucket
from fleet.errors import FleetError
from fleet.link import Link, LinkEventKind, LinkTiming
from fleet.messages import ConnectionState, InstantActions, Order
from fleet.security import (
    CONTROL_DOMAIN,
    TELEMETRY_DOMAIN,
    VEHICLE_DOMAIN,
    ZAP_ENDPOINT,
    Role,
    ServerSecurity,
    check_bind_policy,
    load_server_security,
    secure_server,
    zap_decide,
)
from fleet.validation import SERIAL_PATTERN

log = logging.getLogger("fleet.transport")

DEFAULT_VEHICLE_ENDPOINT = "tcp://127.0.0.1:5560"
DEFAULT_TELEMETRY_ENDPOINT = "tcp://127.0.0.1:5561"
DEFAULT_CONTROL_ENDPOINT = "tcp://127.0.0.1:5562"
HOUSEKEEPING_INTERVAL_S = 0.01
"""Link timers (heartbeats, retransmissions, connection state) are checked this often."""
MAX_BATCH = 1000
"""Messages taken from one socket per poll round before housekeeping runs."""
HARD_MAX_FRAME_BYTES = 8 << 20
"""ZeroMQ drops a connection that sends a larger frame (ZMQ_MAXMSGSIZE); smaller ones
over the payload limit are dropped and counted by the codec instead."""
ZMTP_HEARTBEAT_IVL_MS = 1000
ZMTP_HEARTBEAT_TIMEOUT_MS = 3000
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)


# PERF: pyzmq's recv_multipart asks getsockopt(RCVMORE) after every frame, which maps the
# option through an enum (~2 us), and its send_multipart type-checks every frame in Python
# and ORs SNDMORE into the flags as an enum; with plain int flags and each frame's own
# ``more`` flag a 3-frame message takes 6.6 instead of 10.5 us in and 3.9 instead of 10.3
# us out (measured on loopback). The core exchanges ~600 a tick at 200 vehicles.
def recv_frames(sock: zmq.Socket) -> list[zmq.Frame]:
    """The frames of one message, without waiting; raises :class:`zmq.Again` if there is none."""
    frame = sock.recv(_NOBLOCK, copy=False)
    frames = [frame]
    while frame.more:  # the rest of a multipart message arrives with its first frame
        frame = sock.recv(_NOBLOCK, copy=False)
        frames.append(frame)
    return frames


def send_frames(sock: zmq.Socket, frames: list[bytes]) -> None:
    """``sock.send_multipart(frames, zmq.NOBLOCK)``, see above."""
    for frame in frames[:-1]:
        sock.send(frame, _MORE_NOBLOCK)
    sock.send(frames[-1], _NOBLOCK)


@dataclass(frozen=True)
class TransportConfig:
    """Where the core binds and how its links behave.

    ``tcp://127.0.0.1:*`` binds a free port (see :attr:`CoreTransport.endpoints`).
    Binding anything but loopback without ``security`` raises
    :class:`~fleet.errors.SecurityError` unless ``insecure``.
    """

    vehicle_endpoint: str = DEFAULT_VEHICLE_ENDPOINT
    telemetry_endpoint: str = DEFAULT_TELEMETRY_ENDPOINT
    control_endpoint: str = DEFAULT_CONTROL_ENDPOINT
    security: ServerSecurity | None = None
    insecure: bool = False
    timing: LinkTiming = field(default_factory=LinkTiming)
    limits: MessageLimits = field(default_factory=MessageLimits)
    max_batch: int = MAX_BATCH
    housekeeping_interval_s: float = HOUSEKEEPING_INTERVAL_S
    max_links: int = 10_000
    verify_outbound: bool = True
    """Check every order and instant action before sending it, as the vehicle will. It
    catches core bugs at the source; each node and edge of an order is checked once a leg
    (:class:`fleet.codec.OrderEncoder`). Lockstep simulations (the simulator checks inbound
    messages anyway) turn it off."""


@dataclass(frozen=True)
class Endpoints:
    """The endpoints actually bound (ports resolved)."""

    vehicles: str
    telemetry: str
    control: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """A VDA message from a vehicle, delivered once and in order per link."""

    serial: str
    message: Any


@dataclass(frozen=True, slots=True)
class VehicleEvent:
    """A link event of vehicle ``serial`` (see :class:`fleet.link.LinkEvent`).

    ``message`` is the stamped order or instantActions of DELIVERED/UNDELIVERED.
    """

    serial: str
    kind: LinkEventKind
    rseq: int = 0
    message: Any = None
    new_session: bool = False
    rtt_s: float = 0.0
    reason: str = ""


@dataclass
class PollResult:
    inbound: list[Inbound] = field(default_factory=list)
    events: list[VehicleEvent] = field(default_factory=list)


@dataclass(frozen=True)
class LinkStats:
    serial: str
    connection_state: ConnectionState
    last_heard_s: float
    rx_messages: int
    tx_messages: int
    resends: int
    duplicates: int
    stale: int
    lost: int
    skipped: int
    delivered: int
    undelivered: int
    in_flight: int
    invalid_total: int
    invalid: dict[str, int]
    peer_errors: int


@dataclass(frozen=True)
class TransportStats:
    links: dict[str, LinkStats]
    bad_identity: int
    zap_allowed: int
    zap_refused: int
    control_requests: int
    control_denied: int
    control_invalid: int
    telemetry_updates: int
    tx_unroutable: int
    tx_dropped: int


class CoreTransport:
    """The core's sockets and poll loop (see the module docstring).

    Parameters
    ----------
    config : TransportConfig
    clock : callable
        Monotonic seconds for link timing (inject a virtual clock in lockstep tests).
    wall_clock : callable
        Epoch seconds for VDA timestamps.
    session : int, optional
        This core's link session; random by default (a restart must change it).
    context : zmq.Context, optional
        Shared context (lockstep runs put the vehicles on ``inproc://`` endpoints of the
        same context); it is left open on :meth:`close`. By default the transport has its own.
    """

    def __init__(
        self,
        config: TransportConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        session: int | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.config = config = config or TransportConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self.session = session if session is not None else secrets.randbelow(2**32 - 1) + 1
        check_bind_policy(
            (config.vehicle_endpoint, config.telemetry_endpoint, config.control_endpoint),
            config.security is not None,
            config.insecure,
            log,
        )
        self._security = config.security
        self._links: dict[bytes, LinkEndpoint] = {}
        self._by_serial: dict[str, bytes] = {}
        now = clock()
        self._next_housekeeping_s = now
        self._log_bucket = TokenBucket(0.5, 5, now)
        self._bad_identity = self._zap_allowed = self._zap_refused = 0
        self._tx_unroutable = self._tx_dropped = 0
        self._control_service = ControlService(log, self._warn)
        for op, handler in (("ping", self._op_ping), ("snapshot", self._op_snapshot), ("links", self._op_links)):
            self._control_service.register(op, handler, Role.VIEWER)
        self._telemetry_store = TelemetryStore()
        self._owns_context = context is None
        self._context = zmq.Context() if context is None else context
        self._sockets: list[zmq.Socket] = []
        try:
            self._zap = self._open_zap() if self._security else None
            self._vehicles = self._open(zmq.ROUTER, VEHICLE_DOMAIN, config.vehicle_endpoint)
            self._telemetry = self._open(zmq.PUB, TELEMETRY_DOMAIN, config.telemetry_endpoint)
            self._control = self._open(zmq.ROUTER, CONTROL_DOMAIN, config.control_endpoint)
        except BaseException:
            self.close()
            raise
        self._poller = zmq.Poller()
        self._handlers: dict[zmq.Socket, Callable[[PollResult], None]] = {
            self._vehicles: self._drain_vehicles,
            self._control: self._drain_control,
        }
        if self._zap is not None:
            self._handlers[self._zap] = self._drain_zap
        for sock in self._handlers:
            self._poller.register(sock, zmq.POLLIN)

    # ------------------------------------------------------------------ sockets

    def _open_zap(self) -> zmq.Socket:
        sock = self._context.socket(zmq.REP)
        sock.linger = 0
        self._sockets.append(sock)
        sock.bind(ZAP_ENDPOINT)
        return sock

    def _open(self, kind: int, domain: str, endpoint: str) -> zmq.Socket:
        sock = self._context.socket(kind)
        sock.linger = 0
        self._sockets.append(sock)
        sock.setsockopt(zmq.MAXMSGSIZE, HARD_MAX_FRAME_BYTES)
        if kind == zmq.ROUTER:
            sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # unroutable sends raise instead of vanishing
            # Without keys a reconnecting vehicle takes over its id at once (a half-open old
            # connection would otherwise hold it until the ZMTP heartbeat times out). With
            # keys, hand-over is off: another allow-listed key must never grab a connected
            # vehicle's route (ZAP cannot see routing ids, see docs/protocol.md).
            sock.setsockopt(zmq.ROUTER_HANDOVER, 0 if self._security else 1)
            sock.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
            sock.rcvhwm = 10_000
        else:
            sock.sndhwm = 100_000
        if self._security is not None:
            secure_server(sock, self._security, domain)
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            raise FleetError(f"cannot bind {endpoint}: {exc.strerror}") from None
        return sock

    @property
    def endpoints(self) -> Endpoints:
        """The bound endpoints, with ports resolved."""
        return Endpoints(
            vehicles=self._vehicles.getsockopt_string(zmq.LAST_ENDPOINT),
            telemetry=self._telemetry.getsockopt_string(zmq.LAST_ENDPOINT),
            control=self._control.getsockopt_string(zmq.LAST_ENDPOINT),
        )

    def close(self) -> None:
        """Close every socket (linger 0) and the context unless it was given."""
        for sock in self._sockets:
            sock.close(linger=0)
        self._sockets.clear()
        if self._owns_context and not self._context.closed:
            self._context.term()

    def __enter__(self) -> CoreTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ poll loop

    def poll(self, timeout_ms: int) -> PollResult:
        """Wait up to ``timeout_ms`` for traffic; return what arrived and the link events.

        Returns as soon as there is an inbound message or an event (or the time is up).
        Control requests and ZAP requests are answered inside; housekeeping (heartbeats,
        retransmissions, connection states) runs every round.
        """
        result = PollResult()
        end = time.monotonic() + max(timeout_ms, 0) / 1000.0
        step_ms = max(1, int(self.config.housekeeping_interval_s * 1000))
        while True:
            # Rounded up: truncating a remainder below 1 ms to 0 made the last millisecond
            # of every call a busy loop of non-blocking polls.
            wait_ms = min(step_ms, max(0, math.ceil((end - time.monotonic()) * 1000)))
            for sock, _ in self._poller.poll(wait_ms):
                self._handlers[sock](result)
            self._housekeeping(result)
            if result.inbound or result.events or time.monotonic() >= end:
                return result

    def _housekeeping(self, result: PollResult) -> None:
        now = self._clock()
        if now < self._next_housekeeping_s:
            return
        self._next_housekeeping_s = now + self.config.housekeeping_interval_s
        for identity, endpoint in self._links.items():
            link = endpoint.link
            if now >= link.deadline_s:
                for frames in endpoint.tick(now):
                    self._send(identity, frames)
            if link.events:
                self._collect(endpoint, result)

    def _collect(self, endpoint: LinkEndpoint, result: PollResult) -> None:
        for event in endpoint.link.take_events():
            result.events.append(
                VehicleEvent(
                    endpoint.serial,
                    event.kind,
                    rseq=event.rseq,
                    message=event.context,
                    new_session=event.new_session,
                    rtt_s=event.rtt_s,
                    reason=event.reason,
                )
            )

    def _send(self, identity: bytes, frames: list[bytes]) -> None:
        try:
            send_frames(self._vehicles, [identity, *frames])
        except zmq.Again:
            self._tx_dropped += 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self._tx_unroutable += 1

    def _warn(self, message: str, *args: object) -> None:
        if self._log_bucket.allow(self._clock()):
            log.warning(message, *args)

    # ------------------------------------------------------------------ vehicles

    def _endpoint(self, identity: bytes, now: float) -> LinkEndpoint | None:
        endpoint = self._links.get(identity)
        if endpoint is not None:
            return endpoint
        serial = identity.decode("ascii", "replace")
        if not SERIAL_PATTERN.fullmatch(serial) or len(self._links) >= self.config.max_links:
            self._bad_identity += 1
            self._warn("dropped a message from routing id %r: not a valid serial number", identity[:70])
            return None
        link = Link(self.config.timing, self.session, now)
        endpoint = LinkEndpoint(serial, link, VEHICLE_TO_CORE, self.config.limits, log, now)
        self._links[identity] = endpoint
        self._by_serial[serial] = identity
        return endpoint

    def _drain_vehicles(self, result: PollResult) -> None:
        sock = self._vehicles
        secured = self._security is not None
        now = self._clock()
        inbound = result.inbound
        for _ in range(self.config.max_batch):
            try:
                raw = recv_frames(sock)
            except zmq.Again:
                return
            if secured:
                user = raw[-1].get("User-Id")
            frames = [f.bytes for f in raw]
            identity = frames[0]
            endpoint = self._endpoint(identity, now)
            if endpoint is None:
                continue
            if secured and user != endpoint.serial:
                rejected = MessageRejected("identity", f"the CURVE key of {user!r} may not speak for {endpoint.serial!r}")
                outgoing = endpoint.reject(rejected, now)
            else:
                delivered, outgoing = endpoint.receive(frames[1:], now)
                serial = endpoint.serial
                for message in delivered:
                    inbound.append(Inbound(serial, message))
            for out in outgoing:
                self._send(identity, out)
            if endpoint.link.events:
                self._collect(endpoint, result)

    def send_order(self, serial: str, order: Order) -> int:
        """Send an order (update) reliably; returns its ``rseq`` for the DELIVERED event.

        The order is stamped (header fields) and checked as the vehicle will check it.

        Raises
        ------
        FleetError
            Unknown vehicle, invalid order, or too many unacknowledged messages.
        """
        return self._send_reliable(serial, order)

    def send_instant_actions(self, serial: str, actions: InstantActions) -> int:
        """Send instant actions reliably; returns the ``rseq`` (see :meth:`send_order`)."""
        return self._send_reliable(serial, actions)

    def _send_reliable(self, serial: str, message: Order | InstantActions) -> int:
        identity = self._by_serial.get(serial)
        if identity is None:
            raise FleetError(f"no link to vehicle {serial!r}: it has not connected")
        endpoint = self._links[identity]
        rseq, frames, _ = endpoint.send(message, self._clock(), self._wall_clock(), verify=self.config.verify_outbound)
        self._send(identity, frames)
        return rseq

    def connection_state(self, serial: str) -> ConnectionState | None:
        """The link state of ``serial``, or None if it never connected."""
        identity = self._by_serial.get(serial)
        return None if identity is None else self._links[identity].link.state

    # ------------------------------------------------------------------ telemetry

    def publish(self, topic: str, seq: int, payload: Any) -> None:
        """Publish a telemetry update; ``payload`` None deletes ``topic``.

        ``seq`` must rise with every update (across topics); the latest update of each
        topic is kept for snapshots (Clone pattern, see :mod:`fleet.control_protocol`).
        Raises :class:`~fleet.errors.FleetError` on a bad seq, topic or payload.
        """
        frames = self._telemetry_store.update(topic, seq, payload)
        self._telemetry.send_multipart(frames, zmq.NOBLOCK)  # PUB drops, never blocks

    # ------------------------------------------------------------------ control

    def register_control(self, op: str, handler: ControlHandler, *, min_role: Role = Role.OPERATOR) -> None:
        """Serve the control operation ``op``; clients below ``min_role`` are refused.

        The handler's return value (msgpack-able) is the reply's result; an
        :class:`~maps.errors.IgvError` it raises becomes the reply's error.
        """
        self._control_service.register(op, handler, min_role)

    def _drain_control(self, result: PollResult) -> None:
        sock = self._control
        secured = self._security is not None
        for _ in range(self.config.max_batch):
            try:
                if secured:
                    raw = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    user = raw[-1].get("User-Id")
                    frames = [f.bytes for f in raw]
                else:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            identity = frames[0]
            if secured:
                client, role = user, self._security.allow.role_of(user)
            else:
                client, role = identity.hex(), Role.OPERATOR
            self._reply(identity, self._control_service.serve(frames[1:], client, role))

    def _reply(self, identity: bytes, frames: list[bytes]) -> None:
        try:
            self._control.send_multipart([identity, *frames], zmq.NOBLOCK)
        except zmq.Again:
            self._tx_dropped += 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self._tx_unroutable += 1

    def _op_ping(self, request: ControlRequest) -> dict[str, Any]:
        return {"pong": True, "role": request.role.value, "session": self.session}

    def _op_snapshot(self, request: ControlRequest) -> dict[str, Any]:
        prefix = request.args.get("prefix", "")
        if not isinstance(prefix, str):
            raise FleetError("snapshot: prefix must be a string")
        return self._telemetry_store.snapshot(prefix)

    def _op_links(self, request: ControlRequest) -> dict[str, Any]:
        return {
            serial: {
                "connectionState": s.connection_state.value,
                "rx": s.rx_messages,
                "tx": s.tx_messages,
                "resends": s.resends,
                "invalid": s.invalid_total,
                "inFlight": s.in_flight,
            }
            for serial, s in self.stats().links.items()
        }

    # ------------------------------------------------------------------ ZAP

    def _drain_zap(self, result: PollResult) -> None:
        zap, security = self._zap, self._security
        if zap is None or security is None:
            return
        while True:
            try:
                request = zap.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            decision = zap_decide(request, security.allow)
            zap.send_multipart(decision.reply)
            if decision.allowed:
                self._zap_allowed += 1
                log.info("admitted %s as %s on %s", decision.address, decision.user_id, decision.domain)
            else:
                self._zap_refused += 1
                self._warn(
                    "refused connection from %s on %s: %s %s",
                    decision.address,
                    decision.domain,
                    decision.reason,
                    decision.key,
                )

    # ------------------------------------------------------------------ statistics

    def stats(self) -> TransportStats:
        """Counters of every link and of the transport."""
        links = {}
        for endpoint in self._links.values():
            link = endpoint.link
            links[endpoint.serial] = LinkStats(
                serial=endpoint.serial,
                connection_state=link.state,
                last_heard_s=link.last_heard_s,
                rx_messages=link.rx_count,
                tx_messages=link.tx_count,
                resends=link.tx_resends,
                duplicates=link.rx_duplicates,
                stale=link.rx_stale,
                lost=link.rx_lost,
                skipped=link.rx_skipped,
                delivered=link.delivered,
                undelivered=link.undelivered,
                in_flight=link.in_flight,
                invalid_total=endpoint.invalid_total,
                invalid=dict(endpoint.invalid),
                peer_errors=endpoint.peer_errors,
            )
        return TransportStats(
            links=links,
            bad_identity=self._bad_identity,
            zap_allowed=self._zap_allowed,
            zap_refused=self._zap_refused,
            control_requests=self._control_service.requests,
            control_denied=self._control_service.denied,
            control_invalid=self._control_service.invalid,
            telemetry_updates=self._telemetry_store.updates,
            tx_unroutable=self._tx_unroutable,
            tx_dropped=self._tx_dropped,
        )


# --------------------------------------------------------------------------- command line


def add_transport_arguments(parser: argparse.ArgumentParser) -> None:
    """The core's endpoint and security options, for any command that runs a core."""
    group = parser.add_argument_group("wire protocol (docs/protocol.md)")
    group.add_argument("--vehicles", default=DEFAULT_VEHICLE_ENDPOINT, metavar="ENDPOINT", help="vehicle ROUTER")
    group.add_argument("--telemetry", default=DEFAULT_TELEMETRY_ENDPOINT, metavar="ENDPOINT", help="telemetry PUB")
    group.add_argument("--control", default=DEFAULT_CONTROL_ENDPOINT, metavar="ENDPOINT", help="control ROUTER")
    group.add_argument("--keys", metavar="DIR", help="key directory of 'igv keys generate' (enables CurveZMQ)")
    group.add_argument(
        "--insecure", action="store_true", help="allow binding beyond loopback without keys (logged as a warning)"
    )


def config_from_arguments(args: argparse.Namespace) -> TransportConfig:
    """A :class:`TransportConfig` from :func:`add_transport_arguments` options."""
    return TransportConfig(
        vehicle_endpoint=args.vehicles,
        telemetry_endpoint=args.telemetry,
        control_endpoint=args.control,
        security=load_server_security(args.keys) if args.keys else None,
        insecure=args.insecure,
    )
