"""Plots are written as PNG files, also for runs without data."""

from __future__ import annotations

import dataclasses

import numpy as np

from bench.plots import PLOT_FILES, draw_fleet_size_curve, draw_run_plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_run_plots_are_written(clean_record, tmp_path):
    names = draw_run_plots(clean_record, tmp_path / "run")
    assert names == list(PLOT_FILES.values())
    assert all(_is_png(tmp_path / "run" / name) for name in names)


def test_plots_of_a_run_without_data(clean_record, tmp_path):
    empty = dataclasses.replace(
        clean_record, crossings=[], clearance_h=[], replan_ms=[], states=np.empty((0, 10)), yard=np.empty((0, 1)), yard_blocks=()
    )
    names = draw_run_plots(empty, tmp_path)
    assert all(_is_png(tmp_path / name) for name in names)


def test_fleet_size_curve(tmp_path):
    path = draw_fleet_size_curve([10, 20, 30], [9.0, 5.5, None], [0.7, 1.0, 1.02], 20, tmp_path / "curve.png", "peak")
    assert _is_png(path)
