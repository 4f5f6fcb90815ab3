"""Virtual IGV firmware on the real wire: N :class:`~sim.vehicle.VirtualIGV` behind
N vehicle clients of the protocol (:class:`fleet.vehicle_client.VehicleClient`, the
reference client of ``docs/protocol.md``), served by one loop.

One :meth:`Firmware.run_once`:

1. polls every vehicle's socket (up to ``timeout_ms``), runs the link timers, and hands
   new orders and instant actions to the vehicles (each exactly once, in order);
2. advances every vehicle to the simulation clock's time, in sub-steps of at most
   ``max_step_s`` (and the terminal, when there is one);
3. applies communication-loss faults: the socket is dropped when a fault starts (as a
   radio would) and reopened when it ends; the link session resumes, so the core
   retransmits what it could not deliver;
4. sends ``state`` when due (on events, including the link coming up, 10 Hz while
   driving by default, at least every 30 s) and ``visualization`` when configured.

Link timing (heartbeats, retransmissions, liveness) runs on wall time; the vehicles and the
terminal run on the injected simulation clock (a :class:`~sim.clock.RealtimeClock` with
the core's speed factor for ``igv sim``). The clients answer ``factsheetRequest`` with
the example factsheet of :mod:`fleet.examples`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Callable, Sequence

import zmq

from fleet import examples
from fleet.link import LinkEventKind, LinkTiming
from fleet.messages import ConnectionState, InstantActions, Order
from fleet.security import ClientSecurity
from fleet.vehicle_client import ClientGroup, VehicleClient, VehicleClientConfig
from maps.errors import InputError
from sim.clock import Clock
from sim.vehicle import VirtualIGV

log = logging.getLogger("sim.firmware")

MAX_STEP_S = 0.1
"""Largest simulated step of the vehicles (the kinematics are exact per step, but
actions, faults and node events are resolved at step boundaries)."""


class Firmware:
    """Serve ``vehicles`` on the wire (see the module docstring).

    Parameters
    ----------
    vehicles : sequence of VirtualIGV
    endpoint : str
        The core's vehicle endpoint.
    clock : Clock
        Simulated time.
    terminal : object, optional
        Anything with ``advance(now_s)`` (a :class:`sim.terminal.Terminal`), advanced
        with the vehicles.
    security : callable, optional
        ``serial -> ClientSecurity`` when the core runs with keys.
    context : zmq.Context, optional
    link_clock : callable
        Monotonic wall seconds for the link layer.
    max_step_s : float
    verify_outbound : bool
        Check each outgoing message as the core will (the client's default; a large
        fleet in real time may turn it off to save CPU).
    timing : LinkTiming, optional
        Link timing (default: the protocol's constants).
    """

    def __init__(self, vehicles: Sequence[VirtualIGV], endpoint: str, clock: Clock, *, terminal: Any = None,
                 security: Callable[[str], ClientSecurity] | None = None, context: zmq.Context | None = None,
                 link_clock: Callable[[], float] = time.monotonic, max_step_s: float = MAX_STEP_S,
                 verify_outbound: bool = True, timing: LinkTiming | None = None) -> None:
        if not vehicles:
            raise InputError("the firmware needs at least one vehicle")
        if not max_step_s > 0:
            raise InputError(f"max_step_s must be positive, got {max_step_s}")
        self.vehicles = list(vehicles)
        self.clock = clock
        self.terminal = terminal
        self.max_step_s = max_step_s
        self._by_serial = {v.serial: v for v in self.vehicles}
        if len(self._by_serial) != len(self.vehicles):
            raise InputError("vehicle serial numbers must be distinct")
        factsheet = examples.factsheet()
        self.clients: dict[str, VehicleClient] = {}
        for v in self.vehicles:
            config = VehicleClientConfig(serial_number=v.serial, manufacturer=v.config.manufacturer, endpoint=endpoint,
                                         security=security(v.serial) if security else None,
                                         factsheet=dataclasses.replace(factsheet, serial_number=v.serial),
                                         verify_outbound=verify_outbound, timing=timing or LinkTiming())
            self.clients[v.serial] = VehicleClient(config, context=context, clock=link_clock)
        self.group = ClientGroup(self.clients.values())
        self._last_s = clock.now_s()
        self._offline: set[str] = set()
        self.received = 0
        self.states_sent = 0

    def connect(self) -> None:
        """Open every vehicle's socket and announce it (``connection`` ONLINE)."""
        for client in self.clients.values():
            client.connect()

    def close(self, *, goodbye: bool = True, timeout_s: float = 1.0) -> None:
        """Say ``connection`` OFFLINE (waiting up to ``timeout_s`` in all) and close."""
        end = time.monotonic() + timeout_s
        for client in self.clients.values():
            if goodbye and client.socket is not None:
                client.close(timeout_s=max(0.0, min(0.2, end - time.monotonic())))
            else:
                client.drop()

    def run_once(self, timeout_ms: int = 10) -> None:
        """One round of the loop (see the module docstring)."""
        inbox = self.group.poll(timeout_ms)
        now = self.clock.now_s()
        for serial, messages in inbox.items():
            vehicle = self._by_serial[serial]
            for message in messages:
                if isinstance(message, (Order, InstantActions)):
                    vehicle.handle(message, now)
                    self.received += 1
        for serial, client in self.clients.items():
            if any(e.kind is LinkEventKind.ONLINE for e in client.take_events()):
                self._by_serial[serial].request_state()  # the core hears from it at once
        self._advance(now)
        self._comm_faults()
        for vehicle in self.vehicles:
            if vehicle.serial in self._offline:
                continue
            client = self.clients[vehicle.serial]
            if vehicle.state_due(now):
                dropped = client.tx_dropped
                client.send_state(vehicle.state(now))
                self.states_sent += 1
                if client.tx_dropped != dropped and client.connection_state is ConnectionState.ONLINE:
                    vehicle.request_state()  # the socket refused it (reconnecting): again next round
            if vehicle.visualization_due(now):
                client.send_visualization(vehicle.visualization(now))

    def _advance(self, now: float) -> None:
        span = now - self._last_s
        if span <= 0:
            return
        steps = max(1, math.ceil(span / self.max_step_s - 1e-9))
        dt = span / steps
        for k in range(1, steps + 1):
            t = self._last_s + k * dt if k < steps else now
            if self.terminal is not None:
                self.terminal.advance(t)
            for vehicle in self.vehicles:
                vehicle.step(t, dt)
        self._last_s = now

    def _comm_faults(self) -> None:
        for vehicle in self.vehicles:
            lost = vehicle.comm_lost()
            serial = vehicle.serial
            if lost and serial not in self._offline:
                self._offline.add(serial)
                self.clients[serial].drop()
                log.info("%s: radio down (fault)", serial)
            elif not lost and serial in self._offline:
                self._offline.discard(serial)
                self.clients[serial].reconnect()
                log.info("%s: radio back", serial)

    def run(self, *, duration_s: float | None = None, should_stop: Callable[[], bool] = lambda: False,
            timeout_ms: int = 10) -> None:
        """Loop until ``duration_s`` simulated seconds have passed or ``should_stop()``."""
        start = self.clock.now_s()
        while not should_stop():
            if duration_s is not None and self.clock.now_s() - start >= duration_s:
                return
            self.run_once(timeout_ms)
