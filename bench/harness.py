"""The bench harness: run scenarios, write reports and plots, compare, size fleets, sweep seeds.

The simulation itself is injected: a *run function* ``run_fn(scenario, progress) ->
RunRecord`` runs one scenario in lockstep and calls ``progress(done_s, total_s)`` with
simulated seconds as it goes (``bench.runner.run_scenario`` is the real one; tests pass
:func:`bench.synthetic.synthetic_run`). Everything here works on the records it returns:

* :func:`run_scenarios` runs scenarios under a rich progress bar and writes, per scenario
  folder, ``report.json`` (:mod:`bench.kpi`), the record (:mod:`bench.record`) and the plots
  (:mod:`bench.plots`), then prints a summary table;
* :func:`compare` prints the change of every KPI between two result folders;
* :func:`fleet_size` runs a scenario at several fleet sizes and finds the smallest that
  meets its demand (:func:`meets_demand`), plotting the curve;
* :func:`sweep` runs scenario x seed jobs on Ray (a local instance, or the cluster at an
  address) and prints each KPI's mean and 95 % confidence interval (:mod:`bench.sweep`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bench.deadlock import DEFAULT_STALL_BOUND_S
from bench.kpi import CLEARANCE_TARGET_H, REPORT_KEYS, compute_report, is_number
from bench.plots import draw_fleet_size_curve, draw_run_plots
from bench.record import RECORD_JSON, RECORD_NPZ, RunRecord, save_record
from bench.scenario import Scenario
from maps import load_track_map
from maps.errors import InputError
from sim.terminal import TerminalConfig, yard_capacity_per_day

if TYPE_CHECKING:
    from bench.sweep import SweepResult

ProgressFn = Callable[[float, float], None]
RunFn = Callable[[Scenario, ProgressFn], RunRecord]

REPORT_FILE = "report.json"
EXTRA_KPIS = ("crossings_northbound", "crossings_southbound", "containers_total", "containers_lost", "energy_kwh",
              "throughput_share", "containers_overdue", "clearance_time_h_p95_open")
"""Numeric report keys beyond design section 7 that compare and sweep also show."""
IDENTITY_KEYS = ("scenario", "seed")
"""Report keys that name a run rather than measure it: shown, never differenced."""
DEMAND_SHARE = 0.95
"""Share of the due containers that must have crossed for demand to count as met."""
SAFETY_KEYS = ("collisions_independent", "deadlocks", "containers_lost")
"""KPIs that must be zero; a run breaking one makes the command exit with 1."""
PROGRESS_INTERVAL_S = 0.1


class BenchError(InputError):
    """A bench run cannot be done as asked (bad folder, missing Ray, a failed job)."""


# ---- running and reporting -------------------------------------------------------------------


def due_containers(scenario: Scenario) -> float:
    """Containers that must have crossed by the end if every clearance took at most 6 h:
    those expected to enter before ``duration_s - 6 h``."""
    return scenario.demand.expected_containers(0.0, scenario.duration_s - CLEARANCE_TARGET_H[1] * 3600.0)


def meets_demand(report: dict[str, Any], scenario: Scenario) -> bool:
    """Clearance p95 within the 6 h limit and at least :data:`DEMAND_SHARE` of the due
    containers crossed (a run with nothing cleared cannot show it meets anything).

    The p95 is ``clearance_time_h_p95_open``, which counts the containers still waiting
    after 6 h: the cleared-only p95 passed a 12 h ``peak_2030`` run that had crossed 48 %
    of what entered (the stuck boxes were simply not in it).
    """
    p95 = report.get("clearance_time_h_p95_open", report.get("clearance_time_h_p95"))
    if p95 is None or p95 > CLEARANCE_TARGET_H[1]:
        return False
    return report["containers_crossed"] >= DEMAND_SHARE * due_containers(scenario)


def report_of(record: Any, scenario: Scenario, stall_bound_s: float) -> dict[str, Any]:
    """Check what a run function returned and compute its report, demand figures included."""
    if not isinstance(record, RunRecord):
        raise BenchError(f"scenario {scenario.name!r}: the run function returned {type(record).__name__}, not a RunRecord")
    record.check()
    report = compute_report(record, stall_bound_s=stall_bound_s)
    report["containers_due"] = due_containers(scenario)
    report["demand_met"] = meets_demand(report, scenario)
    report["yard_capacity_per_day"], report["yard_crane_load"] = yard_load(scenario)
    return report


def yard_load(scenario: Scenario) -> tuple[dict[str, float], float]:
    """The yards' daily capacity with every crane busy (:func:`sim.terminal.yard_capacity_per_day`,
    with the scenario's equipment) and the larger of the two yards' demand over it: above
    1 no fleet carries the scenario's demand (its cranes cannot move it in a day)."""
    capacity = yard_capacity_per_day(load_track_map(scenario.map), TerminalConfig(**scenario.equipment.overrides()))
    demand = {"export": scenario.demand.export_per_day, "import": scenario.demand.import_per_day}
    load = max((demand[yard] / capacity[yard] for yard in demand if capacity.get(yard, 0.0) > 0.0 and demand[yard] > 0.0), default=0.0)
    return {yard: round(value, 1) for yard, value in sorted(capacity.items())}, load


def run_one(
    scenario: Scenario,
    run_fn: RunFn,
    folder: str | Path,
    progress: ProgressFn,
    *,
    keep_record: bool = True,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
) -> dict[str, Any]:
    """Run one scenario and write its folder: ``report.json``, the plots and the record."""
    folder = Path(folder)
    record = run_fn(scenario, progress)
    report = report_of(record, scenario, stall_bound_s)
    report["scenario_file"] = scenario.source
    report["plots"] = draw_run_plots(record, folder)
    if keep_record:
        save_record(record, folder)
        report["record"] = [RECORD_NPZ, RECORD_JSON]
    else:  # a record left by an earlier run in this folder would not match the report
        for name in (RECORD_NPZ, RECORD_JSON):
            (folder / name).unlink(missing_ok=True)
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return report


def run_scenarios(
    scenarios: Sequence[Scenario],
    run_fn: RunFn,
    out_dir: str | Path,
    duration_override: float | None = None,
    *,
    console: Console | None = None,
    keep_record: bool = True,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
) -> list[dict[str, Any]]:
    """Run each scenario (duration overridden when given) into ``out_dir/<name>``.

    Returns the reports in order and prints a summary table (one column per run).
    """
    console = console or Console()
    if duration_override is not None:
        scenarios = [s.with_duration(duration_override) for s in scenarios]
    folders = _folders(Path(out_dir), [s.name for s in scenarios])
    reports = _run_all(scenarios, folders, run_fn, console, keep_record, stall_bound_s)
    console.print(summary_table(reports, [f.name for f in folders]))
    for folder in folders:
        console.print(f"wrote {folder}/{REPORT_FILE}")
    return reports


def _folders(out_dir: Path, names: Sequence[str]) -> list[Path]:
    """One folder per run, named after the scenario (``-2``, ``-3`` for repeats)."""
    seen: dict[str, int] = {}
    folders = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        folders.append(out_dir / (name if seen[name] == 1 else f"{name}-{seen[name]}"))
    return folders


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[sim]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    )


def _run_all(scenarios: Sequence[Scenario], folders: Sequence[Path], run_fn: RunFn, console: Console,
             keep_record: bool, stall_bound_s: float) -> list[dict[str, Any]]:
    reports = []
    with _progress_bar(console) as bar:
        tasks = [bar.add_task(f.name, total=s.duration_s, sim="") for s, f in zip(scenarios, folders)]
        for scenario, folder, task in zip(scenarios, folders, tasks):
            last = [0.0]

            def progress(done_s: float, total_s: float, task: int = task, last: list[float] = last) -> None:
                # PERF: a run reports every tick; redraw at most every PROGRESS_INTERVAL_S.
                now = time.perf_counter()
                if now - last[0] >= PROGRESS_INTERVAL_S or done_s >= total_s:
                    last[0] = now
                    bar.update(task, completed=done_s, total=total_s, sim=f"{done_s / 3600.0:.2f} of {total_s / 3600.0:.2f} sim h")

            reports.append(run_one(scenario, run_fn, folder, progress, keep_record=keep_record, stall_bound_s=stall_bound_s))
            bar.update(task, completed=scenario.duration_s, sim="done")
    return reports


def format_value(value: Any) -> str:
    """A KPI value for a table: ``-`` for none, thousands for large numbers, 3 digits else."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def summary_table(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> Table:
    """KPIs as rows, runs as columns; safety KPIs green at zero, red otherwise."""
    table = Table(title="bench summary")
    table.add_column("KPI")
    for name in names:
        table.add_column(name, justify="right")
    for key in (*REPORT_KEYS[1:], "containers_due", "demand_met", "yard_crane_load"):
        cells = []
        for report in reports:
            text = format_value(report.get(key))
            if key in SAFETY_KEYS:
                text = f"[green]{text}[/]" if report.get(key) == 0 else f"[bold red]{text}[/]"
            cells.append(text)
        table.add_row(key, *cells)
    return table


def unsafe_runs(reports: Sequence[dict[str, Any]]) -> list[str]:
    """Scenarios of the reports with a collision, a deadlock or a lost container."""
    return [r["scenario"] for r in reports if any(r.get(k) for k in SAFETY_KEYS)]


# ---- compare ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiChange:
    key: str
    a: Any
    b: Any
    delta: float | None
    """``b - a`` when both are numbers."""
    percent: float | None
    """``100 * (b - a) / |a|`` when both are numbers and ``a`` is not zero."""


def load_reports(folder: str | Path) -> dict[str, dict[str, Any]]:
    """The reports of a result folder: its own ``report.json``, or one per sub-folder."""
    folder = Path(folder)
    if folder.is_file() and folder.name == REPORT_FILE:
        folder = folder.parent
    if not folder.is_dir():
        raise BenchError(f"{folder}: no such folder")
    own = folder / REPORT_FILE
    paths = [own] if own.is_file() else sorted(folder.glob(f"*/{REPORT_FILE}"))
    if not paths:
        raise BenchError(f"{folder}: no {REPORT_FILE} in it or in its sub-folders")
    reports = {}
    for path in paths:
        try:
            report = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BenchError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(report, dict) or "scenario" not in report:
            raise BenchError(f"{path}: not a bench report (no 'scenario' key)")
        reports[path.parent.name] = report
    return reports


def _is_run(folder: str | Path) -> bool:
    folder = Path(folder)
    return folder.name == REPORT_FILE or (folder / REPORT_FILE).is_file()


def kpi_changes(a: dict[str, Any], b: dict[str, Any]) -> list[KpiChange]:
    """The change of each KPI (design keys, then the extra numeric ones) from ``a`` to ``b``."""
    rows = []
    for key in (*REPORT_KEYS, *EXTRA_KPIS):
        va, vb = a.get(key), b.get(key)
        delta = percent = None
        if key not in IDENTITY_KEYS and is_number(va) and is_number(vb):
            delta = float(vb) - float(va)
            percent = 100.0 * delta / abs(float(va)) if va != 0 else None
        rows.append(KpiChange(key, va, vb, delta, percent))
    return rows


def compare(a_dir: str | Path, b_dir: str | Path, *, console: Console | None = None) -> dict[str, list[KpiChange]]:
    """Print and return the KPI changes from the runs in ``a_dir`` to those in ``b_dir``.

    Each folder is one run (holding ``report.json``; the file itself will do) or a
    results folder of runs. Two results folders are matched by run name; a run and a
    results folder by the run's folder or scenario name; two runs are compared directly.
    """
    console = console or Console()
    a, b = load_reports(a_dir), load_reports(b_dir)
    if _is_run(a_dir) and _is_run(b_dir):
        (na, ra), (nb, rb) = next(iter(a.items())), next(iter(b.items()))
        pairs = [(na if na == nb else f"{na} -> {nb}", ra, rb)]
    elif _is_run(a_dir) or _is_run(b_dir):
        single, many = (a, b) if _is_run(a_dir) else (b, a)
        (name, report), = single.items()
        match = next((n for n in (name, report["scenario"]) if n in many), None)
        if match is None:
            raise BenchError(f"no run named {name!r} or {report['scenario']!r} among {', '.join(sorted(many))} to compare with")
        pairs = [(match, report, many[match]) if single is a else (match, many[match], report)]
    else:
        common = sorted(set(a) & set(b))
        if not common:
            raise BenchError(f"{a_dir} and {b_dir} have no run in common (runs: {', '.join(sorted(a))} / {', '.join(sorted(b))})")
        pairs = [(name, a[name], b[name]) for name in common]
    result = {}
    for name, ra, rb in pairs:
        rows = kpi_changes(ra, rb)
        table = Table(title=f"{name}: {a_dir} -> {b_dir}")
        for column in ("KPI", "A", "B", "change", "change %"):
            table.add_column(column, justify="left" if column == "KPI" else "right")
        for row in rows:
            delta = "-" if row.delta is None else f"{row.delta:+,.4g}"
            pct = "-" if row.percent is None else f"{row.percent:+.1f} %"
            table.add_row(row.key, format_value(row.a), format_value(row.b), delta, pct)
        console.print(table)
        result[name] = rows
    return result


# ---- fleet size ------------------------------------------------------------------------------


class FleetSizeStatus(Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class FleetSizeRow:
    vehicles: int
    clearance_time_h_p95: float | None
    containers_crossed: int
    containers_due: float
    meets_demand: bool
    folder: Path

    @property
    def crossed_share(self) -> float | None:
        return self.containers_crossed / self.containers_due if self.containers_due > 0 else None


@dataclass(frozen=True)
class FleetSizeResult:
    status: FleetSizeStatus
    vehicles: int | None
    """The smallest fleet meeting the demand (None when none did)."""
    rows: tuple[FleetSizeRow, ...]
    plot: Path


def fleet_size(
    scenario: Scenario,
    vehicle_counts: Sequence[int],
    run_fn: RunFn,
    out_dir: str | Path = Path("bench/results"),
    *,
    console: Console | None = None,
    keep_record: bool = False,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
    reuse: bool = False,
) -> FleetSizeResult:
    """Run ``scenario`` at each fleet size (ascending); the smallest meeting its demand wins.

    Writes ``out_dir/<scenario>_fleet/<n>_vehicles/`` per size, the curve
    ``fleet_size.png`` and ``fleet_size.json`` next to them, and prints a table.
    With ``reuse``, a size whose folder already holds a report of the same scenario,
    seed, fleet and duration is not run again: a day of ``peak_2030`` takes hours, so
    sizes can be run apart (``--vehicles 60`` here, ``--vehicles 120`` there, with the
    same code) and the curve drawn from all of them.
    """
    console = console or Console()
    counts = sorted(set(int(n) for n in vehicle_counts))
    if not counts or counts[0] < 1:
        raise BenchError(f"fleet sizes must be positive integers, got {list(vehicle_counts)}")
    root = Path(out_dir) / f"{scenario.name}_fleet"
    capacity, load = yard_load(scenario)
    if load > 1.0:
        console.print(f"[bold yellow]warning:[/] no fleet size can carry {scenario.name}: its demand is {load:.2f}x what the "
                      f"yards' cranes move in a day ({', '.join(f'{k} {v:,.0f}' for k, v in capacity.items())}); "
                      "a bigger gate is studied with the scenario's [terminal] table")
    variants = [scenario.with_vehicles(n) for n in counts]
    folders = [root / f"{n}_vehicles" for n in counts]
    reports: list[dict[str, Any] | None] = [_reusable(s, f, console) if reuse else None for s, f in zip(variants, folders)]
    todo = [k for k, r in enumerate(reports) if r is None]
    ran = _run_all([variants[k] for k in todo], [folders[k] for k in todo], run_fn, console, keep_record, stall_bound_s)
    for k, report in zip(todo, ran):
        reports[k] = report
    rows = tuple(
        FleetSizeRow(n, r["clearance_time_h_p95"], r["containers_crossed"], r["containers_due"], r["demand_met"], f)
        for n, r, f in zip(counts, reports, folders)
    )
    chosen = next((row.vehicles for row in rows if row.meets_demand), None)
    plot = draw_fleet_size_curve(
        counts, [r.clearance_time_h_p95 for r in rows], [r.crossed_share for r in rows], chosen, root / "fleet_size.png", scenario.name
    )
    status = FleetSizeStatus.FOUND if chosen is not None else FleetSizeStatus.NOT_FOUND
    doc = {
        "scenario": scenario.name, "status": status.value, "vehicles": chosen, "yard_crane_load": load,
        "criterion": f"clearance_time_h_p95 <= {CLEARANCE_TARGET_H[1]:g} and containers_crossed >= {DEMAND_SHARE:g} x containers_due",
        "runs": [{"vehicles": r.vehicles, "clearance_time_h_p95": r.clearance_time_h_p95, "containers_crossed": r.containers_crossed,
                  "containers_due": r.containers_due, "meets_demand": r.meets_demand, "folder": str(r.folder)} for r in rows],
    }
    (root / "fleet_size.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    table = Table(title=f"{scenario.name}: fleet size (clearance p95 <= {CLEARANCE_TARGET_H[1]:g} h, >= {DEMAND_SHARE:.0%} of due demand crossed)")
    for column in ("vehicles", "clearance p95 h", "crossed", "due", "meets demand"):
        table.add_column(column, justify="right")
    for r in rows:
        mark = "[green]yes[/]" if r.meets_demand else "[red]no[/]"
        table.add_row(str(r.vehicles), format_value(r.clearance_time_h_p95), format_value(r.containers_crossed), format_value(r.containers_due), mark)
    console.print(table)
    console.print(f"smallest fleet meeting the demand: {chosen}" if chosen is not None else "no fleet size tried meets the demand")
    console.print(f"wrote {plot}")
    return FleetSizeResult(status, chosen, rows, plot)



def _reusable(scenario: Scenario, folder: Path, console: Console) -> dict[str, Any] | None:
    """The report in ``folder`` if it is a run of ``scenario`` (name, seed, fleet, duration)."""
    path = folder / "report.json"
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text())
        same = (report["scenario"] == scenario.name and report["seed"] == scenario.seed
                and report["vehicles"] == scenario.vehicles and math.isclose(report["sim_duration_s"], scenario.duration_s))
    except (ValueError, KeyError, TypeError) as exc:
        console.print(f"[yellow]{path}: not a usable report ({exc}); running {scenario.vehicles} vehicles again[/]")
        return None
    if not same:
        console.print(f"[yellow]{path}: a report of another run; running {scenario.vehicles} vehicles again[/]")
        return None
    console.print(f"{scenario.vehicles} vehicles: reusing {path}")
    return report


# ---- sweep on Ray ----------------------------------------------------------------------------


def sweep(
    scenario: Scenario,
    seeds: Sequence[int],
    run_fn: RunFn,
    address: str | None = None,
    *,
    out_dir: str | Path | None = None,
    console: Console | None = None,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
) -> SweepResult:
    """Run ``scenario`` once per seed on Ray and print each KPI's mean and 95 % CI.

    See :func:`bench.sweep.run_sweep` (imported on use: Ray is an optional extra).
    """
    from bench.sweep import run_sweep

    return run_sweep(scenario, seeds, run_fn, address, out_dir=out_dir, console=console, stall_bound_s=stall_bound_s)
