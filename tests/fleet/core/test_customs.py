from __future__ import annotations

from dataclasses import replace

import pytest

from fleet.core.customs import apply_declaration, apply_seal_event, complete_check, may_cross, required_check
from fleet.core.flow import next_move
from fleet.core.model import Container, Customs, Direction, Location, Seal


def export(**kw) -> Container:
    base = dict(id="CNT-1", direction=Direction.EXPORT, location_kind=Location.YARD, location="E1-T1")
    base.update(kw)
    return Container(**base)


def test_pending_waits_and_released_crosses():
    c = export()
    assert not may_cross(c) and next_move(c) is None
    c, alerts = apply_declaration(c, "released")
    assert may_cross(c) and not alerts
    assert next_move(c).to_kind == "handover"


def test_tamper_sends_to_hold_and_alerts():
    c, _ = apply_declaration(export(), "released")
    c, alerts = apply_seal_event(c, "tamper")
    assert c.seal is Seal.TAMPER and c.customs is Customs.HOLD
    assert alerts and alerts[0].kind == "tamper" and alerts[0].severity == "critical"
    assert required_check(c) == "hold" and next_move(c).to_kind == "inspection_bay"
    # A release cannot overrule the tamper before the hold inspected it.
    c2, refused = apply_declaration(c, "released")
    assert c2 is c and refused
    c = complete_check(c, "hold")
    c, _ = apply_declaration(c, "released")
    assert may_cross(c)


def test_scan_is_drive_through_on_the_way():
    c, _ = apply_declaration(export(), "scan")
    move = next_move(c)
    assert move.via_kind == "scanner_bay" and move.to_kind == "handover"
    c = complete_check(c, "scan")
    assert may_cross(c)


def test_lab_goes_to_lab_and_waits_for_the_result():
    c, _ = apply_declaration(export(), "lab")
    assert next_move(c).to_kind == "lab_bay"
    c = complete_check(c, "lab")
    assert c.customs is Customs.PENDING and required_check(c) is None


def test_import_goes_to_import_yard_then_waits():
    c = Container(id="CNT-2", direction=Direction.IMPORT, location_kind=Location.HANDOVER, location="HO-01")
    assert next_move(c).to_kind == "crane_transfer"


def test_unknown_status_and_event():
    with pytest.raises(ValueError):
        apply_declaration(export(), "maybe")
    with pytest.raises(ValueError):
        apply_seal_event(export(), "melted")


def test_the_hold_ends_with_the_inspectors_decision_regression_vehicle_waits_at_inspection_bay():
    c, _ = apply_declaration(export(), "released")
    c, _ = apply_seal_event(c, "tamper")
    c = replace(c, location_kind=Location.INSPECTION, location="INS-1")  # put down on the bay
    assert required_check(c) == "hold" and next_move(c) is None  # being inspected: stays
    c, alerts = apply_declaration(c, "released")
    assert not alerts and "hold" in c.inspected and c.seal is Seal.SEALED and may_cross(c)
    assert next_move(c).purpose == "cross"  # straight to the bridge, not back to its yard


def test_an_import_held_on_the_bay_goes_back_to_its_yard_once_released():
    c = Container(id="CNT-3", direction=Direction.IMPORT, location_kind=Location.INSPECTION, location="INS-1", customs=Customs.HOLD)
    assert next_move(c) is None
    c, _ = apply_declaration(c, "released")
    assert next_move(c).purpose == "back_to_yard"


def test_a_check_of_another_bay_moves_the_box_regression_lab_result_hold_on_the_lab_bay():
    """A lab result of ``hold`` reaching a box still on the lab bay left it there for good."""
    c, _ = apply_declaration(export(), "lab")
    c = complete_check(replace(c, location_kind=Location.LAB, location="LAB-1"), "lab")
    c, _ = apply_declaration(c, "hold")
    assert next_move(c).to_kind == "inspection_bay"
    imp = Container(id="CNT-4", direction=Direction.IMPORT, location_kind=Location.LAB, location="LAB-1", customs=Customs.SCAN)
    move = next_move(imp)
    assert move.purpose == "back_to_yard" and move.via_kind == "scanner_bay"
