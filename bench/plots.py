"""The PNG plots of a bench run (matplotlib, Agg backend, no display needed).

:func:`draw_run_plots` writes the five plots of a run into its folder and returns their
file names; :func:`draw_fleet_size_curve` draws the fleet-size search. A plot without data
(no crossing yet in a short run) is still drawn, saying so, so that every run folder has
the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.kpi import CLEARANCE_TARGET_H  # noqa: E402
from bench.record import DIRECTIONS, STATE_NAMES, RunRecord  # noqa: E402

PLOT_FILES = {
    "crossings": "crossings_per_hour.png",
    "clearance": "clearance_time.png",
    "states": "vehicle_states.png",
    "replan": "replan_latency.png",
    "yard": "yard_occupancy.png",
}
DPI = 110


def draw_run_plots(record: RunRecord, folder: str | Path) -> list[str]:
    """Draw every plot of a run into ``folder``; returns the file names written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawers = {
        "crossings": _crossings,
        "clearance": _clearance,
        "states": _states,
        "replan": _replan,
        "yard": _yard,
    }
    written = []
    for key, draw in drawers.items():
        fig, ax = plt.subplots(figsize=(8, 4.5))
        try:
            draw(ax, record)
            ax.set_title(f"{record.scenario} (seed {record.seed}): {ax.get_title()}", fontsize=10)
            _save(fig, folder / PLOT_FILES[key])
        finally:
            plt.close(fig)
        written.append(PLOT_FILES[key])
    return written


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey")


def _time_unit(record: RunRecord) -> tuple[float, str]:
    """Seconds per unit and the axis label: hours, or minutes for runs shorter than 2 h."""
    return (3600.0, "simulated time (h)") if record.sim_duration_s >= 7200.0 else (60.0, "simulated time (min)")


def _crossings(ax, record: RunRecord) -> None:
    """Crossings per hour in time bins (1 h, or 1/12 of a run shorter than 12 h), by direction."""
    duration_s = max(record.sim_duration_s, 1.0)
    bin_s = 3600.0 if duration_s >= 12 * 3600.0 else duration_s / 12.0
    edges = np.arange(0.0, duration_s + bin_s, bin_s)
    unit_s, label = _time_unit(record)
    bottom = np.zeros(edges.shape[0] - 1)
    for direction, colour in zip(DIRECTIONS, ("tab:blue", "tab:orange")):
        t = np.array([t for t, d in record.crossings if d == direction])
        counts, _ = np.histogram(t, bins=edges)
        rate = counts * 3600.0 / bin_s
        ax.bar(edges[:-1] / unit_s, rate, width=bin_s / unit_s, bottom=bottom, align="edge", color=colour, label=direction)
        bottom += rate
    ax.set_xlabel(label)
    ax.set_ylabel("containers crossed per hour")
    ax.set_title("bridge crossings per hour")
    ax.legend(loc="upper right")
    if not record.crossings:
        _no_data(ax, "no crossing in this run")


def _clearance(ax, record: RunRecord) -> None:
    low, high = CLEARANCE_TARGET_H
    ax.axvspan(low, high, color="tab:green", alpha=0.15, label=f"target {low:g}-{high:g} h")
    values = record.clearance_h
    if values.size:
        ax.hist(values, bins=min(40, max(5, values.size // 5)), color="tab:blue", alpha=0.8, label="cleared containers")
        for q, style in ((50, "--"), (95, ":")):
            v = float(np.percentile(values, q))
            ax.axvline(v, color="black", linestyle=style, label=f"p{q} = {v:.2f} h")
    else:
        _no_data(ax, "no container cleared in this run")
    ax.set_xlim(left=0.0, right=max(high * 1.5, float(values.max()) * 1.05 if values.size else 0.0))
    ax.set_xlabel("clearance time, gate-in to release (h)")
    ax.set_ylabel("containers")
    ax.set_title("clearance time against the 4-6 h target")
    ax.legend(loc="upper right")


def _states(ax, record: RunRecord) -> None:
    table = record.states
    unit_s, label = _time_unit(record)
    if table.shape[0]:
        ax.stackplot(table[:, 0] / unit_s, table[:, 1:].T, labels=STATE_NAMES, step="post")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.set_xlim(0.0, max(record.sim_duration_s, 1.0) / unit_s)
    else:
        _no_data(ax, "no state samples")
    ax.set_xlabel(label)
    ax.set_ylabel("vehicles")
    ax.set_title("vehicle states over time")


def _replan(ax, record: RunRecord) -> None:
    values = record.replan_ms
    if values.size:
        positive = values[values > 0]
        if positive.size:
            bins = np.logspace(np.log10(positive.min()), np.log10(max(positive.max(), positive.min() * 1.01)), 40)
            ax.hist(positive, bins=bins, color="tab:purple")
            ax.set_xscale("log")
        for q, style in ((50, "--"), (99, ":")):
            v = float(np.percentile(values, q))
            ax.axvline(max(v, 1e-6), color="black", linestyle=style, label=f"p{q} = {v:.2f} ms")
        ax.legend(loc="upper right")
    else:
        _no_data(ax, "no replan in this run")
    ax.set_xlabel("replan latency (ms)")
    ax.set_ylabel("planning calls")
    ax.set_title("replan latency")


def _yard(ax, record: RunRecord) -> None:
    table = record.yard
    unit_s, label = _time_unit(record)
    if table.shape[0] and record.yard_blocks:
        for j, block in enumerate(record.yard_blocks):
            ax.plot(table[:, 0] / unit_s, table[:, 1 + j], label=block)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    else:
        _no_data(ax, "no yard samples")
    ax.set_xlabel(label)
    ax.set_ylabel("occupied slots")
    ax.set_title("yard occupancy per block")


def draw_fleet_size_curve(
    vehicles: Sequence[int],
    clearance_p95_h: Sequence[float | None],
    crossed_share: Sequence[float | None],
    chosen: int | None,
    path: str | Path,
    scenario: str,
) -> Path:
    """Clearance p95 and the share of demand crossed against fleet size, the choice marked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    try:
        x = np.asarray(vehicles, dtype=float)
        p95 = np.array([np.nan if v is None else v for v in clearance_p95_h], dtype=float)
        ax.plot(x, p95, "o-", color="tab:blue", label="clearance p95 (h)")
        ax.axhline(CLEARANCE_TARGET_H[1], color="tab:red", linestyle="--", label=f"limit {CLEARANCE_TARGET_H[1]:g} h")
        ax.set_xlabel("vehicles")
        ax.set_ylabel("clearance time p95 (h)")
        right = ax.twinx()
        share = np.array([np.nan if v is None else v for v in crossed_share], dtype=float)
        right.plot(x, share, "s--", color="tab:green", label="demand crossed (share)")
        right.set_ylabel("share of due demand crossed")
        right.set_ylim(0.0, max(1.1, float(np.nanmax(share)) * 1.05) if np.isfinite(share).any() else 1.1)
        if chosen is not None:
            ax.axvline(chosen, color="black", linestyle=":", label=f"smallest fleet meeting demand: {chosen}")
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right", fontsize=8)
        ax.set_title(f"{scenario}: fleet size against clearance time", fontsize=10)
        _save(fig, path)
    finally:
        plt.close(fig)
    return path
