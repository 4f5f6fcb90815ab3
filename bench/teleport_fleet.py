"""A lockstep fleet of node-hopping vehicles around the real core and transport (tests, bench/core.py).

Each :meth:`LockstepFleet.step` advances the virtual clock, runs one core tick, lets the
messages cross the loopback sockets, steps every vehicle and lets its state cross back.
"""

from __future__ import annotations

import time

import numpy as np
import zmq

from bench.runner import body_headings
from fleet.core.config import CoreConfig
from fleet.core.control import Handlers
from fleet.core.manager import FleetManager
from fleet.transport import CoreTransport, TransportConfig
from maps import load_track_map
from sim.teleport import TeleportVehicle

LOOPBACK = "tcp://127.0.0.1:*"


class LockstepFleet:
    def __init__(self, n_vehicles: int = 4, *, dt_s: float = 0.5, config: CoreConfig | None = None, map_name: str = "bac_luan_2",
                 start_stations: list[str] | None = None) -> None:
        self.map = load_track_map(map_name)
        self.t = 0.0
        self.dt_s = dt_s
        self.transport = CoreTransport(TransportConfig(vehicle_endpoint=LOOPBACK, telemetry_endpoint=LOOPBACK, control_endpoint=LOOPBACK),
                                       clock=self.now)
        # Lockstep: every leg is planned inside its tick (no worker), so runs repeat.
        self.core = FleetManager(self.map, config or CoreConfig(plan_in_worker=False), clock=self.now, transport=self.transport)
        self.control = Handlers(self.core)
        self.context = zmq.Context()
        pool = [s.id for kind in ("parking", "charger", "handover") for s in self.map.stations_of_kind(kind)]
        stations = start_stations or pool[:n_vehicles]
        self.vehicles: list[TeleportVehicle] = []
        for k, sid in enumerate(stations):
            cell = self.map.station_cell_of(sid)
            v = TeleportVehicle(f"igv-{k + 1:03d}", cell, tuple(float(c) for c in self.map.cell_xy[cell]), self.map.name)
            v.connect(self.transport.endpoints.vehicles, self.context, self.now)
            self.vehicles.append(v)
        self.occupancy: list[tuple[float, dict[str, tuple[int, int]]]] = []

    def now(self) -> float:
        return self.t

    def vehicle(self, serial: str) -> TeleportVehicle:
        return next(v for v in self.vehicles if v.serial == serial)

    def step(self) -> None:
        self.t += self.dt_s
        self.core.tick()
        time.sleep(0.002)
        cells: dict[str, tuple[int, int]] = {}
        for v in self.vehicles:
            before = v.cell
            v.step(self.t)
            if v.client is not None:
                v.report()
            cells[v.serial] = (before, v.cell)
        self.occupancy.append((self.t, cells))
        time.sleep(0.002)

    def run_until(self, predicate, max_steps: int = 4000) -> int:
        for k in range(max_steps):
            self.step()
            if predicate():
                return k
        raise AssertionError(f"condition not reached in {max_steps} steps")

    def cell_conflicts(self) -> list[tuple[float, str, str]]:
        """Pairs of vehicles whose cells (before and after each hop) conflict at some step."""
        bad = []
        for t, cells in self.occupancy:
            ids = sorted(cells)
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    if any(self.map.cells_conflict(x, y) for x in set(cells[a]) for y in set(cells[b])):
                        bad.append((t, a, b))
        return bad

    def trajectories(self) -> list[np.ndarray]:
        """Per vehicle ``[t, x, y, heading]`` rows from the recorded hops (for the geometric checker)."""
        out = []
        for v in self.vehicles:
            rows = []
            for t, cells in self.occupancy:
                before, after = cells[v.serial]
                for tt, c in ((t - self.dt_s / 2, before), (t, after)):
                    rows.append([tt, *self.map.cell_xy[c], self.map.cell_heading_rad[c]])
            out.append(body_headings(np.asarray(rows, dtype=np.float64)))
        return out

    def close(self) -> None:
        for v in self.vehicles:
            if v.client is not None:
                v.client.drop()
        self.core.close()
        self.transport.close()
        self.context.term()
