"""A to-scale picture of a track map (matplotlib, no display needed).

Lanes are drawn with direction arrows (two-way lanes with arrows both ways), zones are
filled by kind and labelled, stations are marked by kind; a legend and a scale bar make
the picture readable on its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maps.trackmap import TrackMap

ZONE_COLOURS = {
    "yard_block": "#c9b27c",
    "scanner": "#e07b7b",
    "lab": "#9f7fd1",
    "inspection": "#f0a35e",
    "charging": "#7fcf7f",
    "parking": "#b9c7d6",
    "handover": "#9ad1b9",
    "bridge": "#a0a0a0",
    "gate": "#e6d25c",
    "building": "#555555",
    "no_go": "#4f8fc9",
}
STATION_STYLE = {
    "crane_transfer": ("s", "#8a5a00"),
    "scanner_bay": ("D", "#b00000"),
    "lab_bay": ("P", "#5b2a9e"),
    "inspection_bay": ("X", "#c05a00"),
    "charger": ("^", "#0a7a0a"),
    "parking": (".", "#34495e"),
    "truck_exchange": ("v", "#8a7a00"),
    "handover": ("o", "#00628f"),
}


def render_map(tm: TrackMap, out_path: str | Path, *, dpi: int = 150, title: str | None = None,
               vehicles: dict[str, tuple[float, float, float]] | None = None) -> Path:
    """Draw ``tm`` to a PNG file and return its path.

    ``vehicles`` (id -> x, y, heading) adds each vehicle's footprint, to scale.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, y0 = tm.node_xy.min(axis=0) if tm.n_nodes else (0.0, 0.0)
    x1, y1 = tm.node_xy.max(axis=0) if tm.n_nodes else (1.0, 1.0)
    for zone in tm.zones:
        bx0, by0, bx1, by1 = zone.polygon.bounds
        x0, y0, x1, y1 = min(x0, bx0), min(y0, by0), max(x1, bx1), max(y1, by1)
    span = max(x1 - x0, y1 - y0, 1.0)
    width_in = 12.0
    height_in = float(np.clip(width_in * (y1 - y0) / max(x1 - x0, 1.0), 6.0, 20.0))
    fig, ax = plt.subplots(figsize=(width_in, height_in))
    ax.set_aspect("equal")
    ax.set_facecolor("#f7f7f2")

    kinds_seen = []
    for zone in tm.zones:
        colour = ZONE_COLOURS.get(zone.kind, "#dddddd")
        xs, ys = zone.polygon.exterior.xy
        ax.fill(xs, ys, color=colour, alpha=0.55 if zone.kind != "building" else 0.8, lw=0.8, ec="#333333", zorder=1)
        c = zone.polygon.representative_point()
        bx0, by0, bx1, by1 = zone.polygon.bounds
        label_xy, va = (c.x, c.y), "center"
        if (bx1 - bx0) < 0.06 * span and (by1 - by0) < 0.06 * span:
            # Small zones are covered by bays: label them underneath.
            label_xy, va = ((bx0 + bx1) / 2.0, by0 - 0.004 * span), "top"
        if zone.kind != "no_go" or zone.polygon.area > 0.01 * span * span:
            ax.text(*label_xy, zone.name, fontsize=6, ha="center", va=va, zorder=6,
                    color="white" if zone.kind == "building" else "#1a1a1a",
                    rotation=90 if (zone.polygon.bounds[3] - zone.polygon.bounds[1]) > 3 * (zone.polygon.bounds[2] - zone.polygon.bounds[0]) else 0)
        if zone.kind not in kinds_seen:
            kinds_seen.append(zone.kind)

    segments = [g for g in tm.lane_geometry]
    colours = ["#1f5fa8" if not tw else "#a83232" for tw in tm.lane_two_way]
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.9, zorder=3))
    # Direction arrows at the middle of every lane long enough to show one.
    arrow_len = span / 250.0
    for geometry, two_way, length in zip(tm.lane_geometry, tm.lane_two_way, tm.lane_length_m):
        if length < 3 * arrow_len:
            continue
        seg = np.hypot(*np.diff(geometry, axis=0).T)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        mid = length / 2.0
        k = int(np.clip(np.searchsorted(s, mid) - 1, 0, len(seg) - 1))
        u = (geometry[k + 1] - geometry[k]) / max(seg[k], 1e-9)
        p = geometry[k] + u * (mid - s[k])
        directions = (u, -u) if two_way else (u,)
        for d in directions:
            ax.annotate("", xy=p + d * arrow_len, xytext=p - d * arrow_len * 0.2,
                        arrowprops=dict(arrowstyle="-|>", color="#0d3b66" if not two_way else "#7a1f1f", lw=0.6, mutation_scale=6),
                        zorder=4)

    handles = []
    for kind, (marker, colour) in STATION_STYLE.items():
        members = [s for s in tm.stations if s.kind == kind]
        if not members:
            continue
        pts = tm.node_xy[[s.node for s in members]]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=14 if marker != "." else 10, c=colour, zorder=5, linewidths=0)
        handles.append(Line2D([], [], marker=marker, color=colour, ls="", label=f"{kind.replace('_', ' ')} ({len(members)})"))
    handles += [Patch(facecolor=ZONE_COLOURS.get(k, "#ddd"), edgecolor="#333", alpha=0.6, label=k.replace("_", " ")) for k in kinds_seen]
    handles += [Line2D([], [], color="#1f5fa8", label="one-way lane"), Line2D([], [], color="#a83232", label="two-way lane / bay")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=True, title="Legend", title_fontsize=8)

    if vehicles:
        from matplotlib.patches import Polygon as PolygonPatch

        half_l, half_w = tm.vehicle.length_m / 2.0, tm.vehicle.width_m / 2.0
        for vid, (x, y, h) in sorted(vehicles.items()):
            u = np.array([np.cos(h), np.sin(h)])
            n = np.array([-u[1], u[0]])
            c = np.array([x, y])
            corners = [c + half_l * u + half_w * n, c + half_l * u - half_w * n, c - half_l * u - half_w * n, c - half_l * u + half_w * n]
            ax.add_patch(PolygonPatch(corners, closed=True, fc="#ff7f0e", ec="#7a3b00", lw=0.5, zorder=7))
        handles.append(Patch(facecolor="#ff7f0e", edgecolor="#7a3b00", label=f"IGV ({len(vehicles)})"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=True, title="Legend", title_fontsize=8)

    bar_m = float(10 ** np.floor(np.log10(span / 5.0)))
    if span / bar_m > 25:
        bar_m *= 5
    elif span / bar_m > 12:
        bar_m *= 2
    ax.add_artist(AnchoredSizeBar(ax.transData, bar_m, f"{bar_m:g} m", loc="lower right", pad=0.6, frameon=True, size_vertical=span / 400))
    pad = 0.03 * span
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_xlabel(f"x east (m, {tm.crs})")
    ax.set_ylabel(f"y north (m, {tm.crs})")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    s = tm.summary()
    ax.set_title(title or f"{tm.name}: {s['nodes']} nodes, {s['lanes']} lanes, {s['lane_km']} lane-km, {s['cells']} cells, {s['stations']} stations", fontsize=10)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out
