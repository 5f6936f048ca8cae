"""Box: pixel windows, sliding windows, random squares and the vectorized box-array ops."""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely

from rv.core.box import (
    Box,
    areas,
    boxes_from_shapely,
    boxes_to_shapely,
    clip_boxes,
    intersecting_pairs,
    intersection_matrix,
    ioa_matrix,
    iou_matrix,
)


def test_shape_properties_and_conversions():
    box = Box(10, 20, 110, 170)
    assert (box.height, box.width, box.size, box.area) == (100, 150, (100, 150), 15000)
    poly = box.to_shapely()
    # Pixel space: x is the column, y the row.
    assert poly.bounds == (20, 10, 170, 110)
    assert Box.from_shapely(poly) == box
    assert Box.from_array(box.to_array()) == box
    rows, cols = box.to_slices()
    assert np.zeros((200, 200))[rows, cols].shape == (100, 150)
    w = box.to_rasterio_window()
    assert (w.row_off, w.col_off, w.height, w.width) == (10, 20, 100, 150)
    assert Box.from_rasterio_window(w) == box
    assert hash(box) == hash(Box(10, 20, 110, 170))


def test_intersection_and_containment():
    a = Box(0, 0, 10, 10)
    assert a.intersection(Box(5, 5, 20, 20)) == Box(5, 5, 10, 10)
    # Touching boxes share no area: no intersection.
    assert a.intersection(Box(10, 0, 20, 10)) is None
    assert not a.intersects(Box(10, 0, 20, 10))
    assert a.contains_box(Box(2, 2, 8, 8)) and not a.contains_box(Box(2, 2, 8, 11))
    assert a.buffer(2) == Box(-2, -2, 12, 12)
    assert a.shift(3, -1) == Box(3, -1, 13, 9)
    assert Box(-5, 5, 15, 30).clip(Box(0, 0, 10, 20)) == Box(0, 5, 10, 20)


def test_make_square_class_and_instance_forms():
    assert Box.make_square(3, 4, 10) == Box(3, 4, 13, 14)
    assert Box(3, 4, 8, 8).make_square(10) == Box(3, 4, 13, 14)


@pytest.mark.parametrize("rng", [np.random.default_rng(0), random.Random(0), None])
def test_random_squares_respect_their_contract(rng):
    outer = Box(0, 0, 100, 80)
    for _ in range(50):
        sq = outer.make_random_square(30, rng)
        assert sq.size == (30, 30) and outer.contains_box(sq)
    obj = Box(40, 40, 55, 60)
    for _ in range(50):
        c = obj.make_random_square_container(64, rng)
        assert c.size == (64, 64) and c.contains_box(obj)
    with pytest.raises(ValueError):
        outer.make_random_square(90, rng)
    with pytest.raises(ValueError):
        obj.make_random_square_container(10, rng)


def _covered(extent: Box, windows: list[Box]) -> np.ndarray:
    hits = np.zeros((int(extent.height), int(extent.width)), dtype=int)
    for w in windows:
        inside = w.intersection(extent)
        if inside is not None:
            hits[inside.shift(-extent.ymin, -extent.xmin).to_slices()] += 1
    return hits


@pytest.mark.parametrize("size,stride", [(256, 256), (256, 200), (300, 300), (1000, 1000)])
def test_windows_cover_the_extent(size, stride):
    extent = Box(0, 0, 1024, 1536)  # the Kampala A scene
    for padding in ("pad", "shift"):
        windows = extent.get_windows(size, stride, padding=padding)
        assert (_covered(extent, windows) >= 1).all(), padding
        assert all(w.size == (size, size) for w in windows)
        if padding == "shift" and size <= 1024:
            assert all(extent.contains_box(w) for w in windows)
    drop = extent.get_windows(size, stride, padding="drop")
    assert all(extent.contains_box(w) for w in drop)


def test_window_counts():
    extent = Box(0, 0, 1024, 1536)
    assert len(extent.get_windows(256)) == 4 * 6
    # 1024 / 300 -> 4 windows (last padded) by 1536 / 300 -> 6.
    assert len(extent.get_windows(300)) == 4 * 6
    assert len(extent.get_windows(300, padding="drop")) == 3 * 5
    shifted = extent.get_windows(300, padding="shift")
    assert shifted[-1] == Box(724, 1236, 1024, 1536)
    # Windows of an offset box are offset too.
    assert Box(10, 20, 30, 40).get_windows(10)[0] == Box(10, 20, 20, 30)


def test_iou_and_ioa_matrices_match_shapely():
    rng = np.random.default_rng(1)
    mins = rng.uniform(0, 100, (30, 2))
    a = np.hstack([mins, mins + rng.uniform(1, 40, (30, 2))])
    mins = rng.uniform(0, 100, (20, 2))
    b = np.hstack([mins, mins + rng.uniform(1, 40, (20, 2))])
    pa, pb = boxes_to_shapely(a), boxes_to_shapely(b)
    inter = shapely.area(shapely.intersection(pa[:, None], pb[None, :]))
    union = shapely.area(shapely.union(pa[:, None], pb[None, :]))
    np.testing.assert_allclose(iou_matrix(a, b), inter / union, atol=1e-9)
    np.testing.assert_allclose(ioa_matrix(a, b), inter / shapely.area(pa)[:, None], atol=1e-9)
    np.testing.assert_allclose(areas(a), shapely.area(pa))
    np.testing.assert_allclose(boxes_from_shapely(pa), a)


def test_box_ops_edge_cases():
    assert iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    # An empty box has zero IoU/IoA with everything instead of NaN.
    assert iou_matrix([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0
    assert ioa_matrix([[5, 5, 5, 9]], [[0, 0, 10, 10]])[0, 0] == 0
    np.testing.assert_array_equal(clip_boxes([[-5, 2, 8, 30]], Box(0, 0, 10, 20)), [[0, 2, 8, 20]])


def test_intersecting_pairs_are_the_nonzero_entries_of_the_dense_matrices():
    rng = np.random.default_rng(0)

    def boxes(n):
        corner = rng.uniform(0, 300, (n, 2))
        return np.concatenate([corner, corner + rng.uniform(0, 40, (n, 2))], axis=1)

    a, b = boxes(300), boxes(200)
    a[0] = [10, 10, 10, 30]  # zero area: overlaps nothing
    i, j, inter, iou = intersecting_pairs(a, b)
    dense = intersection_matrix(a, b)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(*map(list, np.nonzero(dense > 0))))
    np.testing.assert_allclose(inter, dense[i, j])
    np.testing.assert_allclose(iou, iou_matrix(a, b)[i, j])
    assert np.all(np.diff(i) >= 0)  # in ascending first index
    # Within one array: each pair once, never a box with itself.
    i, j, _, iou = intersecting_pairs(a)
    expected = np.triu(intersection_matrix(a, a) > 0, k=1)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(*map(list, np.nonzero(expected))))
    np.testing.assert_allclose(iou, iou_matrix(a, a)[i, j])
    # A limit on the candidates answers None instead.
    assert intersecting_pairs(a, max_pairs=len(i) - 1) is None
    assert intersecting_pairs(np.zeros((0, 4)), b)[0].size == 0
