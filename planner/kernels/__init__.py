"""Numba kernels behind :mod:`planner.collision`.

``geometry``: exact predicates on oriented rectangles, segments and polygons;
``sampling``: trajectory interpolation at common sample times;
``broadphase``: the uniform-grid (spatial hash) candidate-pair search;
``episodes``: growable record arrays that merge consecutive hits into one episode;
``fleet``: the per-sample loops for vehicle-vehicle and vehicle-zone contacts;
``lanes``: the static segment grid and the lane-corridor and speed loops.

Every kernel is ``@njit(cache=True)`` over preallocated NumPy arrays, so a process pays the
compilation only once per installation (see ``docs/collision.md``).
"""
