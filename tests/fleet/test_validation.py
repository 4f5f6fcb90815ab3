from __future__ import annotations

import dataclasses
import logging
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet import examples
from fleet.codec import CORE_TO_VEHICLE, DEFAULT_LIMITS, VDA_TYPES, VEHICLE_TO_CORE, Header, MessageRejected, decode
from fleet.endpoint import LinkEndpoint
from fleet.factsheet import (
    AgvGeometry,
    Envelope3d,
    NetworkConfig,
    VehicleConfig,
    VersionEntry,
    WheelDefinition,
    WheelPosition,
    WheelType,
)
from fleet.link import Link, LinkTiming
from fleet.messages import (
    ActionState,
    ActionStatus,
    AgvError,
    AgvInfo,
    AgvMap,
    BoundingBoxReference,
    ControlPoint,
    Corridor,
    CorridorRefPoint,
    EdgeState,
    ErrorLevel,
    ErrorReference,
    InfoLevel,
    InfoReference,
    Load,
    MapStatus,
    NodePosition,
    NodeState,
    OrientationType,
    Trajectory,
)
from fleet.validation import (
    check_inbound,
    load_schema,
    order_problems,
    schema_problems,
    to_json,
)
from fleet.wireformat import FieldError, from_wire

SCHEMA_FILES = ("order", "instantActions", "state", "connection", "factsheet", "visualization")


def full_order() -> Any:
    """The example order with every optional field the schema knows set."""
    order = examples.order()
    trajectory = Trajectory(
        degree=1,
        knot_vector=(0.0, 0.0, 1.0, 1.0),
        control_points=(ControlPoint(x=807512.3, y=2383790.1, weight=1.0), ControlPoint(x=807512.3, y=2383850.1)),
    )
    first_edge = dataclasses.replace(
        order.edges[0],
        edge_description="transfer lane",
        max_height=4.5,
        min_height=0.0,
        orientation=0.0,
        orientation_type=OrientationType.TANGENTIAL,
        direction="straight",
        rotation_allowed=False,
        max_rotation_speed=0.2,
        trajectory=trajectory,
        corridor=Corridor(left_width=0.5, right_width=0.5, corridor_ref_point=CorridorRefPoint.CONTOUR),
    )
    first_node = dataclasses.replace(
        order.nodes[0],
        node_description="crane transfer point",
        node_position=NodePosition(
            x=1.0, y=2.0, theta=-3.0, map_id="bac_luan_2", allowed_deviation_xy=0.0,
            allowed_deviation_theta=0.1, map_description="Vietnamese side",
        ),
    )
    return dataclasses.replace(
        order, nodes=(first_node, *order.nodes[1:]), edges=(first_edge, *order.edges[1:]), zone_set_id="zones-v3"
    )


def full_state() -> Any:
    state = examples.state()
    return dataclasses.replace(
        state,
        maps=(AgvMap(map_id="bac_luan_2", map_version="7", map_status=MapStatus.ENABLED, map_description="site"),),
        zone_set_id="zones-v3",
        node_states=(NodeState(node_id="N-0412", sequence_id=2, released=True, node_description="d",
                               node_position=NodePosition(x=1.0, y=2.0, theta=0.5, map_id="bac_luan_2")),),
        edge_states=(EdgeState(edge_id="L-0412", sequence_id=1, released=True, edge_description="e",
                               trajectory=full_order().edges[0].trajectory),),
        action_states=(
            ActionState(action_id="a1", action_status=ActionStatus.PAUSED, action_type="pick",
                        action_description="paused by operator", result_description="-"),
            *(ActionState(action_id=f"s{i}", action_status=s) for i, s in enumerate(ActionStatus)),
        ),
        errors=(
            AgvError(error_type="orderUpdateError", error_level=ErrorLevel.WARNING,
                     error_references=(ErrorReference(reference_key="orderId", reference_value="job-1"),),
                     error_description="stitching node mismatch", error_hint="resend the base"),
        ),
        information=(
            AgvInfo(info_type="gnss", info_level=InfoLevel.DEBUG,
                    info_references=(InfoReference(reference_key="fix", reference_value="RTK"),),
                    info_description="fixed"),
        ),
        loads=(
            Load(load_id="MSKU1234565", load_type="40ft", load_position="center",
                 bounding_box_reference=BoundingBoxReference(x=0.0, y=0.0, z=1.2, theta=0.0),
                 load_dimensions=examples.state().loads[0].load_dimensions, weight=26500.0),
        ),
    )


def full_factsheet() -> Any:
    sheet = examples.factsheet()
    wheel = WheelDefinition(wheel_type=WheelType.DRIVE, is_active_driven=True, is_active_steered=True,
                            position=WheelPosition(x=5.0, y=1.2, theta=0.0), diameter=1.1, width=0.4,
                            center_displacement=0.0, constraints="all-wheel steering")
    geometry = AgvGeometry(
        wheel_definitions=(wheel,),
        envelopes2d=sheet.agv_geometry.envelopes2d,
        envelopes3d=(Envelope3d(set_name="default", data_format="DXF", data={"layers": 1}, url="https://example.org/e.dxf"),),
    )
    config = VehicleConfig(
        versions=(VersionEntry(key="firmware", value="3.2.1"),),
        network=NetworkConfig(dns_servers=("10.0.0.53",), local_ip_address="10.0.7.7", ntp_servers=("10.0.0.123",),
                              netmask="255.255.255.0", default_gateway="10.0.7.1"),
    )
    return dataclasses.replace(sheet, agv_geometry=geometry, vehicle_config=config)


PRODUCED = {
    **{name: factory for name, factory in examples.ALL.items() if name in VDA_TYPES},
    "order (all fields)": full_order,
    "state (all fields)": full_state,
    "factsheet (all fields)": full_factsheet,
}


@pytest.mark.parametrize("name", sorted(PRODUCED))
def test_produced_messages_validate_against_vda5050_schemas(name: str) -> None:
    message = PRODUCED[name]()
    assert schema_problems(message) == []
    assert from_wire(type(message), to_json(message)) == message


@pytest.mark.parametrize("name", sorted(PRODUCED))
def test_stamped_messages_as_sent_validate(name: str) -> None:
    """What the transport and the vehicle client put on the wire, header fields included."""
    link = Link(LinkTiming(), 77, 0.0)
    endpoint = LinkEndpoint("igv-042", link, VEHICLE_TO_CORE, DEFAULT_LIMITS, logging.getLogger("t"), 0.0, "BacLuanIGV")
    _, frames, stamped = endpoint.send(PRODUCED[name](), 0.0, 1742373000.25)
    header, decoded = decode(frames)
    assert decoded == stamped
    assert decoded.serial_number == "igv-042" and decoded.timestamp == "2025-03-19T08:30:00.250Z"
    assert schema_problems(decoded) == []


def test_vendored_schemas_are_complete_and_licensed() -> None:
    folder = resources.files("fleet") / "schemas"
    for topic in SCHEMA_FILES:
        assert (folder / f"{topic}.schema").is_file()
        assert load_schema(topic)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    licence = (folder / "LICENSE.txt").read_text(encoding="utf-8")
    assert "Copyright 2024 Verband der Automobilindustrie" in licence
    assert "Permission is hereby granted, free of charge" in licence
    assert "511d01d71587e8a3dc5e71d4f41dc52466f4284c" in (folder / "README.md").read_text(encoding="utf-8")


def test_paused_is_added_in_our_layer_only() -> None:
    raw = (resources.files("fleet") / "schemas" / "state.schema").read_text(encoding="utf-8")
    assert '"PAUSED"' not in raw.split('"actionStatus"')[1].split("]")[0]  # the file stays unmodified
    enum = load_schema("state")["properties"]["actionStates"]["items"]["properties"]["actionStatus"]["enum"]
    assert "PAUSED" in enum


def schema_errors(topic: str, document: Any) -> list[str]:
    import jsonschema

    return [e.message for e in jsonschema.Draft202012Validator(load_schema(topic)).iter_errors(document)]


def test_schema_and_decoder_agree_on_an_obvious_mistake() -> None:
    document = to_json(examples.state())
    document["operatingMode"] = "FLYING"
    assert schema_errors("state", document)
    with pytest.raises(FieldError, match="operatingMode"):
        from_wire(type(examples.state()), document)


def _leaf_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, prefix + (k,))] or [prefix]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, prefix + (i,))] or [prefix]
    return [prefix]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**40), max_value=2**40) | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda children: st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=3), children, max_size=2),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), topic=st.sampled_from(["order", "state", "instantActions", "factsheet", "visualization"]))
def test_our_decoder_is_at_least_as_strict_as_the_schema(data: st.DataObject, topic: str) -> None:
    """Whatever the schema rejects, our boundary rejects too (mutating one value)."""
    message = examples.ALL[topic]()
    document = to_json(message)
    path = data.draw(st.sampled_from(_leaf_paths(document)))
    replacement = data.draw(json_values)
    target = document
    for key in path[:-1]:
        target = target[key]
    if path:
        target[path[-1]] = replacement
    schema_ok = not schema_errors(topic, document)
    try:
        from_wire(type(message), document)
        ours_ok = True
    except FieldError:
        ours_ok = False
    assert ours_ok <= schema_ok, f"accepted what the schema rejects at {path}: {replacement!r}"


def test_order_structure_rules() -> None:
    order = examples.order()
    assert order_problems(order) == []
    nodes, edges = order.nodes, order.edges
    broken = {
        "odd node sequenceId": dataclasses.replace(order, nodes=(dataclasses.replace(nodes[0], sequence_id=1), *nodes[1:])),
        "missing edge": dataclasses.replace(order, edges=edges[:-1]),
        "edge joins wrong nodes": dataclasses.replace(order, edges=(dataclasses.replace(edges[0], end_node_id="X"), *edges[1:])),
        "horizon then base": dataclasses.replace(order, nodes=(*nodes[:3], *[dataclasses.replace(n, released=True) for n in nodes[3:]])),
        "unreleased first node": dataclasses.replace(order, nodes=(dataclasses.replace(nodes[0], released=False), *nodes[1:])),
        "no nodes": dataclasses.replace(order, nodes=(), edges=()),
        "duplicate actionId": dataclasses.replace(order, nodes=(nodes[0], dataclasses.replace(nodes[1], actions=nodes[0].actions), *nodes[2:])),
    }
    for name, bad in broken.items():
        assert order_problems(bad), name


def test_check_inbound_rules() -> None:
    state = examples.state()
    header = Header("state", 1, 1, 0, 1)
    check_inbound(header, state, examples.SERIAL, VEHICLE_TO_CORE)
    cases = [
        (header, state, "igv-999", VEHICLE_TO_CORE, "identity"),
        (header, dataclasses.replace(state, version="3.0.0"), examples.SERIAL, VEHICLE_TO_CORE, "version"),
        (header, dataclasses.replace(state, timestamp="yesterday"), examples.SERIAL, VEHICLE_TO_CORE, "schema"),
        (header, state, examples.SERIAL, CORE_TO_VEHICLE, "direction"),
        (Header("order", 1, 1, 1, 1), dataclasses.replace(examples.order(), edges=()), examples.SERIAL, CORE_TO_VEHICLE,
         "semantics"),
    ]
    for head, message, serial, accepts, category in cases:
        with pytest.raises(MessageRejected) as info:
            check_inbound(head, message, serial, accepts)
        assert info.value.category == category
