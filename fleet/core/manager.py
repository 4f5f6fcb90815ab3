"""The real-time core: :class:`FleetManager`, the only owner of mutable fleet state.

``tick()`` runs the named phases in order, on the injected clock::

    ingest -> update vehicles -> intake jobs -> assign -> plan -> release -> publish -> journal

Control-API requests arrive during *ingest* (the transport calls the handlers registered
in :mod:`fleet.core.control` from inside ``poll``); they are validated and applied there,
so a bad request changes nothing and gets a one-line error. Planning that does not fit in
the tick's budget runs on a worker thread on a snapshot and is committed when it comes
back (:mod:`fleet.core.planning`): the loop never blocks on it.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from fleet.core.config import CoreConfig
from fleet.core.customs import Alert
from fleet.core.dispatch import ACTIVE, bind_destination
from fleet.core.flow import settled
from fleet.core.journal import EVENT_IDS_KEPT, Journal
from fleet.core.model import Container, Job, VehicleMode, VehicleRecord
from fleet.core.orders import LegAction, build_order, cell_of_node_id
from fleet.core.planning import LegRequest, PlanWorker
from fleet.core.telemetry import diff_state
from fleet.core.traffic import Traffic
from fleet.messages import Action, BlockingType, InstantActions
from maps.trackmap import TrackMap
from planner.sipp import RoutingGraph

log = logging.getLogger("fleet.core")


def quiet_gc() -> None:
    """Keep the cyclic garbage collector out of the tick's latency.

    Everything alive at start-up (the map, the planner's tables, imported modules) moves
    to the permanent generation, and young collections run every 50,000 allocations
    instead of 700. Without it, full collections over the long-lived heap stopped the
    loop for up to 200 ms at 200 vehicles (``python -m bench.core --no-quiet-gc`` shows
    the tick p99 with the collector left alone). Call it once, after start-up, in the
    process that runs the loop.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


TIMINGS_KEPT = 345_600
"""Tick and search times kept for the KPIs: two days of ticks at 0.5 s."""
STUCK_AFTER_FAILURES = 4
"""Leg searches in a row that find nothing before a vehicle counts as stuck."""
UNSTICK_INTERVAL_S = 5.0
"""How often stuck vehicles are planned together (a group search costs a few searches)."""
MOVE_UP_AFTER_S = 20.0
"""Failing this long, a stuck vehicle is sent part of the way (:mod:`fleet.core.advance`).
Not at once: a vehicle that waits a few seconds for its goal to be left (a crane, a truck)
should wait where it is, not move up into the lane in front of the others' goals."""
MUST_VACATE = frozenset({"crane_transfer", "scanner_bay", "handover", "lab_bay", "inspection_bay", "truck_exchange"})
"""Station kinds a vehicle must leave after its work there (others queue for them)."""


@dataclass
class Task:
    """One leg of a vehicle's agenda: drive to ``station`` and do ``action`` there."""

    station: str
    action: str  # "pick", "drop", "scan", "startCharging", "" (just go there)
    job: str | None = None
    container: str | None = None


@dataclass
class Leg:
    order_id: str
    cells: list[int]
    action: LegAction | None
    update_id: int = -1
    base_end: int = -1  # last step released to the vehicle
    progress: int = 0  # last step the vehicle reported reaching
    action_done: bool = False
    order_cache: dict = field(default_factory=dict)  # build_order's nodes and edges of this leg
    rejections: int = 0  # times the vehicle refused this leg's order (see ingest._resend_if_rejected)


@dataclass
class VehicleRuntime:
    """The core's view of one vehicle (record for telemetry + execution state)."""

    record: VehicleRecord
    cell: int = -1
    agenda: list[Task] = field(default_factory=list)
    leg: Leg | None = None
    legs_issued: int = 0
    plan_failures: int = 0  # leg searches in a row that found nothing (see FleetManager._unstick)
    failing_since_s: float = 0.0  # when the first of them failed
    offline_since_s: float | None = None
    estopped: bool = False
    rejoin: bool = False  # back (online, fault cleared, automatic): thaw once at rest (ingest._rejoin)
    rejoin_cancelled: bool = False  # the cancelOrder of that rejoin is sent


class FleetManager:
    """The fleet's state and the tick that advances it.

    Parameters
    ----------
    track_map : TrackMap
    config : CoreConfig
    clock : callable returning seconds (injected; virtual in lockstep runs)
    transport : object with ``poll``, ``send_order``, ``send_instant_actions``,
        ``publish`` and ``register_control`` (:class:`fleet.transport.CoreTransport`).
    perf_clock : callable, optional
        Wall-time source for budgets and latency figures (``time.perf_counter``).
    """

    def __init__(self, track_map: TrackMap, config: CoreConfig, clock: Callable[[], float], transport: Any,
                 perf_clock: Callable[[], float] | None = None) -> None:
        import time

        self.map = track_map
        self.config = config
        self.clock = clock
        self.perf = perf_clock or time.perf_counter
        self.transport = transport
        self.traffic = Traffic(track_map, unladen_speed_mps=config.unladen_speed_mps,
                               laden_speed_mps=config.laden_speed_mps, release_ahead_steps=config.release_ahead_steps)
        self.plan_worker = (PlanWorker(RoutingGraph(track_map), max_expansions=self.traffic.max_expansions)
                            if config.plan_in_worker else None)
        self.vehicles: dict[str, VehicleRuntime] = {}
        self.containers: dict[str, Container] = {}
        self.jobs: dict[str, Job] = {}
        # PERF: the core keeps every container and job of its life (a day of peak_2030 is
        # 3,500 of each); the per-tick phases look only at these (live_containers, active_jobs).
        self._live_containers: set[str] = set()
        self._active_jobs: set[str] = set()
        self.station_claims: dict[str, str] = {}  # station id -> job or vehicle id
        self._station_at_cell = {int(c): st.id for st, c in zip(track_map.stations, track_map.station_cell)}
        self.blocked_lanes: set[str] = set()
        self.blocked_zones: set[str] = set()
        self.alerts: list[dict[str, Any]] = []
        # External event ids taken in (feeds retry: each is applied once), oldest first,
        # at most EVENT_IDS_KEPT; those since the last journal commit in _new_event_ids.
        self.seen_events: dict[str, None] = {}
        self._new_event_ids: list[str] = []
        self._journaled_meta: dict[str, Any] | None = None
        self.deadline_warned: set[str] = set()  # containers already flagged "deadline at risk"
        self.counters = {"job": 0, "alert": 0}
        # Per container (kept, like the containers), and per tick or search (the last
        # TIMINGS_KEPT only: a core that runs for months must not grow a float a tick).
        self.kpi_log: dict[str, list[float] | deque[float]] = {
            "clearance_h": [], "crossed_north": [], "crossed_south": [],
            "replan_ms": deque(maxlen=TIMINGS_KEPT), "tick_ms": deque(maxlen=TIMINGS_KEPT)}
        self.paused_all = False
        self.speed_factor = 1.0
        self.set_speed: Callable[[float], None] | None = None
        self._dirty_containers: set[str] = set()
        self._telemetry_dirty: set[str] = set()
        self.container_docs: dict[str, dict[str, Any]] | None = None  # telemetry's documents, see state_doc
        self.cell_points: list[list[float]] | None = None  # telemetry's rounded cell coordinates, see state_doc
        self._dirty_jobs: set[str] = set()
        self._pending_events: list[tuple[float, str, dict[str, Any]]] = []
        self._pending_orders: list[tuple[str, str, int, float, dict[str, Any]]] = []
        self._next_assign_s = 0.0
        self._plan_turn = 0
        self._next_unstick_s = 0.0
        self._next_publish_s = 0.0
        self._published: dict[str, Any] | None = None
        self.telemetry_seq = 0
        self.event_log: list[tuple[float, str, dict[str, Any]]] | None = None  # set to a list to keep every event
        self.phase_ms: dict[str, list[float]] | None = None  # set to a dict to time every phase (bench/core.py)
        # Order and action ids carry the boot time so that a restarted core never reuses one
        # (a vehicle ignores an order id it has already executed).
        self.boot = f"b{int(clock() * 1000) % 10**10:x}"
        self.journal = Journal(config.state_dir / "journal.sqlite") if config.state_dir else None
        if self.journal is not None:
            self._recover()
        from fleet.core import control

        control.register(self)

    # ------------------------------------------------------------------ the tick
    def tick(self) -> None:
        started = self.perf()
        now = self.clock()
        for phase in (self._ingest, self._update_vehicles, self._intake_jobs, self._assign, self._plan, self._release,
                      self._publish, self._journal):
            if self.phase_ms is None:
                phase(now)
            else:
                t0 = self.perf()
                phase(now)
                self.phase_ms.setdefault(phase.__name__.lstrip("_"), []).append((self.perf() - t0) * 1000.0)
        self.kpi_log["tick_ms"].append((self.perf() - started) * 1000.0)

    def read_vehicle_states(self) -> None:
        """Only the first two phases: what the vehicles reported is applied (finished
        picks and drops move their containers), nothing is planned, released or sent.
        For a harness that must read the last states of a run before it checks them."""
        now = self.clock()
        self._ingest(now)
        self._update_vehicles(now)

    # ------------------------------------------------------------------ phases
    def _ingest(self, now: float) -> None:
        from fleet.core.ingest import ingest

        ingest(self, self.transport.poll(0), now)

    def _update_vehicles(self, now: float) -> None:
        from fleet.core.ingest import update_vehicles

        update_vehicles(self, now)

    def _intake_jobs(self, now: float) -> None:
        from fleet.core.dispatch import intake_jobs

        intake_jobs(self, now)

    def _assign(self, now: float) -> None:
        if now < self._next_assign_s:
            return
        self._next_assign_s = now + self.config.assign_interval_s
        from fleet.core.dispatch import assign_jobs

        assign_jobs(self, now)

    def _plan(self, now: float) -> None:
        """A leg for every vehicle whose agenda has work and who has none.

        The worker's finished batch is committed first; then legs are planned here until
        the tick's budget is spent, and the rest go to the worker as one batch on a
        snapshot (:mod:`fleet.core.planning`). Without a worker everything is planned
        here, whatever it takes: deterministic, for lockstep runs.
        """
        worker = self.plan_worker
        if worker is not None:
            for result in worker.poll() or ():
                self.kpi_log["replan_ms"].append(result.elapsed_ms)
                request = result.request
                v = self.vehicles[request.vehicle]
                if not self.needs_leg(v) or self.map.station_cell_of(v.agenda[0].station) != request.goal_cell:
                    continue
                self._start_leg(v, self.traffic.commit(request, result.path) if result.path is not None else None, now)
        deadline = self.perf() + self.config.plan_budget_s
        later = []
        # The inline budget goes round: each tick starts one vehicle further on, so the
        # same low ids do not always plan first (deterministic all the same).
        order = sorted(self.vehicles)
        turn = self._plan_turn % len(order) if order else 0
        self._plan_turn += 1
        for vid in order[turn:] + order[:turn]:
            v = self.vehicles[vid]
            if not self.needs_leg(v) or (worker is not None and vid in worker.vehicles_in_flight):
                continue
            if not bind_destination(self, v, now):
                continue  # every station of the kind is taken: wait, box on board
            request = self.next_leg_request(v, now)
            if request is None:
                continue  # frozen
            if worker is not None and self.perf() > deadline:
                later.append(request)
                continue
            cells, elapsed_ms = self.traffic.plan_now(request)
            self.kpi_log["replan_ms"].append(elapsed_ms)
            self._start_leg(v, cells, now)
        if later and worker is not None and not worker.busy:
            worker.submit(self.traffic.snapshot(), later)
        self._unstick(now)

    def _unstick(self, now: float) -> None:
        """Vehicles whose searches keep failing may be standing in one another's way (each
        stands for ever as far as the table knows): plan them as one group; if no group
        can go, send those stuck for :data:`MOVE_UP_AFTER_S` part of the way."""
        if now < self._next_unstick_s:
            return
        in_flight = self.plan_worker.vehicles_in_flight if self.plan_worker is not None else frozenset()
        stuck = [vid for vid in sorted(self.vehicles) if self.vehicles[vid].plan_failures >= STUCK_AFTER_FAILURES
                 and self.needs_leg(self.vehicles[vid]) and vid not in in_flight]
        if not stuck:
            return
        self._next_unstick_s = now + UNSTICK_INTERVAL_S
        requests = []
        for vid in stuck:
            v = self.vehicles[vid]
            request = self.next_leg_request(v, now)
            if request is not None:
                requests.append(request)
        started = self.perf()
        planned = self.traffic.plan_group(requests) if len(requests) >= 2 else []
        if planned:
            self.kpi_log["replan_ms"].append((self.perf() - started) * 1000.0)
            for request, cells in planned:
                self._start_leg(self.vehicles[request.vehicle], cells, now)
            self.event(now, "unstuck", {"vehicles": [r.vehicle for r, _ in planned], "left": len(requests) - len(planned)})
            return
        waited = [r for r in requests if now - self.vehicles[r.vehicle].failing_since_s >= MOVE_UP_AFTER_S]
        moved = self.traffic.move_up(waited) if waited else []
        self.kpi_log["replan_ms"].append((self.perf() - started) * 1000.0)
        for request, cells in moved:
            self._start_leg(self.vehicles[request.vehicle], cells, now, part_way=True)
        if moved:
            self.event(now, "moved_up", {"vehicles": [r.vehicle for r, _ in moved], "cells": [c[-1] for _, c in moved]})

    def next_leg_request(self, v: VehicleRuntime, now: float) -> LegRequest | None:
        """What planning the leg to ``v``'s next agenda station needs (None when frozen)."""
        return self.traffic.leg_request(v.record.id, self.map.station_cell_of(v.agenda[0].station), now, laden=v.record.laden)

    @staticmethod
    def needs_leg(v: VehicleRuntime) -> bool:
        """Whether ``v`` has work, no leg, and can drive (the plan phase gives it one)."""
        return (v.leg is None and bool(v.agenda) and not v.estopped and v.cell >= 0
                and v.record.mode not in (VehicleMode.OFFLINE, VehicleMode.MANUAL, VehicleMode.FAULT))

    def _start_leg(self, v: VehicleRuntime, cells: list[int] | None, now: float, *, part_way: bool = False) -> None:
        """``v`` drives ``cells`` to its next agenda station, or (``part_way``) towards it,
        with no action at the end; ``None``: no route was found."""
        if cells is None:
            if v.plan_failures == 0:
                v.failing_since_s = now
            v.plan_failures += 1
            return  # no route yet (search limit, or a stale snapshot result): next tick
        v.plan_failures = 0
        task = v.agenda[0]
        action = (LegAction(task.action, self.next_id(v, "a"), task.container, task.station)
                  if task.action and not part_way else None)
        v.leg = Leg(order_id=self.next_id(v, "o"), cells=cells, action=action)

    def _release(self, now: float) -> None:
        for vid in sorted(self.vehicles):
            v = self.vehicles[vid]
            leg = v.leg
            if leg is None or v.record.mode in (VehicleMode.OFFLINE,) or v.estopped:
                continue
            limit = self.traffic.release_limit(vid)
            if limit <= leg.base_end:
                continue
            first = max(leg.base_end, 0)
            speed = self.config.laden_speed_mps if v.record.laden else self.config.unladen_speed_mps
            order = build_order(self.map, vid, leg.order_id, leg.update_id + 1, leg.cells, first, limit, leg.action, speed,
                                self.config.horizon_steps, cache=leg.order_cache)
            self.transport.send_order(vid, order)
            if leg.update_id < 0 and leg.rejections == 0 and v.agenda and v.agenda[0].job:
                # The leg's own action: none on a leg part of the way (fleet.core.advance).
                self.event(now, "leg_released", {"job": v.agenda[0].job, "vehicle": vid,
                                                 "action": leg.action.action_type if leg.action else None})
            leg.update_id += 1
            leg.base_end = limit
            self._pending_orders.append((vid, leg.order_id, leg.update_id, now, {"cells": leg.cells, "base_end": limit}))

    def _publish(self, now: float) -> None:
        if now < self._next_publish_s:
            return
        self._next_publish_s = now + self.config.telemetry_interval_s
        from fleet.core.state_doc import state_document

        doc = state_document(self, now)
        changes = diff_state(self._published, doc)
        if changes or self._published is None:
            self.telemetry_seq += 1
            self.transport.publish("telemetry", self.telemetry_seq, {"seq": self.telemetry_seq, "t_s": now, "changes": changes})
            self._published = doc

    def _journal(self, now: float) -> None:
        if self.journal is None:
            self._dirty_containers.clear()
            self._dirty_jobs.clear()
            self._pending_events.clear()
            self._pending_orders.clear()
            self._new_event_ids.clear()
            return
        meta = {"counters": dict(self.counters), "blocked_lanes": sorted(self.blocked_lanes),
                "blocked_zones": sorted(self.blocked_zones)}
        changed = meta != self._journaled_meta
        if not (changed or self._dirty_containers or self._dirty_jobs or self._pending_orders or self._pending_events
                or self._new_event_ids):
            return  # an idle tick writes nothing
        self.journal.commit(
            containers=[self.containers[c].to_dict() for c in sorted(self._dirty_containers) if c in self.containers],
            jobs=[self.jobs[j].to_dict() for j in sorted(self._dirty_jobs) if j in self.jobs],
            orders=self._pending_orders,
            events=self._pending_events,
            seen_events=self._new_event_ids,
            meta={**meta, "t_s": now} if changed else None,
        )
        self._journaled_meta = meta
        self._dirty_containers.clear()
        self._dirty_jobs.clear()
        self._pending_events = []
        self._pending_orders = []
        self._new_event_ids = []

    # ------------------------------------------------------------------ recovery
    def _recover(self) -> None:
        from fleet.core.dispatch import recover_jobs

        state = self.journal.load()
        self.counters.update(state.meta.get("counters", {}))
        self.seen_events = dict.fromkeys(state.seen_events)
        self.blocked_lanes = set(state.meta.get("blocked_lanes", []))
        self.blocked_zones = set(state.meta.get("blocked_zones", []))
        for doc in state.containers.values():
            self.mark(container=Container.from_dict(doc))
        for doc in state.jobs.values():
            self.mark(job=Job.from_dict(doc))
        self._dirty_containers.clear()
        self._dirty_jobs.clear()
        recover_jobs(self)
        self.traffic.set_blocked_cells(self.blocked_cells())

    # ------------------------------------------------------------------ helpers used by the phase modules
    def new_id(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        prefix = {"job": "J", "alert": "A"}.get(kind, kind.upper())
        return f"{prefix}-{self.counters[kind]:06d}"

    def mark(self, container: Container | None = None, job: Job | None = None) -> None:
        """Store a changed container or job: journaled and published at the tick's end."""
        if container is not None:
            self.containers[container.id] = container
            self._dirty_containers.add(container.id)
            self._telemetry_dirty.add(container.id)
            if settled(container):
                self._live_containers.discard(container.id)
            else:
                self._live_containers.add(container.id)
        if job is not None:
            self.jobs[job.id] = job
            self._dirty_jobs.add(job.id)
            if job.status in ACTIVE:
                self._active_jobs.add(job.id)

    def live_containers(self) -> list[Container]:
        """The containers not :func:`~fleet.core.flow.settled`, by id."""
        return [self.containers[cid] for cid in sorted(self._live_containers)]

    def active_jobs(self) -> list[Job]:
        """The jobs waiting, open, assigned or carrying, by id.

        A job leaves those states for good (done or cancelled), sometimes changed in
        place before it is marked, so the set is pruned here rather than in :meth:`mark`.
        """
        jobs = self.jobs
        gone = [jid for jid in self._active_jobs if jobs[jid].status not in ACTIVE]
        self._active_jobs.difference_update(gone)
        return [jobs[jid] for jid in sorted(self._active_jobs)]

    def next_id(self, v: VehicleRuntime, kind: str) -> str:
        """A new order ("o"), action ("a") or instant action ("i") id for vehicle ``v``.

        Ids carry the boot time, so that a restarted core never reuses one (a vehicle
        ignores an order id it has already executed)."""
        v.legs_issued += 1
        return f"{v.record.id}-{self.boot}-{kind}{v.legs_issued}"

    def take_telemetry_dirty(self) -> list[str]:
        """Containers marked since the last call (telemetry rebuilds only their documents)."""
        out = sorted(self._telemetry_dirty)
        self._telemetry_dirty.clear()
        return out

    def note_event_id(self, event_id: str) -> None:
        """Remember an external event id, once the event is applied: a feed's retry of it
        changes nothing (``event_id in seen_events``). The most recent
        :data:`~fleet.core.journal.EVENT_IDS_KEPT` are kept, across restarts too."""
        if event_id in self.seen_events:
            return
        self.seen_events[event_id] = None
        self._new_event_ids.append(event_id)
        if len(self.seen_events) > EVENT_IDS_KEPT:
            del self.seen_events[next(iter(self.seen_events))]

    def event(self, now: float, kind: str, doc: dict[str, Any]) -> None:
        self._pending_events.append((now, kind, doc))
        if self.event_log is not None:
            self.event_log.append((now, kind, doc))

    def raise_alert(self, now: float, alert: Alert) -> None:
        self.alerts.append({"id": self.new_id("alert"), "t_s": now, "kind": alert.kind, "severity": alert.severity,
                            "subject": alert.subject, "text": alert.text})
        self.alerts = self.alerts[-200:]
        self.event(now, "alert", self.alerts[-1])

    def instant(self, vid: str, action_type: str, **params: Any) -> None:
        from fleet.messages import ActionParameter

        v = self.vehicles[vid]
        action = Action(action_type=action_type, action_id=self.next_id(v, "i"), blocking_type=BlockingType.HARD,
                        action_parameters=tuple(ActionParameter(key=k, value=val) for k, val in params.items()))
        self.transport.send_instant_actions(vid, InstantActions(serial_number=vid, actions=(action,)))

    def blocked_cells(self) -> np.ndarray:
        tm = self.map
        lanes = set(self.blocked_lanes)
        if self.blocked_zones:
            from shapely.geometry import LineString

            for zid in self.blocked_zones:
                poly = tm.zones[tm.zone_index[zid]].polygon
                lanes.update(tm.lane_ids[i] for i, g in enumerate(tm.lane_geometry) if LineString(g).intersects(poly))
        index = {lid: i for i, lid in enumerate(tm.lane_ids)}
        lane_idx = np.array([index[l] for l in lanes if l in index], dtype=np.int64)
        return np.nonzero(np.isin(tm.cell_lane, lane_idx))[0] if lane_idx.size else np.zeros(0, dtype=np.int64)

    def freeze_vehicle(self, vid: str) -> None:
        """``vid`` stops for good where it is; the others' legs follow their rerouted paths."""
        self.traffic.freeze(vid, self.clock())
        self.vehicles[vid].leg = None
        self._follow_rerouted_paths(vid)

    def thaw_vehicle(self, vid: str, cell: int) -> None:
        """``vid`` is back, at rest on ``cell`` (where it reports it is) with no order to drive."""
        v = self.vehicles[vid]
        if self.traffic.is_frozen(vid):
            self.traffic.thaw(vid, cell, self.clock())
            self.event(self.clock(), "vehicle_back", {"vehicle": vid, "cell": int(cell)})
            v.cell = cell
            v.leg = None
            self._follow_rerouted_paths(vid)
            here = self.station_at(cell)
            if v.record.station != here:
                # Back somewhere else than it was (mid-lane, often): the station it stood on
                # is free, and one left mid-lane is sent away (dispatch) before it blocks.
                if v.record.station and self.station_claims.get(v.record.station) == vid:
                    del self.station_claims[v.record.station]
                v.record.station = here
                if here is not None:
                    self.station_claims.setdefault(here, vid)

    def station_at(self, cell: int) -> str | None:
        """The station whose cell is ``cell``, if any."""
        return self._station_at_cell.get(int(cell))

    def _follow_rerouted_paths(self, vid: str) -> None:
        """The others' legs take the paths traffic rerouted around ``vid``."""
        for other in sorted(self.vehicles):
            leg = self.vehicles[other].leg
            if leg is not None and other != vid:
                cells = self.traffic.replanned_cells(other)
                if cells != leg.cells:
                    leg.cells = cells  # same committed prefix, new rest (sent with the next update)
                    leg.order_cache = {}

    def cell_of_state(self, last_node_id: str, x: float, y: float) -> int:
        cell = cell_of_node_id(last_node_id)
        if cell is not None and 0 <= cell < self.map.n_cells:
            return cell
        return int(np.argmin(np.hypot(self.map.cell_xy[:, 0] - x, self.map.cell_xy[:, 1] - y)))

    def close(self) -> None:
        if self.plan_worker is not None:
            self.plan_worker.close()
        if self.journal is not None:
            self.journal.close()
