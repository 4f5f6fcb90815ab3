"""The core transport and the vehicle client over loopback sockets."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable

import pytest

from fleet import examples
from fleet.control_client import ControlClient, ControlError, TelemetryMirror
from fleet.errors import FleetError, SecurityError
from fleet.link import CONNECTION_BROKEN_AFTER_S, LinkEventKind
from fleet.messages import Connection, ConnectionState, InstantActions, Order, State
from fleet.control_service import ControlRequest
from fleet.transport import CoreTransport, TransportConfig
from fleet.vehicle_client import ClientGroup

LOOPBACK = "tcp://127.0.0.1:*"
Harness = Any  # tests/fleet/conftest.py


def order(n: int, update: int = 0) -> Order:
    return dataclasses.replace(examples.order(), order_id=f"job-{n}", order_update_id=update)


def connected(harness: Harness, serial: str, **kwargs: Any) -> Any:
    vehicle = harness.vehicle(serial, **kwargs)
    vehicle.connect()
    harness.run_until(lambda: harness.core.connection_state(serial) is ConnectionState.ONLINE
                      and vehicle.connection_state is ConnectionState.ONLINE)
    return vehicle


def test_connect_state_and_order_round_trip(harness: Harness) -> None:
    vehicle = connected(harness, "igv-001")
    harness.run_until(lambda: harness.inbound_of("igv-001", Connection))
    assert harness.events_of("igv-001", LinkEventKind.ONLINE)[0].new_session is True
    vehicle.send_state(examples.state())
    harness.run_until(lambda: harness.inbound_of("igv-001", State))
    state = harness.inbound_of("igv-001", State)[0]
    assert state.serial_number == "igv-001" and state.manufacturer == examples.MANUFACTURER
    rseq = harness.core.send_order("igv-001", order(1))
    harness.run_until(lambda: harness.events_of("igv-001", LinkEventKind.DELIVERED))
    delivered = harness.events_of("igv-001", LinkEventKind.DELIVERED)[0]
    assert delivered.rseq == rseq and delivered.message.order_id == "job-1" and delivered.rtt_s > 0
    received = harness.received["igv-001"]
    assert len(received) == 1 and received[0].order_id == "job-1"
    assert received[0].manufacturer == examples.MANUFACTURER  # learnt from the vehicle
    assert received[0].header_id == 0 and received[0].timestamp.endswith("Z")
    harness.core.send_order("igv-001", order(1, update=1))
    harness.run_until(lambda: len(harness.received["igv-001"]) == 2)
    assert harness.received["igv-001"][1].header_id == 1  # counted per topic


def test_send_errors_are_raised_at_the_source(harness: Harness) -> None:
    with pytest.raises(FleetError, match="no link to vehicle 'igv-404'"):
        harness.core.send_order("igv-404", order(1))
    connected(harness, "igv-001")
    with pytest.raises(FleetError, match="order for igv-001 is invalid: semantics"):
        harness.core.send_order("igv-001", dataclasses.replace(order(1), edges=()))
    bad_type = dataclasses.replace(order(1), order_update_id="zero")
    with pytest.raises(FleetError, match="orderUpdateId: expected an integer"):
        harness.core.send_order("igv-001", bad_type)


def test_instant_actions_and_vda_level_duplicates(harness: Harness) -> None:
    vehicle = connected(harness, "igv-001")
    stop = examples.instant_actions()
    harness.core.send_instant_actions("igv-001", stop)
    harness.core.send_instant_actions("igv-001", stop)  # the same actionId again
    harness.core.send_order("igv-001", order(1))
    harness.core.send_order("igv-001", order(1))  # the same orderId/orderUpdateId again
    harness.run_until(lambda: len(harness.events_of("igv-001", LinkEventKind.DELIVERED)) == 4)
    harness.pump(0.05)
    kinds = [type(m) for m in harness.received["igv-001"]]
    assert kinds == [InstantActions, Order]
    assert vehicle.duplicates_ignored == 2


def test_factsheet_request_is_answered_by_the_client(harness: Harness) -> None:
    connected(harness, "igv-001", factsheet=examples.factsheet())
    request = dataclasses.replace(
        examples.instant_actions(),
        actions=(dataclasses.replace(examples.instant_actions().actions[0], action_type="factsheetRequest"),),
    )
    harness.core.send_instant_actions("igv-001", request)
    harness.run_until(lambda: harness.inbound_of("igv-001", type(examples.factsheet())))
    sheet = harness.inbound_of("igv-001", type(examples.factsheet()))[0]
    assert sheet.physical_parameters.length == 15.5


def test_vehicle_disappears_goes_broken_in_time_and_resumes(harness: Harness) -> None:
    vehicle = connected(harness, "igv-001")
    vehicle.drop()  # silent: power or radio lost
    harness.run_until(lambda: harness.events_of("igv-001", LinkEventKind.CONNECTIONBROKEN), timeout_s=4.0)
    seen_s = time.monotonic()  # the core's default clock is time.monotonic
    silence_s = seen_s - harness.core.stats().links["igv-001"].last_heard_s
    # Detected at the documented time, give or take the housekeeping interval (10 ms) and
    # the scheduling of a busy test machine.
    assert CONNECTION_BROKEN_AFTER_S <= silence_s <= CONNECTION_BROKEN_AFTER_S + 0.5
    rseq = harness.core.send_order("igv-001", order(7))  # while broken: kept for later
    harness.pump(0.3)
    assert harness.received["igv-001"] == []
    vehicle.reconnect()  # same link, same session
    harness.run_until(lambda: harness.received["igv-001"])
    harness.run_until(lambda: [e for e in harness.events_of("igv-001", LinkEventKind.DELIVERED) if e.rseq == rseq])
    harness.pump(0.3)
    assert [m.order_id for m in harness.received["igv-001"]] == ["job-7"]
    online = harness.events_of("igv-001", LinkEventKind.ONLINE)
    assert len(online) == 2 and online[1].new_session is False


def test_restarted_vehicle_gets_the_pending_order_once(harness_factory: Callable[..., Harness], fast_timing: Any) -> None:
    harness = harness_factory(timing=fast_timing)
    first = connected(harness, "igv-001", timing=fast_timing)
    harness.core.send_order("igv-001", order(1))
    harness.run_until(lambda: len(harness.received["igv-001"]) == 1)
    first.drop()
    harness.clients.remove(first)
    harness.run_until(lambda: harness.events_of("igv-001", LinkEventKind.CONNECTIONBROKEN))
    harness.core.send_order("igv-001", order(1, update=1))  # not acknowledged by anyone yet
    harness.received["igv-001"] = []
    before = len(harness.events_of("igv-001", LinkEventKind.ONLINE))
    connected(harness, "igv-001", timing=fast_timing, current_order=("job-1", 0))  # new session
    harness.run_until(lambda: harness.received["igv-001"])
    harness.pump(0.3)
    assert [(m.order_id, m.order_update_id) for m in harness.received["igv-001"]] == [("job-1", 1)]
    assert harness.events_of("igv-001", LinkEventKind.ONLINE)[before].new_session is True


def test_orderly_offline_gives_up_pending_messages(harness_factory: Callable[..., Harness], fast_timing: Any) -> None:
    harness = harness_factory(timing=fast_timing)
    vehicle = connected(harness, "igv-001", timing=fast_timing)
    harness.core.send_order("igv-001", order(1))
    harness.run_until(lambda: harness.received["igv-001"])
    # The vehicle says goodbye; the core's answer (the ack) is served by the pump.
    harness.clients.remove(vehicle)
    end = time.monotonic() + 2
    rseq = vehicle._send(Connection(connection_state=ConnectionState.OFFLINE))
    while vehicle.link.awaiting(rseq) and time.monotonic() < end:
        harness.pump()
        vehicle.poll(0)
    assert not vehicle.link.awaiting(rseq)
    vehicle.drop()
    harness.pump(0.1)
    assert harness.core.connection_state("igv-001") is ConnectionState.OFFLINE
    assert harness.events_of("igv-001", LinkEventKind.OFFLINE)[0].reason == "peer announced OFFLINE"
    pending = harness.core.send_order("igv-001", order(2))
    assert harness.core.stats().links["igv-001"].in_flight == 1
    harness.pump(0.5)  # no retries towards an OFFLINE vehicle
    assert harness.core.stats().links["igv-001"].resends == 0 and pending == 2


def test_lockstep_virtual_time_drives_connection_states(harness_factory: Callable[..., Harness], fake_clock: Any) -> None:
    clock = fake_clock
    harness = harness_factory(clock=clock)
    vehicle = harness.vehicle("igv-001", clock=clock)
    vehicle.connect()

    def online() -> bool:
        clock.advance(0.05)  # virtual time moves only here: retransmissions need it
        return harness.core.connection_state("igv-001") is ConnectionState.ONLINE

    harness.run_until(online)
    harness.pump(0.02)
    vehicle.drop()
    pending = harness.core.send_order("igv-001", order(1))
    last_heard_s = harness.core.stats().links["igv-001"].last_heard_s
    clock.now_s = last_heard_s + 1.99
    harness.pump(0.02)
    assert harness.events_of("igv-001", LinkEventKind.CONNECTIONBROKEN) == []
    clock.now_s = last_heard_s + 2.0
    harness.pump(0.02)
    assert len(harness.events_of("igv-001", LinkEventKind.CONNECTIONBROKEN)) == 1
    clock.now_s = last_heard_s + 29.99
    harness.pump(0.02)
    assert harness.events_of("igv-001", LinkEventKind.OFFLINE) == []
    clock.now_s = last_heard_s + 30.0
    harness.pump(0.02)
    assert harness.events_of("igv-001", LinkEventKind.OFFLINE)
    assert [e.rseq for e in harness.events_of("igv-001", LinkEventKind.UNDELIVERED)] == [pending]


def test_many_vehicles_in_one_group(harness: Harness) -> None:
    group = ClientGroup(harness.vehicle(f"igv-{n:03d}") for n in range(20))
    harness.clients.clear()  # served by the group below
    for client in group.clients:
        client.connect()
    deadline = time.monotonic() + 15
    received: dict[str, list] = {}
    while time.monotonic() < deadline and len(received) < 20:
        result = harness.core.poll(1)
        harness.events.extend(result.events)
        if len(harness.events_of_kind(LinkEventKind.ONLINE)) == 20 and not received:
            for client in group.clients:
                harness.core.send_order(client.serial, order(int(client.serial[-3:])))
        for serial, messages in group.poll(0).items():
            received.setdefault(serial, []).extend(messages)
    assert sorted(received) == [f"igv-{n:03d}" for n in range(20)]
    assert all(len(v) == 1 and v[0].order_id == f"job-{int(k[-3:])}" for k, v in received.items())
    for client in group.clients:
        client.drop()


def test_control_api_ops_and_errors(harness: Harness) -> None:
    calls: list[ControlRequest] = []

    def cancel(request: ControlRequest) -> dict:
        calls.append(request)
        if request.args.get("job") == "none":
            raise FleetError("no such job")
        return {"cancelled": request.args["job"]}

    harness.core.register_control("cancelJob", cancel)
    harness.core.register_control("crash", lambda request: 1 / 0)
    with pytest.raises(FleetError, match="already registered"):
        harness.core.register_control("ping", cancel)
    with ControlClient(harness.core.endpoints.control) as client:
        answers: dict[str, Any] = {}

        def ask(name: str, op: str, args: dict | None = None) -> None:
            try:
                answers[name] = client.request(op, args, timeout_ms=2000)
            except ControlError as exc:
                answers[name] = exc

        for name, op, args in [
            ("ping", "ping", None),
            ("cancel", "cancelJob", {"job": "job-9"}),
            ("missing", "cancelJob", {"job": "none"}),
            ("unknown", "fly", None),
            ("crash", "crash", None),
        ]:
            _serve_while(harness, lambda: ask(name, op, args))
    assert answers["ping"]["pong"] is True and answers["ping"]["role"] == "operator"
    assert answers["cancel"] == {"cancelled": "job-9"} and calls[0].op == "cancelJob"
    assert "no such job" in str(answers["missing"])
    assert "unknown op 'fly'" in str(answers["unknown"])
    assert "internal error in 'crash'" in str(answers["crash"])
    assert harness.core.stats().control_requests == 5


def _serve_while(harness: Harness, action: Callable[[], None]) -> None:
    """Run a blocking client call while the core is served from a helper thread."""
    import threading

    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            harness.core.poll(2)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        action()
    finally:
        done.set()
        thread.join(timeout=5)


def test_telemetry_mirror_follows_the_clone_pattern(harness: Harness) -> None:
    core = harness.core
    core.publish("vehicle/igv-001", 1, {"x": 1.0})
    core.publish("vehicle/igv-002", 2, {"x": 2.0})
    core.publish("zone/bridge", 3, {"closed": False})
    with ControlClient(core.endpoints.control) as control:
        mirror = TelemetryMirror(core.endpoints.telemetry, control, prefix="vehicle/")
        _serve_while(harness, lambda: mirror.sync(timeout_ms=2000))
        assert mirror.seq == 3
        assert mirror.topics == {"vehicle/igv-001": {"x": 1.0}, "vehicle/igv-002": {"x": 2.0}}
        core.publish("vehicle/igv-001", 4, {"x": 1.5})
        core.publish("zone/bridge", 5, {"closed": True})
        core.publish("vehicle/igv-002", 6, None)  # deleted
        applied: list = []
        deadline = time.monotonic() + 2
        while len(applied) < 2 and time.monotonic() < deadline:
            applied += mirror.poll(20)
        assert [seq for _, seq, _ in applied] == [4, 6]
        assert mirror.topics == {"vehicle/igv-001": {"x": 1.5}}
        mirror.close()
    with pytest.raises(FleetError, match="must be above the last one"):
        core.publish("vehicle/igv-001", 6, {})
    with pytest.raises(FleetError, match="cannot be encoded"):
        core.publish("vehicle/igv-001", 7, {"bad": object()})


def test_binding_beyond_loopback_needs_keys_or_insecure(caplog: pytest.LogCaptureFixture) -> None:
    exposed = TransportConfig(vehicle_endpoint="tcp://0.0.0.0:*", telemetry_endpoint=LOOPBACK, control_endpoint=LOOPBACK)
    with pytest.raises(SecurityError, match=r"refusing to bind tcp://0\.0\.0\.0:\* without CurveZMQ keys"):
        CoreTransport(exposed)
    with caplog.at_level(logging.WARNING, logger="fleet.transport"):
        core = CoreTransport(dataclasses.replace(exposed, insecure=True))
        core.close()
    assert "WITHOUT authentication" in caplog.text


def test_config_from_cli_arguments() -> None:
    import argparse

    from fleet.transport import add_transport_arguments, config_from_arguments

    parser = argparse.ArgumentParser()
    add_transport_arguments(parser)
    config = config_from_arguments(parser.parse_args(["--vehicles", "tcp://0.0.0.0:6000", "--insecure"]))
    assert config.vehicle_endpoint == "tcp://0.0.0.0:6000" and config.insecure and config.security is None
    assert isinstance(config, TransportConfig)
