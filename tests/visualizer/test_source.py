"""Telemetry sources: recordings, and a live core's sockets on 127.0.0.1 (fleet.transport)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from fleet.transport import CoreTransport, TransportConfig
from maps.errors import InputError
from visualizer.control import CommandRunner, ZmqControlSender
from visualizer.errors import TelemetryError
from visualizer.mirror import StateMirror
from visualizer.source import RecordedSource, RecordingWriter, Snapshot, ZmqSource, feed

LOOPBACK = "tcp://127.0.0.1:*"


def write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def state(scanner: int, t_s: float = 0.0) -> dict[str, Any]:
    return {"map": "loop", "clock": {"t_s": t_s, "speed_factor": 10.0, "paused": False}, "queues": {"scanner": scanner}}


def patch(seq: int, scanner: int, t_s: float | None = None) -> dict[str, Any]:
    return {"seq": seq, "t_s": float(seq) if t_s is None else t_s, "changes": {"queues": {"scanner": scanner}}}


# --------------------------------------------------------------------------- recordings


def test_replaying_a_recording_rebuilds_the_fleet_state(tmp_path: Path, fleet_factory: Callable[..., Any]) -> None:
    fleet = fleet_factory(12, seed=2, warmup_steps=1)
    path = tmp_path / "run.jsonl"
    writer = RecordingWriter(path)
    writer.snapshot(*fleet.snapshot())
    for _ in range(5):
        writer.patch(fleet.step(10.0))
    writer.close()
    source = RecordedSource(path, per_poll=2)
    mirror = StateMirror()
    for _ in range(4):
        assert feed(mirror, source.poll(mirror.needs_snapshot, 0.0)).errors == []
    seq, expected = fleet.snapshot()
    assert source.finished and mirror.seq == seq == 6
    assert json.loads(json.dumps(mirror.state)) == json.loads(json.dumps(expected))
    source.close()


def test_replay_is_paced_by_simulated_time(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [{"seq": 0, "state": state(0, t_s=100.0)},
                                              patch(1, 1, 105.0), patch(2, 2, 110.0), patch(3, 3, 130.0)])
    source = RecordedSource(path, rate=10.0)  # 10 simulated seconds per wall second
    assert [type(m) for m in source.poll(True, now_s=50.0)] == [Snapshot]
    assert [m["seq"] for m in source.poll(False, now_s=51.0)] == [1, 2]  # up to t_s 110
    assert source.poll(False, now_s=52.0) == []
    assert [m["seq"] for m in source.poll(False, now_s=53.0)] == [3]
    source.close()


def test_a_gap_in_a_recording_skips_to_its_next_snapshot(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "gap.jsonl", [
        {"seq": 0, "state": state(0)}, patch(1, 1), patch(3, 3), patch(4, 4),
        {"seq": 4, "state": state(40)}, patch(5, 5),
    ])
    source = RecordedSource(path, per_poll=3)
    mirror = StateMirror()
    for _ in range(4):
        feed(mirror, source.poll(mirror.needs_snapshot, 0.0))
    assert mirror.stats.gaps == 1 and mirror.stats.snapshots == 2
    assert mirror.seq == 5 and mirror.state["queues"]["scanner"] == 5
    source.close()


def test_broken_recording_lines_are_reported_with_their_place(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [{"seq": 0, "state": state(0)}, "{not json", patch(1, 1), 42])
    source = RecordedSource(path, per_poll=5)
    mirror = StateMirror()
    result = feed(mirror, source.poll(True, 0.0))
    assert result.errors == ["patch must be a map with seq and changes"]
    assert source.status.last_error.startswith(f"{path}:2: not JSON")
    source.close()


def test_a_recording_must_start_with_a_snapshot(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "nosnap.jsonl", [patch(1, 1)])
    with pytest.raises(TelemetryError, match=r"nosnap.jsonl:1: a recording starts with a snapshot line"):
        RecordedSource(path)


# --------------------------------------------------------------------------- a live core


class Core:
    """A core transport publishing a little state document, pumped by the test."""

    def __init__(self) -> None:
        self.transport = CoreTransport(TransportConfig(LOOPBACK, LOOPBACK, LOOPBACK))
        self.model = StateMirror()
        self.model.apply_snapshot(0, state(0))
        self.seq = 0
        self.transport.register_control("state", lambda request: {"seq": self.seq, "state": self.model.state})
        self.blocked: list[str] = []
        self.transport.register_control("block_lane", self._block_lane)

    def _block_lane(self, request: Any) -> dict[str, Any]:
        lane = request.args.get("lane")
        if lane != "R5/012":
            raise InputError(f"unknown lane {lane!r}")
        self.blocked.append(lane)
        return {"lane": lane}

    def publish(self, scanner: int, *, skip: int = 0) -> None:
        """Publish the next patch; ``skip`` loses that many patches on the way (a gap)."""
        for _ in range(skip + 1):
            self.seq += 1
            p = patch(self.seq, scanner)
            self.model.apply_patch(p)
        self.transport.publish("telemetry", self.seq, p)

    def pump_until(self, done: Callable[[], bool], also: Callable[[], None] = lambda: None, timeout_s: float = 5.0) -> None:
        end = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > end:
                raise AssertionError("timed out")
            self.transport.poll(5)
            also()


@pytest.fixture
def core() -> Any:
    c = Core()
    yield c
    c.transport.close()


def test_live_core_snapshot_patches_and_gap_recovery(core: Core) -> None:
    ep = core.transport.endpoints
    source = ZmqSource(ep.telemetry, ep.control)
    mirror = StateMirror()
    try:
        def take() -> None:
            assert feed(mirror, source.poll(mirror.needs_snapshot, time.monotonic())).errors == []

        core.pump_until(lambda: mirror.seq is not None, take)  # the transport's snapshot has no state: 'state' op
        for n in range(1, 6):  # patches lost before the subscription took are a gap, healed by a snapshot
            core.publish(n)
            core.pump_until(lambda: mirror.seq == core.seq, take)
        assert mirror.state["queues"]["scanner"] == 5
        gaps = mirror.stats.gaps
        core.publish(7, skip=1)  # patch 6 never reaches the screen
        core.pump_until(lambda: mirror.stats.gaps > gaps, take)
        core.pump_until(lambda: mirror.seq == core.seq and not mirror.needs_snapshot, take)
        assert mirror.state == core.model.state and mirror.stats.snapshots >= 2
        assert source.status.connected
    finally:
        source.close()


def test_commands_go_to_the_control_api_and_refusals_come_back(core: Core) -> None:
    runner = CommandRunner(ZmqControlSender(core.transport.endpoints.control), threaded=True)
    results: list[Any] = []
    try:
        runner.submit({"cmd": "block_lane", "lane": "R5/012"})
        runner.submit({"cmd": "block_lane", "lane": "nowhere"})
        runner.submit({"cmd": "warp_speed"})
        core.pump_until(lambda: len(results) == 3, lambda: results.extend(runner.results()))
    finally:
        runner.close()
    assert core.blocked == ["R5/012"]
    assert results[0].ok and results[0].reply["lane"] == "R5/012"
    assert results[0].describe() == "block_lane R5/012: ok"
    assert not results[1].ok and "unknown lane 'nowhere'" in results[1].reply["error"]
    assert not results[2].ok and "unknown op 'warp_speed'" in results[2].describe()
