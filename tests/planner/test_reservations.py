"""Reservation table: blocked intervals per cell, merging, removal, growth, safe intervals."""

from __future__ import annotations

import math

import numpy as np

from planner.reservations import ReservationTable
from planner.scenarios import corridor_map


def _table(n_owners=3, capacity=2):
    tm = corridor_map()
    return tm, ReservationTable(tm, n_owners, capacity)


def test_an_occupancy_blocks_every_conflicting_cell_and_only_those():
    tm, table = _table()
    cell = tm.station_cell_of("MID")
    table.add(0, np.array([cell]), np.array([10.0]), np.array([20.0]))
    conflicting = set(int(c) for c in tm.cell_conflicts(cell))
    for c in range(tm.n_cells):
        expected = [(-math.inf, 10.0), (20.0, math.inf)] if c in conflicting else [(-math.inf, math.inf)]
        assert table.gaps(c) == expected


def test_touching_intervals_of_one_owner_merge_and_of_two_owners_do_not():
    tm, table = _table()
    cell = tm.station_cell_of("W")
    table.add(0, np.array([cell, cell]), np.array([0.0, 5.0]), np.array([5.0, 9.0]))
    assert table.count[cell] == 1
    table.add(1, np.array([cell]), np.array([9.0]), np.array([12.0]))
    assert table.count[cell] == 2
    assert table.gaps(cell) == [(-math.inf, 0.0), (12.0, math.inf)]


def test_rows_grow_beyond_their_capacity():
    tm, table = _table(n_owners=8, capacity=2)
    cell = tm.station_cell_of("E")
    for k in range(8):
        table.add(k, np.array([cell]), np.array([10.0 * k]), np.array([10.0 * k + 1.0]))
    assert table.capacity >= 8
    gaps = table.gaps(cell)
    assert len(gaps) == 9 and gaps[3] == (21.0, 30.0)


def test_remove_takes_out_one_owner_only():
    tm, table = _table()
    cell = tm.station_cell_of("MID")
    table.add(0, np.array([cell]), np.array([0.0]), np.array([5.0]))
    table.add(1, np.array([cell]), np.array([7.0]), np.array([9.0]))
    table.remove(0, np.array([cell]))
    assert table.gaps(cell) == [(-math.inf, 7.0), (9.0, math.inf)]


def test_inactive_owners_are_invisible():
    tm, table = _table()
    cell = tm.station_cell_of("MID")
    table.add(0, np.array([cell]), np.array([0.0]), np.array([math.inf]))
    table.add(1, np.array([cell]), np.array([3.0]), np.array([4.0]))
    only_one = np.array([False, True, False])
    assert table.gaps(cell, only_one) == [(-math.inf, 3.0), (4.0, math.inf)]
    assert table.gaps(cell) == [(-math.inf, 0.0)]


def test_overlap_queries_name_the_owner_and_ignore_touching():
    tm, table = _table()
    cell = tm.station_cell_of("MID")
    table.add(2, np.array([cell]), np.array([10.0]), np.array([20.0]))
    assert table.first_overlap(np.array([cell]), np.array([20.0]), np.array([25.0]), skip_owner=0) == (-1, -1)
    assert table.first_overlap(np.array([cell, cell]), np.array([0.0, 19.0]), np.array([5.0, 25.0]), skip_owner=0) == (1, 2)
    assert table.overlapping_owners(np.array([cell]), np.array([0.0]), np.array([11.0]), skip_owner=0).tolist() == [2]
