"""Exact geometric predicates for footprints: oriented rectangles, segments, polygons.

A rectangle is given by its centre ``(x, y)``, the cosine and sine of its heading
``(c, s)`` and its half length / half width ``(hl, hw)`` along and across the heading.
All predicates treat shapes as *closed* sets: touching counts as intersecting, the same
as shapely's ``intersects``.
"""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def rect_overlap(ax, ay, ac, as_, ahl, ahw, bx, by, bc, bs, bhl, bhw):
    """Separating-axis test of two oriented rectangles, with the penetration depth.

    Returns
    -------
    depth : float
        The smallest overlap of the two projections over the four edge normals. For convex
        polygons that minimum is the penetration depth (the shortest translation that
        separates them), so ``depth >= 0`` means the closed rectangles intersect and
        ``depth == 0`` that they only touch. ``depth < 0`` means a separating axis exists
        and ``-depth`` is the widest gap along an edge normal (a lower bound of the distance).
    nx, ny : float
        The unit axis of that minimum, oriented from A towards B: moving B by
        ``depth * (nx, ny)`` makes the rectangles touch.
    """
    dx = bx - ax
    dy = by - ay
    best = math.inf
    best_x = 1.0
    best_y = 0.0
    for axis in range(4):
        if axis == 0:
            wx, wy = ac, as_
        elif axis == 1:
            wx, wy = -as_, ac
        elif axis == 2:
            wx, wy = bc, bs
        else:
            wx, wy = -bs, bc
        # projections of the half extents of each rectangle onto the axis
        ra = ahl * abs(ac * wx + as_ * wy) + ahw * abs(-as_ * wx + ac * wy)
        rb = bhl * abs(bc * wx + bs * wy) + bhw * abs(-bs * wx + bc * wy)
        d = dx * wx + dy * wy
        overlap = ra + rb - abs(d)
        if overlap < best:
            best = overlap
            sign = 1.0 if d >= 0.0 else -1.0
            best_x = sign * wx
            best_y = sign * wy
    return best, best_x, best_y


@njit(cache=True)
def rect_segment_intersect(x, y, c, s, hl, hw, x0, y0, x1, y1):
    """Whether the closed segment (x0, y0)-(x1, y1) meets the closed rectangle.

    Separating axes of a rectangle and a segment: the rectangle's two axes and the
    segment's normal, evaluated in the rectangle's frame.
    """
    ex0 = x0 - x
    ey0 = y0 - y
    ex1 = x1 - x
    ey1 = y1 - y
    u0 = ex0 * c + ey0 * s
    v0 = -ex0 * s + ey0 * c
    u1 = ex1 * c + ey1 * s
    v1 = -ex1 * s + ey1 * c
    if min(u0, u1) > hl or max(u0, u1) < -hl:
        return False
    if min(v0, v1) > hw or max(v0, v1) < -hw:
        return False
    nu = v0 - v1
    nv = u1 - u0
    return abs(u0 * nu + v0 * nv) <= hl * abs(nu) + hw * abs(nv)


@njit(cache=True)
def point_in_rings(px, py, xy, ring_indptr, r0, r1):
    """Even-odd point-in-polygon over rings ``r0 .. r1 - 1`` (exterior and holes).

    Ring ``r`` has vertices ``xy[ring_indptr[r]:ring_indptr[r + 1]]``, not repeating the
    first vertex. Points exactly on an edge may go either way; callers test edges first.
    """
    inside = False
    for r in range(r0, r1):
        lo = ring_indptr[r]
        hi = ring_indptr[r + 1]
        j = hi - 1
        for i in range(lo, hi):
            xi = xy[i, 0]
            yi = xy[i, 1]
            xj = xy[j, 0]
            yj = xy[j, 1]
            if (yi > py) != (yj > py):
                if px < xi + (py - yi) * (xj - xi) / (yj - yi):
                    inside = not inside
            j = i
    return inside


@njit(cache=True)
def rect_polygon_intersect(x, y, c, s, hl, hw, xy, ring_indptr, r0, r1):
    """Whether the closed rectangle meets the closed polygon made of rings ``r0 .. r1 - 1``.

    Exact by a connectivity argument: if no polygon edge meets the rectangle, the
    rectangle lies wholly inside or wholly outside the polygon, and its centre decides.
    A polygon wholly inside the rectangle is caught by its edges.
    """
    for r in range(r0, r1):
        lo = ring_indptr[r]
        hi = ring_indptr[r + 1]
        j = hi - 1
        for i in range(lo, hi):
            if rect_segment_intersect(x, y, c, s, hl, hw, xy[j, 0], xy[j, 1], xy[i, 0], xy[i, 1]):
                return True
            j = i
    return point_in_rings(x, y, xy, ring_indptr, r0, r1)


@njit(cache=True)
def point_segment_distance(px, py, ax, ay, bx, by):
    """Euclidean distance from a point to the closed segment a-b."""
    dx = bx - ax
    dy = by - ay
    length2 = dx * dx + dy * dy
    f = 0.0
    if length2 > 0.0:
        f = ((px - ax) * dx + (py - ay) * dy) / length2
        f = min(1.0, max(0.0, f))
    qx = ax + f * dx - px
    qy = ay + f * dy - py
    return math.sqrt(qx * qx + qy * qy)
