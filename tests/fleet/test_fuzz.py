"""10,000 malformed messages from one vehicle while another is served without loss."""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from typing import Any, Callable

import msgpack
import pytest
import zmq

from fleet import examples
from fleet.codec import MAX_PAYLOAD_BYTES, Header, encode_header, encode_payload
from fleet.link import LinkEventKind
from fleet.messages import ConnectionState, State
from fleet.wireformat import to_wire

FUZZ_SERIAL = "igv-fuzz"
GOOD_SERIAL = "igv-good"
MALFORMED = 10_000


def _header(msg_type: str, seq: int, rseq: int = 0, rbase: int = 1, session: int = 99) -> bytes:
    return encode_header(Header(msg_type, session, seq, rseq, rbase))


def _state_wire() -> dict[str, Any]:
    return to_wire(dataclasses.replace(examples.state(), serial_number=FUZZ_SERIAL))


_WRONG = {"orderId": 7, "orderUpdateId": "0", "lastNodeId": None, "lastNodeSequenceId": -1, "nodeStates": {},
          "edgeStates": "none", "driving": 1, "actionStates": [1], "batteryState": [50], "operatingMode": "FLYING",
          "errors": [{"errorType": 1}], "safetyState": {"eStop": "MAYBE"}, "agvPosition": [0, 0],
          "velocity": {"vx": "fast"}, "loads": [{"weight": -5.0}], "paused": "no", "headerId": 2**40,
          "timestamp": 20250101, "version": 2.1, "manufacturer": ["x"], "serialNumber": 42,
          "newBaseRequest": 0, "distanceSinceLastNode": math.nan}


def malformed_messages(rng: random.Random) -> list[tuple[str, list[bytes]]]:
    """(category we expect the core to count, frames); every one invalid by construction."""
    good_wire = _state_wire()
    payload = msgpack.packb(good_wire)
    order_payload = encode_payload(dataclasses.replace(examples.order(), serial_number=FUZZ_SERIAL))
    seq = 0

    def header(msg_type: str = "state", **kwargs: Any) -> bytes:
        nonlocal seq
        seq += 1
        return _header(msg_type, seq, **kwargs)

    def wrong_type() -> tuple[str, list[bytes]]:
        wire = dict(good_wire)
        key = rng.choice(sorted(_WRONG))
        wire[key] = _WRONG[key]
        return "schema", [header(), msgpack.packb(wire)]

    def missing_field() -> tuple[str, list[bytes]]:
        wire = dict(good_wire)
        del wire[rng.choice(["orderId", "driving", "batteryState", "safetyState", "errors", "nodeStates"])]
        return "schema", [header(), msgpack.packb(wire)]

    def out_of_range() -> tuple[str, list[bytes]]:
        wire = msgpack.unpackb(payload)
        wire["batteryState"]["batteryCharge"] = rng.choice([-1.0, 100.5, math.inf, math.nan])
        return "schema", [header(), msgpack.packb(wire)]

    generators: list[tuple[int, Callable[[], tuple[str, list[bytes]]]]] = [
        (14, lambda: ("payload", [header(), payload[: rng.randrange(len(payload))]])),  # truncated msgpack
        (6, lambda: ("header", [header()[: rng.randrange(1, 8)], payload])),  # truncated header
        (16, wrong_type),
        (8, missing_field),
        (6, out_of_range),
        (6, lambda: ("type", [_header(f"x-{rng.randrange(10**6)}", 1), payload])),  # unknown type
        (4, lambda: ("frames", [header()])),
        (4, lambda: ("frames", [header(), payload, payload])),
        (2, lambda: ("frames", [header(), payload, b"", b""])),
        (8, lambda: ("header", [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))), payload])),
        (6, lambda: ("payload", [header(), b"\xc1" + bytes(rng.randrange(256) for _ in range(20))])),
        (4, lambda: ("header", [msgpack.packb(["igv/0", "state", 1, 1, 0, 1]), payload])),
        (4, lambda: ("header", [msgpack.packb(["igv/1", "state", 0, -5, 0, 1]), payload])),
        (4, lambda: ("header", [header("state", rseq=3, rbase=3), payload])),  # unreliable with rseq
        (4, lambda: ("header", [header("factsheet"), payload])),  # reliable without rseq
        (4, lambda: ("direction", [header("order", rseq=1, rbase=1), order_payload])),  # core-only type
        (4, lambda: ("identity", [header(), msgpack.packb({**good_wire, "serialNumber": "igv-other"})])),
        (2, lambda: ("version", [header(), msgpack.packb({**good_wire, "version": "1.1.0"})])),
        (2, lambda: ("schema", [header(), msgpack.packb({**good_wire, "timestamp": "yesterday"})])),
        (2, lambda: ("schema", [header(), msgpack.packb([good_wire])])),
    ]
    weights = [w for w, _ in generators]
    messages = [rng.choices(generators, weights)[0][1]() for _ in range(MALFORMED - 10)]
    # Huge frames: over the payload limit, under ZeroMQ's hard frame limit.
    messages += [("size", [header(), b"\x80" * (MAX_PAYLOAD_BYTES + 1 + n)]) for n in range(10)]
    rng.shuffle(messages)
    return messages


def test_malformed_flood_is_counted_and_the_other_vehicle_loses_nothing(
    harness: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20250319)
    messages = malformed_messages(rng)
    assert len(messages) == MALFORMED
    good = harness.vehicle(GOOD_SERIAL)
    good.connect()
    harness.run_until(lambda: harness.core.connection_state(GOOD_SERIAL) is ConnectionState.ONLINE)
    fuzz = zmq.Context.instance().socket(zmq.DEALER)
    fuzz.linger = 0
    fuzz.routing_id = FUZZ_SERIAL.encode()
    fuzz.sndhwm = 0
    fuzz.connect(harness.core.endpoints.vehicles)
    states_sent = orders_sent = 0
    try:
        with caplog.at_level(logging.WARNING, logger="fleet.transport"):
            for index, (_, frames) in enumerate(messages):
                fuzz.send_multipart(frames)
                if index % 100 == 0:
                    good.send_state(examples.state())
                    states_sent += 1
                    harness.pump()
                if index % 500 == 0:
                    harness.core.send_order(GOOD_SERIAL, dataclasses.replace(examples.order(), order_id=f"job-{index}"))
                    orders_sent += 1
            harness.run_until(
                lambda: harness.core.stats().links.get(FUZZ_SERIAL) is not None
                and harness.core.stats().links[FUZZ_SERIAL].invalid_total == MALFORMED
                and len(harness.inbound_of(GOOD_SERIAL, State)) == states_sent
                and len(harness.received[GOOD_SERIAL]) == orders_sent
                # the last order's acknowledgement is still on its way when the vehicle has it
                and len(harness.events_of(GOOD_SERIAL, LinkEventKind.DELIVERED)) == orders_sent,
                timeout_s=20,
            )
    finally:
        fuzz.close(linger=0)
    stats = harness.core.stats()
    fuzz_stats, good_stats = stats.links[FUZZ_SERIAL], stats.links[GOOD_SERIAL]
    expected: dict[str, int] = {}
    for category, _ in messages:
        expected[category] = expected.get(category, 0) + 1
    assert fuzz_stats.invalid == expected
    assert fuzz_stats.rx_messages == 0 and fuzz_stats.connection_state is ConnectionState.OFFLINE
    # The well-behaved vehicle: every state in, every order out, no drop, no retransmission needed.
    assert good_stats.invalid_total == 0 and good_stats.lost == 0
    assert [s.header_id for s in harness.inbound_of(GOOD_SERIAL, State)] == list(range(states_sent))
    assert [o.order_id for o in harness.received[GOOD_SERIAL]] == [f"job-{i}" for i in range(0, MALFORMED, 500)]
    assert len(harness.events_of(GOOD_SERIAL, LinkEventKind.DELIVERED)) == orders_sent
    # Logged with the reason, but rate-limited: a flood does not flood the log.
    lines = [r.getMessage() for r in caplog.records if FUZZ_SERIAL in r.getMessage()]
    assert 1 <= len(lines) <= 20
    assert "dropped a message:" in lines[0]
