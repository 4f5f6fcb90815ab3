"""Tests of the geometric collision checker, with shapely as the oracle.

Tolerance: the kernels and shapely agree on every generated case except within
``TOL_M`` = 1 micrometre of touching. When the answers differ, the test requires that the
contact is that close: shapely's distance <= TOL_M when only the kernel says "intersect",
and the kernel's gap <= TOL_M (or the footprint shrunk by TOL_M missing) when only shapely
does. Rounding of coordinates near 2.4e6 m is about 5e-10 m, far below TOL_M.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box

from planner.collision import (
    TrajectoryError,
    find_collisions,
    find_corridor_violations,
    find_speed_violations,
    find_zone_intrusions,
    pack_trajectories,
)
from planner.kernels.broadphase import candidate_pairs, table_size
from planner.kernels.geometry import point_segment_distance, rect_overlap, rect_polygon_intersect
from planner.kernels.sampling import pose_at, sample_times

TOL_M = 1e-6
OFFSETS = (0.0, 807_512.3, 2_383_790.1)  # local and projected-CRS-sized coordinates
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def oracle_rect(x: float, y: float, heading: float, length: float, width: float, margin: float = 0.0) -> Polygon:
    """The footprint built by shapely's own transforms (independent of the kernel's maths)."""
    r = box(-length / 2 - margin, -width / 2 - margin, length / 2 + margin, width / 2 + margin)
    return affinity.translate(affinity.rotate(r, heading, origin=(0, 0), use_radians=True), x, y)


def overlap(a: tuple, b: tuple, margin: float = 0.0) -> tuple[float, float, float]:
    """Kernel call for rectangles given as (x, y, heading, length, width)."""
    (ax, ay, ah, al, aw), (bx, by, bh, bl, bw) = a, b
    return rect_overlap(ax, ay, math.cos(ah), math.sin(ah), al / 2 + margin, aw / 2 + margin, bx, by, math.cos(bh), math.sin(bh), bl / 2 + margin, bw / 2 + margin)


# ---- rectangle vs rectangle: hand cases ------------------------------------------------------


def test_rectangles_touching_at_a_corner_intersect_with_zero_depth():
    depth, _, _ = overlap((0.0, 0.0, 0.0, 2.0, 2.0), (2.0, 2.0, 0.0, 2.0, 2.0))
    assert depth == 0.0
    assert oracle_rect(0, 0, 0, 2, 2).intersects(oracle_rect(2, 2, 0, 2, 2))


def test_rectangles_a_hair_apart_at_a_corner_do_not_intersect():
    depth, _, _ = overlap((0.0, 0.0, 0.0, 2.0, 2.0), (2.0, 2.0 + 1e-9, 0.0, 2.0, 2.0))
    assert depth < 0.0


def test_rectangle_inside_another_has_the_depth_to_push_it_out():
    # a 2 x 1 rectangle at (1, 0) inside a 10 x 4 one: leaving through the nearer long side
    # takes 2 (half width of A) + 0.5 (half width of B)
    depth, nx, ny = overlap((0.0, 0.0, 0.0, 10.0, 4.0), (1.0, 0.0, 0.0, 2.0, 1.0))
    assert depth == pytest.approx(2.5)
    assert abs(nx) == pytest.approx(0.0, abs=1e-12) and abs(ny) == pytest.approx(1.0)


def test_rectangle_rotated_by_90_degrees_crossing_and_touching():
    a = (0.0, 0.0, 0.0, 4.0, 2.0)
    crossing = (0.0, 0.0, math.pi / 2, 4.0, 2.0)
    depth, _, _ = overlap(a, crossing)
    assert depth == pytest.approx(3.0)  # the smaller overlap: 2 + 1 along y
    # turned by 90 degrees and moved 3 m along x: its x extent is [2, 4], touching A's edge x = 2
    depth, _, _ = overlap(a, (3.0, 0.0, math.pi / 2, 4.0, 2.0))
    assert depth == pytest.approx(0.0, abs=1e-12)
    depth, _, _ = overlap(a, (3.01, 0.0, math.pi / 2, 4.0, 2.0))
    assert depth == pytest.approx(-0.01)


def test_identical_rectangles_overlap_by_their_width():
    for heading in (0.0, 0.3, -2.0, math.pi):
        depth, _, _ = overlap((5.0, -3.0, heading, 15.5, 3.0), (5.0, -3.0, heading, 15.5, 3.0))
        assert depth == pytest.approx(3.0)


def test_margin_grows_every_side():
    # 1 m gap between two 4 x 2 rectangles side by side: margins of 0.5 on each close it
    a, b = (0.0, 0.0, 0.0, 4.0, 2.0), (0.0, 3.0, 0.0, 4.0, 2.0)
    assert overlap(a, b, 0.4)[0] < 0.0
    assert overlap(a, b, 0.5)[0] == pytest.approx(0.0, abs=1e-12)
    assert overlap(a, b, 0.6)[0] > 0.0


# ---- rectangle vs rectangle: properties against shapely ----------------------------------------

coordinate = st.floats(-20.0, 20.0)
heading = st.floats(-math.pi, math.pi)
length = st.floats(0.2, 30.0)
width = st.floats(0.2, 8.0)
margin = st.one_of(st.just(0.0), st.floats(0.0, 2.0))


@st.composite
def rectangle_pairs(draw):
    """Random pairs, plus pairs constructed to touch (face or corner) or to be contained."""
    offset_x, offset_y = draw(st.sampled_from(OFFSETS)), draw(st.sampled_from(OFFSETS))
    a = (offset_x + draw(coordinate), offset_y + draw(coordinate), draw(heading), draw(length), draw(width))
    mode = draw(st.sampled_from(["random", "touching_face", "touching_corner", "contained", "near"]))
    ax, ay, ah, al, aw = a
    u = np.array([math.cos(ah), math.sin(ah)])
    v = np.array([-u[1], u[0]])
    if mode == "random":
        b = (offset_x + draw(coordinate), offset_y + draw(coordinate), draw(heading), draw(length), draw(width))
    elif mode == "touching_face":
        bl, bw = draw(length), draw(width)
        turn = draw(st.sampled_from([0, 1, 2, 3])) * math.pi / 2
        extent = bl / 2 if turn in (0, math.pi) else bw / 2
        slide = draw(st.floats(-0.4, 0.4)) * aw
        c = np.array([ax, ay]) + u * (al / 2 + extent) + v * slide
        b = (c[0], c[1], ah + turn, bl, bw)
    elif mode == "touching_corner":
        bl, bw = draw(length), draw(width)
        c = np.array([ax, ay]) + u * (al + bl) / 2 + v * (aw + bw) / 2
        b = (c[0], c[1], ah, bl, bw)
    elif mode == "contained":
        f = draw(st.floats(0.05, 0.5))
        c = np.array([ax, ay]) + u * draw(st.floats(-0.2, 0.2)) * al + v * draw(st.floats(-0.2, 0.2)) * aw
        b = (c[0], c[1], draw(heading), al * f, aw * f)
    else:  # a random heading and size, placed at a random small gap or overlap from A's end
        bl, bw, bh = draw(length), draw(width), draw(heading)
        c = np.array([ax, ay]) + u * (al / 2 + bl / 2 + draw(st.floats(-0.5, 0.5)))
        b = (c[0], c[1], bh, bl, bw)
    return a, b, draw(margin)


@PROPERTY
@given(rectangle_pairs())
def test_rect_overlap_agrees_with_shapely(case):
    a, b, m = case
    depth, _, _ = overlap(a, b, m)
    pa, pb = oracle_rect(*a, margin=m), oracle_rect(*b, margin=m)
    truth = pa.intersects(pb)
    if (depth >= 0.0) != truth:
        if truth:
            assert -depth <= TOL_M, f"kernel missed an overlap: gap {-depth}"
        else:
            assert pa.distance(pb) <= TOL_M, f"kernel found an overlap shapely does not: depth {depth}"


@PROPERTY
@given(rectangle_pairs(), st.lists(heading, min_size=3, max_size=3))
def test_penetration_depth_is_the_smallest_separating_translation(case, directions):
    a, b, m = case
    depth, nx, ny = overlap(a, b, m)
    assume(depth > 10 * TOL_M)
    pa = oracle_rect(*a, margin=m)
    pb = oracle_rect(*b, margin=m)
    # pushing B out along the reported axis by the depth (plus a hair) separates it ...
    assert not pa.intersects(affinity.translate(pb, nx * (depth + 10 * TOL_M), ny * (depth + 10 * TOL_M)))
    # ... and no translation shorter than the depth does, in any direction
    for angle in directions:
        shift = depth - 10 * TOL_M
        assert pa.intersects(affinity.translate(pb, math.cos(angle) * shift, math.sin(angle) * shift))


# ---- rectangle vs polygon ----------------------------------------------------------------------


@st.composite
def star_polygons(draw):
    """Simple (star-shaped) polygons, convex or not, sometimes with a hole."""
    k = draw(st.integers(3, 12))
    cx, cy = draw(coordinate), draw(coordinate)
    radii = draw(st.lists(st.floats(2.0, 20.0), min_size=k, max_size=k))
    jitter = draw(st.lists(st.floats(0.05, 0.95), min_size=k, max_size=k))
    angles = [2 * math.pi * (i + jitter[i]) / k for i in range(k)]
    shell = [(cx + r * math.cos(t), cy + r * math.sin(t)) for r, t in zip(radii, angles)]
    holes = []
    if draw(st.booleans()):
        hr = 0.5 * min(radii) * math.sin(math.pi / k) * min(min(jitter), 1 - max(jitter)) + 0.1
        holes = [[(cx + hr * math.cos(t), cy + hr * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 7)[:-1]]]
    polygon = Polygon(shell, holes)
    assume(polygon.is_valid)
    return polygon


def polygon_arrays(polygon: Polygon):
    rings = [np.asarray(r.coords)[:-1] for r in (polygon.exterior, *polygon.interiors)]
    indptr = np.zeros(len(rings) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rings], out=indptr[1:])
    return np.ascontiguousarray(np.concatenate(rings)), indptr


def rect_hits_polygon(rect: tuple, polygon: Polygon, grow: float = 0.0) -> bool:
    x, y, h, length_m, width_m = rect
    xy, indptr = polygon_arrays(polygon)
    return rect_polygon_intersect(x, y, math.cos(h), math.sin(h), length_m / 2 + grow, width_m / 2 + grow, xy, indptr, 0, indptr.shape[0] - 1)


@PROPERTY
@given(star_polygons(), coordinate, coordinate, heading, st.floats(0.1, 30.0), st.floats(0.1, 8.0))
def test_rect_polygon_intersect_agrees_with_shapely(polygon, x, y, h, length_m, width_m):
    rect = (x, y, h, length_m, width_m)
    mine = rect_hits_polygon(rect, polygon)
    footprint = oracle_rect(*rect)
    truth = footprint.intersects(polygon)
    if mine != truth:
        if mine:
            assert footprint.distance(polygon) <= TOL_M
        else:
            assert not oracle_rect(x, y, h, length_m - 2 * TOL_M, width_m - 2 * TOL_M).intersects(polygon)


def test_rectangle_in_the_hole_of_a_zone_is_outside_it():
    ring = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)], [[(30, 30), (70, 30), (70, 70), (30, 70)]])
    assert not rect_hits_polygon((50.0, 50.0, 0.3, 15.5, 3.0), ring)
    assert rect_hits_polygon((50.0, 50.0, 0.0, 40.0, 3.0), ring)  # exactly reaches the hole's edges
    assert rect_hits_polygon((10.0, 10.0, 0.0, 4.0, 2.0), ring)  # wholly inside the solid part


def test_polygon_inside_the_rectangle_is_found():
    small = Polygon([(0, 0), (1, 0), (0, 1)])
    assert rect_hits_polygon((0.2, 0.2, 0.7, 30.0, 10.0), small)


@PROPERTY
@given(coordinate, coordinate, coordinate, coordinate, coordinate, coordinate)
def test_point_segment_distance_agrees_with_shapely(px, py, ax, ay, bx, by):
    # GEOS reports an infinite distance to a segment whose squared length underflows, so the
    # oracle treats segments shorter than a nanometre as their first point
    segment = LineString([(ax, ay), (bx, by)]) if math.hypot(bx - ax, by - ay) > 1e-9 else Point(ax, ay)
    assert point_segment_distance(px, py, ax, ay, bx, by) == pytest.approx(segment.distance(Point(px, py)), abs=1e-9)


# ---- sampling ----------------------------------------------------------------------------------


def test_pose_holds_before_the_first_and_after_the_last_row():
    rows = np.array([[10.0, 1.0, 2.0, 0.5], [11.0, 3.0, 2.0, 0.5]])
    assert pose_at(rows, 0, 2, 0, 0.0)[:3] == (1.0, 2.0, 0.5)
    assert pose_at(rows, 0, 2, 0, 99.0)[:3] == (3.0, 2.0, 0.5)
    assert pose_at(rows, 0, 2, 0, 10.5)[:2] == (2.0, 2.0)


def test_heading_interpolates_along_the_shorter_arc():
    rows = np.array([[0.0, 0.0, 0.0, math.radians(170)], [1.0, 0.0, 0.0, math.radians(-170)]])
    h = pose_at(rows, 0, 2, 0, 0.5)[2]
    assert math.cos(h) == pytest.approx(-1.0)  # through 180 degrees, not through 0


def test_sample_times_include_the_end():
    times = sample_times(0.0, 1.05, 0.1)
    assert times[0] == 0.0 and times[-1] == 1.05 and len(times) == 12
    assert len(sample_times(0.0, 1.0, 0.1)) == 11


# ---- find_collisions ---------------------------------------------------------------------------


def straight(t0: float, t1: float, start: tuple, end: tuple, heading_rad: float, dt: float = 0.5) -> np.ndarray:
    times = np.arange(t0, t1 + 1e-9, dt)
    f = (times - t0) / (t1 - t0)
    return np.column_stack([times, start[0] + f * (end[0] - start[0]), start[1] + f * (end[1] - start[1]), np.full_like(times, heading_rad)])


def test_head_on_contact_is_found_at_the_first_sample_after_contact():
    # A drives east at 10 m/s from x = 0; B stands at x = 50.05 facing west. 4 x 2
    # footprints touch when A's centre reaches x = 46.05, at t = 4.605 s; A's rear leaves
    # B's front at x = 54.05, t = 5.405 s.
    a = straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0)
    b = np.array([[0.0, 50.05, 0.0, math.pi]])
    found = find_collisions([a, b], (4.0, 2.0), step_s=0.1)
    assert len(found) == 1
    c = found[0]
    assert (c.vehicle_a, c.vehicle_b) == (0, 1)
    assert c.time_s == pytest.approx(4.7, abs=1e-9)
    assert c.end_time_s == pytest.approx(5.4, abs=1e-9)
    assert c.depth_m == pytest.approx(0.95, abs=1e-9)  # x = 47: 4 - 3.05 along x
    assert c.max_depth_m == pytest.approx(2.0, abs=1e-9)  # capped by the width: sliding apart sideways
    assert (c.pose_a.x_m, c.pose_b.x_m) == (pytest.approx(47.0), 50.05)


def test_separate_contacts_of_one_pair_are_separate_episodes():
    # A passes B at x = 50, turns back at x = 100 and passes it again
    out = straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0)
    back = straight(10.0, 20.0, (100.0, 0.0), (0.0, 0.0), 0.0)[1:]
    a = np.concatenate([out, back])
    b = np.array([[0.0, 50.05, 0.0, 0.0]])
    found = find_collisions([a, b], (4.0, 2.0), step_s=0.1)
    assert [round(c.time_s, 6) for c in found] == [4.7, 14.6]


def test_vehicles_hold_their_poses_outside_their_rows():
    # B's trajectory starts at t = 100 s, but it stands at its first pose before that
    a = straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0)
    b = np.array([[100.0, 50.05, 0.0, 0.0], [101.0, 51.0, 0.0, 0.0]])
    assert [round(c.time_s, 6) for c in find_collisions([a, b], (4.0, 2.0))] == [4.7]


def test_standing_pair_in_contact_is_one_episode_over_the_whole_time():
    a = np.array([[0.0, 0.0, 0.0, 0.0], [60.0, 0.0, 0.0, 0.0]])
    b = np.array([[0.0, 1.0, 1.0, 0.3], [30.0, 1.0, 1.0, 0.3], [60.0, 1.0, 1.0, 0.3]])
    (c,) = find_collisions([a, b], (4.0, 2.0), step_s=0.1)
    assert (c.time_s, c.end_time_s) == (0.0, 60.0)
    assert c.depth_m == c.max_depth_m > 0.0


def test_parallel_lanes_do_not_touch():
    a = straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0)
    b = straight(0.0, 10.0, (100.0, 3.75), (0.0, 3.75), math.pi)
    assert find_collisions([a, b], (15.5, 3.0)) == ()
    assert len(find_collisions([a, b], (15.5, 3.0), margin_m=0.375)) == 1  # margins touch exactly


def brute_force_episodes(trajectories, sizes, step_s, margin_m):
    """Every pair at every sample with shapely: the oracle for the broad phase."""
    rows, offsets = pack_trajectories(trajectories)
    times = sample_times(rows[offsets[:-1], 0].min(), rows[offsets[1:] - 1, 0].max(), step_s)
    poses = []
    for t in trajectories:
        turn = t[0, 3] + np.concatenate([[0.0], np.cumsum((np.diff(t[:, 3]) + np.pi) % (2 * np.pi) - np.pi)])
        poses.append(np.column_stack([np.interp(times, t[:, 0], t[:, 1]), np.interp(times, t[:, 0], t[:, 2]), np.interp(times, t[:, 0], turn)]))
    episodes, last = set(), {}
    for k in range(times.shape[0]):
        shapes = [oracle_rect(*p[k], *sizes[i], margin=margin_m) for i, p in enumerate(poses)]
        for a in range(len(shapes)):
            for b in range(a + 1, len(shapes)):
                if shapes[a].intersects(shapes[b]):
                    if last.get((a, b)) != k - 1:
                        episodes.add((a, b, k))
                    last[(a, b)] = k
    return episodes, times


@pytest.mark.parametrize("seed", range(5))
def test_grid_candidate_pairs_are_exactly_the_overlapping_boxes(seed):
    # many small boxes over many grid cells, negative coordinates included
    rng = np.random.default_rng(seed)
    n = 400
    x, y = rng.uniform(-150.0, 150.0, n), rng.uniform(-150.0, 150.0, n)
    ex, ey = rng.uniform(0.1, 6.0, n), rng.uniform(0.1, 6.0, n)
    ex[:3] = ey[:3] = 0.0  # points
    x[3], x[4], y[3], y[4], ex[3], ex[4] = 13.0, 10.0, -7.0, -7.0, 1.5, 1.5  # exactly touching boxes count
    cell_m = 2.0 * max(ex.max(), ey.max())
    scratch = [np.empty(n, dtype=np.int64) for _ in range(3)] + [np.empty(table_size(n) + 1, dtype=np.int64), np.empty(n, dtype=np.int64)]
    expected = {(i, j) for i in range(n) for j in range(i + 1, n) if abs(x[i] - x[j]) <= ex[i] + ex[j] and abs(y[i] - y[j]) <= ey[i] + ey[j]}
    # a small buffer gets the first pairs and the full count
    small = np.full((4, 2), -1, dtype=np.int64)
    assert candidate_pairs(x, y, ex, ey, cell_m, *scratch, small) == len(expected)
    assert {tuple(p) for p in small.tolist()} <= expected
    pairs = np.empty((len(expected), 2), dtype=np.int64)
    count = candidate_pairs(x, y, ex, ey, cell_m, *scratch, pairs)
    found = {tuple(p) for p in pairs[:count].tolist()}
    assert count == len(found)  # no pair reported twice
    assert found == expected
    assert (3, 4) in found and len(expected) > 50


@pytest.mark.parametrize("seed", range(6))
def test_broad_phase_finds_exactly_what_all_pairs_find(seed):
    rng = np.random.default_rng(seed)
    n = 25
    sizes = np.column_stack([rng.uniform(1.0, 20.0, n), rng.uniform(0.5, 4.0, n)])
    sizes[0] = (60.0, 5.0)  # one huge vehicle sets the grid cell size
    trajectories = []
    for i in range(n):
        times = np.cumsum(rng.uniform(0.1, 0.5, 20)) + rng.uniform(-1.0, 1.0)
        if i % 5 == 0:  # standing vehicles exercise the still-pair path
            xy = np.repeat(rng.uniform(-40, 40, (1, 2)), 20, axis=0)
            h = np.full(20, rng.uniform(-math.pi, math.pi))
        else:
            xy = rng.uniform(-40, 40, (1, 2)) + np.cumsum(rng.normal(0, 2.0, (20, 2)), axis=0)
            h = rng.uniform(-math.pi, math.pi) + np.cumsum(rng.normal(0, 0.5, 20))
        trajectories.append(np.column_stack([times, xy, h]))
    step_s = 0.05
    margin_m = 0.1 * (seed % 3)
    expected, times = brute_force_episodes(trajectories, sizes, step_s, margin_m)
    found = find_collisions(trajectories, sizes, step_s, margin_m)
    step_of = {float(t): k for k, t in enumerate(times)}
    assert {(c.vehicle_a, c.vehicle_b, step_of[c.time_s]) for c in found} == expected
    assert len(expected) > 5  # the case really exercises contacts


def test_bad_trajectories_and_footprints_are_rejected():
    good = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    with pytest.raises(TrajectoryError, match="vehicle 1: trajectory row 1"):
        find_collisions([good, good[::-1]], (4.0, 2.0))
    with pytest.raises(TrajectoryError, match="no rows"):
        find_collisions([good, np.empty((0, 4))], (4.0, 2.0))
    with pytest.raises(TrajectoryError, match="footprints"):
        find_collisions([good, good], np.ones((3, 2)))
    with pytest.raises(TrajectoryError, match="positive"):
        find_collisions([good, good], (4.0, -2.0))
    with pytest.raises(TrajectoryError, match="step_s"):
        find_collisions([good, good], (4.0, 2.0), step_s=0.0)
    with pytest.raises(TrajectoryError, match="margin_m"):
        find_collisions([good, good], (4.0, 2.0), margin_m=float("nan"))


def test_no_vehicles_or_one_vehicle_has_no_collisions():
    assert find_collisions([], (4.0, 2.0)) == ()
    assert find_collisions([np.array([[0.0, 0.0, 0.0, 0.0]])], (4.0, 2.0)) == ()


# ---- zones, corridors, speeds ------------------------------------------------------------------


def test_zone_intrusion_is_found_with_zone_index_and_time():
    zones = [Polygon([(200, 200), (210, 200), (210, 210)]), Polygon([(60.05, -10), (70.05, -10), (70.05, 10), (60.05, 10)])]
    a = straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0)
    (hit,) = find_zone_intrusions([a], (4.0, 2.0), zones, step_s=0.1)
    assert (hit.vehicle, hit.zone) == (0, 1)
    assert hit.time_s == pytest.approx(5.9)  # the front reaches x = 60.05 at 5.805 s
    assert hit.end_time_s == pytest.approx(7.2)  # the rear leaves x = 70.05 at 7.205 s
    assert hit.pose.x_m == pytest.approx(59.0)
    # a 0.5 m margin reaches the zone 0.05 s earlier, at 5.755 s
    (early,) = find_zone_intrusions([a], (4.0, 2.0), zones, step_s=0.1, margin_m=0.5)
    assert early.time_s == pytest.approx(5.8)


def test_corridor_check_uses_half_width_plus_tolerance():
    lane = (np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0]]),)
    widths = np.array([4.0])
    inside = straight(0.0, 10.0, (0.0, 2.2), (90.0, 2.2), 0.0)  # 2.2 <= 2.0 + 0.25
    assert find_corridor_violations([inside], lane, widths, tolerance_m=0.25) == ()
    outside = straight(0.0, 10.0, (0.0, 2.3), (90.0, 2.3), 0.0)
    (v,) = find_corridor_violations([outside], lane, widths, tolerance_m=0.25)
    assert (v.vehicle, v.lane, v.time_s, v.end_time_s) == (0, 0, 0.0, 10.0)
    assert v.distance_m == pytest.approx(2.3) and v.half_width_m == 2.0
    # far from every lane: the nearest lane is still named
    (far,) = find_corridor_violations([np.array([[0.0, 500.0, 50.0, 0.0]])], lane, widths)
    assert far.lane == 0 and far.distance_m == pytest.approx(400.0)


def test_corridor_check_follows_a_bend_and_a_second_lane():
    lanes = (np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([[100.0, 0.0], [100.0, 100.0]]))
    a = np.concatenate([straight(0.0, 10.0, (0.0, 0.0), (100.0, 0.0), 0.0), straight(10.0, 20.0, (100.0, 0.0), (100.0, 100.0), math.pi / 2)[1:]])
    assert find_corridor_violations([a], lanes, np.array([3.75, 3.75])) == ()


def test_speed_limit_of_the_lane_the_vehicle_is_on():
    lanes = (np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([[100.0, 0.0], [200.0, 0.0]]))
    widths, limits = np.array([3.75, 3.75]), np.array([8.0, 4.0])
    # 8 m/s on the fast lane, then 4 m/s on the slow one: clean
    ok = np.concatenate([straight(0.0, 12.5, (0.0, 0.0), (100.0, 0.0), 0.0), straight(12.5, 37.5, (100.0, 0.0), (200.0, 0.0), 0.0)[1:]])
    assert find_speed_violations([ok], lanes, widths, limits) == ()
    # keeping 8 m/s on the slow lane is flagged
    fast = straight(0.0, 25.0, (0.0, 0.0), (200.0, 0.0), 0.0)
    (v,) = find_speed_violations([fast], lanes, widths, limits)
    assert (v.vehicle, v.lane) == (0, 1)
    # the row pair 12.5-13.0 s starts on the junction, where the fast lane's limit applies
    assert v.time_s == pytest.approx(13.0) and v.end_time_s == pytest.approx(25.0)
    assert v.speed_mps == pytest.approx(8.0) and v.limit_mps == 4.0


def test_shapely_oracle_builds_the_same_footprint_as_the_design():
    # guard for the oracle itself: the 15.5 x 3.0 footprint heading north at (10, 20)
    poly = oracle_rect(10.0, 20.0, math.pi / 2, 15.5, 3.0)
    assert shapely.bounds(poly) == pytest.approx([8.5, 12.25, 11.5, 27.75])
