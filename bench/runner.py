"""One simulated run: the real core, the simulated terminal and virtual IGVs on the wire.

:func:`run_scenario` is what ``igv bench`` and ``igv run`` call. The core
(:class:`fleet.core.manager.FleetManager` on a :class:`fleet.transport.CoreTransport`)
and the virtual IGVs (:class:`sim.firmware.Firmware`) exchange every order and state over
ZeroMQ; both run on one :class:`sim.clock.VirtualClock` advanced in steps of ``STEP_S``.
The terminal (cranes, scanner, lab, trucks, handover yard, customs) speaks the core's
control API like the real terminal systems: each terminal-feed event (docs/telemetry.md)
is a request on a DEALER connected to the core's control ROUTER, served in the core's next
tick; a refusal comes back as the reply and goes to :meth:`sim.terminal.Terminal.refused`.

A run is deterministic: the same scenario and seed give the same core event log, in any
process. The vehicles and the terminal speak to the core over ``inproc://`` on one shared
context, where a message is in the peer's queue when ``send`` returns (over TCP it could
arrive a step earlier or later); the core plans every leg inside its tick (no planning worker), since
legs planned on a thread against a wall-time budget would depend on the CPU's load
(simulated time stands still while the core plans anyway). Telemetry stays on loopback
TCP, and control too when a control room in another context must reach it
(``control_endpoint``; the terminal's requests then travel over TCP and the run is no longer
reproducible to the step). Heartbeats and the periodic states
of driving vehicles are sent at 1 Hz (see :data:`LINK_TIMING`, :data:`DRIVING_STATE_INTERVAL_S`).

The scenario's faults apply: vehicle breakdowns (``stall``), link losses (``comm_loss``)
and speed changes (``slow`` on every vehicle) through the vehicles' fault schedule, lane
blocks and bridge closures through the core's ``block_lane`` / ``unblock_lane``.

Everything the bench judges is recorded here from ground truth: the simulator's poses
(for the geometric collision check), the core's vehicle states and waits, crossings,
clearance times, planning and tick latencies.
"""

from __future__ import annotations

import itertools
import time
from typing import Callable

import numpy as np
import zmq

from bench.record import STATE_NAMES, RunRecord, Wait  # noqa: F401  (Wait: the tuple type of waits)
from bench.scenario import FaultKind as SwitchKind
from bench.scenario import Scenario, check_against_map, fault_events
from fleet.core.config import CoreConfig
from fleet.core.control import Handlers
from fleet.core.manager import FleetManager
from fleet.control_protocol import decode_reply, encode_request
from fleet.core.model import Location, VehicleMode
from fleet.link import LinkTiming
from fleet.transport import CoreTransport, TransportConfig
from maps import load_track_map
from maps.errors import ScenarioError
from sim.clock import VirtualClock
from sim.demand import Demand, DemandConfig
from sim.faults import Fault, FaultKind, FaultSchedule, share_faults
from sim.firmware import Firmware
from sim.spawn import build_fleet, serials
from sim.customs_model import CustomsConfig
from sim.terminal import Terminal, TerminalConfig, split_event
from sim.vehicle import VehicleConfig

STEP_S = 0.5
"""Simulated seconds per lockstep step (trajectory rows are this far apart)."""
SAMPLE_S = 60.0
"""How often fleet states and yard occupancy are sampled."""
LOOPBACK = "tcp://127.0.0.1:*"
LINK_TIMING = LinkTiming(heartbeat_interval_s=1.0)
"""The protocol's link timing with heartbeats every 1.0 s instead of 0.5 s.

PERF: an idle link carries nothing but heartbeats, one each way per 0.5 s step at the
protocol's rate. 100 IGVs, ``day_2026`` from midnight (mostly idle): 145x -> 224x real
time; at the peak rate (``scale_200`` demand): 58x -> 62x. Safe in lockstep: delivery is
immediate, so a link is never silent for more than 1.5 s, under the 2 s after which it
counts as broken."""
DRIVING_STATE_INTERVAL_S = 1.0
"""A driving vehicle's periodic state, instead of the site's 10 Hz (every step at ``STEP_S``).

PERF: what the core acts on (a node reached, an action's status, coming to rest, an order
accepted) goes out at once as an event state anyway; the periodic ones only refresh the
position and battery. At the peak rate (``scale_200`` demand, 100 IGVs) the firmware's
share of a step went from 2.60 to 2.40 ms and the core's from 5.4 to 4.7 ms (fewer states
to ingest): 62x -> 70x real time."""
_RUN_IDS = itertools.count(1)
"""Numbers each run's inproc endpoint (a name need only be unique in its context, but
numbered names tell the runs of one process apart in logs and errors)."""


class Run:
    """A core, a terminal and a fleet wired together; :meth:`step` advances all of them."""

    def __init__(self, scenario: Scenario, *, control_endpoint: str | None = None) -> None:
        """``control_endpoint``: where the core's control API binds (``LOOPBACK`` for a
        control room in another process or context); by default inproc, deterministic."""
        self.scenario = scenario
        run_id = next(_RUN_IDS)
        self.map = load_track_map(scenario.map)
        check_against_map(scenario, self.map)
        self.clock = VirtualClock(0.0)
        self.context = zmq.Context()
        self.transport = CoreTransport(
            TransportConfig(vehicle_endpoint=f"inproc://igv-run-{run_id}-vehicles", telemetry_endpoint=LOOPBACK,
                            control_endpoint=control_endpoint or f"inproc://igv-run-{run_id}-control",
                            verify_outbound=False, timing=LINK_TIMING),
            clock=self.clock.now_s, context=self.context,
        )
        self.core = FleetManager(self.map, CoreConfig(map_name=scenario.map, seed=scenario.seed, plan_in_worker=False),
                                 clock=self.clock.now_s, transport=self.transport)
        self.core.event_log = []
        self.handlers = Handlers(self.core)  # the operator's lane switches of the scenario
        self._feed_socket = self.context.socket(zmq.DEALER)
        self._feed_socket.linger = 0
        self._feed_socket.connect(self.transport.endpoints.control)
        self._feed_ids = itertools.count(1)
        self._feed_pending: dict[int, dict] = {}
        d = scenario.demand
        demand = Demand(DemandConfig(export_per_day=d.export_per_day, import_per_day=d.import_per_day,
                                     perishable_share=d.perishable_share, reefer_share=d.reefer_share,
                                     perishable_deadline_h=d.perishable_deadline_h, peak_profile=tuple(d.peak_profile),
                                     start_hour=d.start_hour),
                        seed=scenario.seed)
        customs = CustomsConfig(scan_share=d.scan_share, lab_share=d.lab_share, hold_share=d.hold_share)
        self.terminal = Terminal(self.map, demand, self._feed, seed=scenario.seed,
                                 config=TerminalConfig(customs=customs, **scenario.equipment.overrides()))
        self.vehicles = build_fleet(self.map, scenario.vehicles, seed=scenario.seed, service=self.terminal.service,
                                    faults=vehicle_faults(scenario), start_kinds=("parking", "charger", "handover"),
                                    template=VehicleConfig(serial="igv", map_id=self.map.name,
                                                           state_interval_driving_s=DRIVING_STATE_INTERVAL_S))
        self._switches = [e for e in fault_events(scenario, self.map)
                          if e.kind in (SwitchKind.BLOCK_LANE, SwitchKind.UNBLOCK_LANE)]
        # One sub-step per step: orders handed to a vehicle at the step's time may start a
        # station service at that time, so the terminal must not be stepped behind it.
        self.firmware = Firmware(self.vehicles, self.transport.endpoints.vehicles, self.clock, terminal=self.terminal,
                                 context=self.context, link_clock=self.clock.now_s, max_step_s=STEP_S, timing=LINK_TIMING,
                                 # PERF: the core checks every inbound message anyway; checking each
                                 # state before sending too cost 12 % of the firmware's time at the
                                 # peak rate (2.91 -> 2.60 ms a step with 100 IGVs).
                                 verify_outbound=False)
        self.firmware.connect()
        self.rows: dict[str, list[list[float]]] = {v.serial: [] for v in self.vehicles}
        self.states: list[list[float]] = []
        self.yard: list[list[float]] = []
        self.blocks = tuple(z.id for z in self.map.zones_of_kind("yard_block"))
        self.waits: list[Wait] = []
        self._waiting_since: dict[str, tuple[float, tuple[str, ...]]] = {}  # vehicle -> (since, waiting on)
        self._next_sample_s = 0.0
        self.feed_refused = 0
        self.phase_wall_s = {"core_tick": 0.0, "firmware": 0.0, "recording": 0.0}

    def _feed(self, event: dict) -> None:
        """Send a terminal-feed event as a control request; the answer comes after the
        core's next tick (:meth:`_feed_answers`)."""
        op, args = split_event(event)
        request_id = next(self._feed_ids)
        self._feed_pending[request_id] = event
        self._feed_socket.send_multipart(encode_request(request_id, op, args), zmq.NOBLOCK)

    def _feed_answers(self) -> None:
        while True:
            try:
                frames = self._feed_socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            request_id, ok, _ = decode_reply(frames)
            event = self._feed_pending.pop(request_id)
            if not ok:
                self.feed_refused += 1
                self.terminal.refused(event)

    def step(self) -> None:
        """Advance the clock by ``STEP_S``: fault switches, the core's tick, the firmware
        (vehicles and terminal), the recording; adds each one's wall time to :attr:`phase_wall_s`."""
        now = self.clock.advance(STEP_S)
        while self._switches and self._switches[0].t_s <= now:
            switch = self._switches.pop(0)
            self.handlers.call(switch.kind.value, {"lane": switch.target})
        t0 = time.perf_counter()
        self.core.tick()
        self._feed_answers()
        t1 = time.perf_counter()
        # inproc: the core's orders are already queued, so there is nothing to wait for.
        self.firmware.run_once(timeout_ms=0)
        t2 = time.perf_counter()
        self._record(now)
        phases = self.phase_wall_s
        phases["core_tick"] += t1 - t0
        phases["firmware"] += t2 - t1
        phases["recording"] += time.perf_counter() - t2

    def _record(self, now: float) -> None:
        for v in self.vehicles:
            x, y, h = v.pose
            self.rows[v.serial].append([now, x, y, h])
        for vid, rt in self.core.vehicles.items():
            waiting = rt.record.mode is VehicleMode.WAITING
            # A wait is recorded with whom it waits on *while* it waits: when that changes
            # (the dependency graph is rebuilt), the interval is split. Taking the set once,
            # at the wait's end, mixed graphs of different times and made the detector see
            # cycles that never existed (peak_2030, 2 h: two "cycles" that resolved).
            open_wait = self._waiting_since.get(vid)
            if waiting:
                on = tuple(self._waiting_on(vid))
                if open_wait is None:
                    self._waiting_since[vid] = (now, on)
                elif open_wait[1] != on:
                    self.waits.append((vid, open_wait[0], now, open_wait[1]))
                    self._waiting_since[vid] = (now, on)
            elif open_wait is not None:
                del self._waiting_since[vid]
                self.waits.append((vid, open_wait[0], now, open_wait[1]))
        if now >= self._next_sample_s:
            self._next_sample_s = now + SAMPLE_S
            counts = [0.0] * len(STATE_NAMES)
            for rt in self.core.vehicles.values():
                counts[STATE_NAMES.index(rt.record.mode.value)] += 1
            self.states.append([now, *counts])
            occupied = {b: 0 for b in self.blocks}
            for c in self.core.containers.values():
                if c.location_kind is Location.YARD and c.location in self.map.station_index:
                    zone = self.map.station(c.location).zone_id
                    if zone in occupied:
                        occupied[zone] += 1
            self.yard.append([now, *(float(occupied[b]) for b in self.blocks)])

    def _waiting_on(self, vid: str) -> list[str]:
        traffic = self.core.traffic
        graph = traffic._graph
        if graph is None or vid not in traffic.index:
            return []
        i = traffic.index[vid]
        if int(traffic.released[i]) > int(traffic.done[i]):
            # It has released steps to drive: whatever its last state said (it came before
            # this tick's release), it waits on nobody. Counted as waiting on its next
            # unreleased step, a vehicle just given a leg showed 0.5 s "cycles" with one
            # waiting on it (day_2026 at 221e66e, 3 of them).
            return []
        step = int(traffic.released[i]) + 1
        if step > int(graph.n_steps[i]):
            return []
        return sorted({traffic.ids[v] for v, s in graph.dependencies(i, step) if traffic.done[v] < s})

    def record(self, wall_s: float) -> RunRecord:
        now = self.clock.now_s()
        # The core reads the states the vehicles sent in the last step before the ledger is
        # checked: a drop finished in that step is not a lost container.
        self.core.read_vehicle_states()
        for vid, (start, on) in sorted(self._waiting_since.items()):
            self.waits.append((vid, start, now, on))
        core = self.core
        misses = sum(1 for c in core.containers.values()
                     if c.perishable and c.deadline_s is not None and (c.cleared_s if c.cleared_s is not None else now) > c.deadline_s)
        # A container is lost when the core has it on a vehicle that does not carry it and has
        # nothing left to do (a drop finished less than a state report ago is in transit).
        by_serial = {v.serial: v for v in self.vehicles}
        carried = {v.serial: {load.load_id for load in v.loads} for v in self.vehicles}
        lost = sum(1 for c in core.containers.values()
                   if c.location_kind is Location.IGV and c.location in by_serial
                   and c.id not in carried[c.location] and not by_serial[c.location].has_order_work)
        stats = self.transport.stats()
        dropped = sum(link.invalid_total + link.lost for link in stats.links.values())
        working = [(row[1 + STATE_NAMES.index("moving")] + row[1 + STATE_NAMES.index("waiting")] + row[1 + STATE_NAMES.index("loading")])
                   / max(1.0, sum(row[1:])) for row in self.states]
        terminal = self.terminal.stats()
        return RunRecord(
            scenario=self.scenario.name, seed=self.scenario.seed, map=self.map.name,
            vehicles=tuple(v.serial for v in self.vehicles), sim_duration_s=now, wall_s=wall_s,
            vehicle_length_m=self.map.vehicle.length_m, vehicle_width_m=self.map.vehicle.width_m,
            trajectories={k: body_headings(np.asarray(v, dtype=np.float64).reshape(-1, 4)) for k, v in self.rows.items()},
            states=np.asarray(self.states, dtype=np.float64).reshape(-1, 1 + len(STATE_NAMES)),
            waits=tuple(self.waits),
            crossings=tuple(sorted([(t, "northbound") for t in core.kpi_log["crossed_north"]] + [(t, "southbound") for t in core.kpi_log["crossed_south"]])),
            clearance_h=np.asarray(core.kpi_log["clearance_h"], dtype=np.float64),
            open_age_h=np.asarray(sorted((now - c.gate_in_s) / 3600.0 for c in core.containers.values() if c.cleared_s is None),
                                  dtype=np.float64).clip(min=0.0),
            replan_ms=np.asarray(core.kpi_log["replan_ms"], dtype=np.float64),
            tick_ms=np.asarray(core.kpi_log["tick_ms"], dtype=np.float64),
            yard=np.asarray(self.yard, dtype=np.float64).reshape(-1, 1 + len(self.blocks)), yard_blocks=self.blocks,
            crane_moves=int(terminal.get("crane_moves", 0)), rehandles=int(terminal.get("rehandles", 0)),
            deadline_misses=int(misses), containers_total=len(core.containers), containers_lost=int(lost),
            messages_dropped=int(dropped), energy_kwh=float(sum(v.energy_kwh for v in self.vehicles)),
            utilisation=float(np.mean(working)) if working else 0.0,
            events=tuple(core.event_log),
        )

    def close(self) -> None:
        self.firmware.close(goodbye=False)
        self.core.close()
        self._feed_socket.close(linger=0)
        self.transport.close()
        self.context.term()


def vehicle_faults(scenario: Scenario) -> FaultSchedule:
    """The scenario's vehicle-side faults as the fleet's fault schedule.

    A breakdown window stalls its share of the fleet (FATAL ``driveStall``: the core takes
    the vehicles' jobs away), a link-loss window cuts its share's radio, each window with
    its own seeded draw of vehicles; a speed change slows every vehicle by its factor.
    """
    fleet = serials(scenario.vehicles)
    faults: list[Fault] = []
    f = scenario.faults
    for stream, kind, windows in ((1, FaultKind.STALL, f.vehicle_faults), (2, FaultKind.COMM_LOSS, f.comm_losses)):
        for i, w in enumerate(windows):
            rng = np.random.default_rng([scenario.seed, 9100 + stream, i])
            faults += share_faults(kind, w.share, w.start_s, w.duration_s, fleet, rng)
    for change in f.speed_changes:
        if change.factor > 1.0:
            raise ScenarioError(f"{scenario.source or scenario.name}: faults.speed_changes: the simulator cannot "
                                f"speed vehicles up (factor {change.factor} > 1)")
        faults += [Fault(FaultKind.SLOW, serial, change.start_s, change.duration_s, speed_factor=change.factor)
                   for serial in fleet]
    return FaultSchedule(tuple(faults))


def body_headings(rows: np.ndarray) -> np.ndarray:
    """Headings of the body, not of travel: a bidirectional IGV reversing out of a bay does
    not turn round, and its footprint turned by pi is the same footprint. Keeping headings
    continuous modulo pi stops linear interpolation between rows from swinging a reversing
    vehicle sideways (which the geometric checker would report as a contact)."""
    out = rows.copy()
    for k in range(1, out.shape[0]):
        out[k, 3] -= np.pi * np.round((out[k, 3] - out[k - 1, 3]) / np.pi)
    return out


def run_scenario(scenario: Scenario, progress: Callable[[float, float], None] | None = None) -> RunRecord:
    """Run ``scenario`` in lockstep to its duration and return what happened."""
    started = time.perf_counter()
    run = Run(scenario)
    try:
        steps = int(round(scenario.duration_s / STEP_S))
        for k in range(steps):
            run.step()
            if progress is not None and (k % 20 == 0 or k == steps - 1):
                progress(run.clock.now_s(), scenario.duration_s)
        return run.record(time.perf_counter() - started)
    finally:
        run.close()
