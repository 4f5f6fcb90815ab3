"""VDA 5050 2.1 acceptance rules for orders, as pure checks (section 6.6).

A vehicle that cannot accept an order keeps its current one and reports an error in
``state.errors`` with references naming the order (``docs/protocol.md`` section 5.1).
:func:`order_rejection` decides, from the order and what the vehicle holds, whether the
order is a new order, an update, a duplicate to ignore, or a rejection with its error
type:

* ``validationError``: malformed (structure of :func:`fleet.validation.order_problems`),
  a node without ``nodePosition`` or on another map, an unsupported action, a
  non-positive ``maxSpeed``;
* ``orderError``: a new ``orderId`` while the vehicle still executes an order (nodes left
  to drive, base or horizon, or actions not finished), or while it is charging;
* ``orderUpdateError``: an update older than the current one, one for a cancelled order,
  or one that does not start at the last node of the current base (stitching);
* ``noRouteError``: a new order whose first node is neither where the vehicle stands
  (within ``allowedDeviationXY``) nor its last node (within ``resume_distance_m``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from fleet.messages import Order
from fleet.validation import order_problems

NODE_ACTIONS = frozenset({"pick", "drop", "scan", "startCharging", "stopCharging"})
"""Node actions a virtual IGV executes (``scan``: wait in a drive-through scanner bay)."""


class OrderVerdict(Enum):
    NEW = "new"
    UPDATE = "update"
    DUPLICATE = "duplicate"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Held:
    """What the vehicle holds when an order arrives."""

    order_id: str
    order_update_id: int
    cancelled: bool
    busy: bool
    charging: bool
    base_end_node_id: str
    base_end_sequence_id: int
    last_node_id: str
    x_m: float
    y_m: float


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: OrderVerdict
    error_type: str = ""
    reason: str = ""


def order_rejection(order: Order, held: Held, map_id: str, *, default_deviation_m: float,
                    resume_distance_m: float) -> Decision:
    """Classify ``order`` against what the vehicle holds (see the module docstring)."""
    problems = order_problems(order)
    if problems:
        return Decision(OrderVerdict.REJECT, "validationError", problems[0])
    for node in order.nodes:
        pos = node.node_position
        if pos is None:
            return Decision(OrderVerdict.REJECT, "validationError", f"node {node.node_id} has no nodePosition")
        if pos.map_id != map_id:
            return Decision(OrderVerdict.REJECT, "validationError", f"node {node.node_id} is on map {pos.map_id!r}, vehicle on {map_id!r}")
        for action in node.actions:
            if action.action_type not in NODE_ACTIONS:
                return Decision(OrderVerdict.REJECT, "validationError",
                                f"node {node.node_id}: unsupported action {action.action_type!r}")
    for edge in order.edges:
        if edge.actions:
            return Decision(OrderVerdict.REJECT, "validationError", f"edge {edge.edge_id}: edge actions are not supported")
        if edge.max_speed is not None and not edge.max_speed > 0:
            return Decision(OrderVerdict.REJECT, "validationError", f"edge {edge.edge_id}: maxSpeed must be positive")
    if held.order_id and order.order_id == held.order_id:
        return _update(order, held)
    if held.busy:
        return Decision(OrderVerdict.REJECT, "orderError", f"still executing order {held.order_id} (update {held.order_update_id})")
    if held.charging and len(order.nodes) > 1:
        return Decision(OrderVerdict.REJECT, "orderError", "the vehicle is charging: stopCharging first")
    first = order.nodes[0]
    pos = first.node_position
    if pos is None:  # unreachable: every node was checked above; keeps the type exact
        return Decision(OrderVerdict.REJECT, "validationError", f"node {first.node_id} has no nodePosition")
    distance_m = math.hypot(pos.x - held.x_m, pos.y - held.y_m)
    allowed_m = pos.allowed_deviation_xy if pos.allowed_deviation_xy is not None else default_deviation_m
    if distance_m <= allowed_m or (first.node_id == held.last_node_id and distance_m <= resume_distance_m):
        return Decision(OrderVerdict.NEW)
    return Decision(OrderVerdict.REJECT, "noRouteError",
                    f"first node {first.node_id} is {distance_m:.1f} m from the vehicle (allowed {allowed_m:.1f} m)")


def _update(order: Order, held: Held) -> Decision:
    if order.order_update_id == held.order_update_id:
        return Decision(OrderVerdict.DUPLICATE)
    if held.cancelled:
        return Decision(OrderVerdict.REJECT, "orderUpdateError", f"order {order.order_id} was cancelled")
    if order.order_update_id < held.order_update_id:
        return Decision(OrderVerdict.REJECT, "orderUpdateError",
                        f"update {order.order_update_id} is older than the current update {held.order_update_id}")
    stitch = order.nodes[0]
    if stitch.node_id != held.base_end_node_id or stitch.sequence_id != held.base_end_sequence_id:
        return Decision(OrderVerdict.REJECT, "orderUpdateError",
                        f"update starts at {stitch.node_id} (sequenceId {stitch.sequence_id}), the base ends at "
                        f"{held.base_end_node_id} (sequenceId {held.base_end_sequence_id})")
    return Decision(OrderVerdict.UPDATE)
