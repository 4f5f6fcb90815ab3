"""Synthetic terminal maps of any size, for benchmarks (``bench/maps.py`` and others).

A Manhattan grid of alternating one-way roads with turning arcs at every crossing and
dead-end bays (parking stations) between crossings: the same kinds of geometry as the
default map, so build time and memory scale the way a larger real terminal would.
"""

from __future__ import annotations

from maps.builder import MapBuilder
from maps.roadnet import Bay, Road, RoadNetwork


def synthetic_terminal(n_roads: int = 6, spacing_m: float = 150.0, bays_per_block: int = 6, name: str = "synthetic") -> MapBuilder:
    """A builder holding an ``n_roads`` x ``n_roads`` road grid with bays.

    Parameters
    ----------
    n_roads : int
        Horizontal roads and vertical roads, each; at least 2.
    spacing_m : float
        Distance between parallel roads (at least 80 m leaves room for bays and arcs).
    bays_per_block : int
        Bays on each horizontal road between two crossings, 8 m apart.
    """
    if n_roads < 2:
        raise ValueError("n_roads must be at least 2")
    extent = (n_roads - 1) * spacing_m
    net = RoadNetwork()
    for k in range(n_roads):
        pos = k * spacing_m
        net.add_road(Road(f"H{k}", "h", pos, 0.0, extent, +1 if k % 2 == 0 else -1, 8.3))
        net.add_road(Road(f"V{k}", "v", pos, 0.0, extent, -1 if k % 2 == 0 else +1, 8.3))
    station = 0
    first = spacing_m / 2.0 - 4.0 * (bays_per_block - 1)
    for k in range(n_roads):
        for block in range(n_roads - 1):
            for j in range(bays_per_block):
                station += 1
                at = block * spacing_m + first + 8.0 * j
                net.add_bay(Bay(f"P{station:05d}", "parking", f"H{k}", at, +1 if k % 2 == 0 else -1))
    builder = MapBuilder(name=name, header={"description": f"synthetic {n_roads}x{n_roads} road grid"})
    net.emit(builder)
    return builder
