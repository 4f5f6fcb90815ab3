"""Helpers for the simulator tests: orders along straight test tracks and along the
default map's cell graph, a recording station service, and a driver that steps one
vehicle in lockstep and records its trace."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from fleet.messages import Action, ActionParameter, BlockingType, Edge, InstantActions, Node, NodePosition, Order
from sim.service import ServiceOutcome, ServiceRequest
from sim.vehicle import VehicleConfig, VirtualIGV

MAP_ID = "test"


def action(kind: str, action_id: str, container: str | None = None, blocking: BlockingType = BlockingType.HARD,
           **params: Any) -> Action:
    parameters = tuple(ActionParameter(key=k, value=v) for k, v in params.items())
    return Action(action_type=kind, action_id=action_id, blocking_type=blocking, action_parameters=parameters,
                  container_id=container)


def make_order(points: Sequence[tuple[float, float]], *, order_id: str = "o1", update_id: int = 0, first_seq: int = 0,
               released: int | None = None, speeds: Sequence[float] | float = 8.3,
               actions: dict[int, tuple[Action, ...]] | None = None, map_id: str = MAP_ID,
               names: Sequence[str] | None = None) -> Order:
    """An order through ``points``; nodes ``0 .. released`` are the base (all by default).

    Node ids are ``n<k>`` with ``k`` the global step (``first_seq // 2 + index``), so an
    update built with the same ``points`` offset stitches onto the earlier base.
    """
    released = len(points) - 1 if released is None else released
    speeds = [speeds] * (len(points) - 1) if isinstance(speeds, (int, float)) else list(speeds)
    actions = actions or {}
    k0 = first_seq // 2
    ids = list(names) if names is not None else [f"n{k0 + i}" for i in range(len(points))]
    nodes = tuple(
        Node(node_id=ids[i], sequence_id=first_seq + 2 * i, released=i <= released, actions=actions.get(i, ()),
             node_position=NodePosition(x=float(x), y=float(y), map_id=map_id, allowed_deviation_xy=1.0))
        for i, (x, y) in enumerate(points)
    )
    edges = tuple(
        Edge(edge_id=f"e{ids[i]}-{ids[i + 1]}", sequence_id=first_seq + 2 * i + 1, released=i + 1 <= released,
             start_node_id=ids[i], end_node_id=ids[i + 1], max_speed=float(speeds[i]))
        for i in range(len(points) - 1)
    )
    return Order(order_id=order_id, order_update_id=update_id, nodes=nodes, edges=edges)


def instant(kind: str, action_id: str, **params: Any) -> InstantActions:
    return InstantActions(actions=(action(kind, action_id, **params),))


def line(n: int, spacing_m: float = 8.0, x0: float = 0.0, y0: float = 0.0) -> list[tuple[float, float]]:
    """``n`` points eastwards from (x0, y0)."""
    return [(x0 + spacing_m * k, y0) for k in range(n)]


@dataclass
class RecordingService:
    """A service that records requests and answers with fixed durations."""

    durations: dict[str, float] = field(default_factory=lambda: {"pick": 30.0, "drop": 20.0, "scan": 10.0})
    failure: str | None = None
    requests: list[ServiceRequest] = field(default_factory=list)

    def __call__(self, request: ServiceRequest) -> ServiceOutcome:
        self.requests.append(request)
        if self.failure:
            return ServiceOutcome(0.0, failure=self.failure)
        return ServiceOutcome(self.durations.get(request.action_type, 0.0))


@dataclass
class Driver:
    """Steps one vehicle in lockstep and records what a harness would see."""

    vehicle: VirtualIGV
    dt_s: float = 0.1
    t_s: float = 0.0
    trace: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, x, y, v

    def send(self, message: Any) -> None:
        self.vehicle.handle(message, self.t_s)

    def run(self, duration_s: float, until: Callable[[VirtualIGV], bool] | None = None) -> float:
        end = self.t_s + duration_s
        while self.t_s < end - 1e-9:
            self.t_s = round(self.t_s + self.dt_s, 9)
            self.vehicle.step(self.t_s, self.dt_s)
            x, y, _ = self.vehicle.pose
            self.trace.append((self.t_s, x, y, self.vehicle.speed_mps))
            if until is not None and until(self.vehicle):
                break
        return self.t_s

    def state(self):
        return self.vehicle.state(self.t_s)

    def accelerations(self) -> list[float]:
        out, prev = [], 0.0
        for _, _, _, v in self.trace:
            out.append((v - prev) / self.dt_s)
            prev = v
        return out


def new_vehicle(**kwargs: Any) -> VirtualIGV:
    config_keys = set(VehicleConfig.__dataclass_fields__)
    cfg = VehicleConfig(serial="igv-001", map_id=MAP_ID, **{k: kwargs.pop(k) for k in list(kwargs) if k in config_keys})
    kwargs.setdefault("x_m", 0.0)
    kwargs.setdefault("y_m", 0.0)
    kwargs.setdefault("last_node_id", "n0")
    return VirtualIGV(cfg, **kwargs)


def driver(dt_s: float = 0.1, **kwargs: Any) -> Driver:
    """A :class:`Driver` around :func:`new_vehicle`."""
    return Driver(new_vehicle(**kwargs), dt_s=dt_s)


def shortest_cells(track_map: Any, start: int, goal: int) -> list[int]:
    """Dijkstra over the cell graph by length (test helper; the core has its planner)."""
    dist = {start: 0.0}
    prev: dict[int, int] = {}
    heap = [(0.0, start)]
    while heap:
        d, c = heapq.heappop(heap)
        if c == goal:
            break
        if d > dist[c]:
            continue
        for k in range(int(track_map.cell_adj_indptr[c]), int(track_map.cell_adj_indptr[c + 1])):
            n = int(track_map.cell_adj_to[k])
            nd = d + float(track_map.cell_adj_length_m[k])
            if nd < dist.get(n, float("inf")):
                dist[n], prev[n] = nd, c
                heapq.heappush(heap, (nd, n))
    if goal not in dist:
        raise AssertionError(f"no route from cell {start} to {goal}")
    path = [goal]
    while path[-1] != start:
        path.append(prev[path[-1]])
    return path[::-1]


def map_order(track_map: Any, cells: Sequence[int], *, order_id: str = "o1", update_id: int = 0, first: int = 0,
              base_end: int | None = None, actions: dict[int, tuple[Action, ...]] | None = None) -> Order:
    """An order along map cells in the core's style: node ``c<cell>``, sequenceId ``2k``,
    edges carrying the lane's speed limit; steps ``first .. end``, base to ``base_end``."""
    base_end = len(cells) - 1 if base_end is None else base_end
    nodes, edges = [], []
    for k in range(first, len(cells)):
        x, y = track_map.cell_xy[cells[k]]
        nodes.append(Node(node_id=f"c{cells[k]}", sequence_id=2 * k, released=k <= base_end,
                          actions=(actions or {}).get(k, ()),
                          node_position=NodePosition(x=float(x), y=float(y), map_id=track_map.name, allowed_deviation_xy=1.0)))
        if k > first:
            a, b = cells[k - 1], cells[k]
            row = range(int(track_map.cell_adj_indptr[a]), int(track_map.cell_adj_indptr[a + 1]))
            limit = next(float(track_map.cell_adj_speed_limit_mps[i]) for i in row if int(track_map.cell_adj_to[i]) == b)
            edges.append(Edge(edge_id=f"e{a}-{b}", sequence_id=2 * k - 1, released=k <= base_end,
                              start_node_id=f"c{a}", end_node_id=f"c{b}", max_speed=limit))
    return Order(order_id=order_id, order_update_id=update_id, nodes=tuple(nodes), edges=tuple(edges))
