from __future__ import annotations

import logging

import msgpack
import pytest

from fleet.control_protocol import decode_reply, encode_request
from fleet.control_service import ControlRequest, ControlService, TelemetryStore
from fleet.errors import FleetError
from fleet.security import Role


def test_roles_unknown_ops_and_handler_errors(caplog: pytest.LogCaptureFixture) -> None:
    warnings: list[tuple] = []
    service = ControlService(logging.getLogger("test.control"), lambda *args: warnings.append(args))
    seen: list[ControlRequest] = []
    service.register("look", lambda r: seen.append(r) or "seen", Role.VIEWER)
    service.register("halt", lambda r: "halted", Role.OPERATOR)

    def fail(request: ControlRequest) -> None:
        raise FleetError("no such lane")

    service.register("fail", fail, Role.VIEWER)
    with pytest.raises(FleetError, match="already registered"):
        service.register("look", lambda r: None, Role.VIEWER)

    def ask(op: str, role: Role | None) -> tuple:
        return decode_reply(service.serve(encode_request(1, op, {"x": 1}), "desk", role))

    assert ask("look", Role.VIEWER) == (1, True, "seen") and seen[0].args == {"x": 1}
    assert ask("halt", Role.OPERATOR) == (1, True, "halted")
    with caplog.at_level(logging.WARNING, logger="test.control"):
        assert ask("halt", Role.VIEWER) == (1, False, "forbidden: viewer keys may not 'halt'")
        assert ask("halt", None)[2] == "forbidden: unknown keys may not 'halt'"
    assert ask("fly", Role.OPERATOR) == (1, False, "unknown op 'fly'")
    assert ask("fail", Role.OPERATOR) == (1, False, "no such lane")
    assert decode_reply(service.serve([b"igvctl/1", b"\xc1"], "desk", Role.OPERATOR))[1] is False
    assert (service.requests, service.denied, service.invalid) == (6, 2, 1)
    assert len(warnings) == 1 and "may not 'halt'" in caplog.text


def test_telemetry_store_keeps_the_latest_of_each_topic() -> None:
    store = TelemetryStore()
    frames = store.update("vehicle/a", 1, {"x": 1})
    assert frames == [b"vehicle/a", msgpack.packb(1), msgpack.packb({"x": 1})]
    store.update("vehicle/a", 2, {"x": 2})
    store.update("vehicle/b", 5, {"x": 5})
    store.update("zone/z", 6, {"closed": True})
    store.update("vehicle/b", 7, None)
    assert store.snapshot("vehicle/") == {"seq": 7, "entries": [["vehicle/a", 2, {"x": 2}]]}
    assert store.updates == 5
    for topic, seq, payload, message in [
        ("vehicle/a", 7, {}, "must be above the last one, 7"),
        ("", 8, {}, "1 to 256 characters"),
        ("t", 8, {"bad": object()}, "cannot be encoded"),
    ]:
        with pytest.raises(FleetError, match=message):
            store.update(topic, seq, payload)
