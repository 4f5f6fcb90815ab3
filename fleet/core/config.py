"""Configuration of the real-time core (one frozen dataclass, named timing constants)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CoreConfig:
    """How the core behaves. Times are seconds on the core's injected clock.

    Attributes
    ----------
    map_name : str
        Built-in map name or GeoJSON path.
    state_dir : Path or None
        Where the journal lives; None keeps no journal (tests, benchmarks).
    plan_budget_s : float
        Planning time allowed inside one tick; the rest goes to the planning worker.
    plan_in_worker : bool
        Plan what does not fit in the budget on a background thread, on a snapshot of
        the reservations (the real-time default). False plans every pending leg inside
        the tick, whatever it takes: the outcome then depends on nothing but the inputs
        (lockstep runs, replay, tests).
    assign_interval_s : float
        How often open jobs are (re)assigned.
    assign_budget_s : float
        Time budget of one assignment solve.
    telemetry_interval_s : float
        How often a telemetry patch is published.
    offline_timeout_s : float
        A vehicle offline this long stops holding up others: they are replanned around
        its last known position.
    battery_low_pct, battery_target_pct : float
        Below the first a vehicle is sent to charge; it charges up to the second.
    unladen_speed_mps, laden_speed_mps : float
        Speed caps used for planning and orders (site.md).
    horizon_steps : int
        How many not-yet-released steps an order shows as its horizon.
    release_ahead_steps : int
        How far beyond its last reported node a vehicle's base may reach (cells).
    seed : int
        Seed of the planner's randomised restarts (deterministic runs).
    """

    map_name: str = "bac_luan_2"
    state_dir: Path | None = None
    plan_budget_s: float = 0.010
    plan_in_worker: bool = True
    assign_interval_s: float = 0.5
    assign_budget_s: float = 0.05
    telemetry_interval_s: float = 0.5
    offline_timeout_s: float = 30.0
    battery_low_pct: float = 25.0
    battery_target_pct: float = 90.0
    unladen_speed_mps: float = 8.3
    laden_speed_mps: float = 5.6
    horizon_steps: int = 40
    release_ahead_steps: int = 12
    seed: int = 0
    deadline_warning_s: float = 1800.0
