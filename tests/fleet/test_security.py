"""CurveZMQ, the ZAP allow-list and roles, over loopback."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
import zmq

from fleet import examples
from fleet.control_client import ControlClient, ControlError
from fleet.errors import SecurityError
from fleet.messages import ConnectionState
from fleet.security import (
    CONTROL_DOMAIN,
    VEHICLE_DOMAIN,
    ClientSecurity,
    KeyPair,
    Role,
    is_loopback,
    load_allow_list,
    load_client_security,
    load_key_pair,
    load_server_security,
    update_allow_list,
    write_key_pair,
    zap_decide,
)
from fleet.control_service import ControlRequest


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    write_key_pair(tmp_path, "core")
    vehicles = {s: write_key_pair(tmp_path, s).public for s in ("igv-001", "igv-002")}
    control = {
        "desk": (write_key_pair(tmp_path, "desk").public, Role.OPERATOR),
        "wall": (write_key_pair(tmp_path, "wall").public, Role.VIEWER),
    }
    update_allow_list(tmp_path / "allow.json", vehicles, control)
    return tmp_path


@pytest.fixture
def secure_harness(harness_factory: Callable[..., Any], key_dir: Path) -> Any:
    return harness_factory(security=load_server_security(key_dir))


def serve(harness: Any, action: Callable[[], Any]) -> Any:
    """Run a blocking client call while a helper thread serves the core."""
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            harness.core.poll(2)

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        return action()
    finally:
        done.set()
        thread.join(timeout=5)


def test_allow_listed_vehicle_talks_unknown_key_is_refused_and_logged(
    secure_harness: Any, key_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core_public = load_key_pair(key_dir / "core.key_secret").public
    good = secure_harness.vehicle("igv-001", security=load_client_security(key_dir, "igv-001"))
    stranger = secure_harness.vehicle(
        "igv-002", security=ClientSecurity(KeyPair(*zmq.curve_keypair()), core_public)
    )
    with caplog.at_level(logging.WARNING, logger="fleet.transport"):
        good.connect()
        stranger.connect()
        secure_harness.run_until(lambda: good.connection_state is ConnectionState.ONLINE, timeout_s=10)
        good.send_state(examples.state())
        secure_harness.run_until(lambda: secure_harness.inbound_of("igv-001", type(examples.state())))
        secure_harness.pump(0.5)
    stats = secure_harness.core.stats()
    assert "igv-002" not in stats.links  # not a single frame got through
    assert stranger.connection_state is not ConnectionState.ONLINE
    assert stats.zap_refused >= 1 and stats.zap_allowed >= 1
    refusal = [r.getMessage() for r in caplog.records if "refused connection" in r.getMessage()]
    assert refusal and "unknown vehicle key" in refusal[0] and VEHICLE_DOMAIN in refusal[0]


def test_a_vehicle_key_cannot_speak_for_another_serial(secure_harness: Any, key_dir: Path) -> None:
    impostor = secure_harness.vehicle("igv-009", security=load_client_security(key_dir, "igv-002"))
    impostor.connect()
    secure_harness.run_until(
        lambda: "igv-009" in secure_harness.core.stats().links
        and secure_harness.core.stats().links["igv-009"].invalid.get("identity", 0) >= 1
    )
    link = secure_harness.core.stats().links["igv-009"]
    assert link.rx_messages == 0 and link.connection_state is ConnectionState.OFFLINE


def test_plain_client_cannot_reach_a_secured_core(secure_harness: Any) -> None:
    plain = secure_harness.vehicle("igv-001")
    plain.connect()
    secure_harness.pump(0.5)
    assert secure_harness.core.stats().links == {}


def test_viewer_may_watch_but_not_command(secure_harness: Any, key_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    commands: list[ControlRequest] = []
    secure_harness.core.register_control("cancelOrder", lambda r: commands.append(r) or "cancelled")
    secure_harness.core.publish("vehicle/igv-001", 1, {"x": 1})
    endpoint = secure_harness.core.endpoints.control
    with ControlClient(endpoint, security=load_client_security(key_dir, "wall")) as viewer, ControlClient(
        endpoint, security=load_client_security(key_dir, "desk")
    ) as operator, caplog.at_level(logging.WARNING, logger="fleet.transport"):
        assert serve(secure_harness, lambda: viewer.request("ping"))["role"] == "viewer"
        assert serve(secure_harness, lambda: viewer.request("snapshot"))["entries"] == [["vehicle/igv-001", 1, {"x": 1}]]
        with pytest.raises(ControlError, match="forbidden: viewer keys may not 'cancelOrder'"):
            serve(secure_harness, lambda: viewer.request("cancelOrder", {"serial": "igv-001"}))
        assert commands == []
        assert serve(secure_harness, lambda: operator.request("cancelOrder", {"serial": "igv-001"})) == "cancelled"
    assert [(c.client, c.role) for c in commands] == [("desk", Role.OPERATOR)]
    assert secure_harness.core.stats().control_denied == 1
    assert any("wall (viewer) may not 'cancelOrder'" in r.getMessage() for r in caplog.records)


def test_vehicle_key_is_not_a_control_key(secure_harness: Any, key_dir: Path) -> None:
    endpoint = secure_harness.core.endpoints.control
    with ControlClient(endpoint, security=load_client_security(key_dir, "igv-001")) as client:
        with pytest.raises(ControlError, match="no reply"):
            serve(secure_harness, lambda: client.request("ping", timeout_ms=300))
    assert secure_harness.core.stats().zap_refused >= 1


def test_zap_decisions(tmp_path: Path) -> None:
    vehicle_key = zmq.curve_keypair()[0]
    (tmp_path / "allow.json").write_text(json.dumps({"vehicles": {"igv-001": vehicle_key.decode()}}))
    allow = load_allow_list(tmp_path / "allow.json")
    raw = zmq.utils.z85.decode(vehicle_key)
    base = [b"1.0", b"7", VEHICLE_DOMAIN.encode(), b"10.0.0.5", b"", b"CURVE", raw]
    ok = zap_decide(base, allow)
    assert ok.allowed and ok.reply == [b"1.0", b"7", b"200", b"OK", b"igv-001", b""]
    assert not zap_decide(base[:5], allow).allowed
    assert zap_decide([*base[:5], b"NULL"], allow).reply[2] == b"400"
    assert zap_decide([base[0], base[1], CONTROL_DOMAIN.encode(), *base[3:]], allow).reason == "unknown control key"
    assert zap_decide([base[0], base[1], b"other", *base[3:]], allow).reason == "unknown ZAP domain"
    assert zap_decide([b"2.0", *base[1:]], allow).reply[2] == b"400"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"vehicles": {"igv-1": "short"}}', "not a Z85-encoded CURVE key"),
        ('{"vehicles": {"bad serial": "' + "a" * 40 + '"}}', "bad serial number"),
        ('{"control": {"desk": {"key": "' + "a" * 40 + '", "role": "admin"}}}', "role must be 'operator' or 'viewer'"),
        ('{"vehicles": {"a": "' + "a" * 40 + '", "b": "' + "a" * 40 + '"}}', "same key as vehicles.a"),
        ('{"robots": {}}', "expected an object with 'vehicles' and 'control'"),
    ],
)
def test_bad_allow_lists_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "allow.json"
    path.write_text(content)
    with pytest.raises(SecurityError, match=message) as info:
        load_allow_list(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_key_files(tmp_path: Path) -> None:
    pair = write_key_pair(tmp_path, "igv-001")
    assert load_key_pair(tmp_path / "igv-001.key_secret") == pair
    assert (tmp_path / "igv-001.key_secret").stat().st_mode & 0o777 == 0o600
    with pytest.raises(SecurityError, match="has no secret-key"):
        load_key_pair(tmp_path / "igv-001.key")
    with pytest.raises(SecurityError, match="key file not found"):
        load_key_pair(tmp_path / "nobody.key_secret")
    with pytest.raises(SecurityError, match="exists"):
        write_key_pair(tmp_path, "igv-001")
    # pyzmq reads our certificates (same ZPL format as czmq)
    from zmq.auth import load_certificate

    assert load_certificate(str(tmp_path / "igv-001.key_secret")) == (pair.public, pair.secret)


@pytest.mark.parametrize(
    ("endpoint", "loopback"),
    [
        ("tcp://127.0.0.1:5560", True),
        ("tcp://127.0.0.1:*", True),
        ("tcp://127.5.5.5:1", True),
        ("tcp://[::1]:5560", True),
        ("tcp://localhost:5560", True),
        ("ipc:///tmp/igv", True),
        ("tcp://0.0.0.0:5560", False),
        ("tcp://*:5560", False),
        ("tcp://10.0.0.5:5560", False),
        ("tcp://eth0:5560", False),
        ("udp://127.0.0.1:5560", False),
    ],
)
def test_loopback_detection(endpoint: str, loopback: bool) -> None:
    assert is_loopback(endpoint) is loopback
