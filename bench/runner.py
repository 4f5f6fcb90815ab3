"""One simulated run: the real core, the simulated terminal and virtual IGVs on the wire.

:func:`run_scenario` is what ``igv bench`` and ``igv run`` call. The core
(:class:`fleet.core.manager.FleetManager` on a :class:`fleet.transport.CoreTransport`
bound to loopback) and the virtual IGVs (:class:`sim.firmware.Firmware`) exchange every
order and state over ZeroMQ; both run on one :class:`sim.clock.VirtualClock` advanced in
steps of ``STEP_S``. The terminal (cranes, scanner, lab, trucks, handover yard, customs)
reports through the core's terminal-feed handlers in-process (docs/telemetry.md).

Everything the bench judges is recorded here from ground truth: the simulator's poses
(for the geometric collision check), the core's vehicle states and waits, crossings,
clearance times, planning and tick latencies.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from bench.record import STATE_NAMES, RunRecord, Wait  # noqa: F401  (Wait: the tuple type of waits)
from bench.scenario import Scenario
from fleet.core.config import CoreConfig
from fleet.core.control import Handlers
from fleet.core.manager import FleetManager
from fleet.core.model import Location, VehicleMode
from fleet.transport import CoreTransport, TransportConfig
from maps import load_track_map
from maps.errors import IgvError
from sim.clock import VirtualClock
from sim.demand import Demand, DemandConfig
from sim.firmware import Firmware
from sim.spawn import build_fleet
from sim.terminal import Terminal, split_event

STEP_S = 0.5
"""Simulated seconds per lockstep step (trajectory rows are this far apart)."""
SAMPLE_S = 60.0
"""How often fleet states and yard occupancy are sampled."""
LOOPBACK = "tcp://127.0.0.1:*"


class Run:
    """A core, a terminal and a fleet wired together; :meth:`step` advances all of them."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.map = load_track_map(scenario.map)
        self.clock = VirtualClock(0.0)
        self.transport = CoreTransport(
            TransportConfig(vehicle_endpoint=LOOPBACK, telemetry_endpoint=LOOPBACK, control_endpoint=LOOPBACK,
                            verify_outbound=False),
            clock=self.clock.now_s,
        )
        self.core = FleetManager(self.map, CoreConfig(map_name=scenario.map, seed=scenario.seed), clock=self.clock.now_s,
                                 transport=self.transport)
        self.core.event_log = []
        self.handlers = Handlers(self.core)
        d = scenario.demand
        demand = Demand(DemandConfig(export_per_day=d.export_per_day, import_per_day=d.import_per_day,
                                     perishable_share=d.perishable_share, reefer_share=d.reefer_share,
                                     perishable_deadline_h=d.perishable_deadline_h, peak_profile=tuple(d.peak_profile)),
                        seed=scenario.seed)
        self.terminal = Terminal(self.map, demand, self._feed, seed=scenario.seed)
        self.vehicles = build_fleet(self.map, scenario.vehicles, seed=scenario.seed, service=self.terminal.service,
                                    start_kinds=("parking", "charger", "handover"))
        # One sub-step per step: orders handed to a vehicle at the step's time may start a
        # station service at that time, so the terminal must not be stepped behind it.
        self.firmware = Firmware(self.vehicles, self.transport.endpoints.vehicles, self.clock, terminal=self.terminal,
                                 link_clock=self.clock.now_s, max_step_s=STEP_S)
        self.firmware.connect()
        self.rows: dict[str, list[list[float]]] = {v.serial: [] for v in self.vehicles}
        self.states: list[list[float]] = []
        self.yard: list[list[float]] = []
        self.blocks = tuple(z.id for z in self.map.zones_of_kind("yard_block"))
        self.waits: list[Wait] = []
        self._waiting_since: dict[str, float] = {}
        self._next_sample_s = 0.0
        self.feed_refused = 0

    def _feed(self, event: dict) -> bool:
        op, args = split_event(event)
        try:
            self.handlers.call(op, args)
        except IgvError:
            self.feed_refused += 1
            return False
        return True

    def step(self) -> None:
        now = self.clock.advance(STEP_S)
        self.core.tick()
        self.firmware.run_once(timeout_ms=1)
        self._record(now)

    def _record(self, now: float) -> None:
        for v in self.vehicles:
            x, y, h = v.pose
            self.rows[v.serial].append([now, x, y, h])
        for vid, rt in self.core.vehicles.items():
            waiting = rt.record.mode is VehicleMode.WAITING
            if waiting and vid not in self._waiting_since:
                self._waiting_since[vid] = now
            elif not waiting and vid in self._waiting_since:
                start = self._waiting_since.pop(vid)
                self.waits.append((vid, start, now, tuple(self._waiting_on(vid))))
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
        step = int(traffic.released[i]) + 1
        if step > int(graph.n_steps[i]):
            return []
        return sorted({traffic.ids[v] for v, s in graph.dependencies(i, step) if traffic.done[v] < s})

    def record(self, wall_s: float) -> RunRecord:
        now = self.clock.now_s()
        for vid, start in sorted(self._waiting_since.items()):
            self.waits.append((vid, start, now, tuple(self._waiting_on(vid))))
        core = self.core
        misses = sum(1 for c in core.containers.values()
                     if c.perishable and c.deadline_s is not None and (c.cleared_s if c.cleared_s is not None else now) > c.deadline_s)
        # A container is lost when the core has it on a vehicle that does not carry it and has
        # nothing left to do (a drop finished less than a state report ago is in transit).
        by_serial = {v.serial: v for v in self.vehicles}
        lost = sum(1 for c in core.containers.values()
                   if c.location_kind is Location.IGV and c.location in by_serial
                   and c.id not in by_serial[c.location].loads and not by_serial[c.location].has_order_work)
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
        self.transport.close()


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
