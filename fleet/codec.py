"""The wire codec: a message is two ZeroMQ frames, a header and a msgpack payload.

Frame 1, the header, is a msgpack array of six items::

    ["igv/1", type, session, seq, rseq, rbase]

``type`` names the message (:data:`MESSAGE_CLASSES`), ``session`` is the sender's link
session, ``seq`` counts every transmission on the link, ``rseq`` numbers reliable
messages (0 for the others) and ``rbase`` is the lowest ``rseq`` the sender still
retransmits (see :mod:`fleet.link`). Frame 2 is the payload: a msgpack map with the
VDA 5050 2.1 keys, or our link messages (``ack``, ``heartbeat``, ``error``).

No pickle, no msgpack extension types; bytes on the wire are only ever decoded by
``msgpack.unpackb`` (or, for the first two keys of a VDA map, its ``Unpacker``) with size
limits and then checked field by field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence, Union

import msgpack

from fleet.errors import ProtocolError
from fleet.factsheet import Factsheet
from fleet.messages import (
    Ack,
    Connection,
    Edge,
    Heartbeat,
    InstantActions,
    LinkError,
    Node,
    Order,
    State,
    Visualization,
)
from fleet.wireformat import INT64_MAX, MAX_ARRAY_LEN, UINT32_MAX, FieldError, from_wire, replace_from_wire, to_wire

LINK_PROTOCOL = "igv/1"
"""First item of every header frame: the link protocol and its major version."""

MESSAGE_CLASSES: dict[str, type] = {
    "order": Order,
    "instantActions": InstantActions,
    "state": State,
    "connection": Connection,
    "factsheet": Factsheet,
    "visualization": Visualization,
    "ack": Ack,
    "heartbeat": Heartbeat,
    "error": LinkError,
}
"""Header type -> message class. The six VDA 5050 topics keep their topic names."""

TYPE_NAMES: dict[type, str] = {cls: name for name, cls in MESSAGE_CLASSES.items()}

VDA_TYPES = frozenset({"order", "instantActions", "state", "connection", "factsheet", "visualization"})
RELIABLE_TYPES = frozenset({"order", "instantActions", "connection", "factsheet"})
"""Types sent with an ``rseq``, acknowledged and retransmitted until acknowledged."""
CORE_TO_VEHICLE = frozenset({"order", "instantActions", "ack", "heartbeat", "error"})
VEHICLE_TO_CORE = frozenset({"state", "connection", "factsheet", "visualization", "ack", "heartbeat", "error"})

Message = Union[Order, InstantActions, State, Connection, Factsheet, Visualization, Ack, Heartbeat, LinkError]

MAX_HEADER_BYTES = 256
"""Largest header frame accepted (bytes)."""
MAX_PAYLOAD_BYTES = 1 << 20
"""Largest payload frame accepted (bytes): an order of several thousand nodes fits."""

_EMPTY_MAP = msgpack.packb({})


class Header(NamedTuple):
    """The decoded header frame.

    PERF: a named tuple, not a frozen dataclass: one is made for every message in and out
    (~600 a tick at 200 vehicles), in 0.3 instead of 1.8 us.
    """

    msg_type: str
    session: int
    seq: int
    rseq: int
    rbase: int


@dataclass(frozen=True)
class MessageLimits:
    """Size limits applied before anything is decoded."""

    max_header_bytes: int = MAX_HEADER_BYTES
    max_payload_bytes: int = MAX_PAYLOAD_BYTES


DEFAULT_LIMITS = MessageLimits()


class MessageRejected(ProtocolError):
    """An inbound message was dropped.

    Attributes
    ----------
    category : str
        A short counter key: ``frames``, ``size``, ``header``, ``type``, ``payload``,
        ``schema``, ``direction``, ``identity``, ``version``, ``semantics``.
    header : Header or None
        The header, if it could be decoded (so the sender can be told which message).
    """

    def __init__(self, category: str, detail: str, header: Header | None = None) -> None:
        self.category = category
        self.header = header
        super().__init__(f"{category}: {detail}")


def _unpack(data: bytes, what: str, header: Header | None) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        # ValueError covers ExtraData, FormatError, StackError and bad UTF-8.
        detail = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
        raise MessageRejected(what, f"{what} frame is not valid msgpack ({detail})", header) from None


def encode_header(header: Header) -> bytes:
    return msgpack.packb(
        [LINK_PROTOCOL, header.msg_type, header.session, header.seq, header.rseq, header.rbase]
    )


def decode_header(data: bytes, limits: MessageLimits = DEFAULT_LIMITS) -> Header:
    """Decode and check a header frame; raises :class:`MessageRejected`."""
    if len(data) > limits.max_header_bytes:
        raise MessageRejected("size", f"header frame of {len(data)} bytes exceeds {limits.max_header_bytes}")
    items = _unpack(data, "header", None)
    if type(items) is not list or len(items) != 6:
        raise MessageRejected("header", "header frame is not an array of 6 items")
    proto, msg_type, session, seq, rseq, rbase = items
    if proto != LINK_PROTOCOL:
        raise MessageRejected("header", f"unsupported link protocol {str(proto)[:20]!r}, expected {LINK_PROTOCOL!r}")
    if type(msg_type) is not str or msg_type not in MESSAGE_CLASSES:
        raise MessageRejected("type", f"unknown message type {str(msg_type)[:40]!r}")
    # PERF: the valid case tested inline (3.9 -> 1.4 us a header, with the named tuple);
    # the loop below names the first bad field.
    if not (type(session) is int and 1 <= session <= UINT32_MAX and type(seq) is int and 1 <= seq <= INT64_MAX
            and type(rseq) is int and 0 <= rseq <= INT64_MAX and type(rbase) is int and 1 <= rbase <= INT64_MAX):
        for name, value, lo, hi in (
            ("session", session, 1, UINT32_MAX),
            ("seq", seq, 1, INT64_MAX),
            ("rseq", rseq, 0, INT64_MAX),
            ("rbase", rbase, 1, INT64_MAX),
        ):
            if type(value) is not int or not lo <= value <= hi:
                raise MessageRejected("header", f"header {name} must be an integer in [{lo}, {hi}]")
    header = Header(msg_type, session, seq, rseq, rbase)
    if msg_type in RELIABLE_TYPES:
        if rseq == 0 or rbase > rseq:
            raise MessageRejected("header", f"reliable {msg_type} needs 1 <= rbase <= rseq", header)
    elif rseq != 0:
        raise MessageRejected("header", f"{msg_type} is not reliable, rseq must be 0", header)
    return header


def encode_payload(message: Any) -> bytes:
    """The msgpack payload frame of a message."""
    if type(message) is Heartbeat:
        return _EMPTY_MAP
    return msgpack.packb(to_wire(message))


def decode_payload(msg_type: str, data: bytes, limits: MessageLimits = DEFAULT_LIMITS, header: Header | None = None) -> Any:
    """Decode and check a payload frame of type ``msg_type``; raises :class:`MessageRejected`."""
    if len(data) > limits.max_payload_bytes:
        raise MessageRejected("size", f"payload frame of {len(data)} bytes exceeds {limits.max_payload_bytes}", header)
    cls = MESSAGE_CLASSES.get(msg_type)
    if cls is None:
        raise MessageRejected("type", f"unknown message type {msg_type[:40]!r}", header)
    value = _unpack(data, "payload", header)
    try:
        return from_wire(cls, value)
    except FieldError as exc:
        raise MessageRejected("schema", f"{msg_type} {exc}", header) from None


class OrderEncoder:
    """Encodes the orders of one link, reusing the nodes and edges the previous one had.

    An order update re-sends mostly the nodes and edges of the order before it (the
    horizon, then the same steps released; :func:`fleet.core.orders.build_order` keeps one
    object per step of a leg), so each element is encoded, and checked, only the first
    time, and the payload is spliced from their bytes with msgpack's own headers: the
    bytes are those of :func:`encode_payload`. Messages are immutable, and the elements
    of the last order are kept alive here (so no other object takes their ``id``).
    """

    def __init__(self, limits: MessageLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._parts: dict[int, _Part] = {}

    def encode(self, order: Order, *, check: bool) -> bytes:
        """``encode_payload(order)``; with ``check`` also everything ``decode_payload`` of
        it checks, raising the same :class:`MessageRejected`.

        PERF: an order update of 42 nodes was built and sent in ~520 us, most of them to
        encode it whole and decode it again for the check; spliced, ~120 us. A new leg
        costs what it did. Release phase in ``python -m bench.core --sizes 200``: see
        the figures there.
        """
        payload = self._splice(order, check)
        if payload is None:  # something the splice does not vouch for: the general path
            payload = encode_payload(order)
            if check:
                decode_payload("order", payload, self.limits)
        return payload

    def _splice(self, order: Order, check: bool) -> bytes | None:
        """The payload from cached elements, or None when an element is not of its field's
        type, does not encode or fails its check, or the whole breaks a limit."""
        parts = self._parts
        fresh: dict[int, _Part] = {}
        arrays = {"nodes": (Node, order.nodes), "edges": (Edge, order.edges)}
        packer = msgpack.Packer()
        try:
            head = to_wire(dataclasses.replace(order, nodes=(), edges=()))
            chunks = [packer.pack_map_header(len(head))]
            for key, value in head.items():
                chunks.append(packer.pack(key))
                array = arrays.get(key)
                if array is None:
                    chunks.append(packer.pack(value))
                    continue
                cls, elements = array
                chunks.append(packer.pack_array_header(len(elements)))
                for element in elements:
                    if type(element) is not cls:
                        return None
                    part = parts.get(id(element)) or fresh.get(id(element))
                    if part is None or (check and not part.checked):
                        wire = to_wire(element)
                        if part is None:
                            part = _Part(element, packer.pack(wire))
                        if check:
                            if not _valid(cls, wire):
                                return None
                            part.checked = True
                    fresh[id(element)] = part
                    chunks.append(part.data)
            payload = b"".join(chunks)
        except (TypeError, ValueError, OverflowError, AttributeError):
            return None  # the general path raises it
        if check and not (len(payload) <= self.limits.max_payload_bytes
                          and max(len(order.nodes), len(order.edges)) <= MAX_ARRAY_LEN
                          and _valid(Order, head)):
            return None
        self._parts = fresh
        return payload


class _Part:
    """One encoded node or edge of :class:`OrderEncoder`."""

    __slots__ = ("element", "data", "checked")

    def __init__(self, element: Any, data: bytes) -> None:
        self.element = element  # keeps its id from being reused
        self.data = data
        self.checked = False  # its wire dict passed from_wire (see _valid)


def _valid(cls: type, wire: dict[str, Any]) -> bool:
    """Whether the wire dict of a ``cls`` passes :func:`from_wire`. It is checked before
    it is encoded: what encodes from it decodes to no more than it holds (an int or a str
    subclass to its base type, a tuple to a list), so what passes here passes there."""
    try:
        from_wire(cls, wire)
    except FieldError:
        return False
    return True


class LinkDecoder:
    """Decodes the messages of one link like :func:`decode`, without decoding again what
    repeats the last message of its type.

    A payload equal to the last one of its type (a heartbeat: always) is that message
    again. A vehicle standing still (parked, charging, waiting) reports the same state
    again and again but for its ``headerId`` and ``timestamp``: a VDA map whose first two
    keys are those, and whose bytes after them are those of the last message of its type,
    decodes to the same fields but the two (no later key repeats them: the last message's
    bytes after them never name them), so only the two are checked and the message is
    the last one with them. Anything else, and any error, takes the general path: the
    outcome is always that of :func:`decode`.

    PERF: a repeated state of 834 bytes is received (decoded, checked, taken in by the
    link) in ~10 instead of ~30 us, a heartbeat in ~2.8 instead of ~4 us; in ``python -m
    bench.core --sizes 200`` 97% of the states are repeats (each of the 200 vehicles sends
    a state a tick).
    """

    def __init__(self, limits: MessageLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._same: dict[str, tuple[bytes, Any]] = {}  # type -> (payload, message)
        self._stamped: dict[str, tuple[int, bytes, Any]] = {}  # type -> (keys, bytes after the two, message)

    def decode(self, frames: Sequence[bytes]) -> tuple[Header, Any]:
        if len(frames) != 2:
            return decode(frames, self.limits)  # raises
        header = decode_header(frames[0], self.limits)
        msg_type, data = header.msg_type, frames[1]
        if msg_type not in VDA_TYPES:
            last = self._same.get(msg_type)
            if last is None or last[0] != data:
                last = self._same[msg_type] = (data, decode_payload(msg_type, data, self.limits, header))
            return header, last[1]
        if len(data) > self.limits.max_payload_bytes:
            return header, decode_payload(msg_type, data, self.limits, header)  # raises
        head = _stamp_head(data)
        stamped = self._stamped.get(msg_type)
        if head is not None and stamped is not None and head[0] == stamped[0] and head[3] == stamped[1]:
            try:
                return header, replace_from_wire(stamped[2], {"headerId": head[1], "timestamp": head[2]})
            except FieldError:
                pass  # the general path names it
        message = decode_payload(msg_type, data, self.limits, header)
        if head is not None and b"headerId" not in head[3] and b"timestamp" not in head[3]:
            self._stamped[msg_type] = (head[0], head[3], message)
        return header, message


def _stamp_head(data: bytes) -> tuple[int, Any, Any, bytes] | None:
    """(number of keys, ``headerId``, ``timestamp``, the bytes after them) of a payload map
    whose first two keys are those; None for any other payload."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, use_list=True, max_buffer_size=max(len(data), 1))
    try:
        unpacker.feed(data)
        keys = unpacker.read_map_header()
        if keys < 2 or unpacker.unpack() != "headerId":
            return None
        header_id = unpacker.unpack()
        if unpacker.unpack() != "timestamp":
            return None
        timestamp = unpacker.unpack()
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    return keys, header_id, timestamp, data[unpacker.tell():]


def encode(message: Any, header: Header) -> list[bytes]:
    """The two frames of ``message``; ``header.msg_type`` must name its class."""
    if MESSAGE_CLASSES.get(header.msg_type) is not type(message):
        raise ProtocolError(f"header type {header.msg_type!r} does not match {type(message).__name__}")
    return [encode_header(header), encode_payload(message)]


def decode(frames: Sequence[bytes], limits: MessageLimits = DEFAULT_LIMITS) -> tuple[Header, Any]:
    """Decode the two frames of one message; raises :class:`MessageRejected`."""
    if len(frames) != 2:
        raise MessageRejected("frames", f"expected 2 frames (header, payload), got {len(frames)}")
    header = decode_header(frames[0], limits)
    return header, decode_payload(header.msg_type, frames[1], limits, header)


def type_name(message: Any) -> str:
    """The header type of a message object."""
    name = TYPE_NAMES.get(type(message))
    if name is None:
        raise ProtocolError(f"{type(message).__name__} is not a wire message")
    return name
