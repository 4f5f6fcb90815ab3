from __future__ import annotations

import dataclasses
import logging

import msgpack
import pytest

from fleet import examples
from fleet.codec import CORE_TO_VEHICLE, DEFAULT_LIMITS, VEHICLE_TO_CORE, decode
from fleet.endpoint import ERROR_REPLIES_PER_S, LOG_BURST, LinkEndpoint, TokenBucket, format_timestamp
from fleet.errors import FleetError
from fleet.link import Link, LinkTiming
from fleet.messages import Ack, LinkError


def make_pair() -> tuple[LinkEndpoint, LinkEndpoint]:
    log = logging.getLogger("test.endpoint")
    core = LinkEndpoint("igv-007", Link(LinkTiming(), 11, 0.0), VEHICLE_TO_CORE, DEFAULT_LIMITS, log, 0.0)
    vehicle = LinkEndpoint("igv-007", Link(LinkTiming(), 22, 0.0), CORE_TO_VEHICLE, DEFAULT_LIMITS, log, 0.0,
                           manufacturer=examples.MANUFACTURER)
    return core, vehicle


def test_timestamps() -> None:
    assert format_timestamp(1742373000.25) == "2025-03-19T08:30:00.250Z"
    assert format_timestamp(1742373059.9996) == "2025-03-19T08:30:59.999Z"
    assert format_timestamp(1742373060.0) == "2025-03-19T08:31:00.000Z"


def test_token_bucket() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=3, now_s=0.0)
    assert [bucket.allow(0.0) for _ in range(5)] == [True, True, True, False, False]
    assert bucket.allow(0.5) and not bucket.allow(0.5)
    assert bucket.refused == 3


def test_header_ids_count_per_topic_and_manufacturer_is_learnt() -> None:
    core, vehicle = make_pair()
    for expected in range(3):
        _, frames, stamped = vehicle.send(examples.state(), 0.0, 1742373000.0)
        assert stamped.header_id == expected
        delivered, _ = core.receive(frames, 0.1)
        assert delivered == [stamped]
    _, _, visualization = vehicle.send(examples.visualization(), 0.0, 1742373000.0)
    assert visualization.header_id == 0
    assert core.manufacturer == examples.MANUFACTURER
    _, frames, order = core.send(examples.order(), 0.2, 1742373000.0)
    assert order.manufacturer == examples.MANUFACTURER and order.serial_number == "igv-007"
    delivered, outgoing = vehicle.receive(frames, 0.3)
    assert delivered == [order]
    assert isinstance(decode(outgoing[0])[1], Ack)


def test_rejections_are_counted_logged_and_answered_within_limits(caplog: pytest.LogCaptureFixture) -> None:
    core, _ = make_pair()
    replies = []
    with caplog.at_level(logging.WARNING, logger="test.endpoint"):
        for n in range(50):
            delivered, outgoing = core.receive([b"\x96", b"\x80"], 0.0)
            assert delivered == []
            replies += outgoing
    assert core.invalid == {"header": 50} and core.invalid_total == 50
    assert len(replies) == ERROR_REPLIES_PER_S
    error = decode(replies[0])[1]
    assert isinstance(error, LinkError) and error.ref_seq == 0 and "header" in error.reason
    assert len(caplog.records) == LOG_BURST
    with caplog.at_level(logging.WARNING, logger="test.endpoint"):
        core.receive([b"\x96"], 10.0)
    assert "(45 more dropped since the last report)" in caplog.records[-1].getMessage()
    assert core.link.rx_count == 0  # nothing reached the link


def test_outgoing_messages_are_checked_at_the_source() -> None:
    core, _ = make_pair()
    state = examples.state()
    with pytest.raises(FleetError, match="state for igv-007 cannot be encoded"):
        core.send(dataclasses.replace(state, battery_state="full"), 0.0, 0.0)
    overfull = dataclasses.replace(state.battery_state, battery_charge=101.0)
    with pytest.raises(FleetError, match=r"state for igv-007 is invalid: .*batteryCharge: 101.0 is outside"):
        core.send(dataclasses.replace(state, battery_state=overfull), 0.0, 0.0)
    assert msgpack.unpackb(core.send(state, 0.0, 0.0, verify=False)[1][0])[1] == "state"
