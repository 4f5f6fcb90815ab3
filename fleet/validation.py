"""Boundary checks beyond field types, and the vendored VDA 5050 2.1.0 JSON schemas.

:func:`check_inbound` is what a receiver runs on every decoded message before it touches
any state: direction, sender identity, protocol version, timestamp, and for orders the
structural rules of VDA 5050 section 6.6 (alternating nodes and edges, even/odd
``sequenceId``, base before horizon). Field types and ranges were already checked by
:func:`fleet.wireformat.from_wire`.

The JSON schemas are a conformance oracle for tests and for a future JSON bridge
(:func:`schema_problems`); they are far too slow for the 10 Hz state stream.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from fleet.codec import VDA_TYPES, Header, MessageRejected, type_name
from fleet.messages import InstantActions, Order
from fleet.wireformat import TIMESTAMP_PATTERN, to_wire

SERIAL_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""Allowed serial numbers: they are ZeroMQ routing ids and (for a bridge) MQTT topic parts."""
VERSION_PATTERN = re.compile(r"2\.\d{1,4}\.\d{1,4}")
"""Accepted VDA 5050 versions: any 2.x.y (same major version as ours)."""


def check_serial(serial: str) -> None:
    """Raise :class:`MessageRejected` unless ``serial`` is a valid serial number."""
    if not SERIAL_PATTERN.fullmatch(serial):
        raise MessageRejected("identity", f"serial number {serial[:70]!r} must match {SERIAL_PATTERN.pattern}")


def order_problems(order: Order) -> list[str]:
    """Structural problems of an order (VDA 5050 6.6); empty if it is well formed."""
    problems: list[str] = []
    nodes, edges = order.nodes, order.edges
    if not order.order_id:
        problems.append("orderId is empty")
    if not nodes:
        return problems + ["an order needs at least one node"]
    if len(edges) != len(nodes) - 1:
        problems.append(f"{len(nodes)} nodes need {len(nodes) - 1} edges, got {len(edges)}")
    first = nodes[0].sequence_id
    if first % 2:
        problems.append(f"node {nodes[0].node_id}: sequenceId {first} must be even")
    if not nodes[0].released:
        problems.append(f"node {nodes[0].node_id}: the first node must be released")
    for index, node in enumerate(nodes):
        if node.sequence_id != first + 2 * index:
            problems.append(f"node {node.node_id}: sequenceId {node.sequence_id}, expected {first + 2 * index}")
    for index, edge in enumerate(edges[: len(nodes) - 1]):
        where = f"edge {edge.edge_id}"
        if edge.sequence_id != first + 2 * index + 1:
            problems.append(f"{where}: sequenceId {edge.sequence_id}, expected {first + 2 * index + 1}")
        if edge.start_node_id != nodes[index].node_id or edge.end_node_id != nodes[index + 1].node_id:
            problems.append(f"{where}: must join {nodes[index].node_id} -> {nodes[index + 1].node_id}")
        if edge.released and not nodes[index].released:
            problems.append(f"{where}: a released edge must start at a released node")
        if edge.released and not nodes[index + 1].released:
            problems.append(f"{where}: a released edge must end at a released node")
        if nodes[index + 1].released and not edge.released:
            problems.append(f"node {nodes[index + 1].node_id}: released after an unreleased edge")
    problems.extend(_duplicate_action_ids(a for item in (*nodes, *edges) for a in item.actions))
    return problems


def _duplicate_action_ids(actions: Iterable[Any]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for action in actions:
        if action.action_id in seen:
            problems.append(f"actionId {action.action_id} appears twice")
        seen.add(action.action_id)
    return problems


def instant_actions_problems(message: InstantActions) -> list[str]:
    """Problems of an instantActions message; empty if it is well formed."""
    return _duplicate_action_ids(message.actions)


def check_inbound(header: Header, message: Any, serial: str, allowed_types: frozenset[str]) -> None:
    """Check a decoded message from (or for) vehicle ``serial``; raise :class:`MessageRejected`.

    Parameters
    ----------
    header : Header
        Its header (for the type and for error replies).
    message : message dataclass
        The decoded payload.
    serial : str
        The vehicle's serial number (its ZeroMQ routing id).
    allowed_types : frozenset of str
        Types this receiver accepts in this direction.
    """
    msg_type = header.msg_type
    if msg_type not in allowed_types:
        raise MessageRejected("direction", f"{msg_type} is not accepted in this direction", header)
    if msg_type not in VDA_TYPES:
        return
    if message.serial_number != serial:
        raise MessageRejected(
            "identity", f"serialNumber {message.serial_number[:70]!r} does not match the link's {serial!r}", header
        )
    if not VERSION_PATTERN.fullmatch(message.version):
        raise MessageRejected("version", f"unsupported VDA 5050 version {message.version[:20]!r}, expected 2.x.y", header)
    if not TIMESTAMP_PATTERN.fullmatch(message.timestamp):
        raise MessageRejected("schema", f"timestamp {message.timestamp[:40]!r} is not ISO 8601 UTC", header)
    if msg_type == "order":
        problems = order_problems(message)
    elif msg_type == "instantActions":
        problems = instant_actions_problems(message)
    else:
        return
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MessageRejected("semantics", f"{msg_type} {problems[0]}{more}", header)


# --------------------------------------------------------------------------- JSON schemas


@lru_cache(maxsize=None)
def load_schema(topic: str) -> dict[str, Any]:
    """The vendored VDA 5050 2.1.0 schema of ``topic``, with ``PAUSED`` added to
    ``state.actionStates[].actionStatus`` (a known gap of 2.1.0, see fleet/schemas/README.md)."""
    if topic not in VDA_TYPES:
        raise ValueError(f"no VDA 5050 schema for {topic!r}")
    text = (resources.files("fleet") / "schemas" / f"{topic}.schema").read_text(encoding="utf-8")
    schema = json.loads(text)
    if topic == "state":
        status = schema["properties"]["actionStates"]["items"]["properties"]["actionStatus"]
        if "PAUSED" not in status["enum"]:
            status["enum"].append("PAUSED")
    return schema


@lru_cache(maxsize=None)
def _validator(topic: str) -> Any:
    import jsonschema  # slow import; only tests and bridges need it

    schema = load_schema(topic)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def to_json(message: Any) -> Any:
    """A VDA message as the JSON document VDA 5050 over MQTT would carry."""
    return json.loads(json.dumps(to_wire(message), allow_nan=False))


def schema_problems(message: Any) -> list[str]:
    """Ways a VDA message, read as JSON, breaks its VDA 5050 2.1.0 schema (empty if none)."""
    topic = type_name(message)
    document = to_json(message)
    errors = sorted(_validator(topic).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{topic}.{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]
