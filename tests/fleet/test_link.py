"""The link state machine in virtual time: two ends joined by a simulated lossy network."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.codec import Header, decode_payload, encode_payload
from fleet.errors import FleetError
from fleet.link import (
    CONNECTION_BROKEN_AFTER_S,
    HEARTBEAT_INTERVAL_S,
    MAX_RESENDS,
    OFFLINE_AFTER_S,
    Link,
    LinkEventKind,
    LinkTiming,
    LinkWindowFull,
)
from fleet.messages import Ack, Action, BlockingType, ConnectionState, Heartbeat, InstantActions

STEP_S = 0.01


def command(n: int) -> InstantActions:
    action = Action(action_type="startPause", action_id=f"a{n}", blocking_type=BlockingType.HARD)
    return InstantActions(serial_number="igv-1", timestamp="2025-01-01T00:00:00Z", actions=(action,))


@dataclass
class End:
    """One side: a link plus what it delivered to its application."""

    name: str
    link: Link
    delivered: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    up: bool = True  # False: this end neither sends nor receives (powered off)


@dataclass
class Net:
    """Two ends, a clock and a network that delays, reorders and drops."""

    a: End
    b: End
    rng: random.Random
    loss: float = 0.0
    delay_s: float = 0.002
    jitter_s: float = 0.0
    now_s: float = 0.0
    cut: set[str] = field(default_factory=set)  # directions "ab" / "ba" that drop everything
    in_flight: list[tuple[float, str, Header, bytes]] = field(default_factory=list)

    def peer(self, end: End) -> End:
        return self.b if end is self.a else self.a

    def transmit(self, src: End, header: Header, payload: bytes) -> None:
        direction = "ab" if src is self.a else "ba"
        if not src.up or direction in self.cut or self.rng.random() < self.loss:
            return
        arrival = self.now_s + self.delay_s + self.rng.random() * self.jitter_s
        self.in_flight.append((arrival, direction, header, payload))

    def send(self, src: End, message: Any, reliable: bool = True) -> int:
        payload = encode_payload(message)
        header = src.link.send("instantActions", payload, self.now_s, reliable=reliable, context=message)
        self.transmit(src, header, payload)
        return header.rseq

    def _receive(self, dst: End, header: Header, payload: bytes) -> None:
        if not dst.up:
            return
        items, send_ack = dst.link.receive(header, decode_payload(header.msg_type, payload), self.now_s)
        if send_ack:
            ack = dst.link.ack()
            ack_payload = encode_payload(ack)
            self.transmit(dst, dst.link.send("ack", ack_payload, self.now_s, reliable=False), ack_payload)
        for item in items:
            if isinstance(item, Ack):
                for t in dst.link.on_ack(item, self.now_s):
                    self.transmit(dst, t.header, t.payload)
            elif not isinstance(item, Heartbeat):
                dst.delivered.append(item)

    def step(self) -> None:
        self.now_s += STEP_S
        due = sorted((m for m in self.in_flight if m[0] <= self.now_s), key=lambda m: m[0])
        self.in_flight = [m for m in self.in_flight if m[0] > self.now_s]
        for _, direction, header, payload in due:
            self._receive(self.b if direction == "ab" else self.a, header, payload)
        for end in (self.a, self.b):
            if end.up:
                for t in end.link.tick(self.now_s):
                    self.transmit(end, t.header, t.payload)
                end.events.extend(end.link.take_events())

    def run(self, duration_s: float) -> None:
        for _ in range(int(round(duration_s / STEP_S))):
            self.step()


def make_net(timing: LinkTiming | None = None, seed: int = 1, **kwargs: Any) -> Net:
    timing = timing or LinkTiming()
    a = End("core", Link(timing, 1111, 0.0))
    b = End("vehicle", Link(timing, 2222, 0.0, keepalive_offline=True))
    net = Net(a, b, random.Random(seed), **kwargs)
    # The vehicle speaks first (its connection message), as in the protocol.
    net.send(b, command(0))
    net.run(0.1)
    b.delivered.clear()
    a.delivered.clear()
    return net


def kinds(end: End) -> list[LinkEventKind]:
    return [e.kind for e in end.events]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    loss=st.floats(min_value=0.0, max_value=0.4),
    jitter_s=st.floats(min_value=0.0, max_value=0.2),
)
def test_exactly_once_in_order_under_loss_and_reordering(seed: int, loss: float, jitter_s: float) -> None:
    timing = LinkTiming(max_resends=60, resend_max_interval_s=0.5)
    net = make_net(timing, seed=seed)
    net.loss, net.jitter_s = loss, jitter_s
    rng = random.Random(seed)
    sent = []
    for n in range(1, 31):
        sent.append(command(n))
        net.send(net.a, sent[-1])
        net.run(rng.choice([0.0, 0.01, 0.05, 0.2]))
    for _ in range(6000):
        if len(net.b.delivered) == len(sent) and net.a.link.in_flight == 0:
            break
        net.step()
    assert net.b.delivered == sent, (len(net.b.delivered), loss)
    assert sorted(e.rseq for e in net.a.events if e.kind is LinkEventKind.DELIVERED) == list(range(1, 31))
    assert LinkEventKind.UNDELIVERED not in kinds(net.a)


def test_duplicates_and_stale_transmissions_are_dropped() -> None:
    net = make_net()
    payload = encode_payload(command(5))
    header = net.a.link.send("instantActions", payload, net.now_s, reliable=True)
    for _ in range(3):  # the network repeats it
        net.transmit(net.a, header, payload)
    net.run(0.1)
    assert net.b.delivered == [command(5)]
    assert net.b.link.rx_duplicates == 2
    state_payload = encode_payload(Heartbeat())
    old = net.a.link.send("heartbeat", state_payload, net.now_s, reliable=False)
    newer = net.a.link.send("heartbeat", state_payload, net.now_s, reliable=False)
    net.b.link.receive(newer, Heartbeat(), net.now_s)
    assert net.b.link.receive(old, Heartbeat(), net.now_s) == ([], False)
    assert net.b.link.rx_stale == 1


def test_a_message_given_up_is_reported_and_skipped_by_the_receiver() -> None:
    timing = LinkTiming(max_resends=3)
    net = make_net(timing)
    net.cut.add("ab")  # the core's messages vanish; the vehicle's heartbeats still arrive
    lost = net.send(net.a, command(1))
    net.run(0.25 + 0.5 + 1.0 + 2.0 + 0.1)
    undelivered = [e for e in net.a.events if e.kind is LinkEventKind.UNDELIVERED]
    assert [e.rseq for e in undelivered] == [lost]
    assert "after 3 retransmissions" in undelivered[0].reason
    assert net.a.link.state is ConnectionState.ONLINE  # the peer is heard, only our messages are lost
    net.cut.clear()
    net.send(net.a, command(2))
    net.run(0.1)
    assert net.b.delivered == [command(2)]
    assert net.b.link.rx_skipped == 1


def test_connection_states_follow_the_documented_timing() -> None:
    net = make_net()
    net.b.up = False
    silent_since = net.a.link.last_heard_s
    pending = net.send(net.a, command(1))
    broken_at = offline_at = None
    while offline_at is None and net.now_s < 40:
        net.step()
        if broken_at is None and LinkEventKind.CONNECTIONBROKEN in kinds(net.a):
            broken_at = net.now_s
        if LinkEventKind.OFFLINE in kinds(net.a):
            offline_at = net.now_s
    # Silence is measured from the last message heard; the check runs every step.
    assert broken_at is not None and offline_at is not None
    assert CONNECTION_BROKEN_AFTER_S <= broken_at - silent_since < CONNECTION_BROKEN_AFTER_S + STEP_S
    assert OFFLINE_AFTER_S <= offline_at - silent_since < OFFLINE_AFTER_S + STEP_S
    assert [e.rseq for e in net.a.events if e.kind is LinkEventKind.UNDELIVERED] == [pending]
    # The vehicle comes back with its link intact: ONLINE again, same session.
    net.b.up = True
    net.run(1.0)
    online = [e for e in net.a.events if e.kind is LinkEventKind.ONLINE]
    assert online and online[-1].new_session is False
    assert net.a.link.state is ConnectionState.ONLINE


def test_a_broken_link_resumes_and_delivers_what_was_pending() -> None:
    net = make_net()
    net.b.up = False
    net.run(CONNECTION_BROKEN_AFTER_S + 0.5)
    assert net.a.link.state is ConnectionState.CONNECTIONBROKEN
    resends_before = net.a.link.tx_resends
    net.send(net.a, command(1))  # sent into the void
    net.run(3.0)
    assert net.a.link.tx_resends == resends_before  # no retries while broken
    net.b.up = True
    net.run(1.0)
    assert net.b.delivered == [command(1)]
    assert LinkEventKind.DELIVERED in kinds(net.a)


def test_a_restarted_peer_gets_only_what_it_had_not_acknowledged() -> None:
    net = make_net()
    net.send(net.a, command(1))
    net.run(0.1)
    assert net.b.delivered == [command(1)]
    net.b.up = False
    net.send(net.a, command(2))  # unacknowledged when the vehicle dies
    net.run(1.0)
    # The vehicle restarts: a new link, a new session.
    net.b = End("vehicle", Link(LinkTiming(), 3333, net.now_s, keepalive_offline=True))
    net.send(net.b, command(0))
    net.run(0.5)
    assert net.b.delivered == [command(2)]
    online = [e for e in net.a.events if e.kind is LinkEventKind.ONLINE]
    assert online[-1].new_session is True


def test_a_restarted_core_is_followed_by_the_vehicle() -> None:
    net = make_net()
    net.a = End("core", Link(LinkTiming(), 4444, net.now_s))
    net.run(HEARTBEAT_INTERVAL_S * 2)  # the vehicle's heartbeat reaches the new core
    net.send(net.a, command(9))
    net.run(0.1)
    assert net.b.delivered == [command(9)]
    assert net.b.link.peer_session == 4444


def test_heartbeats_only_when_idle() -> None:
    net = make_net()
    sent_before = net.a.link.tx_count
    net.run(10 * HEARTBEAT_INTERVAL_S + STEP_S)
    assert net.a.link.tx_count - sent_before == 10
    busy_before = net.b.link.tx_count
    for _ in range(20):  # the vehicle sends something every 0.1 s: no heartbeat needed
        net.send(net.b, command(99), reliable=False)
        net.run(0.1)
    assert net.b.link.tx_count - busy_before == 20


def test_window_is_bounded() -> None:
    net = make_net(LinkTiming(window=4))
    net.cut.add("ab")
    for n in range(4):
        net.send(net.a, command(n))
    with pytest.raises(LinkWindowFull, match="4 reliable messages"):
        net.send(net.a, command(5))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heartbeat_interval_s": 3.0},
        {"offline_after_s": 1.0},
        {"resend_after_s": 0.0},
        {"window": 0},
        {"max_resends": -1},
    ],
)
def test_inconsistent_timing_is_refused(kwargs: dict) -> None:
    with pytest.raises(FleetError, match="link timing"):
        LinkTiming(**kwargs)


def test_documented_defaults() -> None:
    timing = LinkTiming()
    assert (timing.heartbeat_interval_s, timing.connection_broken_after_s, timing.offline_after_s) == (0.5, 2.0, 30.0)
    assert timing.max_resends == MAX_RESENDS == 8
