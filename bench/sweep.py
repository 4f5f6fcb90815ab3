"""Seed sweeps on Ray: scenario x seed jobs on a local Ray instance or a cluster.

Each job runs the injected run function on a Ray worker and sends back only its report
(records stay on the worker). The driver gathers the reports under a progress bar and
prints, per KPI, the mean, the sample standard deviation and the 95 % confidence interval
of the mean (Student t, ``scipy.stats.t.interval``). Ray is the optional extra ``ray``;
it is imported only when a sweep runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.deadlock import DEFAULT_STALL_BOUND_S
from bench.harness import EXTRA_KPIS, BenchError, RunFn, format_value, report_of
from bench.kpi import REPORT_KEYS, is_number
from bench.scenario import Scenario
from maps.errors import IgvError

CONFIDENCE = 0.95
CODE_PACKAGES = ("maps", "planner", "fleet", "sim", "bench")
"""Packages shipped to a remote Ray cluster with each sweep."""


@dataclass(frozen=True)
class KpiStats:
    key: str
    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    """The 95 % Student t confidence interval of the mean (None with fewer than 2 runs)."""


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    seeds: tuple[int, ...]
    reports: tuple[dict[str, Any], ...]
    """One per seed, in the order of ``seeds``."""
    stats: tuple[KpiStats, ...]


def kpi_stats(reports: Sequence[dict[str, Any]], confidence: float = CONFIDENCE) -> tuple[KpiStats, ...]:
    """Mean, sample standard deviation and t-interval of each numeric KPI over ``reports``."""
    import numpy as np
    from scipy import stats

    out = []
    for key in (*REPORT_KEYS, *EXTRA_KPIS):
        values = np.array([float(r[key]) for r in reports if is_number(r.get(key))])
        if key in ("seed", "scenario") or values.size == 0:
            continue
        mean = float(values.mean())
        if values.size < 2:
            out.append(KpiStats(key, 1, mean, None, None, None))
            continue
        std = float(values.std(ddof=1))
        sem = std / math.sqrt(values.size)
        low, high = (mean, mean) if sem == 0.0 else (float(x) for x in stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem))
        out.append(KpiStats(key, int(values.size), mean, std, low, high))
    return tuple(out)


def _ignore_progress(done_s: float, total_s: float) -> None:
    """Sweep jobs report no progress; the driver counts finished jobs instead."""


def _report_job(scenario: Scenario, run_fn: RunFn, stall_bound_s: float) -> dict[str, Any]:
    """One sweep job, run on a Ray worker: the report only (records stay on the worker)."""
    return report_of(run_fn(scenario, _ignore_progress), scenario, stall_bound_s)


def run_sweep(
    scenario: Scenario,
    seeds: Sequence[int],
    run_fn: RunFn,
    address: str | None = None,
    *,
    out_dir: str | Path | None = None,
    console: Console | None = None,
    stall_bound_s: float = DEFAULT_STALL_BOUND_S,
) -> SweepResult:
    """Run ``scenario`` once per seed as Ray tasks and print each KPI's mean and 95 % CI.

    Without ``address`` a new local Ray instance is started (and stopped afterwards); with one
    (``ray://host:10001``, ``host:6379`` or ``auto``) the jobs go to that cluster and this
    project's packages (:data:`CODE_PACKAGES`) are shipped with them (Ray runtime
    environment ``py_modules``); its third-party dependencies must be installed there. A
    Ray instance already initialised by the caller is used as it is. Writes
    ``out_dir/<scenario>_sweep.json`` when ``out_dir`` is given.
    """
    console = console or Console()
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise BenchError("a sweep needs at least one seed")
    try:
        import ray
    except ImportError:
        raise BenchError("Ray is not installed: pip install 'igv-fleet[ray]' (or 'ray[default]')") from None
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, address)
    try:
        job = ray.remote(_report_job)
        refs = {job.remote(scenario.with_seed(s), run_fn, stall_bound_s): s for s in seeds}
        by_seed: dict[int, dict[str, Any]] = {}
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(f"{scenario.name} x {len(seeds)} seeds", total=len(seeds))
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    by_seed[refs[ref]] = _get(ray, ref, scenario.name, refs[ref])
                    bar.advance(task)
    finally:
        if started_here:
            ray.shutdown()
    reports = tuple(by_seed[s] for s in seeds)
    result = SweepResult(scenario.name, seeds, reports, kpi_stats(reports))
    console.print(sweep_table(result))
    if out_dir is not None:
        path = Path(out_dir) / f"{scenario.name}_sweep.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"scenario": scenario.name, "seeds": list(seeds), "confidence": CONFIDENCE,
               "stats": [asdict(s) for s in result.stats], "reports": list(reports)}
        path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        console.print(f"wrote {path}")
    return result


def _init_ray(ray: Any, address: str | None) -> None:
    if address is None:
        # "local": a fresh instance even when /tmp/ray remembers an older cluster, which
        # plain ray.init() would try to join (and hang on if it is gone).
        ray.init(address="local", include_dashboard=False)
        return
    import importlib

    modules = [importlib.import_module(name) for name in CODE_PACKAGES]
    try:
        ray.init(address=address, runtime_env={"py_modules": modules, "excludes": ["results/", "__pycache__/", "*.nbi", "*.nbc"]})
    except ConnectionError as exc:
        raise BenchError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


def _get(ray: Any, ref: Any, scenario: str, seed: int) -> dict[str, Any]:
    """A job's report; a job that failed on bad input becomes one line naming the seed."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, IgvError):
            raise BenchError(f"sweep of {scenario!r}, seed {seed}: {exc.cause}") from None
        raise


def sweep_table(result: SweepResult) -> Table:
    table = Table(title=f"{result.scenario}: {len(result.seeds)} seeds ({result.seeds[0]}..{result.seeds[-1]}), mean and 95 % confidence interval")
    for column in ("KPI", "mean", "95 % CI low", "95 % CI high", "std", "n"):
        table.add_column(column, justify="left" if column == "KPI" else "right")
    for s in result.stats:
        table.add_row(s.key, format_value(s.mean), format_value(s.ci_low), format_value(s.ci_high), format_value(s.std), str(s.n))
    return table
