"""Terminal equipment as booking queues: first come, first served, on simulated time.

A :class:`Server` has ``channels`` identical servers (a scanner bay has one; the lab's
sampling team two); a job booked at ``now_s`` starts when the earliest channel is free
and its end is known at once. Booking at request time is exact for FIFO service, so the
terminal can tell a vehicle how long its ``pick`` will take, queueing included, the
moment it asks.

An :class:`ArmgCrane` (automated rail-mounted gantry crane) adds its position along the
block: a move gantries empty to the pick-up bay, picks the box up (half the move time of
``site.md``: 90-150 s including the spreader landing), gantries loaded to the set-down
bay and lands the box (the other half). Gantry 4 m/s, bays of 6.1 m (a 20 ft slot):
with random slots along a 40-bay block, a busy crane serving IGVs at one end makes about
21 moves an hour with picks and drops mixed (22 when they alternate, 20 with picks
only), inside the site's 20-25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from maps.errors import InputError


class Server:
    """A FIFO queue with ``channels`` parallel servers.

    Attributes
    ----------
    jobs : int
        Jobs booked.
    busy_s : float
        Total service time booked (for utilisation).
    """

    def __init__(self, name: str, channels: int = 1) -> None:
        if channels < 1:
            raise InputError(f"{name}: a server needs at least one channel, got {channels}")
        self.name = name
        self._free_at = [0.0] * channels
        self._starts: list[float] = []
        self.jobs = 0
        self.busy_s = 0.0

    def book(self, now_s: float, duration_s: float) -> tuple[float, float]:
        """Book a job arriving at ``now_s``; return its ``(start_s, end_s)``."""
        if duration_s < 0 or not math.isfinite(duration_s):
            raise InputError(f"{self.name}: service duration must be finite and >= 0, got {duration_s}")
        channel = min(range(len(self._free_at)), key=lambda c: (self._free_at[c], c))
        start = max(now_s, self._free_at[channel])
        end = start + duration_s
        self._free_at[channel] = end
        self._starts.append(start)
        self.jobs += 1
        self.busy_s += duration_s
        return start, end

    def earliest_start_s(self, now_s: float) -> float:
        return max(now_s, min(self._free_at))

    def queue_length(self, now_s: float) -> int:
        """Jobs booked that have not started by ``now_s``."""
        self._starts = [s for s in self._starts if s > now_s]
        return len(self._starts)


@dataclass
class ArmgCrane:
    """One yard crane of a block (see the module docstring).

    ``role`` is ``waterside`` (serves the IGV transfer points at bay 0), ``landside``
    (road trucks at bay ``bays + 1``) or ``both`` (a block with one crane).
    """

    block: str
    index: int
    role: str
    bays: int
    bay_length_m: float = 6.1
    gantry_mps: float = 4.0
    position_bay: float = 0.0
    free_at_s: float = 0.0
    moves: int = 0
    busy_s: float = 0.0
    _starts: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.role not in ("waterside", "landside", "both"):
            raise InputError(f"crane {self.name}: role must be waterside, landside or both, got {self.role!r}")

    @property
    def name(self) -> str:
        return f"{self.block}/{self.index}"

    @property
    def igv_bay(self) -> int:
        return 0

    @property
    def truck_bay(self) -> int:
        return self.bays + 1

    def gantry_s(self, from_bay: float, to_bay: float) -> float:
        return abs(to_bay - from_bay) * self.bay_length_m / self.gantry_mps

    def move(self, now_s: float, from_bay: int, to_bay: int, move_s: float) -> tuple[float, float]:
        """Book a move requested at ``now_s`` with ``move_s`` of spreader work (half to
        pick the box up, half to set it down) plus the gantry runs; return
        ``(lifted_s, landed_s)``: when the box leaves ``from_bay`` (a vehicle giving it
        up is free then) and when it is set down at ``to_bay`` (a vehicle receiving it
        is free then)."""
        if move_s < 0:
            raise InputError(f"crane {self.name}: move time must be >= 0, got {move_s}")
        start = max(now_s, self.free_at_s)
        lifted = start + self.gantry_s(self.position_bay, from_bay) + 0.5 * move_s
        landed = lifted + self.gantry_s(from_bay, to_bay) + 0.5 * move_s
        self.position_bay = float(to_bay)
        self.free_at_s = landed
        self.moves += 1
        self.busy_s += landed - start
        self._starts.append(start)
        return lifted, landed

    def queue_length(self, now_s: float) -> int:
        """Moves booked that have not started by ``now_s``."""
        self._starts = [s for s in self._starts if s > now_s]
        return len(self._starts)


def crane_roles(count: int) -> list[str]:
    """Roles of a block's cranes: one crane does both ends; two non-passing ARMGs split
    them (the first at the IGV end, the second at the truck end); a third is a passing
    crane (triple ARMG) that works at either end, whichever is free first."""
    if not 1 <= count <= 3:
        raise InputError(f"a yard block has 1 to 3 cranes, got {count}")
    return [["both"], ["waterside", "landside"], ["waterside", "landside", "both"]][count - 1]


def crane_moves_per_h(bays: int, bay_length_m: float, gantry_mps: float, move_s: tuple[float, float]) -> float:
    """Moves an hour of a busy crane working at one end of a block, each box to or from a
    slot drawn uniformly over the bays: the mean spreader time plus a gantry run out to
    the slot and back (``bays + 1`` over 2 bays each way on average)."""
    gantry_s = 2.0 * (bays + 1) / 2.0 * bay_length_m / gantry_mps
    return 3600.0 / (0.5 * (move_s[0] + move_s[1]) + gantry_s)
