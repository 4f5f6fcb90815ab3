"""MovingAI ``.map`` / ``.scen`` files as a grid :class:`~maps.trackmap.TrackMap`.

The grid is the special case of the cell model (design section 4): cells are the free
grid cells, moves are the four unit moves (length 1 m at 1 m/s, so one move per time
step), and every cell conflicts only with itself. x is the column and y the row,
(0, 0) top-left, as in the MovingAI files.

Formats (Sturtevant 2012; Stern et al. 2019):

* ``.map``: ``type octile``, ``height H``, ``width W``, ``map``, then H rows of W
  characters; ``.`` ``G`` ``S`` are passable, ``@`` ``O`` ``T`` ``W`` are not.
* ``.scen``: ``version 1``, then per agent, tab-separated, ``bucket map width height
  start_x start_y goal_x goal_y optimal_length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maps.errors import MapError, ScenarioError
from maps.trackmap import GridInfo, TrackMap, VehicleSpec

PASSABLE = frozenset(".GS")
BLOCKED = frozenset("@OTW")


@dataclass(frozen=True)
class ScenarioAgent:
    """One line of a ``.scen`` file."""

    bucket: int
    start_xy: tuple[int, int]
    goal_xy: tuple[int, int]
    optimal_length: float


def _read_lines(path: str | Path, error: type[Exception]) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise error(f"{p}: no such file")
    try:
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from None


def parse_grid(path: str | Path) -> np.ndarray:
    """Read a ``.map`` file into a (height, width) bool array, True where free."""
    lines = _read_lines(path, MapError)

    def header(index: int, key: str) -> str:
        if index >= len(lines):
            raise MapError(f"{path}:{index + 1}: missing header line '{key} ...'")
        parts = lines[index].split()
        if not parts or parts[0] != key:
            raise MapError(f"{path}:{index + 1}: expected '{key} ...', got {lines[index][:40]!r}")
        return parts[1] if len(parts) > 1 else ""

    header(0, "type")
    try:
        height = int(header(1, "height"))
        width = int(header(2, "width"))
    except ValueError:
        raise MapError(f"{path}:2: height and width must be whole numbers") from None
    if height <= 0 or width <= 0:
        raise MapError(f"{path}:2: height and width must be positive, got {height} x {width}")
    if 3 >= len(lines) or lines[3].strip() != "map":
        raise MapError(f"{path}:4: expected the line 'map'")
    rows = lines[4 : 4 + height]
    if len(rows) < height:
        raise MapError(f"{path}:{4 + len(rows) + 1}: map has {len(rows)} rows, header says {height}")
    free = np.zeros((height, width), dtype=bool)
    for r, row in enumerate(rows):
        row = row.rstrip("\r")
        if len(row) != width:
            raise MapError(f"{path}:{r + 5}: row has {len(row)} characters, header says {width}")
        for c, ch in enumerate(row):
            if ch in PASSABLE:
                free[r, c] = True
            elif ch not in BLOCKED:
                raise MapError(f"{path}:{r + 5}: unknown map character {ch!r} at column {c}")
    return free


def grid_track_map(free: np.ndarray, name: str = "grid", source: str = "") -> TrackMap:
    """Build the grid special case of :class:`TrackMap` from a free-cell mask."""
    height, width = free.shape
    rows, cols = np.nonzero(free)
    n = rows.shape[0]
    cell_of = np.full((height, width), -1, dtype=np.int32)
    cell_of[rows, cols] = np.arange(n, dtype=np.int32)
    xy = np.column_stack([cols, rows]).astype(np.float64)

    # Moves in a fixed order (up, right, down, left) so that results are reproducible.
    offsets = ((-1, 0), (0, 1), (1, 0), (0, -1))
    counts = np.zeros(n, dtype=np.int64)
    targets = []
    for dr, dc in offsets:
        rr, cc = rows + dr, cols + dc
        ok = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
        t = np.full(n, -1, dtype=np.int32)
        t[ok] = cell_of[rr[ok], cc[ok]]
        targets.append(t)
    stacked = np.stack(targets, axis=1)  # (n, 4)
    valid = stacked >= 0
    counts = valid.sum(axis=1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    adj_to = stacked[valid].astype(np.int32)  # row-major keeps per-cell order
    m = adj_to.shape[0]

    # Lanes: one two-way unit lane per undirected grid edge (right and down neighbours).
    right, down = targets[1], targets[2]
    src = np.concatenate([np.nonzero(right >= 0)[0], np.nonzero(down >= 0)[0]]).astype(np.int32)
    dst = np.concatenate([right[right >= 0], down[down >= 0]]).astype(np.int32)
    n_lanes = src.shape[0]
    lane_of_pair = {}
    for k in range(n_lanes):
        lane_of_pair[(int(src[k]), int(dst[k]))] = k
        lane_of_pair[(int(dst[k]), int(src[k]))] = k
    cell_row = np.repeat(np.arange(n, dtype=np.int32), counts)
    adj_lane = np.fromiter((lane_of_pair[(int(a), int(b))] for a, b in zip(cell_row, adj_to)), dtype=np.int32, count=m)
    adj_forward = np.fromiter((src[l] == a for a, l in zip(cell_row, adj_lane)), dtype=bool, count=m)

    node_ids = tuple(f"{c},{r}" for r, c in zip(rows.tolist(), cols.tolist()))
    arange = np.arange(n, dtype=np.int32)
    tm = TrackMap(
        name=name,
        crs="grid",
        header={"name": name, "crs": "grid", "source": source, "kind": "movingai"},
        vehicle=VehicleSpec(length_m=0.5, width_m=0.5, margin_m=0.0, max_speed_unladen_mps=1.0, max_speed_laden_mps=1.0),
        cell_length_m=1.0,
        node_ids=node_ids,
        node_xy=xy,
        lane_ids=tuple(f"e{k}" for k in range(n_lanes)),
        lane_from=src,
        lane_to=dst,
        lane_length_m=np.ones(n_lanes),
        lane_speed_limit_mps=np.ones(n_lanes),
        lane_width_m=np.ones(n_lanes),
        lane_two_way=np.ones(n_lanes, dtype=bool),
        lane_geometry=(),
        node_adj_indptr=indptr,
        node_adj_to=adj_to,
        node_adj_lane=adj_lane,
        node_adj_forward=adj_forward,
        zones=(),
        stations=(),
        cell_xy=xy,
        cell_heading_rad=np.zeros(n),
        cell_lane=np.full(n, -1, dtype=np.int32),
        cell_node=arange,
        node_cell=arange.copy(),
        station_cell=np.zeros(0, dtype=np.int32),
        cell_adj_indptr=indptr.copy(),
        cell_adj_to=adj_to.copy(),
        cell_adj_length_m=np.ones(m),
        cell_adj_speed_limit_mps=np.ones(m),
        cell_adj_lane=adj_lane.copy(),
        conflict_indptr=np.arange(n + 1, dtype=np.int64),
        conflict_indices=arange.copy(),
        station_travel_time_s=np.zeros((0, 0)),
        grid=GridInfo(width=width, height=height, free=free.copy(), cell_of=cell_of, source=source),
        node_index={nid: i for i, nid in enumerate(node_ids)},
    )
    _freeze(tm)
    return tm


def _freeze(tm: TrackMap) -> None:
    for value in vars(tm).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    if tm.grid is not None:
        tm.grid.free.flags.writeable = False
        tm.grid.cell_of.flags.writeable = False


def load_map(path: str | Path) -> TrackMap:
    """Load a MovingAI ``.map`` file as a grid :class:`TrackMap`."""
    free = parse_grid(path)
    return grid_track_map(free, name=Path(path).stem, source=str(path))


def load_scenario(path: str | Path, grid: TrackMap | None = None) -> list[ScenarioAgent]:
    """Read a ``.scen`` file. With ``grid``, starts and goals must be free cells of it."""
    lines = _read_lines(path, ScenarioError)
    if not lines or not lines[0].strip().startswith("version"):
        raise ScenarioError(f"{path}:1: expected 'version 1'")
    agents: list[ScenarioAgent] = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) != 9:
            raise ScenarioError(f"{path}:{i}: expected 9 tab-separated fields, got {len(parts)}")
        try:
            bucket = int(parts[0])
            w, h, sx, sy, gx, gy = (int(p) for p in parts[2:8])
            opt = float(parts[8])
        except ValueError:
            raise ScenarioError(f"{path}:{i}: fields 1 and 3-8 must be whole numbers, field 9 a number") from None
        if grid is not None:
            info = grid.grid
            if info is None:
                raise ScenarioError(f"{path}:{i}: map {grid.name!r} is not a grid map")
            if (w, h) != (info.width, info.height):
                raise ScenarioError(f"{path}:{i}: scenario is for a {w}x{h} map, map is {info.width}x{info.height}")
            for label, (x, y) in (("start", (sx, sy)), ("goal", (gx, gy))):
                if not (0 <= x < info.width and 0 <= y < info.height):
                    raise ScenarioError(f"{path}:{i}: {label} ({x},{y}) is outside the map")
                if not info.free[y, x]:
                    raise ScenarioError(f"{path}:{i}: {label} ({x},{y}) is a blocked cell")
        agents.append(ScenarioAgent(bucket=bucket, start_xy=(sx, sy), goal_xy=(gx, gy), optimal_length=opt))
    return agents
