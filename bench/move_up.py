"""The route scan of moving up: one array pass against the cell-by-cell reference.

Run: ``python -m bench.move_up [--vehicles 120] [--routes 33] [--seed 0]``. Vehicles stand
on random cells of the default map (each holds its cell for ever, as a vehicle without a
leg does); lone routes join random station pairs, as stuck vehicles' routes do. Printed:
the time of :func:`fleet.core.advance.blocking_counts` over all routes (one array pass a
route, :func:`fleet.core.planning.holders_for_ever`) against the baseline of the same
counts read cell by cell, in the same run, and their ratio; the counts are checked equal.
Also :func:`~fleet.core.advance.first_stood_on`'s time, which stops at the first cell
stood on and stays a loop.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fleet.core.advance import blocking_counts, first_stood_on, lone_route
from fleet.core.traffic import Traffic
from maps import load_track_map


def _counts_cell_by_cell(table, n_owners: int, routes: list[tuple[int, list[int]]]) -> np.ndarray:
    """The reference: who holds each route cell for ever, read one cell at a time."""
    counts = np.zeros(n_owners, dtype=np.int64)
    for own, route in routes:
        owners = set()
        for cell in route[1:]:
            n = int(table.count[cell])
            forever = table.end[cell, :n] == np.inf
            owners.update(int(o) for o in table.owner[cell, :n][forever] if o < n_owners)
        owners.discard(own)
        for o in owners:
            counts[o] += 1
    return counts


def _time_ms(fn, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=120)
    parser.add_argument("--routes", type=int, default=33)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    m = load_track_map("bac_luan_2")
    traffic = Traffic(m, unladen_speed_mps=4.0, laden_speed_mps=3.0, release_ahead_steps=4)
    rng = np.random.default_rng(args.seed)
    for k, cell in enumerate(rng.choice(m.n_cells, args.vehicles, replace=False)):
        traffic.add_vehicle(f"v{k}", int(cell), 0.0)
    stations = [int(c) for c in m.station_cell]
    routes: list[list[int]] = []
    while len(routes) < args.routes:
        a, b = rng.choice(stations, 2, replace=False)
        route = lone_route(traffic.graph, int(a), int(b), 4.0)
        if route:
            routes.append(route)
    table, active = traffic.table, traffic.table.all_active()
    owned = list(enumerate(routes))
    if not np.array_equal(blocking_counts(table, args.vehicles, owned), _counts_cell_by_cell(table, args.vehicles, owned)):
        print("the two scans disagree", file=sys.stderr)
        return 1
    base = _time_ms(lambda: _counts_cell_by_cell(table, args.vehicles, owned), args.repeats)
    fast = _time_ms(lambda: blocking_counts(table, args.vehicles, owned), args.repeats)
    first = _time_ms(lambda: [first_stood_on(table, r, active) for r in routes], args.repeats)
    print(f"{len(routes)} routes of {np.mean([len(r) for r in routes]):.0f} cells, {args.vehicles} vehicles standing: "
          f"blocking_counts cell by cell {base:.2f} ms, one array pass {fast:.2f} ms (x{base / max(fast, 1e-9):.1f} faster); "
          f"first_stood_on {first:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
