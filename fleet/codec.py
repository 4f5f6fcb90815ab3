"""The wire codec: a message is two ZeroMQ frames, a header and a msgpack payload.

Frame 1, the header, is a msgpack array of six items::

    ["igv/1", type, session, seq, rseq, rbase]

``type`` names the message (:data:`MESSAGE_CLASSES`), ``session`` is the sender's link
session, ``seq`` counts every transmission on the link, ``rseq`` numbers reliable
messages (0 for the others) and ``rbase`` is the lowest ``rseq`` the sender still
retransmits (see :mod:`fleet.link`). Frame 2 is the payload: a msgpack map with the
VDA 5050 2.1 keys, or our link messages (``ack``, ``heartbeat``, ``error``).

No pickle, no msgpack extension types; bytes on the wire are only ever decoded by
``msgpack.unpackb`` with size limits and then checked field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

import msgpack

from fleet.errors import ProtocolError
from fleet.factsheet import Factsheet
from fleet.messages import (
    Ack,
    Connection,
    Heartbeat,
    InstantActions,
    LinkError,
    Order,
    State,
    Visualization,
)
from fleet.wireformat import INT64_MAX, UINT32_MAX, FieldError, from_wire, to_wire

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


@dataclass(frozen=True, slots=True)
class Header:
    """The decoded header frame."""

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
