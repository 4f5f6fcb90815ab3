"""The harness end to end with injected run functions producing synthetic records."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
from scipy import stats

from bench.harness import (
    BenchError,
    FleetSizeStatus,
    compare,
    due_containers,
    fleet_size,
    load_reports,
    meets_demand,
    run_scenarios,
    sweep,
    yard_load,
)
from bench.kpi import REPORT_KEYS
from bench.plots import PLOT_FILES
from bench.record import load_record
from bench.scenario import Equipment, load_scenario
from bench.sweep import kpi_stats
from bench.synthetic import SyntheticOptions, synthetic_record, synthetic_run


def test_short_scenario_end_to_end(tmp_path, console):
    calls = []

    def run_fn(scenario, progress):
        for done in (0.0, 30.0, 60.0):
            progress(done, scenario.duration_s)
        calls.append(scenario)
        return synthetic_run(scenario, progress)

    (report,) = run_scenarios([load_scenario("smoke")], run_fn, tmp_path, duration_override=60.0, console=console)
    assert calls[0].duration_s == 60.0 and calls[0].name == "smoke"
    folder = tmp_path / "smoke"
    written = json.loads((folder / "report.json").read_text())
    assert written == report
    assert all(key in written for key in REPORT_KEYS)
    assert written["scenario"] == "smoke" and written["vehicles"] == 4 and written["sim_duration_s"] == 60.0
    assert written["collisions_independent"] == 0 and written["deadlocks"] == 0
    assert written["plots"] == list(PLOT_FILES.values()) and all((folder / p).is_file() for p in written["plots"])
    assert load_record(folder).scenario == "smoke"
    out = console.file.getvalue()
    assert "bench summary" in out and "collisions_independent" in out and "wrote" in out


def test_repeated_scenarios_get_their_own_folders(tmp_path, console):
    smoke = load_scenario("smoke").with_duration(30.0)
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "record.npz").write_bytes(b"from an earlier run")
    run_scenarios([smoke, smoke.with_seed(2)], synthetic_run, tmp_path, console=console, keep_record=False)
    assert (tmp_path / "smoke" / "report.json").is_file() and (tmp_path / "smoke-2" / "report.json").is_file()
    assert not (tmp_path / "smoke" / "record.npz").exists()


def test_run_function_must_return_a_record(tmp_path, console):
    with pytest.raises(BenchError, match="returned dict, not a RunRecord"):
        run_scenarios([load_scenario("smoke")], lambda s, p: {}, tmp_path, console=console)


def _write(folder, **values):
    folder.mkdir(parents=True)
    report = {key: 0 for key in REPORT_KEYS} | {"scenario": folder.name} | values
    (folder / "report.json").write_text(json.dumps(report))


def test_compare_prints_the_change_of_each_kpi(tmp_path, console):
    _write(tmp_path / "a" / "day", containers_crossed=200, clearance_time_h_p95=5.0, deadlocks=0)
    _write(tmp_path / "a" / "peak", containers_crossed=10)
    _write(tmp_path / "b" / "day", containers_crossed=170, clearance_time_h_p95=None, deadlocks=0)
    result = compare(tmp_path / "a", tmp_path / "b", console=console)
    assert list(result) == ["day"]
    rows = {row.key: row for row in result["day"]}
    assert set(REPORT_KEYS) <= set(rows)
    assert rows["containers_crossed"].delta == -30 and rows["containers_crossed"].percent == pytest.approx(-15.0)
    assert rows["clearance_time_h_p95"].delta is None
    assert rows["deadlocks"].delta == 0 and rows["deadlocks"].percent is None
    out = console.file.getvalue()
    assert "containers_crossed" in out and "-15.0 %" in out


def test_compare_two_single_runs(tmp_path, console):
    _write(tmp_path / "x", containers_crossed=100)
    _write(tmp_path / "y", containers_crossed=90)
    (rows,) = compare(tmp_path / "x", tmp_path / "y" / "report.json", console=console).values()
    assert next(r for r in rows if r.key == "containers_crossed").percent == pytest.approx(-10.0)


def test_compare_errors(tmp_path, console):
    with pytest.raises(BenchError, match="no such folder"):
        compare(tmp_path / "nope", tmp_path, console=console)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="no report.json"):
        load_reports(tmp_path / "empty")
    _write(tmp_path / "a" / "one")
    _write(tmp_path / "a" / "two")
    _write(tmp_path / "b" / "three")
    _write(tmp_path / "b" / "four")
    with pytest.raises(BenchError, match="no run in common"):
        compare(tmp_path / "a", tmp_path / "b", console=console)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "report.json").write_text("[1, 2")
    with pytest.raises(BenchError, match="not valid JSON"):
        load_reports(tmp_path / "bad")


def test_meets_demand_needs_clearance_and_throughput():
    scenario = load_scenario("smoke").with_duration(12 * 3600.0)
    due = due_containers(scenario)
    assert due == pytest.approx(scenario.demand.per_day / 4)  # entered in the first 6 h of 12
    assert meets_demand({"clearance_time_h_p95": 5.9, "containers_crossed": int(due)}, scenario)
    assert not meets_demand({"clearance_time_h_p95": 6.1, "containers_crossed": int(due)}, scenario)
    assert not meets_demand({"clearance_time_h_p95": 5.0, "containers_crossed": int(0.9 * due)}, scenario)
    assert not meets_demand({"clearance_time_h_p95": None, "containers_crossed": int(due)}, scenario)
    # boxes left waiting past 6 h count, even when the cleared ones were quick
    assert not meets_demand({"clearance_time_h_p95": 5.0, "clearance_time_h_p95_open": 7.5, "containers_crossed": int(due)}, scenario)


@pytest.fixture(scope="module")
def small_record(default_map):
    return synthetic_record(default_map, SyntheticOptions(seed=2, n_vehicles=2, duration_s=30.0))


def test_fleet_size_finds_the_smallest_fleet(tmp_path, console, small_record):
    def run_fn(scenario, progress):
        # Clearance falls as the fleet grows: p95 of a constant = 120 / n hours.
        return dataclasses.replace(small_record, scenario=scenario.name, clearance_h=np.full(20, 120.0 / scenario.vehicles))

    scenario = load_scenario("smoke").with_duration(30.0)
    result = fleet_size(scenario, [40, 10, 20], run_fn, tmp_path, console=console)
    assert result.status is FleetSizeStatus.FOUND and result.vehicles == 20
    assert [r.vehicles for r in result.rows] == [10, 20, 40]
    assert [r.clearance_time_h_p95 for r in result.rows] == pytest.approx([12.0, 6.0, 3.0])
    assert [r.meets_demand for r in result.rows] == [False, True, True]
    assert result.plot.is_file()
    doc = json.loads((tmp_path / "smoke_fleet" / "fleet_size.json").read_text())
    assert doc["vehicles"] == 20 and doc["status"] == "found" and len(doc["runs"]) == 3
    assert (tmp_path / "smoke_fleet" / "10_vehicles" / "report.json").is_file()
    assert "smallest fleet meeting the demand: 20" in console.file.getvalue()

    too_small = fleet_size(scenario, [4], run_fn, tmp_path / "small", console=console)
    assert too_small.status is FleetSizeStatus.NOT_FOUND and too_small.vehicles is None


def test_fleet_size_reuses_the_sizes_already_run(tmp_path, console):
    # A day of peak_2030 takes hours a size: sizes run apart make one curve.
    ran = []

    def run_fn(scenario, progress):
        ran.append(scenario.vehicles)
        return synthetic_run(scenario, progress)

    scenario = load_scenario("smoke").with_duration(30.0)
    first = fleet_size(scenario, [2, 4], run_fn, tmp_path, console=console)
    assert ran == [2, 4]
    (tmp_path / "smoke_fleet" / "3_vehicles").mkdir()
    (tmp_path / "smoke_fleet" / "3_vehicles" / "report.json").write_text("{not json")  # a broken one is run again
    again = fleet_size(scenario, [2, 3, 4, 5], run_fn, tmp_path, console=console, reuse=True)
    assert ran == [2, 4, 3, 5]
    assert [r.vehicles for r in again.rows] == [2, 3, 4, 5]
    assert [r.containers_crossed for r in again.rows if r.vehicles in (2, 4)] == [r.containers_crossed for r in first.rows]
    assert "reusing" in console.file.getvalue() and "not a usable report" in console.file.getvalue()
    # another duration is another run
    fleet_size(scenario.with_duration(40.0), [2], run_fn, tmp_path, console=console, reuse=True)
    assert ran[-1] == 2 and "a report of another run" in console.file.getvalue()


def test_kpi_stats_mean_and_t_interval():
    reports = [{"scenario": "s", "seed": i, "containers_crossed": v, "deadlocks": 0, "replan_ms_p50": None}
               for i, v in enumerate([10, 12, 14, 9])]
    by_key = {s.key: s for s in kpi_stats(reports)}
    crossed = by_key["containers_crossed"]
    values = np.array([10, 12, 14, 9.0])
    low, high = stats.t.interval(0.95, 3, loc=values.mean(), scale=stats.sem(values))
    assert (crossed.n, crossed.mean) == (4, pytest.approx(11.25))
    assert (crossed.ci_low, crossed.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert (by_key["deadlocks"].ci_low, by_key["deadlocks"].ci_high) == (0.0, 0.0)
    assert "replan_ms_p50" not in by_key and "seed" not in by_key
    (single,) = [s for s in kpi_stats(reports[:1]) if s.key == "containers_crossed"]
    assert single.ci_low is None and single.std is None


def test_sweep_errors_without_seeds():
    with pytest.raises(BenchError, match="at least one seed"):
        sweep(load_scenario("smoke"), [], synthetic_run)


def test_sweep_without_ray_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BenchError, match=r"Ray is not installed: pip install 'igv-fleet\[ray\]'"):
        sweep(load_scenario("smoke"), [1], synthetic_run)


@pytest.mark.slow  # starts a local Ray cluster: 15-60 s, flaky under heavy load
def test_sweep_8_seeds_on_local_ray(tmp_path, console):
    """The one Ray test (about 15 s: Ray's start-up); deselect with -k 'not local_ray'."""
    pytest.importorskip("ray")
    scenario = load_scenario("smoke").with_duration(60.0)
    result = sweep(scenario, range(1, 9), synthetic_run, out_dir=tmp_path, console=console)
    assert result.seeds == tuple(range(1, 9))
    assert [r["seed"] for r in result.reports] == list(range(1, 9))
    assert all(r["collisions_independent"] == 0 and r["deadlocks"] == 0 for r in result.reports)
    by_key = {s.key: s for s in result.stats}
    energy = by_key["energy_kwh"]
    assert energy.n == 8 and energy.ci_low < energy.mean < energy.ci_high and energy.std > 0
    assert len({r["energy_kwh"] for r in result.reports}) > 1  # the seeds really differ
    doc = json.loads((tmp_path / "smoke_sweep.json").read_text())
    assert len(doc["reports"]) == 8 and any(s["key"] == "containers_crossed" for s in doc["stats"])
    out = console.file.getvalue()
    assert "95 % confidence interval" in out and "energy_kwh" in out


def test_compare_a_run_with_a_results_folder(tmp_path, console):
    _write(tmp_path / "base" / "day_2026", containers_crossed=100)
    _write(tmp_path / "base" / "storm", containers_crossed=100)
    _write(tmp_path / "disruption", containers_crossed=88)
    with pytest.raises(BenchError, match="no run named 'disruption'"):
        compare(tmp_path / "base", tmp_path / "disruption", console=console)
    (rows,) = compare(tmp_path / "base" / "day_2026", tmp_path / "disruption", console=console).values()
    assert next(r for r in rows if r.key == "containers_crossed").percent == pytest.approx(-12.0)
    (name,) = compare(tmp_path / "base", tmp_path / "base" / "storm", console=console)
    assert name == "storm"


def test_yard_load_says_when_no_fleet_can_carry_the_demand():
    # 2030's 1,800 exports a day are more than the three export blocks' two cranes each move
    # in a day (about 1,420 at 20 moves an hour); today's volume is well within it, and the
    # 2030 gate of peak_2030 (a third crane a block) carries it.
    today = dataclasses.replace(load_scenario("peak_2030"), equipment=Equipment())
    capacity, load = yard_load(today)
    assert 1.2 < load < 1.35 and capacity["export"] == pytest.approx(1420.1, abs=1.0)
    assert yard_load(load_scenario("day_2026"))[1] < 0.5
    capacity, load = yard_load(load_scenario("peak_2030"))
    assert load < 0.9 and capacity["export"] == pytest.approx(1.5 * 1420.1, abs=1.0)


def test_fleet_size_warns_when_the_yard_bounds_the_demand(tmp_path, console, small_record):
    def run_fn(scenario, progress):
        return dataclasses.replace(small_record, scenario=scenario.name)

    today = dataclasses.replace(load_scenario("peak_2030"), equipment=Equipment())  # 2030 demand, 2026 cranes
    fleet_size(today.with_duration(30.0), [4], run_fn, tmp_path, console=console)
    assert "no fleet size can carry peak_2030" in " ".join(console.file.getvalue().split())
    assert json.loads((tmp_path / "peak_2030_fleet" / "fleet_size.json").read_text())["yard_crane_load"] > 1.0
