"""Customs and e-seal rules: what a container must go through before it may cross.

Seed articles: every container carries an electronic GPS seal; customs decisions come
through a single-window data exchange; clearance should take 4-6 h instead of 1-2 days.
The rules, in order of precedence:

1. an e-seal *tamper* event sends the container to the inspection hold and raises a
   critical alert; only a later ``released`` declaration after the hold lets it go;
2. a ``hold`` declaration sends it to the inspection hold. The hold is done when the
   first declaration comes in while the container stands on an inspection bay (the
   inspectors' decision ends the inspection), not when it is put down there: a vehicle
   sent to fetch it at once waited on the bay for the whole inspection (30-90 min), and
   an export released there went back to its yard before crossing;
3. a ``scan`` declaration (risk-flagged) sends it through a scanner bay; a clean scan
   releases it;
4. a ``lab`` declaration (agricultural sample) sends it to a lab bay for sampling; the
   result arrives later as a declaration (``released`` or ``hold``);
5. ``released`` lets it cross; ``pending`` (no decision yet) keeps it where it is.

Functions here are pure: they take a container and return a new one plus alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fleet.core.model import Container, Customs, Location, Seal

CHECK_STATION_KIND = {"hold": "inspection_bay", "scan": "scanner_bay", "lab": "lab_bay"}
"""The station kind that performs each check."""

DECLARATIONS = ("released", "scan", "lab", "hold")


@dataclass(frozen=True)
class Alert:
    kind: str
    severity: str
    subject: str
    text: str


def required_check(c: Container) -> str | None:
    """The check the container must visit next (``hold``, ``scan``, ``lab``) or None."""
    if c.seal is Seal.TAMPER and "hold" not in c.inspected:
        return "hold"
    if c.customs is Customs.HOLD and "hold" not in c.inspected:
        return "hold"
    if c.customs is Customs.SCAN and "scan" not in c.inspected:
        return "scan"
    if c.customs is Customs.LAB and "lab" not in c.inspected:
        return "lab"
    return None


def may_cross(c: Container) -> bool:
    """True when nothing stops the container from leaving for its destination."""
    return c.customs is Customs.RELEASED and required_check(c) is None


def apply_declaration(c: Container, status: str) -> tuple[Container, list[Alert]]:
    """A single-window decision for ``c``."""
    if status not in DECLARATIONS:
        raise ValueError(f"unknown customs status {status!r} (one of {', '.join(DECLARATIONS)})")
    if c.customs is Customs.CLEARED:
        return c, []
    if c.location_kind is Location.INSPECTION and required_check(c) == "hold":
        c = complete_check(c, "hold")  # the inspectors' decision: the inspection is over
    if status == "released" and c.seal is Seal.TAMPER and "hold" not in c.inspected:
        # A release cannot overrule a tamper until the hold has inspected the container.
        return c, [Alert("tamper", "warning", c.id, f"release of {c.id} refused: tampered seal not yet inspected")]
    inspected = c.inspected
    if status in ("scan", "lab", "hold"):
        # A new request for a check means a new check, even if one was done before.
        inspected = tuple(x for x in inspected if x != status)
    return replace(c, customs=Customs(status), inspected=inspected), []


def apply_seal_event(c: Container, event: str) -> tuple[Container, list[Alert]]:
    """An e-seal event: ``sealed``, ``position``, ``opened`` or ``tamper``."""
    if event == "tamper":
        return replace(c, seal=Seal.TAMPER, customs=Customs.HOLD, inspected=tuple(x for x in c.inspected if x != "hold")), [
            Alert("tamper", "critical", c.id, f"e-seal tamper on {c.id}: sent to the inspection hold")
        ]
    if event == "opened":
        return replace(c, seal=Seal.OPENED), [Alert("tamper", "warning", c.id, f"e-seal opened on {c.id}")]
    if event in ("sealed", "position"):
        return (replace(c, seal=Seal.SEALED) if event == "sealed" else c), []
    raise ValueError(f"unknown e-seal event {event!r} (sealed, position, opened, tamper)")


def complete_check(c: Container, check: str) -> Container:
    """``check`` was carried out. A clean scan releases; after the lab the container waits
    for a declaration (after the hold, :func:`apply_declaration` applies one at once)."""
    inspected = c.inspected + ((check,) if check not in c.inspected else ())
    if check == "scan":
        return replace(c, inspected=inspected, customs=Customs.RELEASED)
    if check == "hold":
        seal = Seal.SEALED if c.seal is Seal.TAMPER else c.seal
        return replace(c, inspected=inspected, seal=seal, customs=Customs.PENDING)
    return replace(c, inspected=inspected, customs=Customs.PENDING)
