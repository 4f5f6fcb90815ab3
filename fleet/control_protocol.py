"""Frames of the control API (ROUTER/DEALER) and of telemetry (PUB/SUB, Clone pattern).

Control request, client -> core: ``[b"igvctl/1", msgpack {"id": int, "op": str, "args": map}]``.
Reply, core -> client: ``[b"igvctl/1", msgpack {"id": int, "ok": true, "result": any}]`` or
``{"id": int, "ok": false, "error": str}``.

Telemetry update on the PUB socket: ``[topic (UTF-8), msgpack seq, msgpack payload]``;
a ``nil`` payload deletes the topic. ``seq`` rises by at least one with every update
across all topics (zguide's Clone pattern): a client subscribes, asks the control API for
a ``snapshot`` (every live topic with its last ``seq``, and the snapshot's ``seq``), and then
applies only updates whose ``seq`` is above the snapshot's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import msgpack

from fleet.errors import ProtocolError
from fleet.wireformat import INT64_MAX, MAX_STRING_LEN, FieldError, check_json_value

CONTROL_PROTOCOL = b"igvctl/1"
MAX_CONTROL_BYTES = 1 << 20
"""Largest control request accepted (bytes)."""


class ControlRejected(ProtocolError):
    """A control request was malformed; ``request_id`` is set if it could be read."""

    def __init__(self, detail: str, request_id: int | None = None) -> None:
        self.request_id = request_id
        super().__init__(detail)


@dataclass(frozen=True)
class ControlCall:
    """A decoded control request."""

    request_id: int
    op: str
    args: dict[str, Any]


def _unpack(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException):
        raise ControlRejected("payload is not valid msgpack") from None


def encode_request(request_id: int, op: str, args: dict[str, Any]) -> list[bytes]:
    return [CONTROL_PROTOCOL, msgpack.packb({"id": request_id, "op": op, "args": args})]


def decode_request(frames: Sequence[bytes]) -> ControlCall:
    """Decode and check a control request; raises :class:`ControlRejected`."""
    if len(frames) != 2 or frames[0] != CONTROL_PROTOCOL:
        raise ControlRejected(f"expected 2 frames starting with {CONTROL_PROTOCOL.decode()}")
    if len(frames[1]) > MAX_CONTROL_BYTES:
        raise ControlRejected(f"request of {len(frames[1])} bytes exceeds {MAX_CONTROL_BYTES}")
    body = _unpack(frames[1])
    if type(body) is not dict:
        raise ControlRejected("request is not a map")
    request_id = body.get("id")
    if type(request_id) is not int or not 0 <= request_id <= INT64_MAX:
        raise ControlRejected("request id must be a non-negative integer")
    op = body.get("op")
    if type(op) is not str or not 0 < len(op) <= 64:
        raise ControlRejected("op must be a string of 1 to 64 characters", request_id)
    args = body.get("args", {})
    if type(args) is not dict:
        raise ControlRejected("args must be a map", request_id)
    try:
        check_json_value(args)
    except FieldError as exc:
        raise ControlRejected(f"args.{exc}", request_id) from None
    return ControlCall(request_id, op, args)


def encode_reply(request_id: int, *, result: Any = None, error: str | None = None) -> list[bytes]:
    if error is None:
        body = {"id": request_id, "ok": True, "result": result}
    else:
        body = {"id": request_id, "ok": False, "error": error[:MAX_STRING_LEN]}
    return [CONTROL_PROTOCOL, msgpack.packb(body)]


def decode_reply(frames: Sequence[bytes]) -> tuple[int, bool, Any]:
    """``(request_id, ok, result or error text)``; raises :class:`ProtocolError`."""
    if len(frames) != 2 or frames[0] != CONTROL_PROTOCOL:
        raise ProtocolError(f"control reply: expected 2 frames starting with {CONTROL_PROTOCOL.decode()}")
    body = _unpack(frames[1])
    if type(body) is not dict or type(body.get("id")) is not int or type(body.get("ok")) is not bool:
        raise ProtocolError("control reply: expected a map with 'id' and 'ok'")
    return body["id"], body["ok"], body.get("result") if body["ok"] else str(body.get("error"))


def encode_update(topic: str, seq: int, payload: Any) -> list[bytes]:
    return [topic.encode("utf-8"), msgpack.packb(seq), msgpack.packb(payload)]


def decode_update(frames: Sequence[bytes]) -> tuple[str, int, Any]:
    """``(topic, seq, payload)`` of a telemetry update; raises :class:`ProtocolError`."""
    if len(frames) != 3:
        raise ProtocolError(f"telemetry update: expected 3 frames, got {len(frames)}")
    try:
        topic = frames[0].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("telemetry update: topic is not UTF-8") from None
    seq = _unpack(frames[1])
    if type(seq) is not int or seq < 0:
        raise ProtocolError("telemetry update: seq must be a non-negative integer")
    return topic, seq, _unpack(frames[2])
