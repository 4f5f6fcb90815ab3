"""Vehicles driving along a track map's lanes, for the scripted telemetry of :mod:`visualizer.fake`.

This is not a planner: each vehicle takes a random walk on the lane graph, keeps a gap to
the vehicle ahead on its lane (so it is "waiting" when it cannot go on), never enters an
occupied or blocked bay, and dwells at the station at the end of a bay. It gives the
control room realistic positions, headings, paths and reserved cells to draw.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString

from maps.trackmap import TrackMap

GAP_M = 22.0
"""Minimum distance kept to the vehicle ahead on the same lane (vehicle 15.5 m + margin)."""
RELEASED_M = 48.0
"""Length of the released part of the route ahead of a vehicle."""
HORIZON_M = 120.0
"""Length of the route shown as planned horizon after the released part."""
BAY_WEIGHT = 0.3
"""Odds of turning into a bay relative to staying on the loop."""


@dataclass
class Walker:
    """One vehicle's position: lane, direction of travel and distance along it (m)."""

    lane: int
    forward: bool
    s_m: float
    route: list[tuple[int, bool]] = field(default_factory=list)
    """Traversals chosen after the current one (kept a few long for the drawn paths)."""
    served: int = -1
    """The station node just served, so that the walker leaves it instead of stopping again."""


class LaneNet:
    """Lane polylines with lengths, exits and cells, precomputed once per map."""

    def __init__(self, tm: TrackMap) -> None:
        self.tm = tm
        self.length_m = tm.lane_length_m
        self.cum_m = []
        for geom in tm.lane_geometry:
            seg = np.hypot(*np.diff(geom, axis=0).T)
            self.cum_m.append(np.concatenate([[0.0], np.cumsum(seg)]))
        # PERF: plain lists for the per-point lookups of pose(): numpy scalar calls cost ~5x more.
        self.cum_list = [c.tolist() for c in self.cum_m]
        self.geom_list = [[(float(x), float(y)) for x, y in g] for g in tm.lane_geometry]
        self.exits: list[list[tuple[int, bool]]] = []
        for n in range(tm.n_nodes):
            lo, hi = tm.node_adj_indptr[n], tm.node_adj_indptr[n + 1]
            self.exits.append([(int(tm.node_adj_lane[e]), bool(tm.node_adj_forward[e])) for e in range(lo, hi)])
        self.lane_cells: list[tuple[np.ndarray, np.ndarray]] = []
        cells_of = [[] for _ in range(tm.n_lanes)]
        for c in np.flatnonzero(tm.cell_lane >= 0):
            cells_of[tm.cell_lane[c]].append(int(c))
        for lane, cells in enumerate(cells_of):
            s = shapely.line_locate_point(LineString(tm.lane_geometry[lane]), shapely.points(tm.cell_xy[cells]))
            order = np.argsort(s)
            self.lane_cells.append((np.asarray(cells, dtype=np.int64)[order], s[order]))
        self.station_at_node: dict[int, str] = {s.node: s.id for s in tm.stations}

    def lane_len(self, lane: int) -> float:
        return float(self.length_m[lane])

    def end_node(self, lane: int, forward: bool) -> int:
        return int(self.tm.lane_to[lane] if forward else self.tm.lane_from[lane])

    def pose(self, lane: int, forward: bool, s_m: float) -> tuple[float, float, float]:
        """``(x_m, y_m, heading_rad)`` at ``s_m`` along the lane in the direction of travel."""
        length = self.lane_len(lane)
        s = min(max(s_m, 0.0), length)
        along = s if forward else length - s
        cum, geom = self.cum_list[lane], self.geom_list[lane]
        i = min(max(bisect.bisect_right(cum, along) - 1, 0), len(cum) - 2)
        span = cum[i + 1] - cum[i]
        f = (along - cum[i]) / span if span > 0 else 0.0
        (x0, y0), (x1, y1) = geom[i], geom[i + 1]
        heading = math.atan2(y1 - y0, x1 - x0) if forward else math.atan2(y0 - y1, x0 - x1)
        return x0 + f * (x1 - x0), y0 + f * (y1 - y0), heading

    def points_ahead(self, w: Walker, start_m: float, stop_m: float, step_m: float) -> list[list[float]]:
        """Points every ``step_m`` from ``start_m`` to ``stop_m`` ahead of ``w`` along its route."""
        out: list[list[float]] = []
        traversals = [(w.lane, w.forward), *w.route]
        offset = -w.s_m  # distance ahead of the vehicle at the start of the traversal
        d = start_m
        for lane, forward in traversals:
            length = self.lane_len(lane)
            while d <= stop_m and d - offset <= length:
                x, y, _ = self.pose(lane, forward, d - offset)
                out.append([round(x, 2), round(y, 2)])
                d += step_m
            offset += length
            if d > stop_m:
                break
        return out

    def cells_ahead(self, w: Walker, ahead_m: float) -> list[int]:
        """Cells of the current and next traversal within ``ahead_m`` of the vehicle."""
        out: list[int] = []
        offset = -w.s_m
        for lane, forward in [(w.lane, w.forward), *w.route[:1]]:
            cells, s = self.lane_cells[lane]
            length = self.lane_len(lane)
            along = s if forward else length - s
            ahead = along + offset
            keep = (ahead >= -GAP_M / 2) & (ahead <= ahead_m)
            picked = cells[keep][np.argsort(ahead[keep])]
            out.extend(int(c) for c in picked)
            if offset + length <= ahead_m:
                out.append(int(self.tm.node_cell[self.end_node(lane, forward)]))
            offset += length
        return out


class Traffic:
    """Walkers on a :class:`LaneNet` that keep their gaps; see the module docstring.

    Parameters
    ----------
    net : LaneNet
    rng : numpy.random.Generator
        Seeded: the same seed gives the same traffic.
    """

    def __init__(self, net: LaneNet, rng: np.random.Generator) -> None:
        self.net = net
        self.rng = rng
        self.walkers: list[Walker] = []
        self.blocked_lanes: set[int] = set()

    def place(self, n: int) -> None:
        """Place ``n`` walkers on distinct spots, on one-way lanes and in empty bays."""
        tm = self.net.tm
        weights = self.net.length_m / self.net.length_m.sum()
        tries = 0
        while len(self.walkers) < n:
            tries += 1
            if tries > 200 * n:
                raise ValueError(f"cannot place {n} vehicles on map {tm.name!r} with {GAP_M} m gaps")
            lane = int(self.rng.choice(tm.n_lanes, p=weights))
            two_way = bool(tm.lane_two_way[lane])
            forward = True if not two_way else bool(self.rng.integers(2))
            s = float(self.rng.uniform(0.0, self.net.lane_len(lane)))
            if two_way and any(w.lane == lane for w in self.walkers):
                continue
            if any(w.lane == lane and abs(self._along(w) - (s if forward else self.net.lane_len(lane) - s)) < GAP_M for w in self.walkers):
                continue
            w = Walker(lane, forward, s)
            self._extend(w)
            self.walkers.append(w)

    def _along(self, w: Walker) -> float:
        """Position along the lane's drawn direction."""
        return w.s_m if w.forward else self.net.lane_len(w.lane) - w.s_m

    def _enterable(self, lane: int, me: int) -> bool:
        if lane in self.blocked_lanes:
            return False
        if self.net.tm.lane_two_way[lane]:
            return not any(w.lane == lane for i, w in enumerate(self.walkers) if i != me)
        return True

    def _extend(self, w: Walker) -> None:
        last_lane, last_fwd = w.route[-1] if w.route else (w.lane, w.forward)
        while len(w.route) < 3:
            node = self.net.end_node(last_lane, last_fwd)
            exits = self.net.exits[node]
            onward = [e for e in exits if e[0] != last_lane] or exits
            open_ = [e for e in onward if e[0] not in self.blocked_lanes] or onward
            # Bays (two-way dead ends) less often, so that most of the fleet is on the loops.
            weights = np.array([BAY_WEIGHT if self.net.tm.lane_two_way[lane] else 1.0 for lane, _ in open_])
            last_lane, last_fwd = open_[int(self.rng.choice(len(open_), p=weights / weights.sum()))]
            w.route.append((last_lane, last_fwd))

    def _reroute(self, i: int) -> bool:
        """Pick another next traversal when the chosen one cannot be entered."""
        w = self.walkers[i]
        node = self.net.end_node(w.lane, w.forward)
        exits = [e for e in self.net.exits[node] if self._enterable(e[0], i)]
        others = [e for e in exits if e[0] != w.lane] or exits
        if not others:
            return False
        w.route = [others[int(self.rng.integers(len(others)))]]
        self._extend(w)
        return True

    def step(self, dt_s: float, speeds_mps: np.ndarray, movable: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Advance every movable walker by up to ``speeds_mps * dt_s``.

        Returns
        -------
        moved : ndarray of bool
            Walkers that advanced (the others wait on the one ahead, a bay or a block).
        arrivals : list of (walker index, station id)
            Walkers that reached the station at the end of a bay.
        """
        net = self.net
        on_lane: dict[int, list[int]] = {}
        for i, w in enumerate(self.walkers):
            on_lane.setdefault(w.lane, []).append(i)
        moved = np.zeros(len(self.walkers), dtype=bool)
        arrivals: list[tuple[int, str]] = []
        for i, w in enumerate(self.walkers):
            if not movable[i]:
                continue
            length = net.lane_len(w.lane)
            limit = math.inf
            for j in on_lane.get(w.lane, ()):
                if j != i:
                    other = self.walkers[j]
                    ahead = (self._along(other) - self._along(w)) * (1.0 if w.forward else -1.0)
                    if ahead > 0.0 or (ahead == 0.0 and j < i):  # a tie goes to the lower index
                        limit = min(limit, ahead - GAP_M)
            end = net.end_node(w.lane, w.forward)
            station = net.station_at_node.get(end) if w.served != end else None
            can_enter = station is None and (self._enterable(w.route[0][0], i) or self._reroute(i))
            if can_enter:  # up to the gap behind the last vehicle on the next lane
                nxt_lane, nxt_fwd = w.route[0]
                room = net.lane_len(nxt_lane)
                for j in on_lane.get(nxt_lane, ()):
                    if j != i:
                        along = self._along(self.walkers[j])
                        room = min(room, (along if nxt_fwd else net.lane_len(nxt_lane) - along) - GAP_M)
                limit = min(limit, length - w.s_m + room)
            else:  # up to the end of the lane
                limit = min(limit, length - w.s_m)
            advance = min(float(speeds_mps[i]) * dt_s, max(limit, 0.0))
            if advance <= 1e-6:
                continue
            moved[i] = True
            w.s_m += advance
            if station is not None and w.s_m >= length - 0.5:
                w.s_m, w.served = length, end
                if all(lane == w.lane for lane, _ in net.exits[end]):
                    # The end of a bay: turn round at the station (IGVs drive both ways).
                    w.forward, w.s_m, w.route = not w.forward, 0.0, []
                    self._extend(w)
                arrivals.append((i, station))
            elif w.s_m >= length and can_enter:
                on_lane[w.lane].remove(i)
                w.s_m -= length
                w.lane, w.forward = w.route.pop(0)
                w.served = -1
                on_lane.setdefault(w.lane, []).append(i)
                self._extend(w)
        return moved, arrivals
