"""One worked example of every wire message, as the Bac Luan II site would send it.

``docs/protocol.md`` shows exactly these (a test keeps the two in step), tests round-trip
and schema-check them, and benches and the simulator start from them. Coordinates are
EPSG:3405 metres near the Vietnamese bridge head; ``igv-007`` carries container
``MSKU1234565`` from crane transfer point ``EXP-B2-T1`` through the scanner.
"""

from __future__ import annotations

from fleet.factsheet import (
    ActionParameterSpec,
    ActionScope,
    AgvAction,
    AgvClass,
    AgvGeometry,
    AgvKinematic,
    Envelope2d,
    Factsheet,
    LoadSet,
    LoadSpecification,
    LocalizationType,
    MaxStringLens,
    NavigationType,
    OptionalParameter,
    PhysicalParameters,
    PolygonPoint,
    ProtocolFeatures,
    ProtocolLimits,
    ProtocolTiming,
    Support,
    TypeSpecification,
    ValueDataType,
)
from fleet.messages import (
    Ack,
    Action,
    ActionParameter,
    ActionState,
    ActionStatus,
    AgvPosition,
    BatteryState,
    BlockingType,
    Connection,
    ConnectionState,
    Edge,
    EdgeState,
    EStop,
    Heartbeat,
    InstantActions,
    LinkError,
    Load,
    LoadDimensions,
    Node,
    NodePosition,
    NodeState,
    OperatingMode,
    Order,
    SafetyState,
    State,
    Velocity,
    Visualization,
)

SERIAL = "igv-007"
MANUFACTURER = "BacLuanIGV"
MAP_ID = "bac_luan_2"
TIMESTAMP = "2025-03-19T08:30:00.000Z"
CONTAINER = "MSKU1234565"

_HEADER = dict(timestamp=TIMESTAMP, version="2.1.0", manufacturer=MANUFACTURER, serial_number=SERIAL)


def _node(node_id: str, seq: int, x: float, y: float, released: bool, actions: tuple[Action, ...] = ()) -> Node:
    position = NodePosition(x=x, y=y, map_id=MAP_ID, theta=1.5708, allowed_deviation_xy=0.5)
    return Node(node_id=node_id, sequence_id=seq, released=released, actions=actions, node_position=position)


def _edge(edge_id: str, seq: int, start: str, end: str, released: bool, speed_mps: float) -> Edge:
    return Edge(
        edge_id=edge_id,
        sequence_id=seq,
        released=released,
        start_node_id=start,
        end_node_id=end,
        max_speed=speed_mps,
        length=60.0,
    )


def order() -> Order:
    """Pick at a crane transfer point, drive towards the scanner: 3 released nodes (base),
    2 unreleased (horizon)."""
    pick = Action(
        action_type="pick",
        action_id="a-pick-0001",
        blocking_type=BlockingType.HARD,
        action_parameters=(
            ActionParameter(key="stationType", value="crane_transfer"),
            ActionParameter(key="loadType", value="40ft"),
            ActionParameter(key="loadId", value=CONTAINER),
        ),
        container_id=CONTAINER,
    )
    nodes = (
        _node("EXP-B2-T1", 0, 807512.3, 2383790.1, True, (pick,)),
        _node("N-0412", 2, 807512.3, 2383850.1, True),
        _node("N-0413", 4, 807512.3, 2383910.1, True),
        _node("N-0414", 6, 807512.3, 2383970.1, False),
        _node("SCAN-1", 8, 807512.3, 2384030.1, False),
    )
    edges = (
        _edge("L-0412", 1, "EXP-B2-T1", "N-0412", True, 4.0),
        _edge("L-0413", 3, "N-0412", "N-0413", True, 5.6),
        _edge("L-0414", 5, "N-0413", "N-0414", False, 5.6),
        _edge("L-0415", 7, "N-0414", "SCAN-1", False, 4.0),
    )
    return Order(header_id=41, **_HEADER, order_id="job-2025-000173", order_update_id=0, nodes=nodes, edges=edges)


def instant_actions() -> InstantActions:
    """A remote stop: pause at once (HARD), the vehicle brakes and reports ``paused``."""
    stop = Action(action_type="startPause", action_id="ia-stop-0009", blocking_type=BlockingType.HARD)
    return InstantActions(header_id=12, **_HEADER, actions=(stop,))


def state() -> State:
    """Driving the base of :func:`order`, past its first node, carrying the container."""
    return State(
        header_id=5310,
        **_HEADER,
        order_id="job-2025-000173",
        order_update_id=0,
        last_node_id="EXP-B2-T1",
        last_node_sequence_id=0,
        node_states=(
            NodeState(node_id="N-0412", sequence_id=2, released=True),
            NodeState(node_id="N-0413", sequence_id=4, released=True),
            NodeState(node_id="N-0414", sequence_id=6, released=False),
            NodeState(node_id="SCAN-1", sequence_id=8, released=False),
        ),
        edge_states=(
            EdgeState(edge_id="L-0412", sequence_id=1, released=True),
            EdgeState(edge_id="L-0413", sequence_id=3, released=True),
            EdgeState(edge_id="L-0414", sequence_id=5, released=False),
            EdgeState(edge_id="L-0415", sequence_id=7, released=False),
        ),
        driving=True,
        action_states=(
            ActionState(action_id="a-pick-0001", action_type="pick", action_status=ActionStatus.FINISHED),
        ),
        battery_state=BatteryState(battery_charge=76.5, charging=False, battery_voltage=720.0, reach=61000.0),
        operating_mode=OperatingMode.AUTOMATIC,
        errors=(),
        safety_state=SafetyState(e_stop=EStop.NONE, field_violation=False),
        paused=False,
        new_base_request=False,
        distance_since_last_node=21.4,
        agv_position=AgvPosition(
            x=807512.3, y=2383811.5, theta=1.5708, map_id=MAP_ID, position_initialized=True, localization_score=0.98
        ),
        velocity=Velocity(vx=4.0, vy=0.0, omega=0.0),
        loads=(
            Load(
                load_id=CONTAINER,
                load_type="40ft",
                load_position="center",
                load_dimensions=LoadDimensions(length=12.19, width=2.44, height=2.59),
                weight=26500.0,
            ),
        ),
    )


def connection() -> Connection:
    return Connection(header_id=0, **_HEADER, connection_state=ConnectionState.ONLINE)


def visualization() -> Visualization:
    return Visualization(
        header_id=88412,
        **_HEADER,
        agv_position=AgvPosition(x=807512.3, y=2383812.3, theta=1.5708, map_id=MAP_ID, position_initialized=True),
        velocity=Velocity(vx=4.0, vy=0.0, omega=0.0),
    )


def factsheet() -> Factsheet:
    """A 15.5 m x 3.0 m container IGV (the site's vehicle model, see shared/site.md)."""
    actions = (
        AgvAction(
            action_type="pick",
            action_scopes=(ActionScope.NODE,),
            action_parameters=(
                ActionParameterSpec(key="loadId", value_data_type=ValueDataType.STRING),
                ActionParameterSpec(key="loadType", value_data_type=ValueDataType.STRING, is_optional=True),
                ActionParameterSpec(key="stationType", value_data_type=ValueDataType.STRING, is_optional=True),
            ),
        ),
        AgvAction(
            action_type="drop",
            action_scopes=(ActionScope.NODE,),
            action_parameters=(ActionParameterSpec(key="loadId", value_data_type=ValueDataType.STRING),),
        ),
        AgvAction(action_type="startPause", action_scopes=(ActionScope.INSTANT,)),
        AgvAction(action_type="stopPause", action_scopes=(ActionScope.INSTANT,)),
        AgvAction(action_type="cancelOrder", action_scopes=(ActionScope.INSTANT,)),
        AgvAction(action_type="factsheetRequest", action_scopes=(ActionScope.INSTANT,)),
        AgvAction(action_type="stateRequest", action_scopes=(ActionScope.INSTANT,)),
        AgvAction(action_type="startCharging", action_scopes=(ActionScope.INSTANT, ActionScope.NODE)),
        AgvAction(action_type="stopCharging", action_scopes=(ActionScope.INSTANT, ActionScope.NODE)),
    )
    half_l, half_w = 7.75, 1.5
    outline = tuple(
        PolygonPoint(x=x, y=y) for x, y in ((half_l, half_w), (-half_l, half_w), (-half_l, -half_w), (half_l, -half_w))
    )
    return Factsheet(
        header_id=0,
        **_HEADER,
        type_specification=TypeSpecification(
            series_name="IGV-60",
            series_description="Battery-electric container IGV, RTK GNSS over 5G, all-wheel steering",
            agv_kinematic=AgvKinematic.OMNI,
            agv_class=AgvClass.CARRIER,
            max_load_mass=60000.0,
            localization_types=(LocalizationType.NATURAL,),
            navigation_types=(NavigationType.VIRTUAL_LINE_GUIDED,),
        ),
        physical_parameters=PhysicalParameters(
            speed_min=0.1,
            speed_max=8.3,
            acceleration_max=0.5,
            deceleration_max=1.0,
            height_max=1.8,
            width=3.0,
            length=15.5,
        ),
        protocol_limits=ProtocolLimits(
            max_string_lens=MaxStringLens(msg_len=1048576, id_len=64, id_numerical_only=False, load_id_len=16),
            max_array_lens={"order.nodes": 2000, "order.edges": 1999, "instantActions": 16},
            timing=ProtocolTiming(
                min_order_interval=0.1, min_state_interval=0.1, default_state_interval=0.1, visualization_interval=0.1
            ),
        ),
        protocol_features=ProtocolFeatures(
            optional_parameters=(
                OptionalParameter(parameter="order.nodes.nodePosition", support=Support.REQUIRED),
                OptionalParameter(parameter="order.edges.maxSpeed", support=Support.SUPPORTED),
            ),
            agv_actions=actions,
        ),
        agv_geometry=AgvGeometry(envelopes2d=(Envelope2d(set_name="default", polygon_points=outline),)),
        load_specification=LoadSpecification(
            load_positions=("front", "rear", "center"),
            load_sets=(
                LoadSet(set_name="1x40ft", load_type="40ft", load_positions=("center",), max_weight=32500.0),
                LoadSet(set_name="2x20ft", load_type="20ft", load_positions=("front", "rear"), max_weight=30480.0),
            ),
        ),
    )


def ack() -> Ack:
    return Ack(session=2216157713, cumulative=41, selective=(43,))


def heartbeat() -> Heartbeat:
    return Heartbeat()


def link_error() -> LinkError:
    return LinkError(ref_seq=1207, ref_type="state", reason="schema: state batteryState.batteryCharge: 130.0 is outside [0.0, 100.0]")


ALL = {
    "order": order,
    "instantActions": instant_actions,
    "state": state,
    "connection": connection,
    "factsheet": factsheet,
    "visualization": visualization,
    "ack": ack,
    "heartbeat": heartbeat,
    "error": link_error,
}
"""Header type -> example factory."""
