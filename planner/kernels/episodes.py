"""Episode records: consecutive hits of one key merged into one growable record.

A check finds the same problem (a vehicle pair in contact, a vehicle in a zone) at many
consecutive samples. Records are kept in two parallel arrays, ``ints`` (cap, 4) =
``[a, b, first_step, last_step]`` and ``floats`` (cap, F) = values the caller chooses,
and a typed dict maps a key (e.g. ``a * N + b``) to its latest record. A hit at step ``k``
extends that record when it ended at ``k - 1``; otherwise it opens a new episode.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

INITIAL_CAPACITY = 64


@njit(cache=True)
def new_index():
    """An empty key -> record dict."""
    return Dict.empty(key_type=types.int64, value_type=types.int64)


@njit(cache=True)
def new_records(n_floats):
    """Empty ``(ints, floats)`` record arrays with :data:`INITIAL_CAPACITY` rows."""
    return np.empty((INITIAL_CAPACITY, 4), dtype=np.int64), np.empty((INITIAL_CAPACITY, n_floats), dtype=np.float64)


@njit(cache=True)
def continuing(index, ints, key, step):
    """The record that ``key`` extends at ``step`` (it ended at ``step - 1``), else -1."""
    if key in index:
        record = index[key]
        if ints[record, 3] == step - 1:
            return record
    return -1


@njit(cache=True)
def open_record(index, ints, floats, count, key, a, b, step):
    """Append a record for a new episode of ``key``; returns ``(ints, floats, record)``.

    The caller fills ``floats[record]`` and increments its count.

    # PERF: capacity doubles when full, so appending is O(1) amortised and the per-sample
    # loops never allocate while no problem is found.
    """
    if count == ints.shape[0]:
        grown_i = np.empty((2 * count, 4), dtype=np.int64)
        grown_i[:count] = ints[:count]
        grown_f = np.empty((2 * count, floats.shape[1]), dtype=np.float64)
        grown_f[:count] = floats[:count]
        ints = grown_i
        floats = grown_f
    ints[count, 0] = a
    ints[count, 1] = b
    ints[count, 2] = step
    ints[count, 3] = step
    index[key] = count
    return ints, floats, count
