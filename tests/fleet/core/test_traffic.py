"""Traffic: paths cut short by a frozen vehicle, and who may pass where it stays."""

from __future__ import annotations

import pytest

from fleet.core.traffic import Traffic
from planner.scenarios import corridor_map


@pytest.fixture(scope="module")
def corridor():
    return corridor_map()


def _cell_at(tm, x_m: float) -> int:
    """The corridor cell nearest ``x_m`` metres east of its west end."""
    xy = tm.cell_xy - tm.cell_xy[0]
    on_main = [c for c in range(tm.n_cells) if abs(xy[c, 1]) < 0.5]
    return min(on_main, key=lambda c: abs(xy[c, 0] - x_m))


def test_a_path_cut_short_routes_the_ones_behind_around_it_regression_disruption_collision(corridor):
    # disruption bench, 07:31: a vehicle on the bridge was cut short behind one frozen by
    # a comm loss (no way round), and stayed where its released steps ended. The one
    # behind it kept its path through that cell, planned for after the first had left,
    # and was released into it at 8 m/s.
    tm = corridor
    t = Traffic(tm, release_ahead_steps=3)
    for vid, x in (("ahead", 100.0), ("cut", 40.0), ("behind", 0.0)):
        t.add_vehicle(vid, _cell_at(tm, x), 0.0)
    for vid, x in (("ahead", 160.0), ("cut", 130.0), ("behind", 72.0)):
        assert t.plan_now(t.leg_request(vid, _cell_at(tm, x), 0.0))[0] is not None
    for vid in ("ahead", "cut", "behind"):
        t.release_limit(vid)
    t.freeze("ahead", 5.0)  # silent too long: holds its released cells, others go round
    cut = t.paths[t.index["cut"]]
    stays_on = int(cut.cells[-1])
    assert cut.n_steps == int(t.released[t.index["cut"]])  # no way round: cut to what it was released
    behind = t.index["behind"]
    blocked = set(tm.cell_conflicts(stays_on).tolist())
    assert not blocked & set(t.paths[behind].cells.tolist())  # routed around (here: cut short too)
    # and however far it gets, it is never released into the vehicle that stays
    for _ in range(20):
        t.report_progress("behind", int(t.released[behind]))
        limit = t.release_limit("behind")
        assert not blocked & set(t.paths[behind].cells[: limit + 1].tolist())
