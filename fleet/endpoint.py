"""One end of a vehicle link with its wire duties: codec, boundary checks, acks, errors.

:class:`LinkEndpoint` wraps a :class:`~fleet.link.Link` and turns frames into delivered
messages and messages into frames. The core keeps one per vehicle, a vehicle client keeps
one for its core. Sockets stay with the owner: every method returns the frame lists to
send, so the endpoint, like the link, runs on an injected clock.

An invalid inbound message is dropped before it touches the link, counted by reason,
logged (at most :data:`LOG_BURST` lines, then one line per :data:`LOG_INTERVAL_S` with
the number suppressed) and answered with a :class:`~fleet.messages.LinkError` (at most
:data:`ERROR_REPLIES_PER_S` per second, so a flood is not amplified).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone
from typing import Any, Sequence

from fleet.codec import (
    MESSAGE_CLASSES,
    RELIABLE_TYPES,
    VDA_TYPES,
    Header,
    LinkDecoder,
    MessageLimits,
    MessageRejected,
    OrderEncoder,
    decode_payload,
    encode_header,
    encode_payload,
    type_name,
)
from fleet.errors import FleetError
from fleet.link import Link
from fleet.messages import VDA_VERSION, Ack, Connection, ConnectionState, Heartbeat, LinkError
from fleet.validation import check_inbound

LOG_BURST = 5
LOG_INTERVAL_S = 10.0
ERROR_REPLIES_PER_S = 10.0
ALL_TYPES = frozenset(MESSAGE_CLASSES)


_second_cache: list[Any] = [None, ""]


def format_timestamp(epoch_s: float) -> str:
    """``2024-05-01T12:00:00.123Z``: the VDA 5050 timestamp of a wall-clock time."""
    millis = int(epoch_s * 1000.0)
    second, milli = divmod(millis, 1000)
    # PERF: states go out at 10 Hz per vehicle; the date part changes once a second.
    if _second_cache[0] != second:
        _second_cache[0] = second
        _second_cache[1] = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{_second_cache[1]}{milli:03d}Z"


class TokenBucket:
    """At most ``burst`` events at once, refilled at ``rate_per_s``; counts refusals."""

    def __init__(self, rate_per_s: float, burst: float, now_s: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.tokens = burst
        self.updated_s = now_s
        self.refused = 0

    def allow(self, now_s: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now_s - self.updated_s) * self.rate_per_s)
        self.updated_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.refused += 1
        return False


class LinkEndpoint:
    """A link end plus codec (see the module docstring).

    Parameters
    ----------
    serial : str
        The vehicle's serial number (both ends name the link by it).
    link : Link
    accepts : frozenset of str
        Message types accepted from the peer.
    limits : MessageLimits
    logger : logging.Logger
    now_s : float
        Current time of the owner's clock (for the rate limits).
    manufacturer : str
        Stamped into outgoing VDA messages; the core learns it from the vehicle.
    """

    def __init__(
        self,
        serial: str,
        link: Link,
        accepts: frozenset[str],
        limits: MessageLimits,
        logger: logging.Logger,
        now_s: float,
        manufacturer: str = "",
    ) -> None:
        self.serial = serial
        self.link = link
        self.accepts = accepts
        self.limits = limits
        self.logger = logger
        self.manufacturer = manufacturer
        self.invalid: dict[str, int] = {}
        self.invalid_total = 0
        self.peer_errors = 0
        self._header_ids: dict[str, int] = {}
        self._orders = OrderEncoder(limits)
        self._decoder = LinkDecoder(limits)
        self._log_bucket = TokenBucket(LOG_BURST / LOG_INTERVAL_S, LOG_BURST, now_s)
        self._reply_bucket = TokenBucket(ERROR_REPLIES_PER_S, ERROR_REPLIES_PER_S, now_s)
        self._logged_refusals = 0

    # ------------------------------------------------------------------ outbound

    def stamp(self, message: Any, wall_s: float) -> Any:
        """Fill the VDA header fields (per-topic ``headerId``, timestamp, version, ids)."""
        topic = type_name(message)
        header_id = self._header_ids.get(topic, -1) + 1
        if header_id > 2**32 - 1:
            header_id = 0
        self._header_ids[topic] = header_id
        return dataclasses.replace(
            message,
            header_id=header_id,
            timestamp=format_timestamp(wall_s),
            version=VDA_VERSION,
            manufacturer=self.manufacturer,
            serial_number=self.serial,
        )

    def send(self, message: Any, now_s: float, wall_s: float, *, verify: bool = True) -> tuple[int, list[bytes], Any]:
        """Number and encode ``message``; returns ``(rseq, frames, stamped message)``.

        VDA messages are stamped; reliable types are kept for retransmission (``rseq`` is
        0 for the others). With ``verify`` the payload is checked exactly as the peer will
        check it (an order node by node, :class:`~fleet.codec.OrderEncoder`), so a bad
        message fails here, at its source.

        Raises
        ------
        FleetError
            If the message cannot be encoded or breaks the protocol.
        LinkWindowFull
            If too many reliable messages are unacknowledged.
        """
        msg_type = type_name(message)
        if msg_type in VDA_TYPES:
            message = self.stamp(message, wall_s)
        reliable = msg_type in RELIABLE_TYPES
        try:
            # An order is checked in there (with verify): each node and edge once a leg.
            payload = self._orders.encode(message, check=verify) if msg_type == "order" else encode_payload(message)
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:  # wrong types in fields
            raise FleetError(f"{msg_type} for {self.serial} cannot be encoded: {exc}") from None
        except MessageRejected as exc:
            raise FleetError(f"{msg_type} for {self.serial} is invalid: {exc}") from None
        if verify:
            probe = Header(msg_type, self.link.session, 1, int(reliable), 1)
            try:
                decoded = message if msg_type == "order" else decode_payload(msg_type, payload, self.limits)
                check_inbound(probe, decoded, self.serial, ALL_TYPES)
            except MessageRejected as exc:
                raise FleetError(f"{msg_type} for {self.serial} is invalid: {exc}") from None
        header = self.link.send(msg_type, payload, now_s, reliable=reliable, context=message)
        return header.rseq, [encode_header(header), payload], message

    def _control(self, message: Any, now_s: float) -> list[bytes]:
        payload = encode_payload(message)
        header = self.link.send(type_name(message), payload, now_s, reliable=False)
        return [encode_header(header), payload]

    def tick(self, now_s: float) -> list[list[bytes]]:
        """Retransmissions and heartbeats due now, as frame lists."""
        return [[encode_header(t.header), t.payload] for t in self.link.tick(now_s)]

    # ------------------------------------------------------------------ inbound

    def reject(self, exc: MessageRejected, now_s: float) -> list[list[bytes]]:
        """Count, log and (rate-limited) answer a dropped message."""
        self.invalid[exc.category] = self.invalid.get(exc.category, 0) + 1
        self.invalid_total += 1
        if self._log_bucket.allow(now_s):
            suppressed = self._log_bucket.refused - self._logged_refusals
            self._logged_refusals = self._log_bucket.refused
            more = f" ({suppressed} more dropped since the last report)" if suppressed else ""
            self.logger.warning("link %s: dropped a message: %s%s", self.serial, exc, more)
        if not self._reply_bucket.allow(now_s):
            return []
        header = exc.header
        error = LinkError(
            ref_seq=header.seq if header else 0,
            ref_type=header.msg_type if header else "",
            reason=str(exc)[:200],
        )
        return [self._control(error, now_s)]

    def receive(self, frames: Sequence[bytes], now_s: float) -> tuple[list[Any], list[list[bytes]]]:
        """Decode, check and take in one message's frames.

        Returns
        -------
        delivered : list
            VDA messages due for the owner, in order, each exactly once.
        outgoing : list of frame lists
            Acks, fast retransmissions, error replies to send now.
        """
        try:
            header, message = self._decoder.decode(frames)
            check_inbound(header, message, self.serial, self.accepts)
        except MessageRejected as exc:
            return [], self.reject(exc, now_s)
        return self.accept(header, message, now_s)

    def accept(self, header: Header, message: Any, now_s: float) -> tuple[list[Any], list[list[bytes]]]:
        """Take in a message that passed the boundary checks (see :meth:`receive`)."""
        link = self.link
        items, send_ack = link.receive(header, message, now_s)
        outgoing: list[list[bytes]] = []
        if send_ack:
            outgoing.append(self._control(link.ack(), now_s))
        delivered: list[Any] = []
        for item in items:
            kind = type(item)
            if kind is Ack:
                outgoing.extend([encode_header(t.header), t.payload] for t in link.on_ack(item, now_s))
            elif kind is Heartbeat:
                continue
            elif kind is LinkError:
                self.peer_errors += 1
                if self._log_bucket.allow(now_s):
                    which = f"{item.ref_type} seq {item.ref_seq}" if item.ref_type else "message"
                    self.logger.warning("link %s: the peer dropped our %s: %s", self.serial, which, item.reason)
            else:
                if item.manufacturer:
                    self.manufacturer = self.manufacturer or item.manufacturer
                if kind is Connection and item.connection_state is ConnectionState.OFFLINE:
                    link.set_offline(now_s, "peer announced OFFLINE")
                delivered.append(item)
        return delivered, outgoing
