"""The firmware wrapper: virtual IGVs as real vehicle clients of the wire protocol."""

from __future__ import annotations

import time
from typing import Callable

import pytest
import zmq

from fleet.factsheet import Factsheet
from fleet.link import LinkEventKind, LinkTiming
from fleet.messages import ActionStatus, InstantActions, State
from fleet.transport import CoreTransport, TransportConfig
from sim.clock import VirtualClock
from sim.faults import Fault, FaultKind, FaultSchedule
from sim.firmware import Firmware
from sim.service import FixedService
from sim.spawn import build_fleet
from tests.sim.kit import action, map_order, shortest_cells

LOOPBACK = "tcp://127.0.0.1:*"
FAST = LinkTiming(heartbeat_interval_s=0.05, connection_broken_after_s=0.3, offline_after_s=5.0,
                  resend_after_s=0.05, resend_max_interval_s=0.2, max_resends=20)


class Rig:
    """A bare core transport and the firmware, pumped in turn on one thread."""

    def __init__(self, track_map, count: int, faults: FaultSchedule | None = None) -> None:
        self.map = track_map
        self.core = CoreTransport(TransportConfig(vehicle_endpoint=LOOPBACK, telemetry_endpoint=LOOPBACK,
                                                  control_endpoint=LOOPBACK, timing=FAST))
        self.clock = VirtualClock()
        self.context = zmq.Context()
        fleet = build_fleet(track_map, count, seed=3, service=FixedService(pick_s=5.0), faults=faults)
        self.fw = Firmware(fleet, self.core.endpoints.vehicles, self.clock, context=self.context, timing=FAST)
        self.inbound: list = []
        self.events: list = []
        self.fw.connect()

    def pump(self, sim_dt: float = 0.1, wall_s: float = 0.0) -> None:
        self.clock.advance(sim_dt)
        self.fw.run_once(timeout_ms=1)
        end = time.monotonic() + wall_s
        while True:
            result = self.core.poll(1)
            self.inbound.extend(result.inbound)
            self.events.extend(result.events)
            if time.monotonic() >= end:
                break

    def until(self, predicate: Callable[[], bool], rounds: int = 3000, **kwargs) -> None:
        for _ in range(rounds):
            if predicate():
                return
            self.pump(**kwargs)
        raise AssertionError("condition not met")

    def states(self, serial: str) -> list[State]:
        return [m.message for m in self.inbound if m.serial == serial and isinstance(m.message, State)]

    def close(self) -> None:
        self.fw.close(goodbye=False)
        self.core.close()
        self.context.term()


@pytest.fixture
def rig_factory(default_map):
    made = []

    def make(count: int, faults: FaultSchedule | None = None) -> Rig:
        rig = Rig(default_map, count, faults)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def test_vehicles_connect_report_and_execute_an_order_over_the_wire(rig_factory):
    rig = rig_factory(2)
    rig.until(lambda: rig.states("igv-001") and rig.states("igv-002"))
    first = rig.states("igv-001")[-1]
    start = int(first.last_node_id[1:])
    cells = shortest_cells(rig.map, start, int(rig.map.station_cell[rig.map.station_index["E2-T2"]]))[:25]
    goal = cells[-1]
    pick = (action("pick", "a-1", "MSKU1234565"),)
    rig.core.send_order("igv-001", map_order(rig.map, cells, order_id="job-1", actions={len(cells) - 1: pick}))
    rig.until(lambda: any(s.order_id == "job-1" and s.driving for s in rig.states("igv-001")))
    rig.until(lambda: any(a.action_id == "a-1" and a.action_status is ActionStatus.FINISHED
                          for a in rig.states("igv-001")[-1].action_states), sim_dt=0.5)
    last = rig.states("igv-001")[-1]
    assert last.last_node_id == f"c{goal}" and [l.load_id for l in last.loads] == ["MSKU1234565"]
    assert not last.errors
    assert not any(s.order_id for s in rig.states("igv-002"))  # the other one was left alone


def test_instant_actions_and_factsheet_request(rig_factory):
    rig = rig_factory(1)
    rig.until(lambda: rig.states("igv-001"))
    rig.core.send_instant_actions("igv-001", InstantActions(actions=(action("startPause", "p1"), action("factsheetRequest", "f1"))))
    rig.until(lambda: rig.states("igv-001")[-1].paused)
    rig.until(lambda: any(isinstance(m.message, Factsheet) for m in rig.inbound))
    done = {a.action_id: a.action_status for a in rig.states("igv-001")[-1].action_states}
    assert done == {"p1": ActionStatus.FINISHED, "f1": ActionStatus.FINISHED}


def test_comm_loss_fault_drops_the_link_and_it_comes_back(rig_factory):
    faults = FaultSchedule((Fault(kind=FaultKind.COMM_LOSS, vehicle="igv-002", start_s=5.0, duration_s=2.0),))
    rig = rig_factory(2, faults)
    rig.until(lambda: rig.states("igv-001") and rig.states("igv-002"))
    assert rig.clock.now_s() < 4.0
    rig.until(lambda: rig.clock.now_s() >= 4.9)
    broken = lambda: any(e.serial == "igv-002" and e.kind is LinkEventKind.CONNECTIONBROKEN for e in rig.events)  # noqa: E731
    rig.until(broken, rounds=60, wall_s=0.02)  # 2 s of silence in >= 0.4 s of wall time; broken after 0.3 s
    assert rig.clock.now_s() < 7.0
    assert not any(e.serial == "igv-001" and e.kind is LinkEventKind.CONNECTIONBROKEN for e in rig.events)
    n = len(rig.states("igv-002"))
    rig.until(lambda: rig.clock.now_s() > 7.2 and len(rig.states("igv-002")) > n, wall_s=0.01)
    back = [e for e in rig.events if e.serial == "igv-002" and e.kind is LinkEventKind.ONLINE]
    assert len(back) >= 2 and not back[-1].new_session  # the same session resumed
