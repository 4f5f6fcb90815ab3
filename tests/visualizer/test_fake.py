"""The scripted fleet: on the lanes, consistent patches, a core-like control API."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np
import shapely

from visualizer.fake import FakeFleet
from visualizer.mirror import PatchOutcome, StateMirror


def plain(doc: Any) -> Any:
    return json.loads(json.dumps(doc))


def test_patches_rebuild_the_fleets_own_state(fleet_factory: Callable[..., FakeFleet]) -> None:
    fleet = fleet_factory(25, seed=3, warmup_steps=0)
    mirror = StateMirror()
    mirror.apply_snapshot(*fleet.snapshot())
    for _ in range(12):
        assert mirror.apply_patch(fleet.step(10.0)) is PatchOutcome.APPLIED
    assert plain(mirror.state) == plain(fleet.snapshot()[1])
    states = {v["state"] for v in mirror.state["vehicles"].values()}
    assert "moving" in states and states <= {"moving", "waiting", "loading", "charging", "idle", "fault", "offline"}


def test_vehicles_drive_on_the_lanes(fleet_factory: Callable[..., FakeFleet], default_map: Any) -> None:
    fleet = fleet_factory(40, seed=4, warmup_steps=6)
    lanes = shapely.MultiLineString([g.tolist() for g in default_map.lane_geometry])
    vehicles = fleet.snapshot()[1]["vehicles"].values()
    off = [shapely.distance(lanes, shapely.Point(v["x_m"], v["y_m"])) for v in vehicles]
    assert max(off) < 0.01
    moving = [v for v in vehicles if v["state"] == "moving"]
    assert moving and all(len(v["released_path"]) >= 2 and v["reserved_cells"] for v in moving)
    first = np.array(moving[0]["released_path"][0])
    assert np.hypot(*(first - [moving[0]["x_m"], moving[0]["y_m"]])) < 0.05  # the path starts at the vehicle


def test_same_seed_same_telemetry(default_map: Any) -> None:
    a, b = FakeFleet(default_map, 15, seed=9), FakeFleet(default_map, 15, seed=9)
    assert plain(a.step(10.0)) == plain(b.step(10.0))


def test_control_api_answers_like_the_core(fleet_factory: Callable[..., FakeFleet]) -> None:
    fleet = fleet_factory(10, seed=1, warmup_steps=0)
    lane = fleet.tm.lane_ids[3]
    assert fleet.send({"cmd": "block_lane", "lane": lane}) == {"ok": True, "lane": lane, "blocked": [lane]}
    p = fleet.step(1.0)
    assert p["changes"]["blocked"]["lanes"] == [lane]
    assert p["changes"]["alerts"][0]["kind"] == "blocked_lane" and p["changes"]["alerts"][0]["subject"] == lane
    assert fleet.send({"cmd": "block_lane", "lane": "R9/999"}) == {"ok": False, "error": "unknown lane 'R9/999'"}
    assert fleet.send({"cmd": "estop"}) == {"ok": False, "error": "missing argument 'confirm'"}
    assert fleet.send({"cmd": "estop", "confirm": True})["ok"]
    assert {v["state"] for v in fleet.step(1.0)["changes"]["vehicles"].values()} <= {"paused", "fault", "offline"}
    assert fleet.send({"cmd": "set_speed", "factor": -2})["ok"] is False
    assert fleet.send({"cmd": "set_speed", "factor": 40})["ok"] and fleet.step(1.0)["changes"]["clock"]["speed_factor"] == 40
    assert fleet.send({"cmd": "beam_me_up"}) == {"ok": False, "error": "unknown command 'beam_me_up'"}


def test_tamper_raises_a_critical_alert_and_holds_the_container(fleet_factory: Callable[..., FakeFleet]) -> None:
    fleet = fleet_factory(10, seed=1, warmup_steps=0)
    cid = sorted(fleet.containers)[0]
    fleet.tamper(cid)
    changes = fleet.step(1.0)["changes"]
    assert changes["containers"][cid]["eseal"] == "tamper" and changes["containers"][cid]["customs"] == "hold"
    alert = changes["alerts"][-1]
    assert (alert["kind"], alert["severity"], alert["subject"]) == ("tamper", "critical", cid)
