from __future__ import annotations

import msgpack
import pytest

from fleet.control_protocol import (
    CONTROL_PROTOCOL,
    ControlRejected,
    decode_reply,
    decode_request,
    decode_update,
    encode_reply,
    encode_request,
    encode_update,
)
from fleet.errors import ProtocolError


def test_request_reply_round_trip() -> None:
    call = decode_request(encode_request(7, "cancelOrder", {"serial": "igv-001"}))
    assert (call.request_id, call.op, call.args) == (7, "cancelOrder", {"serial": "igv-001"})
    assert decode_reply(encode_reply(7, result={"ok": 1})) == (7, True, {"ok": 1})
    assert decode_reply(encode_reply(7, error="forbidden")) == (7, False, "forbidden")


@pytest.mark.parametrize(
    ("frames", "message", "request_id"),
    [
        ([b"other", msgpack.packb({})], "expected 2 frames", None),
        ([CONTROL_PROTOCOL, b"\xc1"], "not valid msgpack", None),
        ([CONTROL_PROTOCOL, msgpack.packb([1])], "not a map", None),
        ([CONTROL_PROTOCOL, msgpack.packb({"id": -1, "op": "x"})], "request id", None),
        ([CONTROL_PROTOCOL, msgpack.packb({"id": 3, "op": ""})], "op must be", 3),
        ([CONTROL_PROTOCOL, msgpack.packb({"id": 3, "op": "x", "args": [1]})], "args must be a map", 3),
        ([CONTROL_PROTOCOL, msgpack.packb({"id": 3, "op": "x", "args": {"a": None}})], "args.a", 3),
    ],
)
def test_bad_requests(frames: list[bytes], message: str, request_id: int | None) -> None:
    with pytest.raises(ControlRejected, match=message) as info:
        decode_request(frames)
    assert info.value.request_id == request_id


def test_telemetry_updates() -> None:
    assert decode_update(encode_update("vehicle/igv-001", 42, {"x": 1.5})) == ("vehicle/igv-001", 42, {"x": 1.5})
    assert decode_update(encode_update("zone/z", 43, None)) == ("zone/z", 43, None)
    with pytest.raises(ProtocolError, match="3 frames"):
        decode_update([b"t", b"\x01"])
    with pytest.raises(ProtocolError, match="seq"):
        decode_update([b"t", msgpack.packb(-1), msgpack.packb(None)])
