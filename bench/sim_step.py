"""Simulator step costs: what stepping virtual IGVs and the terminal costs, per call.

    python -m bench.sim_step [--vehicles 50 100 200] [--sim-s 300] [--dt 0.1] [--state-interval-s 1.0]

On the default map, each vehicle gets one long released order (its start station to a
Dongxing handover station, over the bridge) and the fleet is stepped in lockstep for
``--sim-s`` simulated seconds, a ``state`` built whenever one is due (every
``--state-interval-s`` while driving, and on every node passed). Printed per fleet size:

* microseconds per :meth:`VirtualIGV.step` (all vehicles, driving or stopped) and per
  :meth:`VirtualIGV.state`;
* the baseline, measured in the same run: a bare :class:`~sim.kinematics.Mover` stepping
  the same routes (kinematics only), and the ratio full step / bare kinematics;
* simulated seconds per wall second of the vehicles alone (no core, no wire): the
  ceiling the lockstep harness can reach, to compare with the 50x target for 100 IGVs.

Then the terminal: a day of default demand (3,500 containers) with a scripted fleet that
picks every container on arrival, and its events per wall second.

Results also go to ``bench/results/sim_step.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from fleet.messages import Edge, Node, NodePosition, Order
from maps import load_track_map
from maps.trackmap import TrackMap
from sim.demand import Demand
from sim.kinematics import Mover
from sim.service import FixedService, ServiceRequest
from sim.spawn import build_fleet
from sim.terminal import Terminal
from sim.vehicle import VehicleConfig, VirtualIGV

RESULTS = Path("bench/results/sim_step.json")


def cell_routes(tm: TrackMap, starts: list[int], goals: list[int]) -> list[list[int]]:
    """Shortest cell paths by length, one per (start, goal)."""
    n = tm.n_cells
    rows = np.repeat(np.arange(n), np.diff(tm.cell_adj_indptr))
    graph = csr_matrix((np.maximum(tm.cell_adj_length_m, 1e-9), (rows, tm.cell_adj_to)), shape=(n, n))
    _, pred = dijkstra(graph, indices=starts, return_predecessors=True)
    routes = []
    for k, goal in enumerate(goals):
        path = [goal]
        while path[-1] != starts[k]:
            prev = int(pred[k, path[-1]])
            if prev < 0:
                raise RuntimeError(f"no route from cell {starts[k]} to {goal}")
            path.append(prev)
        routes.append(path[::-1])
    return routes


def order_along(tm: TrackMap, cells: list[int], order_id: str) -> Order:
    limits = {}
    for a, b in zip(cells, cells[1:]):
        row = range(int(tm.cell_adj_indptr[a]), int(tm.cell_adj_indptr[a + 1]))
        limits[(a, b)] = next(float(tm.cell_adj_speed_limit_mps[i]) for i in row if int(tm.cell_adj_to[i]) == b)
    nodes = tuple(Node(node_id=f"c{c}", sequence_id=2 * k, released=True,
                       node_position=NodePosition(x=float(tm.cell_xy[c, 0]), y=float(tm.cell_xy[c, 1]), map_id=tm.name))
                  for k, c in enumerate(cells))
    edges = tuple(Edge(edge_id=f"e{a}-{b}", sequence_id=2 * k + 1, released=True, start_node_id=f"c{a}",
                       end_node_id=f"c{b}", max_speed=limits[(a, b)]) for k, (a, b) in enumerate(zip(cells, cells[1:])))
    return Order(order_id=order_id, order_update_id=0, nodes=nodes, edges=edges)


def fleet_with_orders(tm: TrackMap, count: int, interval_s: float) -> tuple[list[VirtualIGV], list[list[int]]]:
    template = VehicleConfig(serial="igv", map_id=tm.name, state_interval_driving_s=interval_s)
    fleet = build_fleet(tm, count, seed=1, service=FixedService(), template=template,
                        start_kinds=("parking", "charger", "handover"))
    handover = [int(tm.station_cell[tm.station_index[s.id]]) for s in tm.stations_of_kind("handover")]
    rng = np.random.default_rng(2)
    starts = [int(v.last_node_id[1:]) for v in fleet]
    goals = [handover[int(rng.integers(len(handover)))] for _ in fleet]
    goals = [g if g != s else handover[0] if s != handover[0] else handover[1] for s, g in zip(starts, goals)]
    routes = cell_routes(tm, starts, goals)
    for v, cells in zip(fleet, routes):
        v.handle(order_along(tm, cells, f"{v.serial}-o1"), 0.0)
    return fleet, routes


def bench_fleet(tm: TrackMap, count: int, sim_s: float, dt: float, interval_s: float) -> dict[str, Any]:
    fleet, routes = fleet_with_orders(tm, count, interval_s)
    steps = int(round(sim_s / dt))
    step_wall = state_wall = 0.0
    states = 0
    perf = time.perf_counter
    for k in range(1, steps + 1):
        now = k * dt
        started = perf()
        for v in fleet:
            v.step(now, dt)
        step_wall += perf() - started
        started = perf()
        for v in fleet:
            if v.state_due(now):
                v.state(now)
                states += 1
        state_wall += perf() - started
    driving_left = sum(1 for v in fleet if v.has_order_work)
    # Baseline: the same routes, kinematics only.
    movers = []
    for v, cells in zip(fleet_with_orders(tm, count, interval_s)[0], routes):
        m = Mover(*v.pose, v.config.motion)
        pts = [tuple(tm.cell_xy[c]) for c in cells]
        lims = [float(e.max_speed or 8.3) for e in order_along(tm, cells, "x").edges]
        m.start_route(pts, lims)
        m.set_stop(len(pts) - 1)
        movers.append(m)
    started = perf()
    for _ in range(steps):
        for m in movers:
            m.step(dt)
    base_wall = perf() - started
    n_steps = steps * count
    return {
        "vehicles": count, "sim_s": sim_s, "dt_s": dt, "state_interval_s": interval_s,
        "still_driving_at_end": driving_left,
        "step_us": step_wall / n_steps * 1e6, "state_us": state_wall / max(states, 1) * 1e6, "states": states,
        "kinematics_only_step_us": base_wall / n_steps * 1e6,
        "step_over_kinematics": step_wall / base_wall if base_wall else float("nan"),
        "vehicles_sim_s_per_wall_s": sim_s / (step_wall + state_wall),
    }


def bench_terminal(tm: TrackMap) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    terminal = Terminal(tm, Demand(seed=3), sent.append, seed=3)
    served = 0
    started = time.perf_counter()
    for minute in range(1, 24 * 60 + 1):
        now = minute * 60.0
        terminal.advance(now)
        for event in sent[served:]:
            if event["cmd"] == "container_arrival":
                terminal.service(ServiceRequest("igv-001", "pick", f"p{served}", event["container"], event["station"],
                                                None, 0.0, 0.0, now))
        served = len(sent)
    wall = time.perf_counter() - started
    return {"containers": len(terminal.boxes), "events": len(sent), "wall_s": wall,
            "events_per_wall_s": len(sent) / wall, "crane_moves": terminal.stats()["crane_moves"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--sim-s", type=float, default=300.0)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--state-interval-s", type=float, default=1.0)
    args = parser.parse_args(argv)
    tm = load_track_map("bac_luan_2")
    results: dict[str, Any] = {"fleets": [], "terminal": None}
    print(f"{'IGVs':>5} {'step us':>8} {'kinematics us':>14} {'ratio':>6} {'state us':>9} {'states':>8} {'sim s / wall s':>15}")
    for count in args.vehicles:
        r = bench_fleet(tm, count, args.sim_s, args.dt, args.state_interval_s)
        results["fleets"].append(r)
        print(f"{count:>5} {r['step_us']:>8.2f} {r['kinematics_only_step_us']:>14.2f} {r['step_over_kinematics']:>6.2f} "
              f"{r['state_us']:>9.2f} {r['states']:>8} {r['vehicles_sim_s_per_wall_s']:>15.1f}")
    t = bench_terminal(tm)
    results["terminal"] = t
    print(f"terminal: one day, {t['containers']} containers, {t['events']} feed events, {t['crane_moves']} crane moves "
          f"in {t['wall_s']:.2f} s wall ({t['events_per_wall_s']:.0f} events/s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
