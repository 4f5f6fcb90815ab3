"""Benchmark: the Numba collision checker against a shapely checker on the same trajectories.

Workload (``--workload``, default ``traffic``): random lane-following trajectories on a
track map (default ``bac_luan_2``), rows every 0.5 s for the simulated duration, see
:func:`traffic_trajectories`; ``free`` is the stress case of independent walkers whose
contacts grow as N^2. Both checkers sample at ``--step-s``.

The baseline is a fair vectorised shapely 2 checker: per sample it interpolates with
NumPy, builds all footprints at once (``shapely.polygons``), and finds intersecting pairs
with an STRtree query (N log N, not N^2). Both produce contact episodes and the run checks
that they agree. When ``--baseline-s`` is shorter than the duration the baseline runs on
that prefix and its time is scaled up per sample (printed as such).

Run: ``python -m bench.collision`` (options: ``--help``). Results go to
``bench/results/collision.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from numba import njit

RESULTS = Path(__file__).resolve().parent / "results"


# ---- workloads -------------------------------------------------------------------------------


def traffic_trajectories(track_map, n_vehicles: int, duration_s: float, rng: np.random.Generator, row_step_s: float = 0.5, wait_limit_s: float = 10.0) -> list[np.ndarray]:
    """Random lane-following traffic that mostly respects the map's conflict table.

    Vehicles drive cell to cell along the cell graph at their own fraction (uniform
    0.5-1.0) of each move's speed limit (capped at the unladen top speed), choosing a random
    onward move at each cell (not back, not into a station spur, while there is another
    way). A vehicle enters a cell only when no other vehicle holds a cell conflicting with
    it and some onward move from there is free too ("don't block the box"), and holds both
    cells while moving between them. Local rules like this still deadlock
    (two vehicles at a junction, each in the other's way), which a real plan avoids: after
    each ``wait_limit_s`` blocked a vehicle picks a move again (backing out included), and a
    vehicle in a cycle of vehicles waiting for each other for twice that backs up one cell
    if that cell is free, or else drives on regardless. So the traffic flows and has some
    genuine contacts, like a slightly broken plan. Footprints turn along each move (heading
    modulo pi: these vehicles drive both ways).
    """
    m = track_map
    top_speed = m.vehicle.max_speed_unladen_mps
    spur_lane = _spur_lanes(m)
    cell_in_spur = np.where(m.cell_lane >= 0, spur_lane[np.maximum(m.cell_lane, 0)], False)
    start = _start_cells(m, n_vehicles, rng, cell_in_spur)
    factor = rng.uniform(0.5, 1.0, n_vehicles)
    n_rows = int(math.floor(duration_s / row_step_s + 1e-9)) + 1
    out = np.empty((n_vehicles, n_rows, 4))
    _simulate(
        m.cell_adj_indptr, m.cell_adj_to, m.cell_adj_length_m, np.minimum(m.cell_adj_speed_limit_mps, top_speed),
        spur_lane[m.cell_adj_lane].astype(np.bool_), m.conflict_indptr, m.conflict_indices, m.cell_xy,
        m.cell_heading_rad, start, factor, row_step_s, wait_limit_s, float(m.lane_speed_limit_mps.min()), rng, out,
    )
    return [np.ascontiguousarray(out[i]) for i in range(n_vehicles)]


def _spur_lanes(m) -> np.ndarray:
    """Lanes ending in a cul-de-sac: an end node whose every way out is back along the lane."""
    spur = np.zeros(m.n_lanes, dtype=bool)
    for node in range(m.n_nodes):
        lanes_out = {int(m.node_adj_lane[e]) for e in range(m.node_adj_indptr[node], m.node_adj_indptr[node + 1])}
        if len(lanes_out) == 1:
            spur[lanes_out.pop()] = True
    return spur


def _start_cells(m, n_vehicles: int, rng: np.random.Generator, excluded: np.ndarray) -> np.ndarray:
    taken = np.zeros(m.n_cells, dtype=bool)
    start = []
    for cell in rng.permutation(m.n_cells):
        if excluded[cell] or taken[m.cell_conflicts(int(cell))].any():
            continue
        start.append(int(cell))
        taken[cell] = True
        if len(start) == n_vehicles:
            return np.asarray(start, dtype=np.int64)
    raise SystemExit(f"map {m.name!r} has room for only {len(start)} vehicles with non-conflicting starts")


@njit(cache=True)
def _choose(cell, prev, indptr, adj_to, into_spur, rng, any_move):
    """A random move out of ``cell``: onward and not into a spur if possible (or any)."""
    lo = indptr[cell]
    hi = indptr[cell + 1]
    if hi == lo:
        return -1
    for level in range(3):
        if any_move and level < 2:
            continue
        count = 0
        for e in range(lo, hi):
            if level == 2 or (adj_to[e] != prev and (level == 1 or not into_spur[e])):
                count += 1
        if count == 0:
            continue
        pick = rng.integers(0, count)
        for e in range(lo, hi):
            if level == 2 or (adj_to[e] != prev and (level == 1 or not into_spur[e])):
                if pick == 0:
                    return e
                pick -= 1
    return -1


@njit(cache=True)
def _blocker(cell, own, conf_indptr, conf_idx, occupied, holder):
    """A vehicle holding a cell that conflicts with ``cell`` (other than ``own``), else -1."""
    for k in range(conf_indptr[cell], conf_indptr[cell + 1]):
        d = conf_idx[k]
        if occupied[d] > 0 and d != own:
            return holder[d]
    return -1


@njit(cache=True)
def _in_wait_cycle(i, blocked_by):
    """Whether following "who blocks whom" from vehicle ``i`` comes back to ``i``."""
    j = blocked_by[i]
    for _ in range(blocked_by.shape[0]):
        if j < 0:
            return False
        if j == i:
            return True
        j = blocked_by[j]
    return False


@njit(cache=True)
def _simulate(indptr, adj_to, adj_len, adj_speed, into_spur, conf_indptr, conf_idx, cell_xy, cell_heading, start, factor, dt, wait_limit_s, backing_speed_mps, rng, out):
    n = start.shape[0]
    occupied = np.zeros(cell_xy.shape[0], dtype=np.int64)
    cur = start.copy()
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    want = np.full(n, -1, dtype=np.int64)
    progress = np.zeros(n)
    length = np.ones(n)
    speed = np.ones(n)
    waited = np.zeros(n)
    chosen_at = np.zeros(n)  # time waited when the wanted move was last chosen
    heading = cell_heading[start].copy()
    holder = np.full(cell_xy.shape[0], -1, dtype=np.int64)
    blocked_by = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        occupied[cur[i]] += 1
        holder[cur[i]] = i
    for r in range(out.shape[1]):
        for i in range(n):
            out[i, r, 0] = r * dt
            if nxt[i] < 0:
                out[i, r, 1] = cell_xy[cur[i], 0]
                out[i, r, 2] = cell_xy[cur[i], 1]
            else:
                f = progress[i] / length[i]
                out[i, r, 1] = cell_xy[cur[i], 0] + f * (cell_xy[nxt[i], 0] - cell_xy[cur[i], 0])
                out[i, r, 2] = cell_xy[cur[i], 1] + f * (cell_xy[nxt[i], 1] - cell_xy[cur[i], 1])
            out[i, r, 3] = heading[i]
        for i in range(n):
            remaining = dt
            while remaining > 0.0:
                if nxt[i] < 0:
                    if want[i] < 0:
                        want[i] = _choose(cur[i], prev[i], indptr, adj_to, into_spur, rng, False)
                    elif waited[i] - chosen_at[i] > wait_limit_s:
                        want[i] = _choose(cur[i], prev[i], indptr, adj_to, into_spur, rng, True)
                        chosen_at[i] = waited[i]
                    e = want[i]
                    if e < 0:
                        break
                    target = adj_to[e]
                    blocked_by[i] = _blocker(target, cur[i], conf_indptr, conf_idx, occupied, holder)
                    if blocked_by[i] < 0:
                        # don't block the box: enter only if some onward move from there is free
                        exit_blocker = -1
                        for e2 in range(indptr[target], indptr[target + 1]):
                            if adj_to[e2] == cur[i]:
                                continue
                            exit_blocker = _blocker(adj_to[e2], cur[i], conf_indptr, conf_idx, occupied, holder)
                            if exit_blocker < 0:
                                break
                        blocked_by[i] = exit_blocker
                    move_length = adj_len[e]
                    move_speed = adj_speed[e]
                    if blocked_by[i] >= 0:
                        if not (waited[i] > 2.0 * wait_limit_s and _in_wait_cycle(i, blocked_by)):
                            waited[i] += remaining
                            break
                        # deadlocked: back up to the cell behind if it is free, else drive on
                        if prev[i] >= 0 and _blocker(prev[i], cur[i], conf_indptr, conf_idx, occupied, holder) < 0:
                            target = prev[i]
                            move_length = math.hypot(cell_xy[target, 0] - cell_xy[cur[i], 0], cell_xy[target, 1] - cell_xy[cur[i], 1])
                            move_speed = backing_speed_mps
                    blocked_by[i] = -1
                    occupied[target] += 1
                    holder[target] = i
                    nxt[i] = target
                    progress[i] = 0.0
                    length[i] = max(move_length, 1e-6)
                    speed[i] = factor[i] * move_speed
                    chord = math.atan2(cell_xy[target, 1] - cell_xy[cur[i], 1], cell_xy[target, 0] - cell_xy[cur[i], 0])
                    # the footprint is symmetric: turn it by at most 90 degrees
                    turn = (chord - heading[i] + 0.5 * math.pi) % math.pi - 0.5 * math.pi
                    heading[i] = heading[i] + turn
                step_s = min(remaining, (length[i] - progress[i]) / speed[i])
                progress[i] += speed[i] * step_s
                remaining -= step_s
                if progress[i] >= length[i] - 1e-9:
                    occupied[cur[i]] -= 1
                    if holder[cur[i]] == i:
                        holder[cur[i]] = -1
                    prev[i] = cur[i]
                    cur[i] = nxt[i]
                    nxt[i] = -1
                    want[i] = -1
                    waited[i] = 0.0
                    chosen_at[i] = 0.0


def free_trajectories(track_map, n_vehicles: int, duration_s: float, rng: np.random.Generator, row_step_s: float = 0.5) -> list[np.ndarray]:
    """Independent random walkers (a stress case: they ignore each other, so contacts grow as N^2).

    Each starts at a random point of the lane network and drives lane after lane at its
    own fraction (uniform 0.5-1.0) of the lane speed limit, picking a random onward lane at
    every node (not into a station spur while there is another way).
    """
    top_speed = track_map.vehicle.max_speed_unladen_mps
    weights = track_map.lane_length_m / track_map.lane_length_m.sum()
    times = np.arange(0.0, duration_s + 1e-9, row_step_s)
    indptr, adj_lane = track_map.node_adj_indptr, track_map.node_adj_lane
    into_spur = _spur_lanes(track_map)[adj_lane]
    out = []
    for _ in range(n_vehicles):
        factor = rng.uniform(0.5, 1.0)
        lane = int(rng.choice(track_map.n_lanes, p=weights))
        forward = bool(not track_map.lane_two_way[lane] or rng.random() < 0.5)
        points = [_lane_points(track_map, lane, forward)]
        speeds = [factor * min(float(track_map.lane_speed_limit_mps[lane]), top_speed)]
        s_start = rng.random() * float(track_map.lane_length_m[lane])
        length_s = [float(track_map.lane_length_m[lane])]
        node = int(track_map.lane_to[lane] if forward else track_map.lane_from[lane])
        elapsed = (length_s[0] - s_start) / speeds[0]
        while elapsed < duration_s:
            lo, hi = indptr[node], indptr[node + 1]
            onward = [e for e in range(lo, hi) if int(adj_lane[e]) != lane]
            choices = [e for e in onward if not into_spur[e]] or onward or list(range(lo, hi))
            if not choices:  # dead end: hold the last pose
                break
            e = choices[int(rng.integers(len(choices)))]
            lane = int(adj_lane[e])
            forward = bool(track_map.node_adj_forward[e])
            node = int(track_map.node_adj_to[e])
            points.append(_lane_points(track_map, lane, forward)[1:])
            speeds.append(factor * min(float(track_map.lane_speed_limit_mps[lane]), top_speed))
            length_s.append(float(track_map.lane_length_m[lane]))
            elapsed += length_s[-1] / speeds[-1]
        path = np.concatenate(points)
        seg = np.diff(path, axis=0)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
        # arc length as a function of time: piecewise linear, one piece per lane
        lane_end_arc = np.cumsum(length_s) * (arc[-1] / sum(length_s))
        lane_start_arc = np.concatenate([[0.0], lane_end_arc[:-1]])
        bp_arc = np.concatenate([[s_start], lane_end_arc])
        bp_time = np.concatenate([[0.0], np.cumsum((lane_end_arc - np.maximum(lane_start_arc, s_start)).clip(0.0) / np.asarray(speeds))])
        s = np.interp(times, bp_time, bp_arc)
        k = np.clip(np.searchsorted(arc, s, side="right") - 1, 0, seg.shape[0] - 1)
        out.append(np.column_stack([times, np.interp(s, arc, path[:, 0]), np.interp(s, arc, path[:, 1]), np.arctan2(seg[k, 1], seg[k, 0])]))
    return out


def _lane_points(track_map, lane: int, forward: bool) -> np.ndarray:
    g = np.asarray(track_map.lane_geometry[lane], dtype=np.float64)
    return g if forward else g[::-1]


WORKLOADS = {"traffic": traffic_trajectories, "free": free_trajectories}


# ---- the shapely baseline --------------------------------------------------------------------


def shapely_contact_episodes(trajectories: Sequence[np.ndarray], length_m: float, width_m: float, step_s: float, margin_m: float, t_end_s: float, chunk: int = 600) -> set[tuple[int, int, int]]:
    """Contact episodes ``(a, b, first_step)`` by shapely, sampled like the Numba checker."""
    import shapely

    from planner.kernels.sampling import sample_times

    t0 = min(float(t[0, 0]) for t in trajectories)
    t1 = min(max(float(t[-1, 0]) for t in trajectories), t_end_s)
    times = sample_times(t0, t1, step_s)
    # the checker's heading convention: each row-to-row turn folded into [-pi, pi)
    unwrapped = [t[0, 3] + np.concatenate([[0.0], np.cumsum((np.diff(t[:, 3]) + np.pi) % (2 * np.pi) - np.pi)]) for t in trajectories]
    hl = length_m / 2 + margin_m
    hw = width_m / 2 + margin_m
    local = np.array([[hl, hw], [-hl, hw], [-hl, -hw], [hl, -hw]])
    last_step: dict[tuple[int, int], int] = {}
    episodes: set[tuple[int, int, int]] = set()
    for c0 in range(0, times.shape[0], chunk):
        block = times[c0 : c0 + chunk]
        x = np.stack([np.interp(block, t[:, 0], t[:, 1]) for t in trajectories])
        y = np.stack([np.interp(block, t[:, 0], t[:, 2]) for t in trajectories])
        h = np.stack([np.interp(block, t[:, 0], u) for t, u in zip(trajectories, unwrapped)])
        cos, sin = np.cos(h), np.sin(h)
        for k in range(block.shape[0]):
            corners = np.empty((x.shape[0], 4, 2))
            corners[:, :, 0] = x[:, k, None] + local[:, 0] * cos[:, k, None] - local[:, 1] * sin[:, k, None]
            corners[:, :, 1] = y[:, k, None] + local[:, 0] * sin[:, k, None] + local[:, 1] * cos[:, k, None]
            polygons = shapely.polygons(corners)
            left, right = shapely.STRtree(polygons).query(polygons, predicate="intersects")
            step = c0 + k
            for a, b in zip(left.tolist(), right.tolist()):
                if a >= b:
                    continue
                if last_step.get((a, b)) != step - 1:
                    episodes.add((a, b, step))
                last_step[(a, b)] = step
    return episodes


# ---- the run ---------------------------------------------------------------------------------


def moving_share(trajectories: Sequence[np.ndarray]) -> float:
    """Share of row-to-row steps in which a vehicle moves (the rest it stands still)."""
    steps = np.concatenate([np.any(np.diff(t[:, 1:], axis=0) != 0.0, axis=1) for t in trajectories])
    return float(steps.mean()) if steps.size else 0.0


def run_size(track_map, workload: str, n: int, args: argparse.Namespace) -> dict:
    """Both checkers on one fleet; the row of the results table."""
    from planner.collision import find_collisions
    from planner.kernels.sampling import sample_times

    length_m, width_m = track_map.vehicle.length_m, track_map.vehicle.width_m
    trajectories = WORKLOADS[workload](track_map, n, args.duration_s, np.random.default_rng(args.seed + n))
    numba_s = math.inf
    for _ in range(args.repeats):  # best of a few: the machine is shared
        t0 = time.perf_counter()
        found = find_collisions(trajectories, (length_m, width_m), args.step_s, args.margin_m)
        numba_s = min(numba_s, time.perf_counter() - t0)
    times = sample_times(0.0, args.duration_s, args.step_s)
    baseline_end = min(args.baseline_s, args.duration_s)
    t0 = time.perf_counter()
    reference = shapely_contact_episodes(trajectories, length_m, width_m, args.step_s, args.margin_m, baseline_end)
    baseline_wall = time.perf_counter() - t0
    n_baseline = sample_times(0.0, baseline_end, args.step_s).shape[0]
    shapely_s = baseline_wall * times.shape[0] / n_baseline
    step_of = {float(t): k for k, t in enumerate(times)}
    # episodes that begin inside the baseline's window must be the same in both
    mine = {(c.vehicle_a, c.vehicle_b, step_of[c.time_s]) for c in found if step_of[c.time_s] < n_baseline}
    return {
        "workload": workload,
        "vehicles": n,
        "moving_share": round(moving_share(trajectories), 3),
        "numba_s": round(numba_s, 4),
        "ns_per_vehicle_sample": round(1e9 * numba_s / (n * times.shape[0]), 2),
        "shapely_s": round(shapely_s, 3),
        "shapely_extrapolated": n_baseline < times.shape[0],
        "speed_up": round(shapely_s / numba_s, 1),
        "episodes": len(found),
        "agree": mine == reference,
        "mismatches": len(mine ^ reference),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collision", description=__doc__.splitlines()[0])
    parser.add_argument("--map", default="bac_luan_2", help="track map name or GeoJSON file (default bac_luan_2)")
    parser.add_argument("--vehicles", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--duration-s", type=float, default=3600.0)
    parser.add_argument("--step-s", type=float, default=0.1)
    parser.add_argument("--margin-m", type=float, default=0.0, help="safety margin on every side of every footprint")
    parser.add_argument("--baseline-s", type=float, default=3600.0, help="simulated seconds the shapely baseline runs (scaled up if shorter)")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), nargs="+", default=["traffic"], help="traffic: lane-following vehicles that respect the conflict table (default); free: independent walkers (stress, contacts ~ N^2)")
    parser.add_argument("--repeats", type=int, default=3, help="Numba runs per fleet; the best counts")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from maps import load_track_map
    from planner.collision import warm_up

    track_map = load_track_map(args.map)
    t0 = time.perf_counter()
    warm_up()
    warm_s = time.perf_counter() - t0
    print(f"map {track_map.name}: {track_map.n_lanes} lanes, {track_map.lane_km():.1f} lane-km; footprint {track_map.vehicle.length_m} x {track_map.vehicle.width_m} m, margin {args.margin_m} m")
    print(f"kernel warm-up (cached compile or load) {warm_s:.2f} s; {args.duration_s:.0f} s simulated at {args.step_s} s steps")
    rows, growth = [], []
    for workload in args.workload:
        print(f"workload {workload}:")
        print(f"{'N':>5} {'moving':>7} {'numba_s':>9} {'ns/veh-sample':>14} {'shapely_s':>10} {'speed-up':>9} {'episodes':>9} {'agree':>6}")
        runs = []
        for n in args.vehicles:
            row = run_size(track_map, workload, n, args)
            runs.append(row)
            note = "*" if row["shapely_extrapolated"] else " "
            print(f"{n:>5} {row['moving_share']:>7.0%} {row['numba_s']:>9.3f} {row['ns_per_vehicle_sample']:>14.1f} {row['shapely_s']:>9.2f}{note} {row['speed_up']:>9.1f} {row['episodes']:>9} {str(row['agree']):>6}")
        if any(r["shapely_extrapolated"] for r in runs):
            print(f"  * shapely ran on the first {args.baseline_s:.0f} s and was scaled to {args.duration_s:.0f} s per sample")
        for a, b in zip(runs, runs[1:]):
            exponent = math.log(b["numba_s"] / a["numba_s"]) / math.log(b["vehicles"] / a["vehicles"])
            growth.append({"workload": workload, "from": a["vehicles"], "to": b["vehicles"], "time_ratio": round(b["numba_s"] / a["numba_s"], 2), "exponent": round(exponent, 2)})
            print(f"  N {a['vehicles']} -> {b['vehicles']}: numba time x{b['numba_s'] / a['numba_s']:.2f} (time ~ N^{exponent:.2f})")
        if len(runs) >= 2:
            slope = float(np.polyfit(np.log([r["vehicles"] for r in runs]), np.log([r["numba_s"] for r in runs]), 1)[0])
            print(f"  fitted growth over all N: time ~ N^{slope:.2f} (1.0 = linear, 2.0 = quadratic)")
        rows.extend(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "collision.json"
    out.write_text(json.dumps({"map": track_map.name, "args": vars(args), "warm_up_s": round(warm_s, 3), "runs": rows, "growth": growth}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
