"""A node-hopping vehicle that speaks the real wire protocol: one node per step along its released base.

It exists so that the core can be tested without the simulator's kinematics: it speaks the
real wire (a :class:`fleet.vehicle_client.VehicleClient`), obeys the VDA 5050 base/horizon
rule (never beyond the last released node), runs pick/drop/scan actions in one step and
reports state after every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.messages import (ActionState, ActionStatus, AgvPosition, BatteryState, EStop, InstantActions, Load,
                            OperatingMode, Order, SafetyState, State, Velocity)
from fleet.vehicle_client import VehicleClient, VehicleClientConfig


@dataclass
class TeleportVehicle:
    serial: str
    cell: int
    xy: tuple[float, float]
    map_id: str
    client: VehicleClient | None = None
    order_id: str = ""
    update_id: int = 0
    nodes: list = field(default_factory=list)  # (sequence_id, node_id, x, y, released, actions)
    at: int = 0  # index into nodes
    actions: dict = field(default_factory=dict)
    loads: list = field(default_factory=list)
    paused: bool = False
    estop: bool = False
    stalled: bool = False
    visited: list = field(default_factory=list)  # (t, cell) history
    executed_drops: list = field(default_factory=list)  # containers dropped, in order

    def connect(self, endpoint: str, context, clock) -> None:
        self.client = VehicleClient(VehicleClientConfig(serial_number=self.serial, manufacturer="test", endpoint=endpoint),
                                    context=context, clock=clock)
        self.client.connect()

    def handle(self, msg) -> None:
        if isinstance(msg, Order):
            nodes = [(n.sequence_id, n.node_id, n.node_position.x, n.node_position.y, n.released, n.actions) for n in msg.nodes]
            if msg.order_id != self.order_id:
                self.order_id, self.nodes, self.at = msg.order_id, nodes, 0
            else:
                keep = [n for n in self.nodes if n[0] < nodes[0][0]]
                self.nodes = keep + nodes
            self.update_id = msg.order_update_id
        elif isinstance(msg, InstantActions):
            for a in msg.actions:
                t = a.action_type
                if t == "startPause":
                    self.paused = True
                elif t == "stopPause":
                    self.paused = False
                elif t == "emergencyStop":
                    self.estop = True
                elif t == "releaseEmergencyStop":
                    self.estop = False
                elif t == "cancelOrder":
                    self.nodes = self.nodes[: self.at + 1]
                self.actions[a.action_id] = (t, ActionStatus.FINISHED)

    def step(self, now: float) -> None:
        """Take in what arrived and move one node; the link's timers run in :meth:`report`."""
        if self.client is not None:
            for msg in self.client.process(timers=False):
                self.handle(msg)
        if not self.nodes or self.paused or self.estop or self.stalled:
            return
        seq, nid, x, y, released, actions = self.nodes[self.at]
        pending = [a for a in actions if a.action_id not in self.actions]
        if pending:
            a = pending[0]
            cid = a.container_id
            if a.action_type == "pick" and cid:
                self.loads.append(cid)
            elif a.action_type == "drop" and cid in self.loads:
                self.loads.remove(cid)
                self.executed_drops.append(cid)
            self.actions[a.action_id] = (a.action_type, ActionStatus.FINISHED)
            return
        if self.at + 1 < len(self.nodes) and self.nodes[self.at + 1][4]:
            self.at += 1
            _, nid, x, y, _, _ = self.nodes[self.at]
            self.xy = (x, y)
            self.cell = int(nid[1:])
            self.visited.append((now, self.cell))

    def state(self) -> State:
        seq, nid = (self.nodes[self.at][0], self.nodes[self.at][1]) if self.nodes else (0, f"c{self.cell}")
        return State(
            order_id=self.order_id, order_update_id=self.update_id, last_node_id=nid, last_node_sequence_id=seq,
            node_states=(), edge_states=(), driving=bool(self.nodes) and self.at + 1 < len(self.nodes),
            action_states=tuple(ActionState(action_id=k, action_type=t, action_status=s) for k, (t, s) in self.actions.items()),
            battery_state=BatteryState(battery_charge=80.0, charging=False), operating_mode=OperatingMode.AUTOMATIC,
            errors=(), safety_state=SafetyState(e_stop=EStop.REMOTE if self.estop else EStop.NONE, field_violation=False),
            paused=self.paused, agv_position=AgvPosition(x=self.xy[0], y=self.xy[1], theta=0.0, map_id=self.map_id, position_initialized=True),
            velocity=Velocity(vx=0.0), loads=tuple(Load(load_id=c) for c in self.loads),
        )

    def report(self) -> None:
        """Send the state (when connected), then run the link's timers: a heartbeat goes
        only when nothing else went for an interval, as on a real vehicle."""
        if self.client.socket is not None:
            self.client.send_state(self.state())
        self.client.process(receive=False)
