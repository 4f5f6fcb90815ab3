"""Where a container goes next: the container flow of design section 1 as pure decisions.

Export: export yard (crane transfer station of its block) -> [scanner | lab and back |
inspection hold] -> bridge north -> a handover station in Dongxing.
Import: handover station -> bridge south -> [scanner on the way] -> import yard block
(crane transfer station) -> [lab | hold on request] -> road truck (``container_departure``).

:func:`next_move` looks at one container and the free stations and says which transport
job, if any, it needs now. The manager turns that into a :class:`~fleet.core.model.Job`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.core.customs import CHECK_STATION_KIND, may_cross, required_check
from fleet.core.model import Container, Customs, Direction, Location


CHECK_LOCATION = {"lab": Location.LAB, "hold": Location.INSPECTION}
"""Where a container stands while the lab or the hold has it: it waits there only for its
own check (a lab result of ``hold`` sends it from the lab bay to the inspection hold)."""


@dataclass(frozen=True)
class Move:
    """A transport the container needs: to a station of ``to_kind`` (``to_station`` when
    fixed), visiting a check on the way (``via_kind``: a drive-through scanner bay)."""

    purpose: str  # "cross", "scan", "lab", "hold", "to_yard", "back_to_yard"
    to_kind: str
    via_kind: str | None = None
    to_zone: str | None = None


def settled(c: Container) -> bool:
    """Nothing will move ``c`` again and it holds no bay: gone from the gate, or an export
    put down in the handover yard (the Dongxing yard takes it). Final: no event brings a
    settled container back."""
    return c.location_kind is Location.GONE or (c.direction is Direction.EXPORT and c.location_kind is Location.HANDOVER)


def next_move(c: Container) -> Move | None:
    """The next transport ``c`` needs, or None when it must wait where it is."""
    if c.location_kind in (Location.IGV, Location.GONE, Location.GATE, Location.TRUCK):
        return None
    check = required_check(c)
    if c.direction is Direction.EXPORT:
        if c.location_kind is Location.HANDOVER:
            return None
        if check == "scan":
            # The scanner is drive-through: scan on the way to the bridge.
            return Move("cross", "handover", via_kind=CHECK_STATION_KIND["scan"])
        if check in ("lab", "hold"):
            if c.location_kind is CHECK_LOCATION[check]:
                return None  # being sampled / inspected; a declaration will follow
            return Move(check, CHECK_STATION_KIND[check])
        if may_cross(c):
            return Move("cross", "handover")
        if c.location_kind in (Location.LAB, Location.INSPECTION):
            # Waiting for a decision outside the yard blocks the bay: take it back.
            return Move("back_to_yard", "crane_transfer")
        return None
    # Import
    if c.location_kind is Location.HANDOVER:
        via = CHECK_STATION_KIND["scan"] if check == "scan" else None
        return Move("to_yard", "crane_transfer", via_kind=via)
    if check in ("lab", "hold") and c.location_kind in (Location.YARD, *CHECK_LOCATION.values()):
        if c.location_kind is CHECK_LOCATION[check]:
            return None  # being sampled / inspected; a declaration will follow
        return Move(check, CHECK_STATION_KIND[check])
    if c.location_kind is Location.YARD:
        if check == "scan":
            return Move("scan_in_yard", "crane_transfer", via_kind=CHECK_STATION_KIND["scan"])
        return None
    if c.location_kind in CHECK_LOCATION.values():
        if check == "scan":
            return Move("back_to_yard", "crane_transfer", via_kind=CHECK_STATION_KIND["scan"])
        if check is None and c.customs is not Customs.PENDING:
            return Move("back_to_yard", "crane_transfer")
    return None
