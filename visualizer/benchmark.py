"""Frame-rate measurement of the control room (used by ``bench/render.py``).

pygame stays inside ``visualizer/`` (design section 3): the bench script only prints.
"""

from __future__ import annotations

import time
from typing import Any

FRAMES = 240
FRAMES_PER_PATCH = 15  # 2 patches per second at 30 fps


def open_display(size: tuple[int, int]) -> None:
    """A (dummy or real) display of ``size`` for :func:`measure`."""
    from visualizer.app import ControlRoom  # noqa: F401  (first: it silences pygame's banner)

    import pygame

    pygame.display.init()
    pygame.font.init()
    pygame.display.set_mode(size)


def close_display() -> None:
    import pygame

    pygame.display.quit()


class ScriptedSource:
    """A snapshot, then one prepared patch every ``every`` polls."""

    def __init__(self, snapshot: Any, patches: list[dict[str, Any]], every: int) -> None:
        self.snapshot, self.patches, self.every = snapshot, patches, every
        self.polls = 0

    def poll(self, needs_snapshot: bool, now_s: float) -> list[Any]:
        out: list[Any] = [self.snapshot] if needs_snapshot else []
        self.polls += 1
        k, r = divmod(self.polls, self.every)
        if r == 0 and k <= len(self.patches):
            out.append(self.patches[k - 1])
        return out

    @property
    def status(self) -> Any:
        from visualizer.source import SourceStatus

        return SourceStatus(True, "bench")

    def close(self) -> None:
        return None


def measure(tm: Any, n_vehicles: int, *, cached: bool) -> float:
    """Frames per second over :data:`FRAMES` frames (after one warm-up pass over the tiles)."""
    import pygame

    from visualizer.app import ControlRoom
    from visualizer.fake import FakeFleet
    from visualizer.source import Snapshot

    fleet = FakeFleet(tm, n_vehicles, seed=11)
    for _ in range(6):
        fleet.step(10.0)
    snapshot = Snapshot(*fleet.snapshot())
    patches = [fleet.step(10.0) for _ in range(FRAMES // FRAMES_PER_PATCH + 1)]
    screen = pygame.display.get_surface()
    room = ControlRoom(ScriptedSource(snapshot, patches, FRAMES_PER_PATCH), fleet, screen, track_map=tm,
                       threaded_commands=False)
    if not cached:
        room.static.draw = room.static.draw_uncached  # the baseline: paint the map every frame
    room.frame()
    pygame.display.flip()
    start = time.perf_counter()
    for _ in range(FRAMES):
        room.frame()
        pygame.display.flip()
    elapsed = time.perf_counter() - start
    room.close()
    return FRAMES / elapsed


