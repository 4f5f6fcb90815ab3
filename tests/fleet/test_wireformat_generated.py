"""The generated parsers and emitters of fleet.wireformat against a plain reference.

The reference below is written from the rules in the wireformat module docstring and
docs/protocol.md section 8, independently of the generated code (one field at a time, no
inline fast paths, objects built through their constructors). The generated parser must
accept exactly what the reference accepts, build equal objects, and reject everything
else naming the same path; the generated emitter must produce the same wire dict.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from enum import Enum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet import examples
from fleet.codec import MESSAGE_CLASSES
from fleet.wireformat import (
    INT64_MAX,
    MAX_ARRAY_LEN,
    MAX_STRING_LEN,
    FieldError,
    JsonValue,
    camel_case,
    check_json_value,
    from_wire,
    to_wire,
)

MESSAGE_TYPES = sorted(t for t in MESSAGE_CLASSES if t != "heartbeat")


class Rejected(Exception):
    def __init__(self, path: tuple[str, ...]) -> None:
        super().__init__(".".join(path))
        self.path = path


def _unwrap_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if type(None) in typing.get_args(hint) else hint


def reference_decode(hint: Any, value: Any, path: tuple[str, ...], lo: Any = None, hi: Any = None) -> Any:
    """Decode ``value`` as ``hint`` or raise :class:`Rejected` with the path of the first bad value."""
    if hint is str:
        if type(value) is not str or len(value) > MAX_STRING_LEN:
            raise Rejected(path)
        return value
    if hint is bool:
        if type(value) is not bool:
            raise Rejected(path)
        return value
    if hint is int:
        lo = -INT64_MAX - 1 if lo is None else lo
        hi = INT64_MAX if hi is None else hi
        if type(value) is not int or not lo <= value <= hi:
            raise Rejected(path)
        return value
    if hint is float:
        if type(value) is int:
            value = float(value)
        if type(value) is not float or not math.isfinite(value):
            raise Rejected(path)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise Rejected(path)
        return value
    if hint is JsonValue:
        try:
            return check_json_value(value)
        except FieldError as exc:
            raise Rejected(path + exc.path) from None
    if isinstance(hint, type) and issubclass(hint, Enum):
        for member in hint:
            if type(value) is str and member.value == value:
                return member
        raise Rejected(path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if type(value) is not dict:
            raise Rejected(path)
        hints = typing.get_type_hints(hint)
        kwargs = {}
        for field in dataclasses.fields(hint):
            meta = field.metadata.get("fleet.wire", {})
            key = meta.get("wire") or camel_case(field.name)
            field_hint = hints[field.name]
            nullable = type(None) in typing.get_args(field_hint)
            if key not in value:
                if not (nullable or meta.get("optional")):
                    raise Rejected(path + (key,))
                kwargs[field.name] = None if nullable else field.default
                continue
            kwargs[field.name] = reference_decode(
                _unwrap_optional(field_hint), value[key], path + (key,), meta.get("minimum"), meta.get("maximum")
            )
        return hint(**kwargs)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if type(value) is not list or len(value) > MAX_ARRAY_LEN:
            raise Rejected(path)
        return tuple(reference_decode(args[0], item, path + (str(i),), lo, hi) for i, item in enumerate(value))
    if origin is dict:
        if type(value) is not dict or len(value) > MAX_ARRAY_LEN:
            raise Rejected(path)
        out = {}
        for key, item in value.items():
            if type(key) is not str or len(key) > MAX_STRING_LEN:
                raise Rejected(path)
            out[key] = reference_decode(args[1], item, path + (key,), lo, hi)
        return out
    raise AssertionError(f"no reference rule for {hint!r}")


def reference_encode(obj: Any) -> Any:
    """The wire form of a message object: camelCase keys, enum values, None left out."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for field in dataclasses.fields(obj):
            meta = field.metadata.get("fleet.wire", {})
            value = getattr(obj, field.name)
            if value is None or (meta.get("optional") and value == field.default):
                continue
            out[meta.get("wire") or camel_case(field.name)] = reference_encode(value)
        return out
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, tuple):
        return [reference_encode(item) for item in obj]
    if isinstance(obj, dict):
        return {key: reference_encode(item) for key, item in obj.items()}
    return obj


def both(msg_type: str, wire: Any) -> tuple[Any, Any]:
    """(generated result, reference result); a rejection is given as its path."""
    cls = MESSAGE_CLASSES[msg_type]
    try:
        generated = from_wire(cls, wire)
    except FieldError as exc:
        generated = ("rejected", exc.path)
    try:
        reference = reference_decode(cls, wire, ())
    except Rejected as exc:
        reference = ("rejected", exc.path)
    return generated, reference


@pytest.mark.parametrize("msg_type", MESSAGE_TYPES)
def test_generated_code_agrees_with_the_reference_on_the_examples(msg_type: str) -> None:
    message = examples.ALL[msg_type]()
    wire = to_wire(message)
    assert wire == reference_encode(message)
    generated, reference = both(msg_type, wire)
    assert generated == reference == message
    assert type(generated) is type(message)
    with pytest.raises(dataclasses.FrozenInstanceError):  # built without __init__, still frozen
        generated.__setattr__(dataclasses.fields(generated)[0].name, None)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, path + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, path + (index,)))
    return out


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, 1, -1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 3.15, -3.15, 6.3, 100.5, -0.5]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.sampled_from(["x" * (MAX_STRING_LEN + 1), "AUTOMATIC", "NONE", "HARD", "FINISHED", "ONLINE"]),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=3),
    st.dictionaries(st.sampled_from(["x", "y", "nodeId", "released", "sequenceId"]), st.integers(0, 3), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), msg_type=st.sampled_from(MESSAGE_TYPES))
def test_generated_parser_accepts_and_rejects_like_the_reference(data: st.DataObject, msg_type: str) -> None:
    wire = to_wire(examples.ALL[msg_type]())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(wire)), label="path")
        parent = wire
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "extra"]), label="action")
        if not path:
            if action == "replace":
                wire = data.draw(odd_values, label="root")
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "extra" and isinstance(parent, dict):
            parent["futureField"] = data.draw(odd_values, label="extra")
        else:
            parent[path[-1]] = data.draw(odd_values, label="value")
    generated, reference = both(msg_type, wire)
    assert generated == reference
    if not isinstance(generated, tuple):  # accepted: the emitter gives the normalised wire form back
        assert to_wire(generated) == reference_encode(generated)


SPECIAL_VALUES = [
    None, True, False, 0, 1, -1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    0.0, -0.5, 1.0, 3.15, -3.15, 6.3, 100.0, 100.5, 1e308, math.nan, math.inf, -math.inf,
    "", "AUTOMATIC", "HARD", "x" * MAX_STRING_LEN, "x" * (MAX_STRING_LEN + 1),
    [], [1], [{}], [{}] * (MAX_ARRAY_LEN + 1), {}, {"x": 1.0},
]  # fmt: skip


@pytest.mark.parametrize("msg_type", MESSAGE_TYPES)
def test_every_special_value_at_every_path_is_judged_like_the_reference(msg_type: str) -> None:
    original = to_wire(examples.ALL[msg_type]())
    for path in _paths(original):
        for value in SPECIAL_VALUES:
            wire = to_wire(examples.ALL[msg_type]())
            if path:
                parent = wire
                for key in path[:-1]:
                    parent = parent[key]
                parent[path[-1]] = value
            else:
                wire = value
            generated, reference = both(msg_type, wire)
            assert generated == reference, (path, repr(value)[:40])
        if path and isinstance(wire, dict):
            wire = to_wire(examples.ALL[msg_type]())
            parent = wire
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                del parent[path[-1]]
                generated, reference = both(msg_type, wire)
                assert generated == reference, (path, "deleted")
