"""Building a simulated fleet on a map: distinct start stations, one VirtualIGV each.

Used by the networked firmware (:mod:`sim.firmware`, ``igv sim``) and by the lockstep
harness alike, so both start the same fleet for the same seed. Vehicles start at rest on
distinct parking stations (then charger bays, if there are more vehicles than parking
spots), facing along the station's lane, with ``lastNodeId`` the station's node in the
order naming ``c<cell>`` (one node per cell, ``docs/protocol.md`` 5.1 and the core's
orders), so the core knows where each one stands from its first ``state``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from maps.errors import InputError
from maps.trackmap import TrackMap
from sim.faults import FaultSchedule
from sim.service import Service, StationLocator
from sim.vehicle import VehicleConfig, VirtualIGV

START_KINDS = ("parking", "charger")
"""Station kinds vehicles may start on, in order of preference."""


def cell_node_id(cell: int) -> str:
    """The order node id of a cell (``c<cell>``)."""
    return f"c{cell}"


def serials(count: int, prefix: str = "igv-") -> list[str]:
    """``igv-001``, ``igv-002``, ... (three digits, more when needed)."""
    width = max(3, len(str(count)))
    return [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)]


@dataclass(frozen=True, slots=True)
class StartPose:
    station: str
    cell: int
    x_m: float
    y_m: float
    heading_rad: float


def start_poses(track_map: TrackMap, count: int, rng: np.random.Generator,
                kinds: Sequence[str] = START_KINDS) -> list[StartPose]:
    """``count`` distinct start stations: a seeded shuffle of the parking stations, then
    of the next kind, and so on. Raises :class:`InputError` if the map has too few."""
    chosen: list[StartPose] = []
    for kind in kinds:
        stations = sorted(track_map.stations_of_kind(kind), key=lambda s: s.id)
        for i in rng.permutation(len(stations)).tolist():
            if len(chosen) == count:
                return chosen
            s = stations[i]
            cell = int(track_map.station_cell[track_map.station_index[s.id]])
            x, y = track_map.cell_xy[cell]
            chosen.append(StartPose(s.id, cell, float(x), float(y), float(track_map.cell_heading_rad[cell])))
    if len(chosen) < count:
        raise InputError(f"map {track_map.name!r} has {len(chosen)} {'/'.join(kinds)} stations to start on, "
                         f"fewer than {count} vehicles")
    return chosen


def build_fleet(track_map: TrackMap, count: int, *, seed: int = 0, service: Service | None = None,
                faults: FaultSchedule | None = None, template: VehicleConfig | None = None,
                battery_pct: tuple[float, float] = (60.0, 95.0), prefix: str = "igv-",
                on_config: Callable[[VehicleConfig], VehicleConfig] | None = None,
                start_kinds: Sequence[str] = START_KINDS) -> list[VirtualIGV]:
    """``count`` virtual IGVs on ``track_map``, deterministic for ``seed``.

    Parameters
    ----------
    service : Service, optional
        Station action durations (e.g. :meth:`sim.terminal.Terminal.service`).
    faults : FaultSchedule, optional
    template : VehicleConfig, optional
        Settings shared by all vehicles (serial and map are filled in).
    battery_pct : (low, high)
        Initial charge, drawn uniformly per vehicle.
    on_config : callable, optional
        Adjust each vehicle's config (e.g. a different state rate for one vehicle).
    start_kinds : sequence of str
        Station kinds to start on, in order of preference (:func:`start_poses`).
    """
    if count < 1:
        raise InputError(f"a fleet needs at least one vehicle, got {count}")
    low, high = battery_pct
    if not 0 <= low <= high <= 100:
        raise InputError(f"initial battery range must satisfy 0 <= low <= high <= 100, got {battery_pct}")
    rng = np.random.default_rng([seed, 7001])
    poses = start_poses(track_map, count, rng, start_kinds)
    locator = StationLocator.from_map(track_map)
    base = template or VehicleConfig(serial="igv", map_id=track_map.name)
    schedule = faults or FaultSchedule()
    fleet = []
    for k, (serial, pose) in enumerate(zip(serials(count, prefix), poses)):
        cfg = replace(base, serial=serial, map_id=track_map.name)
        if on_config is not None:
            cfg = on_config(cfg)
        noise = np.random.default_rng([seed, 7002, k]) if cfg.gnss_sigma_m > 0 else None
        fleet.append(VirtualIGV(cfg, x_m=pose.x_m, y_m=pose.y_m, heading_rad=pose.heading_rad,
                                battery_pct=round(float(rng.uniform(low, high)), 2), service=service, stations=locator,
                                faults=schedule.timeline(serial), rng=noise, last_node_id=cell_node_id(pose.cell)))
    return fleet
