"""The VDA 5050 2.1 factsheet as frozen dataclasses (see :mod:`fleet.messages`).

Two parts of the 2.1.0 factsheet schema cannot be met and are left out here:
``protocolFeatures.agvActions[].blockingTypes`` (typed as an array but constrained by an
``enum`` of strings, so no array validates) and ``agvGeometry.envelopes3d[].description``
(typed as an integer). Senders must not send them; receivers ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fleet.messages import VDA_VERSION, BoundingBoxReference, LoadDimensions
from fleet.wireformat import UINT32_MAX, JsonValue, wire_field


class AgvKinematic(str, Enum):
    DIFF = "DIFF"
    OMNI = "OMNI"
    THREEWHEEL = "THREEWHEEL"


class AgvClass(str, Enum):
    FORKLIFT = "FORKLIFT"
    CONVEYOR = "CONVEYOR"
    TUGGER = "TUGGER"
    CARRIER = "CARRIER"


class LocalizationType(str, Enum):
    NATURAL = "NATURAL"
    REFLECTOR = "REFLECTOR"
    RFID = "RFID"
    DMC = "DMC"
    SPOT = "SPOT"
    GRID = "GRID"


class NavigationType(str, Enum):
    PHYSICAL_LINE_GUIDED = "PHYSICAL_LINE_GUIDED"
    VIRTUAL_LINE_GUIDED = "VIRTUAL_LINE_GUIDED"
    AUTONOMOUS = "AUTONOMOUS"


class Support(str, Enum):
    SUPPORTED = "SUPPORTED"
    REQUIRED = "REQUIRED"


class ActionScope(str, Enum):
    INSTANT = "INSTANT"
    NODE = "NODE"
    EDGE = "EDGE"


class ValueDataType(str, Enum):
    BOOL = "BOOL"
    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    FLOAT = "FLOAT"
    STRING = "STRING"
    OBJECT = "OBJECT"
    ARRAY = "ARRAY"


class WheelType(str, Enum):
    DRIVE = "DRIVE"
    CASTER = "CASTER"
    FIXED = "FIXED"
    MECANUM = "MECANUM"


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeSpecification:
    series_name: str
    agv_kinematic: AgvKinematic
    agv_class: AgvClass
    max_load_mass: float = wire_field(minimum=0.0)
    localization_types: tuple[LocalizationType, ...]
    navigation_types: tuple[NavigationType, ...]
    series_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhysicalParameters:
    speed_min: float = wire_field(minimum=0.0)
    speed_max: float = wire_field(minimum=0.0)
    acceleration_max: float = wire_field(minimum=0.0)
    deceleration_max: float = wire_field(minimum=0.0)
    height_max: float = wire_field(minimum=0.0)
    width: float = wire_field(minimum=0.0)
    length: float = wire_field(minimum=0.0)
    height_min: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxStringLens:
    msg_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)
    topic_serial_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)
    topic_elem_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)
    id_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)
    id_numerical_only: bool | None = None
    enum_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)
    load_id_len: int | None = wire_field(default=None, minimum=0, maximum=UINT32_MAX)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolTiming:
    min_order_interval: float = wire_field(minimum=0.0)
    min_state_interval: float = wire_field(minimum=0.0)
    default_state_interval: float | None = wire_field(default=None, minimum=0.0)
    visualization_interval: float | None = wire_field(default=None, minimum=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolLimits:
    max_string_lens: MaxStringLens
    max_array_lens: dict[str, int] = wire_field(minimum=0, maximum=UINT32_MAX)
    """Keys as in the schema, e.g. ``"order.nodes"``; values are counts."""
    timing: ProtocolTiming


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionalParameter:
    parameter: str
    support: Support
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionParameterSpec:
    key: str
    value_data_type: ValueDataType
    description: str | None = None
    is_optional: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvAction:
    action_type: str
    action_scopes: tuple[ActionScope, ...]
    action_description: str | None = None
    action_parameters: tuple[ActionParameterSpec, ...] = wire_field(default=(), optional=True)
    result_description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolFeatures:
    optional_parameters: tuple[OptionalParameter, ...]
    agv_actions: tuple[AgvAction, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelPosition:
    x: float
    y: float
    theta: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelDefinition:
    wheel_type: WheelType = wire_field(wire="type")
    is_active_driven: bool
    is_active_steered: bool
    position: WheelPosition
    diameter: float = wire_field(minimum=0.0)
    width: float = wire_field(minimum=0.0)
    center_displacement: float | None = None
    constraints: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolygonPoint:
    x: float
    y: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope2d:
    set_name: str = wire_field(wire="set")
    polygon_points: tuple[PolygonPoint, ...]
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope3d:
    set_name: str = wire_field(wire="set")
    data_format: str = wire_field(wire="format")
    data: JsonValue | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AgvGeometry:
    wheel_definitions: tuple[WheelDefinition, ...] = wire_field(default=(), optional=True)
    envelopes2d: tuple[Envelope2d, ...] = wire_field(default=(), optional=True)
    envelopes3d: tuple[Envelope3d, ...] = wire_field(default=(), optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSet:
    set_name: str
    load_type: str
    load_positions: tuple[str, ...] = wire_field(default=(), optional=True)
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    max_weight: float | None = wire_field(default=None, minimum=0.0)
    min_loadhandling_height: float | None = None
    max_loadhandling_height: float | None = None
    min_loadhandling_depth: float | None = None
    max_loadhandling_depth: float | None = None
    min_loadhandling_tilt: float | None = None
    max_loadhandling_tilt: float | None = None
    agv_speed_limit: float | None = wire_field(default=None, minimum=0.0)
    agv_acceleration_limit: float | None = wire_field(default=None, minimum=0.0)
    agv_deceleration_limit: float | None = wire_field(default=None, minimum=0.0)
    pick_time: float | None = wire_field(default=None, minimum=0.0)
    drop_time: float | None = wire_field(default=None, minimum=0.0)
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpecification:
    load_positions: tuple[str, ...] = wire_field(default=(), optional=True)
    load_sets: tuple[LoadSet, ...] = wire_field(default=(), optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionEntry:
    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkConfig:
    dns_servers: tuple[str, ...] = wire_field(default=(), optional=True)
    local_ip_address: str | None = None
    ntp_servers: tuple[str, ...] = wire_field(default=(), optional=True)
    netmask: str | None = None
    default_gateway: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleConfig:
    versions: tuple[VersionEntry, ...] = wire_field(default=(), optional=True)
    network: NetworkConfig | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Factsheet:
    header_id: int = wire_field(default=0, minimum=0, maximum=UINT32_MAX)
    timestamp: str = ""
    version: str = VDA_VERSION
    manufacturer: str = ""
    serial_number: str = ""
    type_specification: TypeSpecification
    physical_parameters: PhysicalParameters
    protocol_limits: ProtocolLimits
    protocol_features: ProtocolFeatures
    agv_geometry: AgvGeometry
    load_specification: LoadSpecification
    vehicle_config: VehicleConfig | None = None
