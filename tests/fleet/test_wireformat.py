from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet import examples
from fleet.messages import Action, BatteryState, NodePosition, Order, State
from fleet.wireformat import (
    MAX_ARRAY_LEN,
    MAX_JSON_DEPTH,
    MAX_STRING_LEN,
    FieldError,
    camel_case,
    check_json_value,
    from_wire,
    to_wire,
    wire_keys,
)


def test_camel_case_and_overrides() -> None:
    assert camel_case("order_update_id") == "orderUpdateId"
    assert camel_case("e_stop") == "eStop"
    assert camel_case("x") == "x"
    assert wire_keys(NodePosition)["allowed_deviation_xy"] == "allowedDeviationXY"
    assert wire_keys(Action)["container_id"] == "containerId"


def test_round_trip_keeps_every_field() -> None:
    state = examples.state()
    wire = to_wire(state)
    assert wire["batteryState"] == {"batteryCharge": 76.5, "charging": False, "batteryVoltage": 720.0, "reach": 61000.0}
    assert wire["operatingMode"] == "AUTOMATIC"
    assert "maps" not in wire  # None is omitted
    assert "information" not in wire  # optional empty array is omitted
    assert from_wire(State, wire) == state


def test_loads_none_and_empty_are_different() -> None:
    unknown = to_wire(examples.state().__class__(**{**_fields(examples.state()), "loads": None}))
    empty = to_wire(examples.state().__class__(**{**_fields(examples.state()), "loads": ()}))
    assert "loads" not in unknown
    assert empty["loads"] == []
    assert from_wire(State, empty).loads == ()
    assert from_wire(State, unknown).loads is None


def _fields(obj: object) -> dict:
    return {name: getattr(obj, name) for name in obj.__slots__}


def test_unknown_keys_are_ignored() -> None:
    wire = to_wire(examples.order())
    wire["futureField"] = {"anything": [1, 2]}
    assert from_wire(Order, wire) == examples.order()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("orderUpdateId",), True, "expected an integer, got bool"),
        (("orderUpdateId",), -1, "outside"),
        (("orderUpdateId",), 2**32, "outside"),
        (("orderId",), None, "expected a string, got null"),
        (("orderId",), "x" * (MAX_STRING_LEN + 1), "longer than"),
        (("nodes",), {}, "expected an array"),
        (("nodes", 0, "released"), 1, "expected a boolean"),
        (("nodes", 0, "nodePosition", "x"), math.nan, "not finite"),
        (("nodes", 0, "nodePosition", "theta"), 4.0, "outside"),
        (("nodes", 0, "actions", 0, "blockingType"), "MEDIUM", "is not one of NONE, SOFT, HARD"),
        (("nodes", 0, "actions", 0, "blockingType"), ["HARD"], "list is not one of"),
        (("nodes", 0, "actions", 0, "actionParameters", 0, "value"), None, "expected a JSON value"),
    ],
)
def test_bad_values_name_their_path(path: tuple, value: object, reason: str) -> None:
    wire = to_wire(examples.order())
    target = wire
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(FieldError) as info:
        from_wire(Order, wire)
    assert info.value.path == tuple(str(p) for p in path)
    assert reason in info.value.reason
    assert str(info.value).startswith(".".join(str(p) for p in path) + ": ")


def test_missing_required_field() -> None:
    wire = to_wire(examples.state())
    del wire["safetyState"]["eStop"]
    with pytest.raises(FieldError, match=r"^safetyState\.eStop: required field is missing$"):
        from_wire(State, wire)


def test_optional_field_may_be_absent_but_not_null() -> None:
    wire = to_wire(BatteryState(battery_charge=50.0, charging=True))
    assert from_wire(BatteryState, wire).reach is None
    wire["reach"] = None
    with pytest.raises(FieldError, match="reach: expected a number, got null"):
        from_wire(BatteryState, wire)


def test_array_and_json_limits() -> None:
    wire = to_wire(examples.order())
    wire["edges"] = [wire["edges"][0]] * (MAX_ARRAY_LEN + 1)
    with pytest.raises(FieldError, match="array longer than"):
        from_wire(Order, wire)
    deep: object = "leaf"
    for _ in range(MAX_JSON_DEPTH + 2):
        deep = [deep]
    with pytest.raises(FieldError, match="nested deeper"):
        check_json_value(deep)
    with pytest.raises(FieldError, match="object key must be a string"):
        check_json_value({1: "a"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(sorted(to_wire(examples.state()))), value=json_values)
def test_any_value_in_any_state_field_is_accepted_or_rejected_cleanly(key: str, value: object) -> None:
    wire = to_wire(examples.state())
    wire[key] = value
    try:
        decoded = from_wire(State, wire)
    except FieldError as exc:
        assert exc.path and exc.path[0] == key
    else:  # accepted values are normalised (unknown keys dropped, ints to floats) stably
        assert from_wire(State, to_wire(decoded)) == decoded
