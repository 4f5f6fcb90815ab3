"""Fixtures for the fleet wire tests: loopback cores, vehicles, a virtual clock, a lossy shim.

Everything binds 127.0.0.1 on free ports, closes with linger 0 and runs in bounded loops.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest
import zmq

from fleet import examples
from fleet.link import LinkTiming
from fleet.messages import State
from fleet.transport import CoreTransport, Inbound, TransportConfig, VehicleEvent
from fleet.vehicle_client import VehicleClient, VehicleClientConfig

LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"

FAST_TIMING = LinkTiming(
    heartbeat_interval_s=0.05,
    connection_broken_after_s=0.3,
    offline_after_s=3.0,
    resend_after_s=0.05,
    resend_max_interval_s=0.2,
    max_resends=20,
)
"""Short timing for loopback tests that are about behaviour, not the documented constants."""


class FakeClock:
    """A virtual clock: time moves only when a test says so."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        self.now_s += dt_s


def loopback_config(**kwargs: Any) -> TransportConfig:
    return TransportConfig(
        vehicle_endpoint=LOOPBACK_ANY_PORT,
        telemetry_endpoint=LOOPBACK_ANY_PORT,
        control_endpoint=LOOPBACK_ANY_PORT,
        **kwargs,
    )


def idle_state() -> State:
    """A small valid state (what an idle vehicle reports)."""
    return examples.state()


@dataclass
class Harness:
    """A core and its vehicles in one thread, pumped in turn."""

    core: CoreTransport
    clients: list[VehicleClient] = field(default_factory=list)
    inbound: list[Inbound] = field(default_factory=list)
    events: list[VehicleEvent] = field(default_factory=list)
    received: dict[str, list[Any]] = field(default_factory=dict)

    def vehicle(self, serial: str, **kwargs: Any) -> VehicleClient:
        config_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in VehicleClientConfig.__dataclass_fields__}
        config = VehicleClientConfig(
            serial_number=serial,
            manufacturer=examples.MANUFACTURER,
            endpoint=config_kwargs.pop("endpoint", self.core.endpoints.vehicles),
            **config_kwargs,
        )
        client = VehicleClient(config, **kwargs)
        self.clients.append(client)
        self.received.setdefault(serial, [])
        return client

    def pump(self, duration_s: float = 0.0) -> None:
        """Serve the core and every vehicle for ``duration_s`` (at least one round)."""
        end = time.monotonic() + duration_s
        while True:
            result = self.core.poll(1)
            self.inbound.extend(result.inbound)
            self.events.extend(result.events)
            for client in self.clients:
                self.received[client.serial].extend(client.poll(0))
            if time.monotonic() >= end:
                return

    def run_until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Pump until ``predicate()`` holds; fail the test after ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"condition not met within {timeout_s} s")
            self.pump()

    def events_of_kind(self, kind: Any) -> list[VehicleEvent]:
        return [e for e in self.events if e.kind is kind]

    def events_of(self, serial: str, kind: Any) -> list[VehicleEvent]:
        return [e for e in self.events if e.serial == serial and e.kind is kind]

    def inbound_of(self, serial: str, cls: type) -> list[Any]:
        return [m.message for m in self.inbound if m.serial == serial and isinstance(m.message, cls)]

    def close(self) -> None:
        for client in self.clients:
            client.drop()
        self.core.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fast_timing() -> LinkTiming:
    return FAST_TIMING


@pytest.fixture
def harness_factory() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**config: Any) -> Harness:
        core_kwargs = {k: config.pop(k) for k in ("clock", "wall_clock", "session") if k in config}
        harness = Harness(CoreTransport(loopback_config(**config), **core_kwargs))
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


@pytest.fixture
def harness(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory()


class LossyShim:
    """A proxy between vehicles and the core that drops a fraction of messages both ways.

    Vehicles connect to :attr:`endpoint`; for each vehicle the shim opens a DEALER to the
    core with the vehicle's routing id, so the core sees the same serial numbers. Runs in
    its own thread with its own context until :meth:`stop`.
    """

    def __init__(self, core_endpoint: str, drop_fraction: float, seed: int) -> None:
        self.core_endpoint = core_endpoint
        self.drop_fraction = drop_fraction
        self.rng = random.Random(seed)
        self.context = zmq.Context()
        self.front = self.context.socket(zmq.ROUTER)
        self.front.linger = 0
        self.front.bind(LOOPBACK_ANY_PORT)
        self.endpoint = self.front.getsockopt_string(zmq.LAST_ENDPOINT)
        self.backs: dict[bytes, zmq.Socket] = {}
        self.dropped = 0
        self.forwarded = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _lose(self) -> bool:
        if self.rng.random() < self.drop_fraction:
            self.dropped += 1
            return True
        self.forwarded += 1
        return False

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.front, zmq.POLLIN)
        owners: dict[zmq.Socket, bytes] = {}
        while not self._stop.is_set():
            for sock, _ in poller.poll(5):
                if sock is self.front:
                    identity, *frames = self.front.recv_multipart()
                    back = self.backs.get(identity)
                    if back is None:
                        back = self.context.socket(zmq.DEALER)
                        back.linger = 0
                        back.routing_id = identity
                        back.connect(self.core_endpoint)
                        self.backs[identity] = back
                        owners[back] = identity
                        poller.register(back, zmq.POLLIN)
                    if not self._lose():
                        back.send_multipart(frames)
                else:
                    frames = sock.recv_multipart()
                    if not self._lose():
                        self.front.send_multipart([owners[sock], *frames])
        for back in self.backs.values():
            back.close(linger=0)
        self.front.close(linger=0)
        self.context.term()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def lossy_shim() -> Iterator[Callable[..., LossyShim]]:
    made: list[LossyShim] = []

    def make(core_endpoint: str, drop_fraction: float, seed: int = 7) -> LossyShim:
        shim = LossyShim(core_endpoint, drop_fraction, seed)
        made.append(shim)
        return shim

    yield make
    for shim in made:
        shim.stop()
