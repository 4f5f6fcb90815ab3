"""The action dependency graph: delay-proof execution of a plan (Hönig, Kiesel, Tinka,
Durham & Ayanian, "Persistent and robust execution of MAPF schedules in warehouses",
IEEE RA-L 2019).

A plan fixes, for every pair of conflicting cells, which vehicle goes first. Execution
keeps that *order* and forgets the times. Vehicle ``v``'s path is a list of entries
``0 .. n``; its *step* ``k`` (``1 <= k <= n``) is the event "``v``'s reference point enters
the stretch of entry ``k``" (the midpoint of the move into it; see
:mod:`planner.types`). It holds entry ``k``'s cell from step ``k`` to step ``k + 1``.

For two vehicles occupying conflicting cells, the plan has one occupancy end before the
other starts: if ``v`` leaves entry ``k`` (its step ``k + 1``) before ``w`` enters entry
``m`` (its step ``m``), then ``w``'s step ``m`` *depends on* ``v``'s step ``k + 1``. Each
vehicle's own steps happen in order. Dependencies go from an earlier planned time to a
later one, so the graph is acyclic and a vehicle that waits for its dependencies never
waits for ever; and whoever is late, nobody enters a cell before the plan's earlier
occupant of a conflicting cell has left it.

Only the first later occupancy of each conflicting cell gets an edge; later ones follow
through that occupant's own chain (the transitive reduction of the paper, sect. IV).

A stay that never ends (a path's last entry: the vehicle stands there until it gets a new
path) orders the first later occupancy of each conflicting cell after step ``n + 1`` of
the standing vehicle, a step that never comes: nobody is released into a vehicle that
stays. A conflict-free plan has no such occupancy; a plan changed under paths planned
before it can (a path cut short ends where another was to pass later; the disruption
bench's collision), and then the later one waits instead of driving into it.

The fleet uses :func:`releasable` every tick: given how many steps each vehicle has done
(a node reached implies the step into it is done, so counting reached nodes is safe,
just slightly late), it says how far each vehicle's order may be released. A vehicle
released up to step ``r`` may drive to entry ``r``'s node and must stop there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from numba import njit

from maps.trackmap import TrackMap
from planner.types import VehiclePath, occupancy_of_paths


@dataclass(frozen=True, eq=False)
class DependencyGraph:
    """Steps and their cross-vehicle dependencies, as CSR arrays.

    Step ``k`` of vehicle ``v`` (``1 <= k <= n_steps[v]``) has global index
    ``offset[v] + k - 1``; its dependencies are the pairs
    ``(dep_vehicle[j], dep_step[j])`` for ``j`` in ``dep_indptr[g] .. dep_indptr[g + 1]``
    (at most one per other vehicle: the latest step of it that must be done).
    """

    vehicle_ids: tuple[str, ...]
    n_steps: np.ndarray  # (V,) int64
    offset: np.ndarray  # (V + 1,) int64
    dep_indptr: np.ndarray  # (S + 1,) int64
    dep_vehicle: np.ndarray  # (D,) int64
    dep_step: np.ndarray  # (D,) int64

    @property
    def n_dependencies(self) -> int:
        return int(self.dep_vehicle.shape[0])

    def dependencies(self, vehicle: int, step: int) -> list[tuple[int, int]]:
        """``(vehicle, step)`` pairs that must be done before ``vehicle``'s ``step``."""
        g = int(self.offset[vehicle]) + step - 1
        lo, hi = int(self.dep_indptr[g]), int(self.dep_indptr[g + 1])
        return list(zip(self.dep_vehicle[lo:hi].tolist(), self.dep_step[lo:hi].tolist()))


@njit(cache=True)
def _raw_edges(cell_indptr, occ_start, occ_end, occ_vehicle, occ_entry, occ_cell, conf_indptr, conf_idx, tol):
    """For every occupancy and conflicting cell, the first later occupancy there (foreign only).

    An occupancy that never ends is followed by the first foreign occupancy starting after
    it starts (see the module doc).
    """
    n_occ = occ_start.shape[0]
    cap = 4 * n_occ + 16
    src_v = np.empty(cap, np.int64)
    src_k = np.empty(cap, np.int64)
    dst_v = np.empty(cap, np.int64)
    dst_k = np.empty(cap, np.int64)
    m = 0
    for r in range(n_occ):
        e = occ_end[r]
        stays = e == math.inf
        if stays:
            e = occ_start[r]
        x = occ_cell[r]
        for j in range(conf_indptr[x], conf_indptr[x + 1]):
            y = conf_idx[j]
            lo = cell_indptr[y]
            hi = cell_indptr[y + 1]
            # binary search: first occupancy of y that starts at or after e
            while lo < hi:
                mid = (lo + hi) >> 1
                if occ_start[mid] < e - tol:
                    lo = mid + 1
                else:
                    hi = mid
            if stays:
                while lo < cell_indptr[y + 1] and occ_vehicle[lo] == occ_vehicle[r]:
                    lo += 1
            if lo == cell_indptr[y + 1]:
                continue
            if occ_vehicle[lo] == occ_vehicle[r] or occ_entry[lo] == 0:
                continue
            if m >= cap:
                cap *= 2
                a = np.empty(cap, np.int64)
                a[:m] = src_v[:m]
                src_v = a
                a = np.empty(cap, np.int64)
                a[:m] = src_k[:m]
                src_k = a
                a = np.empty(cap, np.int64)
                a[:m] = dst_v[:m]
                dst_v = a
                a = np.empty(cap, np.int64)
                a[:m] = dst_k[:m]
                dst_k = a
            src_v[m] = occ_vehicle[r]
            src_k[m] = occ_entry[r] + 1
            dst_v[m] = occ_vehicle[lo]
            dst_k[m] = occ_entry[lo]
            m += 1
    return src_v[:m], src_k[:m], dst_v[:m], dst_k[:m]


@njit(cache=True)
def _latest_per_vehicle(dst_g, src_v, src_k, n_global):
    """CSR of the dependencies: per dependent step, for each vehicle it waits on, only the
    latest step, by vehicle.

    PERF: a counting sort by dependent step, then a small insertion sort within each
    step's few edges, instead of sorting all raw edges (``python -m bench.dependencies``).
    """
    n = dst_g.shape[0]
    indptr = np.zeros(n_global + 1, np.int64)
    for e in range(n):
        indptr[dst_g[e] + 1] += 1
    for g in range(n_global):
        indptr[g + 1] += indptr[g]
    fill = indptr[:-1].copy()
    by_step = np.empty(n, np.int64)
    for e in range(n):
        by_step[fill[dst_g[e]]] = e
        fill[dst_g[e]] += 1
    out_v = np.empty(n, np.int64)
    out_k = np.empty(n, np.int64)
    dep_indptr = np.zeros(n_global + 1, np.int64)
    m = 0
    for g in range(n_global):
        lo = m
        for j in range(indptr[g], indptr[g + 1]):
            v = src_v[by_step[j]]
            k = src_k[by_step[j]]
            # insert (v, k) into out[lo:m], sorted by vehicle, one entry (the latest step) each
            i = lo
            while i < m and out_v[i] < v:
                i += 1
            if i < m and out_v[i] == v:
                if k > out_k[i]:
                    out_k[i] = k
                continue
            for q in range(m, i, -1):
                out_v[q] = out_v[q - 1]
                out_k[q] = out_k[q - 1]
            out_v[i] = v
            out_k[i] = k
            m += 1
        dep_indptr[g + 1] = m
    return dep_indptr, out_v[:m].copy(), out_k[:m].copy()


def build_dependency_graph(track_map: TrackMap, vehicle_ids: Sequence[str], paths: Sequence[VehiclePath]) -> DependencyGraph:
    """The dependency graph of a conflict-free plan (``paths`` in ``vehicle_ids`` order).

    Vehicles standing still (one-entry paths, parked vehicles given as such) have no
    steps but still order the others.
    """
    n_vehicles = len(paths)
    n_steps = np.array([p.cells.shape[0] - 1 for p in paths], dtype=np.int64)
    offset = np.zeros(n_vehicles + 1, dtype=np.int64)
    np.cumsum(n_steps, out=offset[1:])
    if n_vehicles == 0:
        empty = np.zeros(0, dtype=np.int64)
        return DependencyGraph(tuple(vehicle_ids), n_steps, offset, np.zeros(1, dtype=np.int64), empty, empty)
    # PERF: the occupancies of all paths at once, not path by path (``p.occupancy()``,
    # ``np.full`` and ``np.arange`` per path took 40% of a build at 200 vehicles in
    # ``bench.core``); ``python -m bench.dependencies`` prints the ratio of the whole build.
    lengths = n_steps + 1
    head = np.zeros(n_vehicles, dtype=np.int64)  # each path's first entry
    np.cumsum(lengths[:-1], out=head[1:])
    occ_start, occ_end = occupancy_of_paths(np.concatenate([p.arrive_s for p in paths]),
                                            np.concatenate([p.depart_s for p in paths]), head)
    occ_cell = np.concatenate([p.cells for p in paths]).astype(np.int64)
    occ_vehicle = np.repeat(np.arange(n_vehicles, dtype=np.int64), lengths)
    occ_entry = np.arange(occ_cell.shape[0], dtype=np.int64) - np.repeat(head, lengths)
    order = np.lexsort((occ_start, occ_cell))
    occ_cell = occ_cell[order]
    cell_indptr = np.zeros(track_map.n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(occ_cell, minlength=track_map.n_cells), out=cell_indptr[1:])
    src_v, src_k, dst_v, dst_k = _raw_edges(
        cell_indptr, occ_start[order], occ_end[order], occ_vehicle[order], occ_entry[order], occ_cell,
        np.asarray(track_map.conflict_indptr, dtype=np.int64), np.asarray(track_map.conflict_indices, dtype=np.int64), 1e-9,
    )
    dep_indptr, dep_vehicle, dep_step = _latest_per_vehicle(offset[dst_v] + dst_k - 1, src_v, src_k, int(offset[-1]))
    return DependencyGraph(tuple(vehicle_ids), n_steps, offset, dep_indptr, dep_vehicle, dep_step)


def plan_dependency_graph(track_map: TrackMap, vehicle_ids: Sequence[str], paths: Mapping[str, VehiclePath]) -> DependencyGraph:
    """:func:`build_dependency_graph` for a ``PlanResult.paths`` mapping."""
    return build_dependency_graph(track_map, vehicle_ids, [paths[v] for v in vehicle_ids])


@njit(cache=True)
def _releasable(offset, n_steps, dep_indptr, dep_vehicle, dep_step, done, released, out):
    for v in range(n_steps.shape[0]):
        r = max(done[v], released[v])
        while r < n_steps[v]:
            g = offset[v] + r  # global index of step r + 1
            ok = True
            for j in range(dep_indptr[g], dep_indptr[g + 1]):
                if done[dep_vehicle[j]] < dep_step[j]:
                    ok = False
                    break
            if not ok:
                break
            r += 1
        out[v] = r


def releasable(graph: DependencyGraph, done: np.ndarray, released: np.ndarray | None = None) -> np.ndarray:
    """How far each vehicle may be released.

    Parameters
    ----------
    graph : DependencyGraph
    done : (V,) int array
        Steps each vehicle has done (stretch entries; or, conservatively, nodes reached).
    released : (V,) int array, optional
        What is released already (never taken back).

    Returns
    -------
    (V,) int64
        For each vehicle the last step it may perform: every step up to it has all its
        dependencies done. Always at least ``max(done, released)``.
    """
    done = np.ascontiguousarray(done, dtype=np.int64)
    if done.shape != graph.n_steps.shape:
        raise ValueError(f"done has shape {done.shape}, the graph has {graph.n_steps.shape[0]} vehicles")
    prior = np.zeros_like(done) if released is None else np.ascontiguousarray(released, dtype=np.int64)
    out = np.empty_like(done)
    _releasable(graph.offset, graph.n_steps, graph.dep_indptr, graph.dep_vehicle, graph.dep_step, done, prior, out)
    return out
