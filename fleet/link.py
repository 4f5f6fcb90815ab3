"""One end of a reliable vehicle link: a pure state machine over an injected clock.

ZeroMQ gives ordered delivery while a TCP connection lasts, but drops messages when a
connection breaks, when a ROUTER has no route, or when a queue is full; VDA 5050 over
MQTT QoS 0 has no acknowledgement at all. :class:`Link` adds, per link and per direction:

* ``seq`` on every transmission (stale or repeated transmissions are dropped, gaps are
  counted as lost);
* ``rseq`` on reliable messages, delivered to the owner **exactly once and in order**
  (out-of-order arrivals wait in a window); the receiver answers each with an
  :class:`~fleet.messages.Ack` (cumulative plus selective);
* retransmission of unacknowledged reliable messages after :data:`RESEND_AFTER_S`,
  doubling up to :data:`RESEND_MAX_INTERVAL_S`, at most :data:`MAX_RESENDS` times while
  the link is ONLINE; a message that exhausts its retries is reported UNDELIVERED and the
  header's ``rbase`` moves past it, which tells the receiver to stop waiting for it;
* sessions: each end picks a random ``session`` when it starts. A receiver that sees a
  new peer session resets its receive state and starts from the sender's ``rbase``; the
  sender retransmits all it has in flight at once. So a restarted vehicle (or core) gets
  exactly the messages it had not acknowledged, and nothing twice;
* heartbeats after :data:`HEARTBEAT_INTERVAL_S` without a transmission, and the
  connection state: ONLINE on any valid message, CONNECTIONBROKEN after
  :data:`CONNECTION_BROKEN_AFTER_S` of silence, OFFLINE after :data:`OFFLINE_AFTER_S` of
  silence or when the peer says so (in-flight messages are then reported UNDELIVERED).

The link never touches a socket or a clock: its owner passes ``now_s``, sends the
headers and payloads it returns, and drains :attr:`Link.events`. The same class runs on
both ends and in virtual-time tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fleet.codec import Header, encode_payload
from fleet.errors import FleetError
from fleet.messages import Ack, ConnectionState, Heartbeat

HEARTBEAT_INTERVAL_S = 0.5
"""A link end that has sent nothing for this long sends a heartbeat."""
CONNECTION_BROKEN_AFTER_S = 2.0
"""No valid message from the peer for this long: CONNECTIONBROKEN (four heartbeats missed)."""
OFFLINE_AFTER_S = 30.0
"""No valid message from the peer for this long: OFFLINE, in-flight messages given up."""
RESEND_AFTER_S = 0.25
"""First retransmission of an unacknowledged reliable message."""
RESEND_MAX_INTERVAL_S = 2.0
"""Retransmission intervals double from RESEND_AFTER_S up to this."""
MAX_RESENDS = 8
"""Retransmissions of one message while ONLINE before it is reported UNDELIVERED."""
FAST_RESEND_GUARD_S = 0.05
"""A selective ack shows a gap: resend the missing message unless sent this recently."""
WINDOW = 64
"""Reliable messages in flight per link and direction; the receiver buffers as many."""

HEARTBEAT_PAYLOAD = encode_payload(Heartbeat())


class LinkWindowFull(FleetError):
    """Too many reliable messages are waiting for acknowledgement on one link."""


@dataclass(frozen=True)
class LinkTiming:
    """Timing of a link; the defaults are the documented protocol constants."""

    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S
    connection_broken_after_s: float = CONNECTION_BROKEN_AFTER_S
    offline_after_s: float = OFFLINE_AFTER_S
    resend_after_s: float = RESEND_AFTER_S
    resend_max_interval_s: float = RESEND_MAX_INTERVAL_S
    max_resends: int = MAX_RESENDS
    fast_resend_guard_s: float = FAST_RESEND_GUARD_S
    window: int = WINDOW

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_interval_s < self.connection_broken_after_s < self.offline_after_s:
            raise FleetError("link timing needs 0 < heartbeat_interval_s < connection_broken_after_s < offline_after_s")
        if not 0 < self.resend_after_s <= self.resend_max_interval_s:
            raise FleetError("link timing needs 0 < resend_after_s <= resend_max_interval_s")
        if self.max_resends < 0 or self.window < 1 or self.fast_resend_guard_s < 0:
            raise FleetError("link timing needs max_resends >= 0, window >= 1, fast_resend_guard_s >= 0")


class LinkEventKind(Enum):
    ONLINE = "ONLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"
    OFFLINE = "OFFLINE"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """Something the owner of a link should know about.

    ``ONLINE`` carries ``new_session`` (first contact, or the peer restarted);
    ``DELIVERED`` and ``UNDELIVERED`` carry the reliable message's ``rseq`` and the
    ``context`` given to :meth:`Link.send` (usually the message object); ``DELIVERED``
    also its round trip ``rtt_s`` from first transmission to acknowledgement.
    """

    kind: LinkEventKind
    rseq: int = 0
    context: Any = None
    new_session: bool = False
    rtt_s: float = 0.0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Transmission:
    """A header and payload the owner must send now (retransmission or heartbeat)."""

    header: Header
    payload: bytes


class _Pending:
    __slots__ = ("msg_type", "payload", "context", "first_sent_s", "last_sent_s", "due_s", "resends")

    def __init__(self, msg_type: str, payload: bytes, context: Any, now_s: float, due_s: float) -> None:
        self.msg_type = msg_type
        self.payload = payload
        self.context = context
        self.first_sent_s = now_s
        self.last_sent_s = now_s
        self.due_s = due_s
        self.resends = 0


class Link:
    """One end of a link (see the module docstring).

    Parameters
    ----------
    timing : LinkTiming
    session : int
        This end's session, random in [1, 2**32 - 1] (new at every start).
    now_s : float
        The current time of the owner's clock.
    keepalive_offline : bool
        Keep sending heartbeats while OFFLINE (a vehicle keeps calling its core; the core
        does not call vehicles that left).
    """

    def __init__(self, timing: LinkTiming, session: int, now_s: float, *, keepalive_offline: bool = False) -> None:
        if not 1 <= session <= 2**32 - 1:
            raise FleetError(f"link session {session} is outside [1, 2**32 - 1]")
        self.timing = timing
        self.session = session
        self.keepalive_offline = keepalive_offline
        self.state = ConnectionState.OFFLINE
        self.heard = False
        self.events: list[LinkEvent] = []
        self.peer_session = 0
        self._seq = 0
        self._rseq = 0
        self._pending: dict[int, _Pending] = {}
        self._last_tx_s = now_s
        self._last_rx_s = now_s
        self._rx_seq = 0
        self._cumulative = 0
        self._buffer: dict[int, Any] = {}
        self.deadline_s = now_s
        """Nothing happens before this time unless a message arrives: owners skip :meth:`tick`."""
        # Counters, for statistics.
        self.tx_count = 0
        self.tx_resends = 0
        self.rx_count = 0
        self.rx_stale = 0
        self.rx_duplicates = 0
        self.rx_out_of_window = 0
        self.rx_lost = 0
        self.rx_skipped = 0
        self.delivered = 0
        self.undelivered = 0

    @property
    def last_heard_s(self) -> float:
        """When the last valid message from the peer arrived (creation time before that)."""
        return self._last_rx_s

    # ------------------------------------------------------------------ sending

    @property
    def in_flight(self) -> int:
        """Reliable messages sent and not yet acknowledged or given up."""
        return len(self._pending)

    def awaiting(self, rseq: int) -> bool:
        """True while reliable message ``rseq`` is neither acknowledged nor given up."""
        return rseq in self._pending

    def send(self, msg_type: str, payload: bytes, now_s: float, *, reliable: bool, context: Any = None) -> Header:
        """Number a message for sending; reliable ones are kept until acknowledged.

        Raises
        ------
        LinkWindowFull
            If :attr:`LinkTiming.window` reliable messages are already in flight.
        """
        rseq = 0
        if reliable:
            if len(self._pending) >= self.timing.window:
                raise LinkWindowFull(f"{len(self._pending)} reliable messages are unacknowledged on this link")
            self._rseq += 1
            rseq = self._rseq
            due_s = now_s + self.timing.resend_after_s
            self._pending[rseq] = _Pending(msg_type, payload, context, now_s, due_s)
            if (self.state is ConnectionState.ONLINE or not self.heard) and due_s < self.deadline_s:
                self.deadline_s = due_s
        return self._stamp(msg_type, rseq, now_s)

    def _stamp(self, msg_type: str, rseq: int, now_s: float) -> Header:
        self._seq += 1
        self.tx_count += 1
        self._last_tx_s = now_s
        rbase = next(iter(self._pending)) if self._pending else self._rseq + 1
        return Header(msg_type, self.session, self._seq, rseq, rbase)

    def ack(self) -> Ack:
        """The acknowledgement of what this end has received from the peer's session."""
        return Ack(session=self.peer_session, cumulative=self._cumulative, selective=tuple(sorted(self._buffer)))

    def on_ack(self, ack: Ack, now_s: float) -> list[Transmission]:
        """Apply an acknowledgement; return fast retransmissions of gaps it reveals."""
        if ack.session != self.session:
            return []  # for an earlier session of ours: nothing it says applies
        for rseq in [r for r in self._pending if r <= ack.cumulative]:
            self._delivered(rseq, now_s)
        for rseq in ack.selective:
            if rseq in self._pending:
                self._delivered(rseq, now_s)
        out: list[Transmission] = []
        if ack.selective and self.state is ConnectionState.ONLINE:
            top = max(ack.selective)
            for rseq, pending in self._pending.items():
                if rseq < top and now_s - pending.last_sent_s >= self.timing.fast_resend_guard_s:
                    out.append(self._retransmit(rseq, pending, now_s, count_retry=False))
        return out

    def _delivered(self, rseq: int, now_s: float) -> None:
        pending = self._pending.pop(rseq)
        self.delivered += 1
        self.events.append(
            LinkEvent(LinkEventKind.DELIVERED, rseq=rseq, context=pending.context, rtt_s=now_s - pending.first_sent_s)
        )

    def _retransmit(self, rseq: int, pending: _Pending, now_s: float, *, count_retry: bool) -> Transmission:
        if count_retry:
            pending.resends += 1
            interval = self.timing.resend_after_s * (2.0**pending.resends)
            pending.due_s = now_s + min(interval, self.timing.resend_max_interval_s)
        pending.last_sent_s = now_s
        self.tx_resends += 1
        return Transmission(self._stamp(pending.msg_type, rseq, now_s), pending.payload)

    # ------------------------------------------------------------------ receiving

    def receive(self, header: Header, item: Any, now_s: float) -> tuple[list[Any], bool]:
        """Take in one valid message; return ``(items to deliver in order, send an ack?)``.

        ``item`` is the decoded message; it is returned (possibly later, possibly together
        with earlier buffered ones) when it is due for delivery, and never twice.
        """
        self._last_rx_s = now_s
        self.rx_count += 1
        new_session = header.session != self.peer_session
        if new_session:
            self.peer_session = header.session
            self._rx_seq = 0
            self._cumulative = header.rbase - 1
            self._buffer.clear()
        if new_session or self.state is not ConnectionState.ONLINE:
            if (new_session and self.heard) or self.state is not ConnectionState.ONLINE:
                self._resend_all_now(now_s)
            self.state = ConnectionState.ONLINE
            self.heard = True
            self.events.append(LinkEvent(LinkEventKind.ONLINE, new_session=new_session))
            self.deadline_s = now_s
        stale = header.seq <= self._rx_seq
        if not stale:
            if self._rx_seq and header.seq > self._rx_seq + 1:
                self.rx_lost += header.seq - self._rx_seq - 1
            self._rx_seq = header.seq
        deliver: list[Any] = []
        if header.rbase - 1 > self._cumulative:
            self._skip_to(header.rbase - 1, deliver)
        rseq = header.rseq
        if rseq == 0:
            if stale:
                self.rx_stale += 1
            else:
                deliver.append(item)
            return deliver, False
        if rseq <= self._cumulative or rseq in self._buffer:
            self.rx_duplicates += 1
        elif rseq > self._cumulative + self.timing.window:
            self.rx_out_of_window += 1
        elif rseq == self._cumulative + 1:
            deliver.append(item)
            self._cumulative = rseq
            self._drain(deliver)
        else:
            self._buffer[rseq] = item
        return deliver, True

    def _skip_to(self, target: int, deliver: list[Any]) -> None:
        """The peer gave up everything below ``target + 1``: deliver what we hold of it."""
        for rseq in sorted(r for r in self._buffer if r <= target):
            deliver.append(self._buffer.pop(rseq))
        self.rx_skipped += target - self._cumulative - len(deliver)
        self._cumulative = target
        self._drain(deliver)

    def _drain(self, deliver: list[Any]) -> None:
        buffer = self._buffer
        while self._cumulative + 1 in buffer:
            self._cumulative += 1
            deliver.append(buffer.pop(self._cumulative))

    def _resend_all_now(self, now_s: float) -> None:
        for pending in self._pending.values():
            pending.due_s = now_s
            pending.resends = 0

    # ------------------------------------------------------------------ time

    def set_offline(self, now_s: float, reason: str) -> None:
        """Go OFFLINE now (the peer said so, or it was silent too long)."""
        for rseq, pending in list(self._pending.items()):
            del self._pending[rseq]
            self.undelivered += 1
            self.events.append(LinkEvent(LinkEventKind.UNDELIVERED, rseq=rseq, context=pending.context, reason=reason))
        if self.state is not ConnectionState.OFFLINE:
            self.state = ConnectionState.OFFLINE
            self.events.append(LinkEvent(LinkEventKind.OFFLINE, reason=reason))
        self.deadline_s = now_s

    def tick(self, now_s: float) -> list[Transmission]:
        """Advance timers: connection state, retransmissions, heartbeat."""
        if now_s < self.deadline_s:
            return []
        timing = self.timing
        out: list[Transmission] = []
        silence_s = now_s - self._last_rx_s
        if self.state is ConnectionState.ONLINE and silence_s >= timing.connection_broken_after_s:
            self.state = ConnectionState.CONNECTIONBROKEN
            self.events.append(LinkEvent(LinkEventKind.CONNECTIONBROKEN, reason=f"silent for {silence_s:.1f} s"))
        if self.state is ConnectionState.CONNECTIONBROKEN and silence_s >= timing.offline_after_s:
            self.set_offline(now_s, f"silent for {silence_s:.1f} s")
        if self.state is ConnectionState.ONLINE or not self.heard:
            # Before the peer is first heard the link is connecting: keep knocking (with
            # backoff) but give nothing up.
            for rseq, pending in list(self._pending.items()):
                if pending.due_s > now_s:
                    continue
                if pending.resends >= timing.max_resends and self.heard:
                    del self._pending[rseq]
                    self.undelivered += 1
                    reason = f"not acknowledged after {pending.resends} retransmissions"
                    self.events.append(
                        LinkEvent(LinkEventKind.UNDELIVERED, rseq=rseq, context=pending.context, reason=reason)
                    )
                    continue
                out.append(self._retransmit(rseq, pending, now_s, count_retry=True))
        calling = self.state is not ConnectionState.OFFLINE or self.keepalive_offline
        if calling and now_s - self._last_tx_s >= timing.heartbeat_interval_s:
            out.append(Transmission(self._stamp("heartbeat", 0, now_s), HEARTBEAT_PAYLOAD))
        self.deadline_s = self._next_deadline()
        return out

    def _next_deadline(self) -> float:
        timing = self.timing
        deadline = math.inf
        if self.state is ConnectionState.ONLINE or not self.heard:
            if self.heard:
                deadline = self._last_rx_s + timing.connection_broken_after_s
            for pending in self._pending.values():
                deadline = min(deadline, pending.due_s)
        elif self.state is ConnectionState.CONNECTIONBROKEN:
            deadline = self._last_rx_s + timing.offline_after_s
        if self.state is not ConnectionState.OFFLINE or self.keepalive_offline:
            deadline = min(deadline, self._last_tx_s + timing.heartbeat_interval_s)
        return deadline

    def take_events(self) -> list[LinkEvent]:
        """Return and clear the events since the last call."""
        events, self.events = self.events, []
        return events
