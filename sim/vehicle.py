"""A virtual IGV: the vehicle side of VDA 5050 as a pure state machine on injected time.

:class:`VirtualIGV` takes orders and instant actions (:meth:`~VirtualIGV.handle`), moves
(:meth:`~VirtualIGV.step`) and reports (:meth:`~VirtualIGV.state`,
:meth:`~VirtualIGV.visualization`). It never touches a socket or a clock: the lockstep
harness calls it directly, :mod:`sim.firmware` puts it on the wire.

Behaviour (VDA 5050 2.1, ``docs/protocol.md`` and ``docs/simulator.md``):

* Orders: accepted or rejected by :mod:`sim.order_rules`; the vehicle drives only over
  released nodes, stops at the end of the base (braking planned ahead,
  :mod:`sim.kinematics`) and at every node whose blocking action has not finished.
  The first node of an order is reached on acceptance. Reaching a node sets
  ``lastNodeId``, removes it from ``nodeStates`` and starts its actions in order.
* Node actions ``pick``, ``drop``, ``scan``: the injected :data:`~sim.service.Service`
  says how long they take (the terminal's crane, scanner or lab, with queueing);
  ``pick`` adds the container to ``loads``, ``drop`` removes it. ``startCharging`` works
  only at rest on a charger station; ``stopCharging`` ends charging.
* Instant actions: ``startPause``/``stopPause`` (brake at the service deceleration, stay
  paused; running station actions continue: the crane finishes its move),
  ``cancelOrder`` (stop at the next node the vehicle can stop at, fail waiting actions,
  let running ones finish, then clear the order; ``noOrderToCancel`` without an order),
  ``emergencyStop``/``releaseEmergencyStop`` (extension: emergency braking,
  ``safetyState.eStop`` REMOTE), ``startCharging``, ``stopCharging``, ``stateRequest``,
  ``factsheetRequest`` (the wire client answers it), ``initPosition``.
* Battery (:mod:`sim.battery`), faults (:mod:`sim.faults`), optional seeded GNSS noise
  on reported positions. Errors are VDA 5050 errors: WARNING for recoverable ones,
  FATAL for ``driveStall`` and ``batteryEmpty``. After a FATAL fault the vehicle holds
  (reported paused) until ``stopPause``, ``cancelOrder`` or a new order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from fleet.messages import (
    Action,
    ActionState,
    ActionStatus,
    AgvError,
    AgvPosition,
    BatteryState,
    BlockingType,
    Edge,
    EdgeState,
    ErrorLevel,
    ErrorReference,
    EStop,
    InstantActions,
    Load,
    Node,
    NodeState,
    OperatingMode,
    Order,
    SafetyState,
    State,
    Velocity,
    Visualization,
)
from maps.errors import InputError
from sim.battery import BatteryConfig, charge_step_pct, reach_m
from sim.faults import NO_EFFECTS, Fault, FaultKind, FaultTimeline
from sim.kinematics import MotionLimits, Mover
from sim.order_rules import Held, OrderVerdict, order_rejection
from sim.service import SERVICE_ACTIONS, FixedService, Service, ServiceRequest, StationLocator

_WAITING, _RUNNING, _FINISHED, _FAILED = ActionStatus.WAITING, ActionStatus.RUNNING, ActionStatus.FINISHED, ActionStatus.FAILED
_OPEN = (ActionStatus.WAITING, ActionStatus.RUNNING)
ORDER_ERROR_TYPES = frozenset({"orderError", "orderUpdateError", "noRouteError", "validationError", "actionError",
                               "loadError", "chargingError", "noOrderToCancel"})
"""Errors about orders and actions: cleared when the next order is accepted."""
_SAFETY_OK = SafetyState(e_stop=EStop.NONE, field_violation=False)
_SAFETY_ESTOP = SafetyState(e_stop=EStop.REMOTE, field_violation=False)
_FATAL_FAULTS = frozenset({FaultKind.STALL, FaultKind.DEAD_BATTERY})
KEPT_INSTANT_ACTIONS = 16
"""Finished instant actions kept in ``actionStates`` (the newest)."""


@dataclass(frozen=True)
class VehicleConfig:
    """One vehicle's identity and behaviour.

    Attributes
    ----------
    serial : str
        Serial number (the wire identity).
    map_id : str
        Map the vehicle drives on; orders on another map are rejected.
    manufacturer : str
    motion : MotionLimits
    battery : BatteryConfig
    state_interval_driving_s, state_interval_idle_s : float
        Periodic ``state`` while driving (10 Hz on this site) and otherwise.
    min_state_interval_s : float
        Event-triggered states closer together than this are merged (0: one per event).
    visualization_interval_s : float
        ``visualization`` period; 0 sends none.
    gnss_sigma_m : float
        Standard deviation of the noise on reported x and y (0: exact).
    default_deviation_m : float
        Start tolerance when the first node has no ``allowedDeviationXY``.
    resume_distance_m : float
        A new order may start at the vehicle's last node if it is at most this far
        (the vehicle stopped between nodes after a pause or a fault).
    station_tolerance_m : float
        How close to a station's point a vehicle must stand to be "at" it.
    max_loads : int
        Containers carried at once (one 40 ft or two 20 ft).
    hold_after_fault : bool
        After a FATAL fault (stall, dead battery) ends, stay put, reported as paused,
        until ``stopPause``, ``cancelOrder`` or the order is done: the core has taken
        the vehicle's work away meanwhile, so it must not drive on by itself.
    """

    serial: str
    map_id: str
    manufacturer: str = "BacLuanIGV"
    motion: MotionLimits = field(default_factory=MotionLimits)
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    state_interval_driving_s: float = 0.1
    state_interval_idle_s: float = 30.0
    min_state_interval_s: float = 0.0
    visualization_interval_s: float = 0.0
    gnss_sigma_m: float = 0.0
    default_deviation_m: float = 0.5
    resume_distance_m: float = 10.0
    station_tolerance_m: float = 2.0
    max_loads: int = 2
    hold_after_fault: bool = True

    def __post_init__(self) -> None:
        if not self.serial or not self.map_id:
            raise InputError("a vehicle needs a serial number and a map id")
        if self.state_interval_driving_s <= 0 or self.state_interval_idle_s <= 0 or self.min_state_interval_s < 0:
            raise InputError("state intervals must be positive")
        if self.visualization_interval_s < 0 or self.gnss_sigma_m < 0 or self.max_loads < 1:
            raise InputError("visualization interval and GNSS sigma must be >= 0, max_loads >= 1")


class _Run:
    """One action's execution record."""

    __slots__ = ("action", "status", "node", "done_at_s", "result", "container", "station")

    def __init__(self, action: Action, node: int | None) -> None:
        self.action = action
        self.status = _WAITING
        self.node = node  # route index of its node; None for an instant action
        self.done_at_s = math.inf
        self.result: str | None = None
        self.container: str | None = None
        self.station: str | None = None

    def state(self) -> ActionState:
        return ActionState(action_id=self.action.action_id, action_status=self.status,
                           action_type=self.action.action_type, result_description=self.result)


def container_of(action: Action) -> str | None:
    """The container an action handles: the ``containerId`` extension, else the
    ``containerId`` or ``loadId`` parameter."""
    if action.container_id:
        return action.container_id
    for key in ("containerId", "loadId"):
        value = action.parameter(key)
        if isinstance(value, str) and value:
            return value
    return None


class VirtualIGV:
    """A simulated IGV (see the module docstring).

    Parameters
    ----------
    config : VehicleConfig
    x_m, y_m, heading_rad : float
        Initial pose (map CRS metres, radians CCW from east).
    battery_pct : float
        Initial state of charge.
    service : Service, optional
        Durations of station actions (default: :class:`~sim.service.FixedService`).
    stations : StationLocator, optional
        Finds the station at the vehicle's position (needed for charging).
    faults : iterable of Fault, or FaultTimeline
    rng : numpy.random.Generator, optional
        Noise source; required when ``config.gnss_sigma_m > 0``.
    last_node_id : str
        The node the vehicle stands on at start (e.g. its parking station's node).
    """

    def __init__(self, config: VehicleConfig, *, x_m: float, y_m: float, heading_rad: float = 0.0,
                 battery_pct: float = 80.0, service: Service | None = None, stations: StationLocator | None = None,
                 faults: Iterable[Fault] | FaultTimeline = (), rng: np.random.Generator | None = None,
                 last_node_id: str = "") -> None:
        if config.gnss_sigma_m > 0 and rng is None:
            raise InputError(f"vehicle {config.serial}: GNSS noise needs a seeded rng")
        if not 0 <= battery_pct <= 100:
            raise InputError(f"vehicle {config.serial}: battery must be in [0, 100] %, got {battery_pct}")
        self.config = config
        self.serial = config.serial
        self._mover = Mover(x_m, y_m, heading_rad, config.motion)
        self._service = service or FixedService()
        self._stations = stations
        self._faults = faults if isinstance(faults, FaultTimeline) else FaultTimeline(faults)
        self._effects = NO_EFFECTS
        self._fault_due_s = self._faults.next_change_s
        self._rng = rng
        self.battery_pct = float(battery_pct)
        self.charging = False
        self.paused = False
        self.estop = False
        self.held_after_fault = False
        self.loads: list[Load] = []
        self.odometer_m = 0.0
        self.energy_kwh = 0.0
        self._battery_alarm = False
        # the order
        self.order_id = ""
        self.order_update_id = 0
        self.last_node_id = last_node_id
        self.last_node_sequence_id = 0
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []
        self._base_end = 0
        self._cancelled = False
        self._cancel: _Run | None = None
        self._cancel_stop: int | None = None
        # actions
        self._runs: dict[str, _Run] = {}
        self._queue: list[_Run] = []
        self._active: _Run | None = None
        self._pause: _Run | None = None
        self._next_done_s = math.inf
        self._errors: dict[tuple[str, str], AgvError] = {}
        # reporting
        self._event = True
        self._last_state_s = -math.inf
        self._last_vis_s = -math.inf
        self._path_states: tuple[tuple[NodeState, ...], tuple[EdgeState, ...]] | None = None
        self._all_node_states: tuple[NodeState, ...] = ()
        self._all_edge_states: tuple[EdgeState, ...] = ()
        self._action_states: tuple[ActionState, ...] | None = None

    # ================================================================== inputs
    def handle(self, message: Order | InstantActions, now_s: float) -> None:
        """Take an order (or update) or instant actions received at ``now_s``."""
        if isinstance(message, Order):
            self._on_order(message, now_s)
        elif isinstance(message, InstantActions):
            for action in message.actions:
                self._on_instant(action, now_s)
        else:
            raise InputError(f"vehicle {self.serial} cannot handle a {type(message).__name__}")
        self._event = True

    def _held(self) -> Held:
        base = self._nodes[self._base_end] if self._nodes else None
        return Held(order_id=self.order_id, order_update_id=self.order_update_id, cancelled=self._cancelled,
                    busy=self.has_order_work, charging=self.charging,
                    base_end_node_id=base.node_id if base else "", base_end_sequence_id=base.sequence_id if base else -1,
                    last_node_id=self.last_node_id, x_m=self._mover.x, y_m=self._mover.y)

    def _on_order(self, order: Order, now_s: float) -> None:
        cfg = self.config
        decision = order_rejection(order, self._held(), cfg.map_id, default_deviation_m=cfg.default_deviation_m,
                                   resume_distance_m=cfg.resume_distance_m)
        if decision.verdict is OrderVerdict.DUPLICATE:
            return
        if decision.verdict is OrderVerdict.REJECT:
            refs = (ErrorReference(reference_key="orderId", reference_value=order.order_id),
                    ErrorReference(reference_key="orderUpdateId", reference_value=str(order.order_update_id)))
            self._raise_latest(decision.error_type, order.order_id, decision.reason, refs)
            return
        for key in [k for k in self._errors if k[0] in ORDER_ERROR_TYPES]:
            del self._errors[key]
        if decision.verdict is OrderVerdict.NEW:
            self._accept_new(order, now_s)
        else:
            self._accept_update(order, now_s)
        self._path_states = None
        self._action_states = None
        self._update_stop()

    @staticmethod
    def _points(nodes: Iterable[Node]) -> list[tuple[float, float]]:
        return [(n.node_position.x, n.node_position.y) for n in nodes if n.node_position is not None]

    def _limits(self, edges: Iterable[Edge]) -> list[float]:
        top = self.config.motion.unladen_max_mps
        return [e.max_speed if e.max_speed else top for e in edges]

    def _accept_new(self, order: Order, now_s: float) -> None:
        self.held_after_fault = False
        self.order_id, self.order_update_id = order.order_id, order.order_update_id
        self._cancelled = False
        self._runs = {k: r for k, r in self._runs.items() if r.node is None and r.status in _OPEN}
        self._queue, self._active = [], None
        self._set_path(list(order.nodes), list(order.edges))
        self._mover.start_route(self._points(order.nodes), self._limits(order.edges))
        self._base_end = max(k for k, n in enumerate(order.nodes) if n.released)
        self._register(order.nodes, 0)
        self._reach(0, now_s)

    def _accept_update(self, order: Order, now_s: float) -> None:
        k = self._base_end
        for key in [a for a, r in self._runs.items() if r.node is not None and r.node > k and r.status is _WAITING]:
            del self._runs[key]  # the old horizon is replaced
        self._set_path(self._nodes[: k + 1] + list(order.nodes[1:]), self._edges[:k] + list(order.edges))
        self._mover.extend_route(k, self._points(order.nodes[1:]), self._limits(order.edges))
        self.order_update_id = order.order_update_id
        self._base_end = k + max(i for i, n in enumerate(order.nodes) if n.released)
        new_at_stitch = [a for a in order.nodes[0].actions if a.action_id not in self._runs]
        self._register(order.nodes[1:], k + 1)
        for action in new_at_stitch:
            run = self._runs[action.action_id] = _Run(action, k)
            if self._mover.next_index > k:  # already standing on the stitching node
                self._queue.append(run)
        self._start_queued(now_s)

    def _set_path(self, nodes: list[Node], edges: list[Edge]) -> None:
        # PERF: the node and edge states are built once per order (update), so a state
        # report slices tuples instead of building hundreds of objects.
        self._nodes, self._edges = nodes, edges
        self._all_node_states = tuple(NodeState(node_id=n.node_id, sequence_id=n.sequence_id, released=n.released)
                                      for n in nodes)
        self._all_edge_states = tuple(EdgeState(edge_id=e.edge_id, sequence_id=e.sequence_id, released=e.released)
                                      for e in edges)
        self._path_states = None

    def _register(self, nodes: Iterable[Node], first_index: int) -> None:
        for offset, node in enumerate(nodes):
            for action in node.actions:
                existing = self._runs.get(action.action_id)
                if existing is None or existing.status is _WAITING:
                    self._runs[action.action_id] = _Run(action, first_index + offset)

    # ------------------------------------------------------------------ instant actions
    def _on_instant(self, action: Action, now_s: float) -> None:
        run = _Run(action, None)
        self._runs[action.action_id] = run
        self._action_states = None
        kind = action.action_type
        if kind == "startPause":
            self.paused = True
            run.status = _RUNNING
            self._pause = run
            self._settle(now_s)
        elif kind == "stopPause":
            self.paused = False
            self.held_after_fault = False
            if self._pause is not None and self._pause.status is _RUNNING:
                self._pause.status = _FINISHED
            self._pause = None
            run.status = _FINISHED
        elif kind == "cancelOrder":
            self._start_cancel(run, now_s)
        elif kind == "emergencyStop":
            self.estop = True
            run.status = _FINISHED
        elif kind == "releaseEmergencyStop":
            self.estop = False
            run.status = _FINISHED
        elif kind in ("startCharging", "stopCharging"):
            self._start(run, now_s)
        elif kind in ("stateRequest", "factsheetRequest"):
            run.status = _FINISHED
        elif kind == "initPosition":
            self._init_position(run)
        else:
            self._fail(run, f"unsupported instant action {kind!r}", "actionError")
        self._prune_instant()

    def _prune_instant(self) -> None:
        done = [k for k, r in self._runs.items() if r.node is None and r.status not in _OPEN]
        for key in done[:-KEPT_INSTANT_ACTIONS]:
            del self._runs[key]

    def _init_position(self, run: _Run) -> None:
        action = run.action
        if self.has_order_work or self._mover.v_mps > 0:
            self._fail(run, "initPosition needs an idle vehicle at rest", "actionError")
            return
        values = [action.parameter(k) for k in ("x", "y", "theta")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            self._fail(run, "initPosition needs numeric x, y and theta parameters", "actionError")
            return
        self._mover.teleport(float(values[0]), float(values[1]), float(values[2]))
        node = action.parameter("lastNodeId")
        self.last_node_id = node if isinstance(node, str) else ""
        self._set_path([], [])
        run.status = _FINISHED

    def _start_cancel(self, run: _Run, now_s: float) -> None:
        if not self.has_order_work:
            self._fail(run, "no order to cancel", "noOrderToCancel")
            return
        run.status = _RUNNING
        self._cancel = run
        for r in self._runs.values():
            if r.node is not None and r.status is _WAITING:
                r.status, r.result = _FAILED, "order cancelled"
        self._queue = []
        m = self._mover
        self._cancel_stop = m.next_index - 1 if m.v_mps == 0.0 else m.first_stoppable_index()
        self._update_stop()
        self._settle(now_s)

    # ------------------------------------------------------------------ actions
    def _start(self, run: _Run, now_s: float) -> None:
        action = run.action
        kind = action.action_type
        if kind in SERVICE_ACTIONS:
            self._start_service(run, now_s)
        elif kind == "startCharging":
            where = self._station_here(action)
            if self._mover.v_mps > 0:
                self._fail(run, "cannot start charging while driving", "chargingError")
            elif where is None or where[1] != "charger":
                self._fail(run, "not at a charger station", "chargingError")
            else:
                self.charging = True
                run.station = where[0]
                self._finish(run, now_s)
        elif kind == "stopCharging":
            self.charging = False
            self._finish(run, now_s)
        else:  # order_rules lets only known node actions through
            self._fail(run, f"unsupported action {kind!r}", "actionError")

    def _station_here(self, action: Action) -> tuple[str, str] | None:
        """``(id, kind)`` of the station the vehicle stands at: located from its position
        when it has a locator (a ``stationId`` it is not at does not count), else the
        ``stationId`` parameter with an unknown kind ``""``."""
        named = action.parameter("stationId")
        if self._stations is None:
            return (named, "") if isinstance(named, str) and named else None
        return self._stations.at(self._mover.x, self._mover.y, self.config.station_tolerance_m)

    def _start_service(self, run: _Run, now_s: float) -> None:
        action = run.action
        kind = action.action_type
        container = container_of(action)
        carried = [load.load_id for load in self.loads]
        if kind == "pick" and container in carried:
            return self._fail(run, f"already carries {container}", "loadError")
        if kind == "pick" and len(self.loads) >= self.config.max_loads:
            return self._fail(run, f"no room: carries {len(self.loads)} containers", "loadError")
        if kind == "drop" and (container not in carried if container else not carried):
            return self._fail(run, f"does not carry {container or 'anything'}", "loadError")
        where = self._station_here(action)
        request = ServiceRequest(vehicle=self.serial, action_type=kind, action_id=action.action_id, container=container,
                                 station=where[0] if where else None, station_kind=(where[1] or None) if where else None,
                                 x_m=self._mover.x, y_m=self._mover.y, now_s=now_s)
        outcome = self._service(request)
        if outcome.failure:
            return self._fail(run, outcome.failure, "actionError")
        run.container, run.station = container, request.station
        run.status = _RUNNING
        run.done_at_s = now_s + outcome.duration_s
        self._next_done_s = min(self._next_done_s, run.done_at_s)
        self._action_states = None
        if outcome.duration_s == 0.0:
            self._finish_due(now_s)

    def _finish(self, run: _Run, now_s: float) -> None:
        kind = run.action.action_type
        if kind == "pick":
            load_type = run.action.parameter("loadType")
            self.loads.append(Load(load_id=run.container, load_type=load_type if isinstance(load_type, str) else None))
        elif kind == "drop":
            self.loads = [ld for ld in self.loads if run.container and ld.load_id != run.container]
        run.status = _FINISHED
        self._action_states = None
        self._event = True
        if kind in ("pick", "drop"):
            self._apply_cap()
        if run is self._active:
            self._active = None
            self._start_queued(now_s)
        self._update_stop()

    def _fail(self, run: _Run, reason: str, error_type: str) -> None:
        run.status, run.result = _FAILED, reason
        refs = (ErrorReference(reference_key="actionId", reference_value=run.action.action_id),)
        self._raise_latest(error_type, run.action.action_id, reason, refs)
        self._action_states = None
        if run is self._active:
            self._active = None

    def _finish_due(self, now_s: float) -> None:
        self._next_done_s = math.inf
        for run in list(self._runs.values()):
            if run.status is _RUNNING and run.done_at_s <= now_s:
                self._finish(run, now_s)
        for run in self._runs.values():
            if run.status is _RUNNING and run.done_at_s < self._next_done_s:
                self._next_done_s = run.done_at_s
        self._settle(now_s)

    def _start_queued(self, now_s: float) -> None:
        while self._queue and self._active is None:
            run = self._queue.pop(0)
            if run.status is not _WAITING:
                continue
            self._start(run, now_s)
            if run.status is _RUNNING:
                self._active = run

    def _reach(self, index: int, now_s: float) -> None:
        node = self._nodes[index]
        self.last_node_id, self.last_node_sequence_id = node.node_id, node.sequence_id
        self._path_states = None
        self._event = True
        for action in node.actions:
            run = self._runs.get(action.action_id)
            if run is not None and run.status is _WAITING and run.node == index:
                self._queue.append(run)
        self._start_queued(now_s)

    # ------------------------------------------------------------------ stopping rules
    def _update_stop(self) -> None:
        m = self._mover
        if not self._nodes:
            return
        here = m.next_index - 1
        stop = self._base_end
        for run in self._runs.values():
            node = run.node
            if node is not None and here <= node < stop and run.status in _OPEN and run.action.blocking_type is not BlockingType.NONE:
                stop = node
        if self._cancel_stop is not None and self._cancel_stop < stop:
            stop = self._cancel_stop
        m.set_stop(max(stop, 0))

    def _halt_mps2(self) -> float:
        if self.estop or self._effects.stalled or self.battery_pct <= 0.0:
            return self.config.motion.emergency_brake_mps2
        if self.paused or self.charging or self.held_after_fault:
            return self.config.motion.brake_mps2
        return 0.0

    def _apply_cap(self) -> None:
        top = self.config.motion.laden_max_mps if self.loads else self.config.motion.unladen_max_mps
        self._mover.set_cap(top * self._effects.speed_factor)

    def _settle(self, now_s: float) -> None:
        """Finish what waits for the vehicle to stand still (pause, cancel)."""
        if self._mover.v_mps != 0.0:
            return
        if self._pause is not None and self._pause.status is _RUNNING:
            self._pause.status = _FINISHED
            self._action_states = None
            self._event = True
        cancel = self._cancel
        if cancel is None or any(r.node is not None and r.status is _RUNNING for r in self._runs.values()):
            return
        if self._cancel_stop is not None and self._mover.next_index - 1 < self._cancel_stop and self._halt_mps2() == 0.0:
            return  # still rolling towards the node it will stop at
        self._set_path([], [])
        self._mover.clear_route()
        self._base_end, self._cancel_stop, self._cancel = 0, None, None
        self._queue, self._active = [], None
        self._cancelled = True
        self.held_after_fault = False
        cancel.status = _FINISHED
        self._path_states = None
        self._action_states = None
        self._event = True

    @property
    def has_order_work(self) -> bool:
        """Nodes left to reach (base or horizon) or order actions not finished."""
        if self._nodes and self._mover.next_index < len(self._nodes):
            return True
        return any(r.node is not None and r.status in _OPEN for r in self._runs.values())

    # ================================================================== time
    def step(self, now_s: float, dt_s: float) -> None:
        """Advance the vehicle by ``dt_s`` seconds ending at ``now_s``."""
        if dt_s < 0:
            raise InputError(f"vehicle {self.serial}: negative time step {dt_s}")
        if now_s >= self._fault_due_s:
            self._on_faults(now_s)
        if now_s >= self._next_done_s:
            self._finish_due(now_s)
        m = self._mover
        ds = 0.0
        if dt_s > 0.0 and (m.v_mps > 0.0 or m.next_index <= m.stop_index):
            halt = self._halt_mps2()
            if halt == 0.0 or m.v_mps > 0.0:
                before = m.next_index
                ds = m.step(dt_s, halt)
                after = min(m.next_index, len(self._nodes))
                for index in range(before, after):
                    self._reach(index, now_s)
                if m.v_mps == 0.0:
                    self._settle(now_s)
                    self._event = True  # came to rest
        self._battery(ds, dt_s)

    def _battery(self, ds_m: float, dt_s: float) -> None:
        cfg = self.config.battery
        used = cfg.idle_kw * dt_s / 3600.0
        if ds_m > 0.0:
            self.odometer_m += ds_m
            used += ds_m * 0.001 * (cfg.laden_kwh_per_km if self.loads else cfg.unladen_kwh_per_km)
        self.energy_kwh += used
        soc = self.battery_pct
        if self.charging and not self._effects.battery_dead:
            soc = charge_step_pct(soc, dt_s, cfg)
        soc -= used * 100.0 / cfg.capacity_kwh
        if self._effects.battery_dead or soc < 0.0:
            soc = 0.0
        self.battery_pct = soc
        # PERF: the alarms are only looked at near the threshold or while one is raised.
        if soc < cfg.low_pct + 1.0 or self._battery_alarm:
            self._battery_alarms(soc)

    def _battery_alarms(self, soc: float) -> None:
        cfg = self.config.battery
        low, empty = ("batteryLow", ""), ("batteryEmpty", "")
        if soc <= 0.0:
            if empty not in self._errors:
                self._raise_error("batteryEmpty", "", ErrorLevel.FATAL, "battery empty: the vehicle cannot drive")
        elif empty in self._errors:
            self._clear_error(empty)
        if 0.0 < soc < cfg.low_pct:
            if low not in self._errors:
                self._raise_error("batteryLow", "", ErrorLevel.WARNING, f"battery below {cfg.low_pct:.0f} %")
        elif low in self._errors and (soc >= cfg.low_pct + 1.0 or soc <= 0.0):
            self._clear_error(low)
        self._battery_alarm = low in self._errors or empty in self._errors

    def _on_faults(self, now_s: float) -> None:
        transitions = self._faults.advance(now_s)
        self._fault_due_s = self._faults.next_change_s
        for fault, started in transitions:
            if fault.kind is FaultKind.DEAD_BATTERY and not started and fault.duration_s is not None:
                self.battery_pct = fault.battery_after_pct
            if not started and fault.kind in _FATAL_FAULTS and self.config.hold_after_fault and self.has_order_work:
                self.held_after_fault = True
        self._effects = eff = self._faults.effects()
        stall, slow = ("driveStall", ""), ("reducedSpeed", "")
        if eff.stalled and stall not in self._errors:
            self._raise_error("driveStall", "", ErrorLevel.FATAL, "drive stalled: the vehicle cannot move")
        elif not eff.stalled and stall in self._errors:
            self._clear_error(stall)
        if eff.speed_factor < 1.0 and slow not in self._errors:
            self._raise_error("reducedSpeed", "", ErrorLevel.WARNING, f"top speed reduced to {eff.speed_factor:.0%}")
        elif eff.speed_factor == 1.0 and slow in self._errors:
            self._clear_error(slow)
        if eff.battery_dead:
            self.battery_pct = 0.0
        self._apply_cap()
        self._event = True

    def _raise_error(self, error_type: str, ref: str, level: ErrorLevel, text: str,
                     refs: tuple[ErrorReference, ...] = ()) -> None:
        self._errors[(error_type, ref)] = AgvError(error_type=error_type, error_level=level, error_references=refs,
                                                   error_description=text[:200])
        self._event = True

    def _raise_latest(self, error_type: str, ref: str, text: str, refs: tuple[ErrorReference, ...]) -> None:
        """A warning about one order or action that replaces older ones of its type.

        A refused order or failed action stays listed until the next one of the kind:
        errors naming every refused order id and every failed cancel once grew a state past
        the link's 1 MiB frame limit (disruption bench, a core re-sending each tick).
        """
        for key in [k for k in self._errors if k[0] == error_type]:
            del self._errors[key]
        self._raise_error(error_type, ref, ErrorLevel.WARNING, text, refs)

    def _clear_error(self, key: tuple[str, str]) -> None:
        self._errors.pop(key, None)
        self._event = True

    # ================================================================== outputs
    @property
    def pose(self) -> tuple[float, float, float]:
        """True ``(x_m, y_m, heading_rad)`` (no noise, no position-jump fault)."""
        m = self._mover
        return m.x, m.y, m.heading_rad

    @property
    def speed_mps(self) -> float:
        return self._mover.v_mps

    @property
    def laden(self) -> bool:
        return bool(self.loads)

    @property
    def errors(self) -> tuple[AgvError, ...]:
        return tuple(self._errors.values())

    def comm_lost(self) -> bool:
        """True while a communication-loss fault is in force (as of the last step)."""
        return self._effects.comm_lost

    def request_state(self) -> None:
        """Make the next :meth:`state_due` true (the link came up, a peer asked)."""
        self._event = True

    def state_due(self, now_s: float) -> bool:
        """Should a ``state`` go out now: an event happened, or the period is over."""
        since = now_s - self._last_state_s
        if self._event and since >= self.config.min_state_interval_s:
            return True
        period = self.config.state_interval_driving_s if self._mover.v_mps > 0.0 else self.config.state_interval_idle_s
        return since >= period

    def visualization_due(self, now_s: float) -> bool:
        interval = self.config.visualization_interval_s
        return interval > 0.0 and now_s - self._last_vis_s >= interval

    def _position(self) -> AgvPosition:
        m = self._mover
        x = m.x + self._effects.jump_dx_m
        y = m.y + self._effects.jump_dy_m
        sigma = self.config.gnss_sigma_m
        if sigma > 0.0 and self._rng is not None:
            dx, dy = self._rng.normal(0.0, sigma, 2)
            x += float(dx)
            y += float(dy)
        theta = math.remainder(m.heading_rad, math.tau)
        return AgvPosition(x=x, y=y, theta=theta, map_id=self.config.map_id, position_initialized=True,
                           deviation_range=sigma * 2.0 if sigma > 0.0 else None)

    def _paths(self) -> tuple[tuple[NodeState, ...], tuple[EdgeState, ...]]:
        if self._path_states is None:
            first = self._mover.next_index
            edges = self._all_edge_states[first - 1:] if self._nodes else ()
            self._path_states = (self._all_node_states[first:], edges)
        return self._path_states

    def state(self, now_s: float) -> State:
        """The full VDA 5050 state at ``now_s`` (header fields left for the sender)."""
        m = self._mover
        nodes, edges = self._paths()
        if self._action_states is None:
            self._action_states = tuple(r.state() for r in self._runs.values())
        horizon = self._nodes and self._base_end < len(self._nodes) - 1
        new_base = bool(horizon and m.point_s_m(self._base_end) - m.s_m <= m.stopping_distance_m() + 20.0)
        since_node = m.s_m - m.point_s_m(m.next_index - 1) if self._nodes and m.next_index - 1 < m.n_points else 0.0
        self._last_state_s = now_s
        self._event = False
        return State(
            order_id=self.order_id, order_update_id=self.order_update_id,
            last_node_id=self.last_node_id, last_node_sequence_id=self.last_node_sequence_id,
            node_states=nodes, edge_states=edges, driving=m.v_mps > 0.0, action_states=self._action_states,
            battery_state=BatteryState(battery_charge=min(100.0, max(0.0, self.battery_pct)), charging=self.charging,
                                       reach=reach_m(self.battery_pct, bool(self.loads), self.config.battery)),
            operating_mode=OperatingMode.AUTOMATIC, errors=tuple(self._errors.values()),
            safety_state=_SAFETY_ESTOP if self.estop else _SAFETY_OK,
            paused=self.paused or self.held_after_fault, new_base_request=new_base, distance_since_last_node=max(0.0, since_node),
            agv_position=self._position(), velocity=Velocity(vx=m.v_mps, vy=0.0, omega=0.0), loads=tuple(self.loads),
        )

    def visualization(self, now_s: float) -> Visualization:
        self._last_vis_s = now_s
        return Visualization(agv_position=self._position(), velocity=Velocity(vx=self._mover.v_mps, vy=0.0, omega=0.0))
