from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maps.errors import MapError, ScenarioError
from maps.movingai import load_map, load_scenario

BENCH = Path(__file__).resolve().parents[3] / "shared" / "mapf-benchmark"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


TINY = "type octile\nheight 3\nwidth 4\nmap\n..@.\n....\n@...\n"


def test_tiny_grid(tmp_path):
    tm = load_map(write(tmp_path, "t.map", TINY))
    assert tm.grid.width == 4 and tm.grid.height == 3
    assert tm.n_cells == 10
    c = tm.grid.cell_of[1, 1]
    xy = {tuple(tm.cell_xy[n].astype(int)) for n in tm.cell_successors(c)}
    assert xy == {(1, 0), (2, 1), (1, 2), (0, 1)}
    assert tm.grid.cell_of[0, 2] == -1
    # every cell conflicts only with itself
    assert np.array_equal(tm.conflict_indices, np.arange(tm.n_cells))


@pytest.mark.parametrize(
    "text, where",
    [
        ("type octile\nheight x\nwidth 4\nmap\n", ":2:"),
        ("type octile\nheight 3\nwidth 4\nmap\n....\n....\n", ":7:"),
        ("type octile\nheight 2\nwidth 4\nmap\n....\n..?.\n", ":6: unknown map character '?'"),
        ("type octile\nheight 2\nwidth 4\nmap\n....\n...\n", ":6: row has 3 characters"),
        ("hello\n", ":1: expected 'type"),
    ],
)
def test_bad_map_names_the_line(tmp_path, text, where):
    with pytest.raises(MapError, match=where.replace("?", r"\?")):
        load_map(write(tmp_path, "bad.map", text))


def test_bad_scenario_names_the_line(tmp_path):
    tm = load_map(write(tmp_path, "t.map", TINY))
    scen = "version 1\n0\tt.map\t4\t3\t0\t0\t3\t2\t5\n0\tt.map\t4\t3\t2\t0\t3\t2\t5\n"
    with pytest.raises(ScenarioError, match=r"bad.scen:3: start \(2,0\) is a blocked cell"):
        load_scenario(write(tmp_path, "bad.scen", scen), tm)
    with pytest.raises(ScenarioError, match=r":2: expected 9 tab-separated fields"):
        load_scenario(write(tmp_path, "b2.scen", "version 1\n1\t2\n"), tm)


@pytest.mark.skipif(not BENCH.is_dir(), reason="shared/mapf-benchmark not beside the repo")
def test_shipped_benchmark_loads():
    tm = load_map(BENCH / "random-32-32-20.map")
    agents = load_scenario(BENCH / "random-32-32-20-random-1.scen", tm)
    assert len(agents) == 409
    assert tm.grid.free.sum() == tm.n_cells
