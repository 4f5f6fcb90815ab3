"""KPIs of one run: the keys of ``report.json`` (design section 7), computed from a RunRecord.

Safety is judged independently of the planner: ``collisions_independent`` counts contact
episodes the geometric checker (:func:`planner.collision.find_collisions`) finds in the
recorded ground-truth trajectories, ``deadlocks`` the episodes :mod:`bench.deadlock` finds in
the recorded waits. Everything else is read off the record.

Definitions (docs/bench.md): rates are per simulated hour; ``moves_per_h`` is bridge
crossings (container moves across the border) per hour; percentiles are linear
(``numpy.percentile``); a figure without data (no cleared container, no replan) is
``null``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.deadlock import DEFAULT_STALL_BOUND_S, disturbances, find_deadlocks, find_gridlocks, find_stuck
from bench.record import DIRECTIONS, RunRecord
from planner.collision import DEFAULT_STEP_S, find_collisions

REPORT_KEYS = (
    "scenario", "seed", "vehicles", "sim_duration_s", "wall_s", "sim_speed_factor",
    "containers_crossed", "moves_per_h", "clearance_time_h_p50", "clearance_time_h_p95",
    "replan_ms_p50", "replan_ms_p99", "tick_ms_p99", "collisions_independent", "deadlocks",
    "vehicle_utilisation", "crane_moves_per_h", "rehandles", "deadline_misses", "messages_dropped",
)
"""The keys design section 7 requires in every ``report.json``, in that order."""

CLEARANCE_TARGET_H = (4.0, 6.0)
"""The clearance-time target band of the smart gate (site.md)."""

DETAIL_LIMIT = 20
"""At most this many collisions and deadlocks are listed in a report."""


def compute_report(
    record: RunRecord,
    *,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
    collision_step_s: float = DEFAULT_STEP_S,
) -> dict[str, Any]:
    """The report of one run: every key of :data:`REPORT_KEYS` plus supporting figures.

    Extra keys: ``map``, ``crossings_northbound``/``_southbound``, ``containers_total``,
    ``containers_lost``, ``energy_kwh``, ``throughput_share`` (crossed over entered),
    ``containers_overdue`` (not cleared after more than 6 h at the end),
    ``clearance_time_h_p95_open`` (the p95 with the overdue ones counted at their age) and
    ``safety`` (the first :data:`DETAIL_LIMIT` collisions and deadlocks, for diagnosis; the
    spans of vehicles standing that the run's disturbances excuse, and those disturbances).
    """
    hours = record.sim_duration_s / 3600.0
    names = record.vehicles
    trajectories = [record.trajectories[v] for v in names]
    collisions = find_collisions(trajectories, record.footprint_m, step_s=collision_step_s) if trajectories else ()
    windows = disturbances(record.events, record.sim_duration_s)
    order = lambda d: (d.t_start_s, d.kind.value, d.vehicles)  # noqa: E731
    standing = find_gridlocks(record.events, record.trajectories, record.sim_duration_s, stall_bound_s, windows=windows) \
        + find_stuck(record.events, record.trajectories, record.sim_duration_s, windows=windows)
    deadlocks = sorted(find_deadlocks(record.waits, record.trajectories, stall_bound_s) + standing, key=order)
    # What the disturbances excuse, listed apart so that nothing is hidden (bench.deadlock).
    all_time = find_gridlocks(record.events, record.trajectories, record.sim_duration_s, stall_bound_s, windows=()) \
        + find_stuck(record.events, record.trajectories, record.sim_duration_s, windows=())
    held = sorted(set(all_time) - set(standing), key=order)
    crossed = len(record.crossings)
    # The clearance percentiles of design section 7 see only cleared containers: a run that
    # leaves boxes waiting looks fast. Those still open after the 6 h limit are overdue
    # whatever happens next, so they count at their age (a lower bound).
    overdue = record.open_age_h[record.open_age_h > CLEARANCE_TARGET_H[1]]
    report: dict[str, Any] = {
        "scenario": record.scenario,
        "seed": int(record.seed),
        "vehicles": len(names),
        "sim_duration_s": float(record.sim_duration_s),
        "wall_s": float(record.wall_s),
        "sim_speed_factor": _ratio(record.sim_duration_s, record.wall_s),
        "containers_crossed": crossed,
        "moves_per_h": _ratio(crossed, hours),
        "clearance_time_h_p50": _percentile(record.clearance_h, 50),
        "clearance_time_h_p95": _percentile(record.clearance_h, 95),
        "replan_ms_p50": _percentile(record.replan_ms, 50),
        "replan_ms_p99": _percentile(record.replan_ms, 99),
        "tick_ms_p99": _percentile(record.tick_ms, 99),
        "collisions_independent": len(collisions),
        "deadlocks": len(deadlocks),
        "vehicle_utilisation": float(record.utilisation),
        "crane_moves_per_h": _ratio(record.crane_moves, hours),
        "rehandles": int(record.rehandles),
        "deadline_misses": int(record.deadline_misses),
        "messages_dropped": int(record.messages_dropped),
        "map": record.map,
        **{f"crossings_{d}": sum(1 for _, x in record.crossings if x == d) for d in DIRECTIONS},
        "containers_total": int(record.containers_total),
        "containers_lost": int(record.containers_lost),
        "energy_kwh": float(record.energy_kwh),
        "throughput_share": _ratio(crossed, record.containers_total),
        "containers_overdue": int(overdue.size),
        "clearance_time_h_p95_open": _percentile(np.concatenate([record.clearance_h, overdue]), 95),
        "safety": {
            "collisions": [
                {"vehicles": [names[c.vehicle_a], names[c.vehicle_b]], "t_start_s": c.time_s, "t_end_s": c.end_time_s,
                 "depth_m": round(c.max_depth_m, 3)}
                for c in collisions[:DETAIL_LIMIT]
            ],
            "deadlocks": [
                {"kind": d.kind.value, "vehicles": list(d.vehicles), "t_start_s": d.t_start_s, "t_end_s": d.t_end_s}
                for d in deadlocks[:DETAIL_LIMIT]
            ],
            "held_by_disturbances": [
                {"kind": d.kind.value, "vehicles": list(d.vehicles), "t_start_s": d.t_start_s, "t_end_s": d.t_end_s}
                for d in held[:DETAIL_LIMIT]
            ],
            "disturbances": [[t0, t1] for t0, t1 in windows],
            "stall_bound_s": stall_bound_s,
            "collision_step_s": collision_step_s,
        },
    }
    return report


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator > 0 else None


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def is_number(value: Any) -> bool:
    """Whether a report value is a finite number a KPI table can compare (bools are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
