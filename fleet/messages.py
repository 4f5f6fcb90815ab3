"""VDA 5050 2.1 messages and our link messages, as frozen dataclasses.

Attributes are snake_case; on the wire every key is the VDA 5050 2.1 camelCase name
(see :mod:`fleet.wireformat`). Each VDA message starts with the five header fields; the
sender (the transport or the vehicle client) stamps ``header_id``, ``timestamp``,
``version``, ``manufacturer`` and ``serial_number`` when it sends, so code that builds a
message may leave them at their defaults.

Extensions (documented in ``docs/protocol.md``) are extra keys, which the VDA 5050 schemas
allow: ``Action.container_id`` (``containerId``), the ISO 6346 number of the container a
``pick`` or ``drop`` handles. ``ActionStatus.PAUSED`` is in the 2.1 text but missing from
the 2.1.0 schema; we accept it.

The factsheet lives in :mod:`fleet.factsheet`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from fleet.wireformat import UINT32_MAX, JsonValue, wire_field

VDA_VERSION = "2.1.0"
"""The VDA 5050 version our messages carry in ``version``."""

_PI = 3.14159265359  # the schemas' bound for angles, slightly above math.pi


class BlockingType(str, Enum):
    NONE = "NONE"
    SOFT = "SOFT"
    HARD = "HARD"


class ActionStatus(str, Enum):
    WAITING = "WAITING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class OperatingMode(str, Enum):
    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
    SERVICE = "SERVICE"
    TEACHIN = "TEACHIN"


class ErrorLevel(str, Enum):
    WARNING = "WARNING"
    FATAL = "FATAL"


class InfoLevel(str, Enum):
    INFO = "INFO"
    DEBUG = "DEBUG"


class EStop(str, Enum):
    AUTOACK = "AUTOACK"
    MANUAL = "MANUAL"
    REMOTE = "REMOTE"
    NONE = "NONE"


class ConnectionState(str, Enum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"


class MapStatus(str, Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class OrientationType(str, Enum):
    GLOBAL = "GLOBAL"
    TANGENTIAL = "TANGENTIAL"


class CorridorRefPoint(str, Enum):
    KINEMATICCENTER = "KINEMATICCENTER"
    CONTOUR = "CONTOUR"


# --------------------------------------------------------------------------- order


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionParameter:
    key: str
    value: JsonValue


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    action_type: str
    action_id: str
    blocking_type: BlockingType
    action_description: str | None = None
    action_parameters: tuple[ActionParameter, ...] = wire_field(default=(), optional=True)
    container_id: str | None = None
    """Extension: ISO 6346 number of the container a ``pick``/``drop`` handles."""

    def parameter(self, key: str) -> object | None:
        """The value of the parameter ``key``, or ``None``."""
        for param in self.action_parameters:
            if param.key == key:
                return param.value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePosition:
    x: float
    y: float
    map_id: str
    theta: float | None = wire_field(default=None, minimum=-_PI, maximum=_PI)
    allowed_deviation_xy: float | None = wire_field(default=None, wire="allowedDeviationXY", minimum=0.0)
    allowed_deviation_theta: float | None = wire_field(default=None, minimum=-_PI, maximum=_PI)
    map_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    node_id: str
    sequence_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    released: bool
    actions: tuple[Action, ...] = ()
    node_description: str | None = None
    node_position: NodePosition | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPoint:
    x: float
    y: float
    weight: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trajectory:
    degree: int = wire_field(minimum=1, maximum=UINT32_MAX)
    knot_vector: tuple[float, ...] = wire_field(minimum=0.0, maximum=1.0)
    control_points: tuple[ControlPoint, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Corridor:
    left_width: float = wire_field(minimum=0.0)
    right_width: float = wire_field(minimum=0.0)
    corridor_ref_point: CorridorRefPoint | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    edge_id: str
    sequence_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    released: bool
    start_node_id: str
    end_node_id: str
    actions: tuple[Action, ...] = ()
    edge_description: str | None = None
    max_speed: float | None = wire_field(default=None, minimum=0.0)
    max_height: float | None = None
    min_height: float | None = None
    orientation: float | None = wire_field(default=None, minimum=-_PI, maximum=_PI)
    orientation_type: OrientationType | None = None
    direction: str | None = None
    rotation_allowed: bool | None = None
    max_rotation_speed: float | None = None
    length: float | None = wire_field(default=None, minimum=0.0)
    trajectory: Trajectory | None = None
    corridor: Corridor | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order or order update: released base plus unreleased horizon (VDA 5050 6.6)."""

    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    order_id: str
    order_update_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    zone_set_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InstantActions:
    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    actions: tuple[Action, ...]


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvMap:
    map_id: str
    map_version: str
    map_status: MapStatus
    map_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeState:
    node_id: str
    sequence_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    released: bool
    node_description: str | None = None
    node_position: NodePosition | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeState:
    edge_id: str
    sequence_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    released: bool
    edge_description: str | None = None
    trajectory: Trajectory | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvPosition:
    x: float
    y: float
    theta: float = wire_field(minimum=-math.tau, maximum=math.tau)
    map_id: str
    position_initialized: bool
    map_description: str | None = None
    localization_score: float | None = wire_field(default=None, minimum=0.0, maximum=1.0)
    deviation_range: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Velocity:
    vx: float | None = None
    vy: float | None = None
    omega: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundingBoxReference:
    x: float
    y: float
    z: float
    theta: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadDimensions:
    length: float = wire_field(minimum=0.0)
    width: float = wire_field(minimum=0.0)
    height: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Load:
    load_id: str | None = None
    """For our IGVs the container's ISO 6346 number."""
    load_type: str | None = None
    load_position: str | None = None
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    weight: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionState:
    action_id: str
    action_status: ActionStatus
    action_type: str | None = None
    action_description: str | None = None
    result_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryState:
    battery_charge: float = wire_field(minimum=0.0, maximum=100.0)
    charging: bool
    battery_voltage: float | None = None
    battery_health: float | None = wire_field(default=None, minimum=0.0, maximum=100.0)
    reach: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorReference:
    reference_key: str
    reference_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvError:
    """One entry of ``state.errors``."""

    error_type: str
    error_level: ErrorLevel
    error_references: tuple[ErrorReference, ...] = wire_field(default=(), optional=True)
    error_description: str | None = None
    error_hint: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InfoReference:
    reference_key: str
    reference_value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvInfo:
    """One entry of ``state.information``."""

    info_type: str
    info_level: InfoLevel
    info_references: tuple[InfoReference, ...] = wire_field(default=(), optional=True)
    info_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyState:
    e_stop: EStop
    field_violation: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    order_id: str
    order_update_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    last_node_id: str
    last_node_sequence_id: int = wire_field(minimum=0, maximum=UINT32_MAX)
    node_states: tuple[NodeState, ...]
    edge_states: tuple[EdgeState, ...]
    driving: bool
    action_states: tuple[ActionState, ...]
    battery_state: BatteryState
    operating_mode: OperatingMode
    errors: tuple[AgvError, ...]
    safety_state: SafetyState
    maps: tuple[AgvMap, ...] | None = None
    zone_set_id: str | None = None
    paused: bool | None = None
    new_base_request: bool | None = None
    distance_since_last_node: float | None = wire_field(default=None, minimum=0.0)
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None
    loads: tuple[Load, ...] | None = None
    """``None``: the vehicle cannot tell; ``()``: it knows it carries nothing."""
    information: tuple[AgvInfo, ...] = wire_field(default=(), optional=True)


# --------------------------------------------------------------------------- connection, visualization


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    connection_state: ConnectionState


@dataclass(frozen=True, slots=True, kw_only=True)
class Visualization:
    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None


# --------------------------------------------------------------------------- link messages (ours)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """Acknowledges reliable messages of the peer's link session ``session``.

    ``cumulative`` is the highest ``rseq`` up to which everything was received;
    ``selective`` lists received ``rseq`` above it (received out of order).
    """

    session: int = wire_field(minimum=1, maximum=UINT32_MAX)
    cumulative: int = wire_field(minimum=0, maximum=2**63 - 1)
    selective: tuple[int, ...] = wire_field(default=(), optional=True, minimum=1, maximum=2**63 - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """Keeps a silent link alive; carries nothing but its header frame."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkError:
    """Tells the peer that one of its messages was dropped, and why."""

    ref_seq: int = wire_field(minimum=0, maximum=2**63 - 1)
    """Header ``seq`` of the dropped message; 0 if its header could not be read."""
    ref_type: str
    """Header type of the dropped message; empty if unknown."""
    reason: str

