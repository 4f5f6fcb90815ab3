"""The telemetry mirror: snapshot, patches, gaps and malformed input (docs/telemetry.md)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from visualizer.errors import TelemetryError
from visualizer.mirror import ALERTS_KEPT, PatchOutcome, StateMirror


def vehicle(x_m: float = 10.0, state: str = "moving", **extra: Any) -> dict[str, Any]:
    return {"x_m": x_m, "y_m": 20.0, "heading_rad": 0.5, "state": state, "battery_pct": 80.0,
            "released_path": [[x_m, 20.0], [x_m + 8, 20.0]], "planned_path": [], "reserved_cells": [1, 2], **extra}


def snapshot_state() -> dict[str, Any]:
    return {
        "map": "loop",
        "clock": {"t_s": 100.0, "speed_factor": 20.0, "paused": False},
        "vehicles": {"igv-001": vehicle(), "igv-002": vehicle(50.0, "waiting")},
        "containers": {"CNT-1": {"direction": "export", "location_kind": "yard", "location": "E1"}},
        "yard": {"E1": {"capacity": 100, "occupied": 4, "reefer": 1, "perishable": 2}},
        "queues": {"scanner": 2},
        "blocked": {"lanes": [], "zones": []},
        "kpi": {"vehicle_utilisation": 0.5},
        "alerts": [],
    }


def patch(seq: int, **changes: Any) -> dict[str, Any]:
    return {"seq": seq, "t_s": 100.0 + seq, "changes": changes}


@pytest.fixture
def mirror() -> StateMirror:
    m = StateMirror()
    m.apply_snapshot(10, snapshot_state())
    return m


def test_needs_a_snapshot_first_and_buffers_patches_until_then() -> None:
    m = StateMirror()
    assert m.needs_snapshot and not m.stale
    assert m.apply_patch(patch(11, queues={"scanner": 5})) is PatchOutcome.BUFFERED
    assert m.apply_patch(patch(9, queues={"scanner": 9})) is PatchOutcome.BUFFERED
    assert m.apply_snapshot(10, snapshot_state()) == 1  # 11 applied after it, 9 is older
    assert m.seq == 11 and m.state["queues"]["scanner"] == 5 and not m.needs_snapshot


def test_entities_replaced_whole_and_null_removes(mirror: StateMirror) -> None:
    moved = vehicle(12.0)
    assert mirror.apply_patch(patch(11, vehicles={"igv-001": moved, "igv-002": None})) is PatchOutcome.APPLIED
    assert mirror.state["vehicles"] == {"igv-001": moved}
    assert mirror.t_s == 111.0


def test_whole_sections_are_replaced_and_alerts_appended(mirror: StateMirror) -> None:
    mirror.apply_patch(patch(11, blocked={"lanes": ["R5/012"], "zones": []}, kpi={"energy_kwh": 3.0},
                             alerts=[{"id": "A-1", "kind": "tamper"}]))
    mirror.apply_patch(patch(12, alerts=[{"id": "A-2", "kind": "comm_loss"}]))
    assert mirror.state["blocked"]["lanes"] == ["R5/012"]
    assert mirror.state["kpi"] == {"energy_kwh": 3.0}  # whole: the old utilisation is gone
    assert [a["id"] for a in mirror.state["alerts"]] == ["A-1", "A-2"]


def test_alerts_keep_the_latest_200(mirror: StateMirror) -> None:
    alerts = [{"id": f"A-{i}", "kind": "info"} for i in range(ALERTS_KEPT + 50)]
    mirror.apply_patch(patch(11, alerts=alerts))
    kept = mirror.state["alerts"]
    assert len(kept) == ALERTS_KEPT and kept[0]["id"] == "A-50" and kept[-1]["id"] == f"A-{ALERTS_KEPT + 49}"


def test_stale_patches_are_discarded(mirror: StateMirror) -> None:
    before = copy.deepcopy(mirror.state)
    assert mirror.apply_patch(patch(10, queues={"scanner": 7})) is PatchOutcome.STALE
    assert mirror.apply_patch(patch(3, queues={"scanner": 7})) is PatchOutcome.STALE
    assert mirror.state == before and mirror.seq == 10 and mirror.stats.stale == 2


def test_a_gap_asks_for_a_snapshot_and_keeps_showing_the_old_state(mirror: StateMirror) -> None:
    version = mirror.version
    assert mirror.apply_patch(patch(12, queues={"scanner": 7})) is PatchOutcome.GAP
    assert mirror.needs_snapshot and mirror.stale and mirror.stats.gaps == 1
    assert mirror.state["queues"]["scanner"] == 2 and mirror.version == version
    assert mirror.apply_patch(patch(13, queues={"scanner": 8})) is PatchOutcome.BUFFERED
    # The new snapshot is the state after 12; the buffered 13 follows it, 12 is older.
    fresh = snapshot_state() | {"queues": {"scanner": 7}}
    assert mirror.apply_snapshot(12, fresh) == 1
    assert mirror.seq == 13 and mirror.state["queues"]["scanner"] == 8 and not mirror.stale


def test_a_gap_inside_the_buffer_waits_for_the_next_snapshot() -> None:
    m = StateMirror()
    m.apply_patch(patch(11, queues={"scanner": 1}))
    m.apply_patch(patch(13, queues={"scanner": 3}))
    assert m.apply_snapshot(10, snapshot_state()) == 1
    assert m.needs_snapshot and m.state["queues"]["scanner"] == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a map", "patch must be a map"),
        ({"seq": "7", "changes": {}}, "seq must be a non-negative integer"),
        ({"seq": 11, "changes": []}, "changes must be a map"),
        (patch(11, vehicles={"igv-001": {"x_m": "east", "y_m": 1.0, "heading_rad": 0.0}}), "x_m must be a finite number"),
        (patch(11, vehicles={"igv-001": vehicle(released_path=[[1.0]])}), "released_path must be a list"),
        (patch(11, vehicles={"igv-001": vehicle(reserved_cells=["a"])}), "reserved_cells"),
        (patch(11, queues={"scanner": "many"}), "queues 'scanner' must be an integer"),
        (patch(11, clock={"t_s": float("nan")}), "clock.t_s must be a finite number"),
        (patch(11, blocked={"lanes": "R5"}), "blocked.lanes must be a list"),
        (patch(11, alerts={"id": "A"}), "alerts must be a list"),
    ],
)
def test_malformed_patch_is_refused_whole_and_forces_a_snapshot(mirror: StateMirror, bad: Any, message: str) -> None:
    before = copy.deepcopy(mirror.state)
    with pytest.raises(TelemetryError, match=message):
        mirror.apply_patch(bad)
    assert mirror.state == before
    assert mirror.needs_snapshot and mirror.stats.rejected == 1


def test_half_bad_patch_changes_nothing(mirror: StateMirror) -> None:
    bad = patch(11, queues={"scanner": 9}, vehicles={"igv-001": {"x_m": 1.0}})
    with pytest.raises(TelemetryError, match="vehicle 'igv-001': y_m"):
        mirror.apply_patch(bad)
    assert mirror.state["queues"]["scanner"] == 2


def test_unknown_sections_are_ignored(mirror: StateMirror) -> None:
    assert mirror.apply_patch(patch(11, weather={"rain": True})) is PatchOutcome.APPLIED
    assert "weather" not in mirror.state


def test_snapshot_fills_missing_sections_and_checks_the_rest() -> None:
    m = StateMirror()
    m.apply_snapshot(0, {"map": "loop"})
    assert m.state["vehicles"] == {} and m.state["blocked"] == {"lanes": [], "zones": []}
    with pytest.raises(TelemetryError, match="null is only allowed in patches"):
        m.apply_snapshot(1, {"vehicles": {"igv-001": None}})
    with pytest.raises(TelemetryError, match="snapshot state must be a map"):
        m.apply_snapshot(1, [])
    with pytest.raises(TelemetryError, match="snapshot seq"):
        m.apply_snapshot(-1, {})
