from __future__ import annotations

import dataclasses

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet import examples
from fleet.codec import (
    LINK_PROTOCOL,
    MAX_PAYLOAD_BYTES,
    MESSAGE_CLASSES,
    RELIABLE_TYPES,
    Header,
    LinkDecoder,
    MessageLimits,
    MessageRejected,
    OrderEncoder,
    decode,
    decode_header,
    encode,
    encode_header,
    encode_payload,
    type_name,
)
from fleet.errors import ProtocolError
from fleet.messages import Heartbeat, State


def header_for(msg_type: str, seq: int = 7) -> Header:
    reliable = msg_type in RELIABLE_TYPES
    return Header(msg_type, 12345, seq, 3 if reliable else 0, 2 if reliable else 1)


@pytest.mark.parametrize("msg_type", sorted(MESSAGE_CLASSES))
def test_every_message_type_round_trips(msg_type: str) -> None:
    message = examples.ALL[msg_type]()
    assert type_name(message) == msg_type
    frames = encode(message, header_for(msg_type))
    assert len(frames) == 2
    expected = header_for(msg_type)
    assert msgpack.unpackb(frames[0]) == [LINK_PROTOCOL, msg_type, 12345, 7, expected.rseq, expected.rbase]
    header, decoded = decode(frames)
    assert header == header_for(msg_type)
    assert decoded == message


def test_header_frame_layout() -> None:
    frame = encode_header(Header("order", 9, 100, 4, 2))
    assert msgpack.unpackb(frame) == ["igv/1", "order", 9, 100, 4, 2]
    assert encode(Heartbeat(), header_for("heartbeat"))[1] == b"\x80"


def test_encode_refuses_a_mismatched_header() -> None:
    with pytest.raises(ProtocolError, match="does not match State"):
        encode(examples.state(), header_for("order"))


@pytest.mark.parametrize(
    ("items", "category", "text"),
    [
        (["igv/2", "state", 1, 1, 0, 1], "header", "unsupported link protocol"),
        (["igv/1", "teleport", 1, 1, 0, 1], "type", "unknown message type 'teleport'"),
        (["igv/1", "state", 0, 1, 0, 1], "header", "session"),
        (["igv/1", "state", 1, -1, 0, 1], "header", "seq"),
        (["igv/1", "state", 1, 1.0, 0, 1], "header", "seq"),
        (["igv/1", "state", 1, 1, 5, 1], "header", "rseq must be 0"),
        (["igv/1", "order", 1, 1, 0, 1], "header", "needs 1 <= rbase <= rseq"),
        (["igv/1", "order", 1, 1, 2, 3], "header", "needs 1 <= rbase <= rseq"),
        (["igv/1", "state", 1, 1, 0], "header", "array of 6"),
        ({"type": "state"}, "header", "array of 6"),
    ],
)
def test_bad_headers(items: object, category: str, text: str) -> None:
    with pytest.raises(MessageRejected) as info:
        decode_header(msgpack.packb(items))
    assert info.value.category == category
    assert text in str(info.value)


def test_frames_sizes_and_bytes() -> None:
    good = encode(examples.state(), header_for("state"))
    cases = [
        ([good[0]], "frames"),
        ([*good, b""], "frames"),
        ([good[0], good[1][:-3]], "payload"),  # truncated msgpack
        ([good[0], good[1] + b"\x00"], "payload"),  # trailing bytes
        ([good[0][:-1], good[1]], "header"),
        ([good[0], b"\xc1"], "payload"),  # never-used msgpack byte
        ([good[0], msgpack.packb(msgpack.ExtType(5, b"x"))], "schema"),
        ([good[0], msgpack.packb([1, 2])], "schema"),
        ([b"x" * 300, good[1]], "size"),
        ([good[0], b"\x80" * (MAX_PAYLOAD_BYTES + 1)], "size"),
    ]
    for frames, category in cases:
        with pytest.raises(MessageRejected) as info:
            decode(frames)
        assert info.value.category == category, frames[:1]


def test_limits_are_configurable() -> None:
    frames = encode(examples.state(), header_for("state"))
    with pytest.raises(MessageRejected, match="exceeds 100"):
        decode(frames, MessageLimits(max_payload_bytes=100))


def test_rejection_keeps_the_header_for_the_error_reply() -> None:
    frames = encode(examples.state(), header_for("state", seq=99))
    wire = msgpack.unpackb(frames[1])
    wire["batteryState"]["batteryCharge"] = 130.0
    with pytest.raises(MessageRejected) as info:
        decode([frames[0], msgpack.packb(wire)])
    assert info.value.header is not None and info.value.header.seq == 99
    assert "batteryState.batteryCharge: 130.0 is outside [0.0, 100.0]" in str(info.value)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=0, max_size=4))
def test_random_frames_never_escape_as_other_errors(frames: list[bytes]) -> None:
    try:
        decode(frames)
    except MessageRejected:
        pass


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(min_value=0, max_value=255))
def test_corrupted_state_payloads_are_rejected_or_valid(cut: int, flip: int) -> None:
    header, payload = encode(examples.state(), header_for("state"))
    position = cut % len(payload)
    corrupted = payload[:position] + bytes([flip]) + payload[position + 1 :]
    try:
        _, message = decode([header, corrupted])
    except MessageRejected:
        return
    assert isinstance(message, State)


def test_link_decoder_takes_a_repeated_state_from_the_last_one() -> None:
    decoder = LinkDecoder()
    state = examples.state()
    first = decoder.decode(encode(state, header_for("state", seq=1)))[1]
    again = dataclasses.replace(state, header_id=state.header_id + 1, timestamp="2025-03-19T08:30:01.000Z")
    header, decoded = decoder.decode(encode(again, header_for("state", seq=2)))
    assert header.seq == 2 and decoded == again
    assert decoded.battery_state is first.battery_state  # the repeat was not decoded again
    moved = dataclasses.replace(again, header_id=again.header_id + 1, driving=not state.driving)
    assert decoder.decode(encode(moved, header_for("state", seq=3)))[1] == moved


@pytest.mark.parametrize(("key", "value"), [("headerId", -1), ("headerId", True), ("timestamp", None), ("timestamp", 5)])
def test_link_decoder_rejects_a_repeat_as_decode_does(key: str, value: object) -> None:
    decoder = LinkDecoder()
    frames = encode(examples.state(), header_for("state"))
    decoder.decode(frames)
    wire = msgpack.unpackb(frames[1])
    wire[key] = value
    bad = [frames[0], msgpack.packb(wire)]
    with pytest.raises(MessageRejected) as expected:
        decode(bad)
    with pytest.raises(MessageRejected) as got:
        decoder.decode(bad)
    assert str(got.value) == str(expected.value)


def test_link_decoder_keeps_the_last_of_repeated_keys() -> None:
    """A payload naming ``timestamp`` again after the first two keys is decoded whole
    (the last value wins in msgpack maps), repeats of it included."""
    decoder = LinkDecoder()
    wire = msgpack.unpackb(encode(examples.state(), header_for("state"))[1])
    pairs = [("headerId", 1), ("timestamp", "2025-03-19T08:30:00.000Z"),
             *((k, v) for k, v in wire.items() if k not in ("headerId", "timestamp")), ("timestamp", "2025-03-19T08:29:00.000Z")]
    packer = msgpack.Packer()
    payload = packer.pack_map_header(len(pairs)) + b"".join(packer.pack(k) + packer.pack(v) for k, v in pairs)
    frames = [encode_header(header_for("state")), payload]
    for _ in range(2):
        assert decoder.decode(frames)[1] == decode(frames)[1]
        assert decoder.decode(frames)[1].timestamp == "2025-03-19T08:29:00.000Z"


def test_order_encoder_splices_the_bytes_of_encode_payload() -> None:
    encoder = OrderEncoder()
    order = examples.order()
    assert encoder.encode(order, check=True) == encode_payload(order)
    update = dataclasses.replace(order, order_update_id=1, nodes=order.nodes[2:], edges=order.edges[2:])
    assert encoder.encode(update, check=True) == encode_payload(update)


def test_order_encoder_rejects_as_decode_payload_does() -> None:
    encoder = OrderEncoder()
    order = examples.order()
    encoder.encode(order, check=True)
    position = dataclasses.replace(order.nodes[3].node_position, theta=4.0)
    bad = dataclasses.replace(order, nodes=(*order.nodes[:3], dataclasses.replace(order.nodes[3], node_position=position),
                                            *order.nodes[4:]))
    with pytest.raises(MessageRejected, match=r"order nodes\.3\.nodePosition\.theta: 4\.0 is outside"):
        encoder.encode(bad, check=True)
    assert encoder.encode(bad, check=False) == encode_payload(bad)
    swapped = dataclasses.replace(order, nodes=(order.edges[0], *order.nodes[1:]))
    with pytest.raises(AttributeError):
        encoder.encode(swapped, check=True)
    assert encoder.encode(order, check=True) == encode_payload(order)
    with pytest.raises(MessageRejected, match="exceeds 100"):
        OrderEncoder(MessageLimits(max_payload_bytes=100)).encode(order, check=True)


def test_link_decoder_repeats_an_equal_payload() -> None:
    decoder = LinkDecoder()
    heartbeat = decoder.decode(encode(Heartbeat(), header_for("heartbeat", seq=1)))[1]
    assert decoder.decode(encode(Heartbeat(), header_for("heartbeat", seq=2)))[1] is heartbeat
    ack = examples.ack()
    assert decoder.decode(encode(ack, header_for("ack")))[1] == ack
    later = dataclasses.replace(ack, cumulative=ack.cumulative + 1)
    assert decoder.decode(encode(later, header_for("ack")))[1] == later
