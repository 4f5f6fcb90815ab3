"""The telemetry state document (docs/telemetry.md) and the KPIs in it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fleet.core.flow import settled
from fleet.core.model import JobStatus, Location, VehicleMode

if TYPE_CHECKING:
    from fleet.core.manager import FleetManager

PATH_POINTS_SHOWN = 60
"""Released path and planned horizon points sent per vehicle (enough for the screen)."""


def _round(v: float) -> float:
    return round(float(v), 2)


def _cell_points(m: "FleetManager") -> list[list[float]]:
    """Every cell's ``[x_m, y_m]`` rounded as telemetry shows it, built once per map.

    # PERF: rounding numpy scalars point by point was the publish phase's largest cost
    # (py-spy on a peak_2030 run: 13 % of the bench process in ``_vehicle_doc``; 2 % after). The
    # inner lists are shared by every document and never mutated (``apply_changes`` copies).
    """
    if m.cell_points is None:
        m.cell_points = np.round(np.asarray(m.map.cell_xy, dtype=float), 2).tolist()
    return m.cell_points


def _vehicle_doc(m: "FleetManager", vid: str) -> dict[str, Any]:
    v = m.vehicles[vid]
    r = v.record
    released: list[list[float]] = []
    planned: list[list[float]] = []
    if v.leg is not None:
        xy = _cell_points(m)
        cells = v.leg.cells
        lo, mid = v.leg.progress, max(v.leg.base_end, v.leg.progress)
        released = [xy[c] for c in cells[lo : mid + 1][:PATH_POINTS_SHOWN]]
        planned = [xy[c] for c in cells[mid : mid + PATH_POINTS_SHOWN]]
    return {
        "x_m": _round(r.x_m), "y_m": _round(r.y_m), "heading_rad": round(float(r.heading_rad), 3),
        "speed_mps": _round(r.speed_mps), "state": r.mode.value, "battery_pct": round(float(r.battery_pct), 1),
        "laden": r.laden, "container": r.container, "job": r.job, "station": r.station,
        "released_path": released, "planned_path": planned,
        "reserved_cells": m.traffic.reserved_cells(vid, PATH_POINTS_SHOWN),
        "errors": list(r.errors),
    }


def _container_docs(m: "FleetManager") -> dict[str, dict[str, Any]]:
    """Documents of the containers still at the gate: not :func:`~fleet.core.flow.settled`
    (gone by truck, or handed over to the Dongxing yard). A 24/7 core would otherwise
    publish every export it ever handed over (``bench.core``'s history line).

    # PERF: only containers marked changed since the last call are rebuilt (``asdict``
    # costs ~20 us a container, and a busy day holds hundreds at the gate). Publish phase
    # in bench/core.py's short run (few containers) at 200 vehicles, p50/p99: 3.2/4.4 ms
    # without, 2.7/3.8 ms with.
    """
    changed = m.take_telemetry_dirty()
    if m.container_docs is None:
        m.container_docs = {}
        changed = [c.id for c in m.live_containers()]
    docs = m.container_docs
    for cid in changed:
        c = m.containers.get(cid)
        if c is None or settled(c):
            docs.pop(cid, None)
        else:
            docs[cid] = c.to_dict()
    return dict(docs)


def kpis(m: "FleetManager", now: float) -> dict[str, Any]:
    log = m.kpi_log
    north = np.asarray(log["crossed_north"])
    south = np.asarray(log["crossed_south"])
    window_s = min(3600.0, max(now, 1.0))
    clearance = np.asarray(log["clearance_h"])
    modes = [v.record.mode for v in m.vehicles.values()]
    working = sum(mode in (VehicleMode.MOVING, VehicleMode.WAITING, VehicleMode.LOADING) for mode in modes)
    return {
        "containers_crossed": {"northbound": int(north.size), "southbound": int(south.size)},
        "crossings_per_h": {
            "northbound": round(float((north > now - window_s).sum()) * 3600.0 / window_s, 1),
            "southbound": round(float((south > now - window_s).sum()) * 3600.0 / window_s, 1),
        },
        "clearance_time_h_p50": round(float(np.percentile(clearance, 50)), 2) if clearance.size else None,
        "clearance_time_h_p95": round(float(np.percentile(clearance, 95)), 2) if clearance.size else None,
        "vehicle_utilisation": round(working / len(modes), 3) if modes else 0.0,
        "jobs_open": sum(j.status in (JobStatus.OPEN, JobStatus.WAITING) for j in m.active_jobs()),
        "energy_kwh": round(sum(100.0 - v.record.battery_pct for v in m.vehicles.values()) * 2.8, 1),
    }


def state_document(m: "FleetManager", now: float) -> dict[str, Any]:
    tm = m.map
    yard: dict[str, dict[str, int]] = {}
    for z in tm.zones_of_kind("yard_block"):
        p = z.properties
        yard[z.id] = {"capacity": int(p.get("bays", 0)) * int(p.get("rows", 0)) * int(p.get("tiers", 0)),
                      "occupied": 0, "reefer": 0, "perishable": 0}
    queues = {"scanner": 0, "lab": 0, "inspection": 0}
    containers = _container_docs(m)
    for c in m.live_containers():
        if c.location_kind is Location.YARD and c.location in tm.station_index:
            block = tm.station(c.location).zone_id
            if block in yard:
                yard[block]["occupied"] += 1
                yard[block]["reefer"] += int(c.reefer)
                yard[block]["perishable"] += int(c.perishable)
        elif c.location_kind in (Location.LAB, Location.INSPECTION):
            queues[c.location_kind.value] += 1
    for job in m.active_jobs():
        if job.status in (JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.CARRYING) and job.via_station:
            queues["scanner"] += 1
        if job.status in (JobStatus.OPEN, JobStatus.ASSIGNED) and job.from_station in tm.station_index:
            block = tm.station(job.from_station).zone_id
            if block in yard:
                queues[f"crane:{block}"] = queues.get(f"crane:{block}", 0) + 1
    return {
        "map": tm.name,
        "clock": {"t_s": round(now, 3), "speed_factor": m.speed_factor, "paused": m.paused_all},
        "vehicles": {vid: _vehicle_doc(m, vid) for vid in sorted(m.vehicles)},
        "containers": containers,
        "yard": yard,
        "queues": queues,
        "blocked": {"lanes": sorted(m.blocked_lanes), "zones": sorted(m.blocked_zones)},
        "kpi": kpis(m, now),
        "alerts": list(m.alerts),
    }
