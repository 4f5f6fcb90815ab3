"""The simulated terminal around the IGVs: gate, yard cranes, scanner, lab, inspection,
the Dongxing handover yard, road trucks and the customs authority, as discrete events.

:class:`Terminal` runs on the injected simulated time (:meth:`Terminal.advance`) and
talks to the core only through the terminal feed of ``docs/telemetry.md``: it calls the
injected ``send(event)`` with dicts ``{"cmd": "container_arrival" | "container_departure"
| "eseal_event" | "customs_declaration", "event_id": ..., ...}``. Vehicles reach it
through :meth:`Terminal.service` (a :data:`sim.service.Service`): the station's
equipment books the work and answers with its duration, queueing included.

A container's life here:

* **Export.** Its road truck reaches the e-Gate (demand time), is processed and drives
  to the landside end of the export block with the most room (reefer rows for reefers);
  the landside crane stacks the box; then ``container_arrival`` at one of the block's
  ``crane_transfer`` stations (round robin) and ``eseal_event sealed``. An IGV ``pick``
  there books the waterside crane (slot -> IGV). A ``drop`` at a ``handover`` station is
  taken by the Dongxing equipment: the box has crossed.
* **Import.** The Dongxing yard puts the box on the free station of the import aisle
  unused the longest (a backlog waits when none is free) and sends ``container_arrival``; an IGV
  ``pick`` there is served by the handover equipment. A ``drop`` at an import block's
  ``crane_transfer`` station books the waterside crane (IGV -> slot; the vehicle is free
  once the box is lifted). Once the box is stacked and released, a road truck comes for
  it (0.5-3 h later), the landside crane loads it and ``container_departure`` follows.
* **Customs** (:mod:`sim.customs_model`): a first declaration 5-30 min after arrival;
  a ``scan`` bay serves at 20-40 boxes an hour (a clean scan releases, as in the core);
  a ``drop`` at a lab bay queues for sampling (about 20 min), the result comes 2-4 h
  later as a declaration; a ``drop`` at an inspection bay queues for an inspection, after
  which the box is released. A ``pick`` at a lab or inspection bay waits until the
  sampling or inspection is over. A few e-seals report a tamper.

``send`` may return False to say the core refused an event; a refused departure is
retried (the truck waits at the gate). A sender that learns of a refusal later (a
request over the control API, answered in the core's next tick) calls
:meth:`Terminal.refused` instead. All randomness comes from generators seeded by
``(seed, subsystem)``: a lockstep run is reproducible event for event.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from maps.errors import InputError
from maps.trackmap import TrackMap
from sim.customs_model import CustomsConfig, first_declaration, lab_result, uniform
from sim.demand import ContainerArrival, Demand
from sim.equipment import ArmgCrane, Server, crane_moves_per_h, crane_roles
from sim.service import ServiceOutcome, ServiceRequest

MAX_DEPARTURE_RETRIES = 12


def split_event(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A feed event as a control-API call: ``(op, args)`` (``op`` is its ``cmd``).

    Arguments without a value (``deadline_s`` of a box that is not perishable) are left
    out: the control API has no ``null`` and refuses a request carrying one, and a missing
    optional argument means the same to the handlers.
    """
    return event["cmd"], {k: v for k, v in event.items() if k != "cmd" and v is not None}


@dataclass(frozen=True)
class TerminalConfig:
    """Equipment and process parameters (``site.md``; ranges are uniform ``(low, high)``,
    seconds unless named otherwise; "estimate" where ``site.md`` has no figure)."""

    crane_move_s: tuple[float, float] = (90.0, 150.0)
    crane_gantry_mps: float = 4.0
    bay_length_m: float = 6.1
    scanner_per_h: tuple[float, float] = (20.0, 40.0)
    lab_samplers: int = 2  # estimate
    inspectors: int = 2  # estimate
    handover_machines: int = 4  # estimate: reach stackers of the Dongxing yard
    handover_handling_s: tuple[float, float] = (60.0, 120.0)  # estimate
    bay_handling_s: tuple[float, float] = (60.0, 120.0)  # estimate: lab, inspection, truck exchange
    gate_processing_s: tuple[float, float] = (60.0, 180.0)  # estimate: e-Gate
    truck_to_block_s: tuple[float, float] = (120.0, 360.0)  # estimate
    import_pickup_delay_s: tuple[float, float] = (1800.0, 10800.0)  # estimate
    retry_s: float = 600.0
    customs: CustomsConfig = field(default_factory=CustomsConfig)
    perishable_share: float = 0.45
    """Share of perishables, for the lab draw (taken from the demand when one is given)."""
    cranes_per_block: int | None = None
    """Cranes of every yard block (1-3, :func:`sim.equipment.crane_roles`); None: the
    block's ``cranes`` property on the map."""
    import_handover_stations: tuple[str, ...] = ()
    """Handover stations where imports are put down (empty: the map's import aisle, the
    handover stations whose zone has ``yard = "import"``, or all when it has none)."""
    event_prefix: str = "sim"

    def __post_init__(self) -> None:
        if min(self.lab_samplers, self.inspectors, self.handover_machines) < 1:
            raise InputError("lab samplers, inspectors and handover machines must be at least 1")
        if self.crane_gantry_mps <= 0 or self.bay_length_m <= 0 or self.retry_s <= 0 or min(self.scanner_per_h) <= 0:
            raise InputError("gantry speed, bay length, retry time and scanner rates must be positive")


@dataclass
class Box:
    """The terminal's record of one container."""

    id: str
    direction: str
    size_ft: int
    reefer: bool
    perishable: bool
    deadline_s: float | None
    where: str = "road"  # road, gate, crane, yard, igv, scanner, lab, inspection, handover, truck, gone
    station: str | None = None
    block: str | None = None
    bay: int = 0
    customs: str = "pending"
    ready_s: float = 0.0  # a lab sample or an inspection is over (a pick waits for it)
    departure_booked: bool = False
    departure_tries: int = 0


@dataclass
class _Block:
    id: str
    yard: str
    capacity: int
    reefer_capacity: int
    stations: list[str]
    cranes: list[ArmgCrane]
    occupied: int = 0
    reefers: int = 0
    next_station: int = 0

    def room(self, reefer: bool) -> int:
        return (self.reefer_capacity - self.reefers) if reefer else (self.capacity - self.occupied)


_SUBSYSTEMS = ("cranes", "scanner", "lab", "customs", "handover", "trucks", "yard")


class Terminal:
    """The terminal processes (see the module docstring).

    Parameters
    ----------
    track_map : TrackMap
        Yard blocks (zones ``yard_block`` with ``bays``, ``rows``, ``tiers``,
        ``reefer_rows``, ``cranes``, ``yard``) and stations.
    demand : Demand or iterable of ContainerArrival
        Arrivals; a :class:`~sim.demand.Demand` is read an hour ahead as time advances.
    send : callable
        Receives each terminal-feed event (a dict); may return False for "refused".
    config : TerminalConfig
    seed : int
    """

    def __init__(self, track_map: TrackMap, demand: Demand | Iterable[ContainerArrival],
                 send: Callable[[dict[str, Any]], Any], *, config: TerminalConfig | None = None, seed: int = 0) -> None:
        cfg = config or TerminalConfig()
        if isinstance(demand, Demand):
            from dataclasses import replace

            cfg = replace(cfg, perishable_share=demand.config.perishable_share)
        self.config = cfg
        self.map = track_map
        self._send = send
        self._rng = {name: np.random.default_rng([seed, k]) for k, name in enumerate(_SUBSYSTEMS)}
        self._events: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self._event_no = 0
        self.now_s = 0.0
        self.boxes: dict[str, Box] = {}
        self.log: list[tuple[float, dict[str, Any]]] = []
        self.counts: dict[str, int] = {}
        self._blocks: dict[str, _Block] = {}
        self._station_block: dict[str, str] = {}
        self._kind: dict[str, str] = {s.id: s.kind for s in track_map.stations}
        self._build_blocks()
        self._scanners = {s.id: Server(s.id) for s in track_map.stations_of_kind("scanner_bay")}
        self._lab = Server("lab", cfg.lab_samplers)
        self._inspection = Server("inspection", cfg.inspectors)
        self._handover = Server("handover", cfg.handover_machines)
        handover = [s.id for s in track_map.stations_of_kind("handover")]
        import_aisle = [s for s in handover if track_map.station_side(s) == "import"]
        chosen = list(cfg.import_handover_stations) or import_aisle or handover
        unknown = [s for s in chosen if s not in handover]
        if unknown:
            raise InputError(f"import handover station {unknown[0]!r} is not a handover station of map {track_map.name!r}")
        self._handover_free_since = {s: 0.0 for s in chosen}
        self._handover_busy: set[str] = set()
        self._backlog: list[Box] = []
        self._demand = demand if isinstance(demand, Demand) else None
        self._demand_until_s = 0.0
        if self._demand is None:
            for arrival in demand:
                self._arrive(arrival)

    def _build_blocks(self) -> None:
        cfg = self.config
        for zone in self.map.zones_of_kind("yard_block"):
            p = zone.properties
            try:
                bays, rows, tiers = int(p["bays"]), int(p["rows"]), int(p["tiers"])
                reefer_rows, yard = int(p.get("reefer_rows", 0)), str(p["yard"])
                cranes = block_cranes(p, cfg)
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"yard block {zone.id} of map {self.map.name!r}: bad or missing property ({exc})") from None
            stations = [s.id for s in self.map.stations_of_kind("crane_transfer") if s.zone_id == zone.id]
            if not stations:
                raise InputError(f"yard block {zone.id} of map {self.map.name!r} has no crane_transfer station")
            crane_list = [ArmgCrane(zone.id, i, role, bays, cfg.bay_length_m, cfg.crane_gantry_mps)
                          for i, role in enumerate(crane_roles(cranes))]
            self._blocks[zone.id] = _Block(zone.id, yard, bays * rows * tiers, bays * reefer_rows * tiers, stations, crane_list)
            for sid in stations:
                self._station_block[sid] = zone.id
        if not self._blocks:
            raise InputError(f"map {self.map.name!r} has no yard blocks for the terminal")

    # ------------------------------------------------------------------ events
    def _at(self, t_s: float, kind: str, payload: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._events, (t_s, self._seq, kind, payload))

    def _emit(self, cmd: str, **args: Any) -> Any:
        self._event_no += 1
        event = {"cmd": cmd, "event_id": f"{self.config.event_prefix}-{self._event_no:07d}", **args}
        self.log.append((self.now_s, event))
        self._count(cmd)
        return self._send(event)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def advance(self, now_s: float) -> None:
        """Process everything due up to ``now_s`` (events are emitted through ``send``)."""
        if now_s < self.now_s:
            raise InputError(f"terminal time cannot go back from {self.now_s} to {now_s}")
        if self._demand is not None:
            while self._demand_until_s <= now_s + 3600.0:
                for arrival in self._demand.arrivals(self._demand_until_s, self._demand_until_s + 3600.0):
                    self._arrive(arrival)
                self._demand_until_s += 3600.0
        events = self._events
        while events and events[0][0] <= now_s:
            t_s, _, kind, payload = heapq.heappop(events)
            self.now_s = max(self.now_s, t_s)
            getattr(self, f"_on_{kind}")(payload)
        self.now_s = now_s

    def _arrive(self, a: ContainerArrival) -> None:
        if a.container in self.boxes:
            raise InputError(f"container {a.container} arrives twice")
        box = Box(a.container, a.direction, a.size_ft, a.reefer, a.perishable, a.deadline_s)
        self.boxes[box.id] = box
        self._at(a.t_s, "gate_in" if a.direction == "export" else "import_arrival", box)

    # ------------------------------------------------------------------ export side
    def _on_gate_in(self, box: Box) -> None:
        box.where = "gate"
        self._count("export_gate_in")
        rng = self._rng["trucks"]
        self._at(self.now_s + uniform(rng, self.config.gate_processing_s) + uniform(rng, self.config.truck_to_block_s),
                 "at_block", box)

    def _on_at_block(self, box: Box) -> None:
        blocks = [b for b in self._blocks.values() if b.yard == "export" and b.room(box.reefer) > 0]
        if not blocks:
            self._count("export_waiting_for_room")
            self._at(self.now_s + self.config.retry_s, "at_block", box)
            return
        block = max(blocks, key=lambda b: (b.room(box.reefer), b.id))
        self._reserve(block, box)
        crane = self._crane(block, "landside")
        _, landed = crane.move(self.now_s, crane.truck_bay, box.bay, self._crane_move_s())
        box.where = "crane"
        self._at(landed, "export_stacked", box)

    def _on_export_stacked(self, box: Box) -> None:
        block = self._blocks[box.block or ""]
        box.where = "yard"
        box.station = block.stations[block.next_station % len(block.stations)]
        block.next_station += 1
        self._announce(box)

    def _announce(self, box: Box) -> None:
        self._emit("container_arrival", container=box.id, direction=box.direction, size_ft=box.size_ft,
                   reefer=box.reefer, perishable=box.perishable, deadline_s=box.deadline_s, station=box.station)
        self._emit("eseal_event", container=box.id, event="sealed")
        rng = self._rng["customs"]
        customs = self.config.customs
        status = first_declaration(box.perishable, self.config.perishable_share, customs, rng)
        self._at(self.now_s + uniform(rng, customs.decision_delay_s), "declare", (box, status))
        if float(rng.random()) < customs.tamper_share:
            self._at(self.now_s + uniform(rng, customs.tamper_after_s), "tamper", box)

    # ------------------------------------------------------------------ import side
    def _on_import_arrival(self, box: Box) -> None:
        self._count("import_handed_over_by_dongxing")
        free = [s for s in self._handover_free_since if s not in self._handover_busy]
        if not free:
            self._backlog.append(box)
            box.where = "handover_backlog"
            return
        station = min(free, key=lambda s: (self._handover_free_since[s], s))
        self._handover_busy.add(station)
        box.where, box.station = "handover", station
        self._announce(box)

    def _free_handover(self, station: str | None) -> None:
        if station is None or station not in self._handover_busy:
            return
        self._handover_busy.discard(station)
        self._handover_free_since[station] = self.now_s
        if self._backlog:
            self._on_import_arrival(self._backlog.pop(0))

    # ------------------------------------------------------------------ customs
    def _on_declare(self, payload: tuple[Box, str]) -> None:
        box, status = payload
        if box.where == "gone" or box.customs == "hold":
            return  # crossed already, or a tamper put it on hold first
        self._declare(box, status)

    def _declare(self, box: Box, status: str) -> None:
        box.customs = status
        self._emit("customs_declaration", container=box.id, status=status)
        self._maybe_depart(box)

    def _on_tamper(self, box: Box) -> None:
        if box.where in ("gone", "truck") or (box.direction == "export" and box.where == "handover"):
            return
        box.customs = "hold"
        box.departure_booked = False
        self._emit("eseal_event", container=box.id, event="tamper")

    def _on_lab_sampled(self, box: Box) -> None:
        self._count("lab_samples")
        rng = self._rng["lab"]
        self._at(self.now_s + uniform(rng, self.config.customs.lab_result_delay_s), "lab_result", box)

    def _on_lab_result(self, box: Box) -> None:
        if box.where != "gone":
            self._declare(box, lab_result(self.config.customs, self._rng["lab"]))

    def _on_inspected(self, box: Box) -> None:
        self._count("inspections")
        if box.where != "gone":
            self._declare(box, "released")

    def _on_scanned(self, box: Box) -> None:
        self._count("scans")
        if box.customs == "scan":
            box.customs = "released"  # the core releases a container on a clean scan
            self._maybe_depart(box)

    # ------------------------------------------------------------------ road trucks (imports out)
    def _maybe_depart(self, box: Box) -> None:
        if box.direction != "import" or box.where != "yard" or box.customs != "released" or box.departure_booked:
            return
        box.departure_booked = True
        self._at(self.now_s + uniform(self._rng["trucks"], self.config.import_pickup_delay_s), "truck_pickup", box)

    def _on_truck_pickup(self, box: Box) -> None:
        box.departure_booked = False
        if box.where != "yard" or box.customs != "released":
            return  # moved or put on hold meanwhile; a new truck is booked when it is ready again
        block = self._blocks[box.block or ""]
        crane = self._crane(block, "landside")
        _, landed = crane.move(self.now_s, box.bay, crane.truck_bay, self._crane_move_s())
        self._unreserve(block, box)
        box.where = "crane"
        self._at(landed, "departed", box)

    def _on_departed(self, box: Box) -> None:
        box.where = "truck"
        if self._emit("container_departure", container=box.id) is False:
            self._departure_refused(box)
            return
        box.where = "gone"

    def _departure_refused(self, box: Box) -> None:
        self._count("departures_refused")
        box.departure_tries += 1
        if box.departure_tries < MAX_DEPARTURE_RETRIES:
            self._at(self.now_s + self.config.retry_s, "departed", box)

    def refused(self, event: dict[str, Any]) -> None:
        """The core refused ``event`` after ``send`` had returned (a sender that gets its
        answers later, e.g. over the control API in lockstep): a refused departure is
        retried as if ``send`` had returned False, from the terminal's current time."""
        box = self.boxes.get(event.get("container", ""))
        if event.get("cmd") == "container_departure" and box is not None and box.where == "gone":
            box.where = "truck"
            self._departure_refused(box)

    # ------------------------------------------------------------------ vehicles at stations
    def service(self, request: ServiceRequest) -> ServiceOutcome:
        """How long a vehicle's ``pick``/``drop``/``scan`` at a station takes (a
        :data:`sim.service.Service`); books the equipment."""
        self.advance(max(self.now_s, request.now_s))
        now = self.now_s
        kind = request.station_kind or (self._kind.get(request.station or "") if request.station else None)
        box = self.boxes.get(request.container or "")
        action = request.action_type
        self._count(f"service_{action}")
        if action == "scan":
            server = self._scanners.get(request.station or "")
            if server is None:
                return ServiceOutcome(0.0, failure=f"no scanner at {request.station or 'this position'}")
            _, end = server.book(now, 3600.0 / uniform(self._rng["scanner"], self.config.scanner_per_h))
            if box is not None:
                box.where = "scanner"
                self._at(end, "after_scan", box)
            return ServiceOutcome(end - now)
        if kind == "crane_transfer" and request.station in self._station_block:
            return self._crane_service(request, box, self._blocks[self._station_block[request.station]])
        if kind == "handover":
            _, end = self._handover.book(now, uniform(self._rng["handover"], self.config.handover_handling_s))
            if request.station in self._handover_free_since:
                self._handover_busy.add(request.station)
            self._at(end, "handover_done", (box, request.station, action))
            return ServiceOutcome(end - now)
        if kind in ("lab_bay", "inspection_bay"):
            return self._check_bay_service(request, box, kind)
        duration = uniform(self._rng["yard"], self.config.bay_handling_s)
        if box is not None:
            self._at(now + duration, "moved", (box, "igv" if action == "pick" else "truck", request.station))
        return ServiceOutcome(duration)

    def _crane_service(self, request: ServiceRequest, box: Box | None, block: _Block) -> ServiceOutcome:
        now = self.now_s
        crane = self._crane(block, "waterside")
        if request.action_type == "pick":
            in_block = box is not None and box.where == "yard" and box.block == block.id
            bay = box.bay if box is not None and in_block else int(self._rng["yard"].integers(1, block.cranes[0].bays + 1))
            _, landed = crane.move(now, bay, crane.igv_bay, self._crane_move_s())
            if box is not None and in_block:
                self._unreserve(block, box)
                box.where = "crane"
                self._at(landed, "moved", (box, "igv", None))
            return ServiceOutcome(landed - now)
        if box is not None:
            self._reserve(block, box)
            box.where = "crane"
        bay = box.bay if box is not None else int(self._rng["yard"].integers(1, block.cranes[0].bays + 1))
        lifted, landed = crane.move(now, crane.igv_bay, bay, self._crane_move_s())
        if box is not None:
            self._at(landed, "moved", (box, "yard", request.station))
        return ServiceOutcome(lifted - now)

    def _check_bay_service(self, request: ServiceRequest, box: Box | None, kind: str) -> ServiceOutcome:
        now = self.now_s
        rng = self._rng["lab"]
        handling = uniform(rng, self.config.bay_handling_s)
        if request.action_type == "pick":
            ready = max(now, box.ready_s) if box is not None else now
            if box is not None:
                self._at(ready + handling, "moved", (box, "igv", None))
            return ServiceOutcome(ready - now + handling)
        if box is not None:
            placed = now + handling
            customs = self.config.customs
            if kind == "lab_bay":
                _, done = self._lab.book(placed, uniform(rng, customs.lab_sampling_s))
                self._at(done, "lab_sampled", box)
            else:
                _, done = self._inspection.book(placed, uniform(rng, customs.inspection_s))
                self._at(done, "inspected", box)
            box.ready_s = done
            self._at(placed, "moved", (box, "lab" if kind == "lab_bay" else "inspection", request.station))
        return ServiceOutcome(handling)

    def _on_moved(self, payload: tuple[Box, str, str | None]) -> None:
        box, where, station = payload
        box.where = where
        if station is not None:
            box.station = station
        if where == "yard":
            self._count(f"{box.direction}_stacked_from_igv")
            self._maybe_depart(box)

    def _on_after_scan(self, box: Box) -> None:
        box.where = "igv"
        self._on_scanned(box)

    def _on_handover_done(self, payload: tuple[Box | None, str | None, str]) -> None:
        box, station, action = payload
        if action == "drop":
            if box is not None:
                box.where, box.station = "gone", station
                self._count("export_crossed")
        elif box is not None:
            box.where = "igv"
        self._free_handover(station)

    # ------------------------------------------------------------------ helpers
    def _crane_move_s(self) -> float:
        return uniform(self._rng["cranes"], self.config.crane_move_s)

    def _crane(self, block: _Block, side: str) -> ArmgCrane:
        fit = [c for c in block.cranes if c.role in (side, "both")]
        return min(fit, key=lambda c: (max(c.free_at_s, self.now_s), c.index))

    def _reserve(self, block: _Block, box: Box) -> None:
        block.occupied += 1
        block.reefers += int(box.reefer)
        box.block = block.id
        box.bay = int(self._rng["yard"].integers(1, block.cranes[0].bays + 1))

    def _unreserve(self, block: _Block, box: Box) -> None:
        block.occupied -= 1
        block.reefers -= int(box.reefer)

    # ------------------------------------------------------------------ reporting
    def queues(self) -> dict[str, int]:
        """Work waiting to start, by equipment, at the terminal's current time."""
        now = self.now_s
        out = {"scanner": sum(s.queue_length(now) for s in self._scanners.values()),
               "lab": self._lab.queue_length(now), "inspection": self._inspection.queue_length(now),
               "handover": self._handover.queue_length(now), "handover_backlog": len(self._backlog)}
        for block in self._blocks.values():
            out[f"crane:{block.id}"] = sum(c.queue_length(now) for c in block.cranes)
        return out

    def ledger(self) -> dict[str, int]:
        """Containers by where the terminal believes they are (every box appears once)."""
        out: dict[str, int] = {}
        for box in self.boxes.values():
            key = f"{box.direction}:{box.where}"
            out[key] = out.get(key, 0) + 1
        return out

    def stats(self) -> dict[str, Any]:
        """Counters, crane figures and yard occupancy (JSON-ready)."""
        cranes = {c.name: {"moves": c.moves, "busy_s": round(c.busy_s, 1)} for b in self._blocks.values() for c in b.cranes}
        return {
            "t_s": self.now_s,
            "counts": dict(sorted(self.counts.items())),
            "crane_moves": sum(v["moves"] for v in cranes.values()),
            "cranes": cranes,
            "yard": {b.id: {"capacity": b.capacity, "occupied": b.occupied, "reefers": b.reefers} for b in self._blocks.values()},
            "queues": self.queues(),
            "ledger": self.ledger(),
        }


def block_cranes(properties: Mapping[str, Any], config: TerminalConfig) -> int:
    """Cranes of a yard block: the configuration's count when set, else the zone's ``cranes``."""
    return config.cranes_per_block or int(properties.get("cranes", 1))


def yard_capacity_per_day(track_map: TrackMap, config: TerminalConfig | None = None) -> dict[str, float]:
    """Containers a day each yard (``export``, ``import``) of ``track_map`` can pass with
    every crane busy all day.

    A box takes one move at each end of its block, so a block passes half its cranes'
    moves (:func:`sim.equipment.crane_moves_per_h`). No fleet carries demand above this;
    at the peak hours the yard stacks the surplus, and the time it waits counts in its
    clearance.
    """
    cfg = config or TerminalConfig()
    out: dict[str, float] = {}
    for zone in track_map.zones_of_kind("yard_block"):
        p = zone.properties
        cranes = block_cranes(p, cfg)
        rate = crane_moves_per_h(int(p["bays"]), cfg.bay_length_m, cfg.crane_gantry_mps, cfg.crane_move_s)
        out[str(p["yard"])] = out.get(str(p["yard"]), 0.0) + 24.0 * rate * cranes / 2.0
    return out
