"""Building the action dependency graph: all paths at once against path by path.

Run: ``python -m bench.dependencies [--vehicles 200] [--repeats 50] [--seed 0]``. Vehicles
stand on parking, charger and handover points of the default map (as in ``bench.core``) and
get one leg each to a random station, one leg every ``--gap-s`` seconds, each planned on the
core's traffic (:class:`fleet.core.traffic.Traffic`) as the core does; the core rebuilds
the graph from these paths whenever one changes.
Printed: the time of :func:`planner.dependencies.build_dependency_graph` against the
baseline of the same graph built as it was before (occupancies path by path, ``np.add.at``,
a three-column ``np.lexsort``), in the same run, and their ratio; the graphs are checked equal.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from fleet.core.traffic import Traffic
from maps import load_track_map
from maps.trackmap import TrackMap
from planner.dependencies import DependencyGraph, _raw_edges, build_dependency_graph
from planner.types import VehiclePath


def _build_path_by_path(track_map: TrackMap, vehicle_ids: list[str], paths: list[VehiclePath]) -> DependencyGraph:
    """The baseline: the build before the PERF change of build_dependency_graph."""
    n_vehicles = len(paths)
    n_steps = np.array([p.n_steps for p in paths], dtype=np.int64)
    offset = np.zeros(n_vehicles + 1, dtype=np.int64)
    np.cumsum(n_steps, out=offset[1:])
    starts, ends, cells, vehicle, entry = [], [], [], [], []
    for v, p in enumerate(paths):
        s, e = p.occupancy()
        starts.append(s)
        ends.append(e)
        cells.append(np.asarray(p.cells, dtype=np.int64))
        vehicle.append(np.full(p.cells.shape[0], v, dtype=np.int64))
        entry.append(np.arange(p.cells.shape[0], dtype=np.int64))
    occ_cell = np.concatenate(cells)
    occ_start = np.concatenate(starts)
    order = np.lexsort((occ_start, occ_cell))
    occ_cell = occ_cell[order]
    cell_indptr = np.zeros(track_map.n_cells + 1, dtype=np.int64)
    np.add.at(cell_indptr, occ_cell + 1, 1)
    np.cumsum(cell_indptr, out=cell_indptr)
    src_v, src_k, dst_v, dst_k = _raw_edges(
        cell_indptr, occ_start[order], np.concatenate(ends)[order], np.concatenate(vehicle)[order],
        np.concatenate(entry)[order], occ_cell,
        np.asarray(track_map.conflict_indptr, dtype=np.int64), np.asarray(track_map.conflict_indices, dtype=np.int64), 1e-9,
    )
    dst_g = offset[dst_v] + dst_k - 1
    key = np.lexsort((-src_k, src_v, dst_g))
    dst_g, src_v, src_k = dst_g[key], src_v[key], src_k[key]
    first = np.ones(dst_g.shape[0], dtype=bool)
    first[1:] = (dst_g[1:] != dst_g[:-1]) | (src_v[1:] != src_v[:-1])
    dst_g, src_v, src_k = dst_g[first], src_v[first], src_k[first]
    dep_indptr = np.zeros(int(offset[-1]) + 1, dtype=np.int64)
    np.add.at(dep_indptr, dst_g + 1, 1)
    np.cumsum(dep_indptr, out=dep_indptr)
    return DependencyGraph(tuple(vehicle_ids), n_steps, offset, dep_indptr, src_v, src_k)


def _time_ms(fn, repeats: int) -> float:
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats * 1000.0


def _equal(a: DependencyGraph, b: DependencyGraph) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("n_steps", "offset", "dep_indptr", "dep_vehicle", "dep_step"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--gap-s", type=float, default=2.0, help="time between two vehicles' departures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    m = load_track_map("bac_luan_2")
    pool = [int(m.station_cell_of(s.id)) for kind in ("parking", "charger", "handover") for s in m.stations_of_kind(kind)]
    if not 0 < args.vehicles <= len(pool):
        print(f"error: --vehicles must be between 1 and {len(pool)} on {m.name}", file=sys.stderr)
        return 2
    traffic = Traffic(m)
    rng = np.random.default_rng(args.seed)
    starts = pool[: args.vehicles]
    for k, cell in enumerate(starts):
        traffic.add_vehicle(f"v{k:03d}", cell, 0.0)
    goals = sorted({int(c) for c in m.station_cell} - set(starts))
    for k, goal in enumerate(rng.choice(goals, args.vehicles)):
        traffic.plan_now(traffic.leg_request(f"v{k:03d}", int(goal), k * args.gap_s))
    ids, paths = list(traffic.ids), list(traffic.paths)
    if not _equal(build_dependency_graph(m, ids, paths), _build_path_by_path(m, ids, paths)):
        print("the two builds disagree", file=sys.stderr)
        return 1
    base = _time_ms(lambda: _build_path_by_path(m, ids, paths), args.repeats)
    fast = _time_ms(lambda: build_dependency_graph(m, ids, paths), args.repeats)
    moving = sum(p.n_steps > 0 for p in paths)
    print(f"{args.vehicles} vehicles ({moving} with a leg, {sum(p.n_steps for p in paths)} steps): dependency graph "
          f"path by path {base:.2f} ms, all paths at once {fast:.2f} ms (x{base / max(fast, 1e-9):.1f} faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
