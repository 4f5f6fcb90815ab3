"""Fixtures for the control-room tests: scripted telemetry on the default map, a headless screen.

The SDL dummy video driver is set by tests/conftest.py before pygame is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pygame
import pytest

from visualizer.fake import FakeFleet
from visualizer.source import RecordingWriter

SCREEN = (1280, 800)


class CaptureSender:
    """A ControlSender that records commands and answers like a core would."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.reply = reply or {"ok": True}
        self.closed = False

    def send(self, command: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(dict(command))
        return dict(self.reply)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def capture() -> CaptureSender:
    return CaptureSender()


@pytest.fixture(scope="session")
def fleet_factory(default_map: Any):
    def make(n: int = 30, seed: int = 5, warmup_steps: int = 3) -> FakeFleet:
        fleet = FakeFleet(default_map, n, seed=seed)
        for _ in range(warmup_steps):
            fleet.step(10.0)
        return fleet

    return make


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory, fleet_factory: Any) -> Path:
    """A recording of 30 vehicles: a snapshot and 8 patches of 10 simulated seconds."""
    path = tmp_path_factory.mktemp("rec") / "fleet.jsonl"
    fleet = fleet_factory(30, seed=5)
    writer = RecordingWriter(path)
    writer.snapshot(*fleet.snapshot())
    for _ in range(8):
        writer.patch(fleet.step(10.0))
    writer.close()
    return path


@pytest.fixture
def screen() -> Iterator[pygame.Surface]:
    pygame.display.init()
    pygame.font.init()
    surface = pygame.display.set_mode(SCREEN)
    yield surface
    pygame.display.quit()


class ScriptSource:
    """Telemetry handed in by the test: ``snapshot`` whenever one is asked for, then ``push``ed patches."""

    def __init__(self, snapshot: Any = None) -> None:
        self.snapshot = snapshot
        self.pending: list[Any] = []
        self.snapshots_served = 0

    def push(self, *messages: Any) -> None:
        self.pending.extend(messages)

    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        out: list[Any] = []
        if needs_snapshot and self.snapshot is not None:
            out.append(self.snapshot)
            self.snapshots_served += 1
        out += self.pending
        self.pending = []
        return out

    @property
    def status(self) -> Any:
        from visualizer.source import SourceStatus

        return SourceStatus(True, "test script")

    def close(self) -> None:
        return None


@pytest.fixture
def make_source() -> type[ScriptSource]:
    """The ScriptSource class (test modules cannot import conftest under importlib mode)."""
    return ScriptSource


@pytest.fixture
def make_capture() -> type[CaptureSender]:
    return CaptureSender
