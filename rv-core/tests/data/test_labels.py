"""Label containers: numpy-backed boxes and cells, windows, AOI filtering, segmentation pieces."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import shapely

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID
from rv.labels import ChipClassificationLabels, ObjectDetectionLabels, SemanticSegmentationLabels


@pytest.fixture
def tree_labels(data_dir) -> ObjectDetectionLabels:
    """The 61 NEON tree boxes (pixel coordinates) as labels."""
    with open(data_dir / "trees" / "neon_osbs_029_trees.csv") as f:
        rows = list(csv.DictReader(f))
    boxes = [[float(r["ymin"]), float(r["xmin"]), float(r["ymax"]), float(r["xmax"])] for r in rows]
    return ObjectDetectionLabels(boxes, np.ones(len(boxes), dtype=int))


def test_object_detection_windows_on_real_boxes(tree_labels):
    assert len(tree_labels) == 61
    window = Box(0, 0, 200, 200)
    overlapping = tree_labels.get_overlapping(window)
    # Every kept box touches the window, every dropped box does not.
    b = tree_labels.boxes
    touches = (b[:, 0] < 200) & (b[:, 1] < 200) & (b[:, 2] > 0) & (b[:, 3] > 0)
    assert len(overlapping) == touches.sum() > 0
    # A high threshold keeps only boxes mostly inside the window.
    mostly = tree_labels.get_overlapping(window, ioa_thresh=0.5)
    assert len(mostly) < len(overlapping)
    clipped = tree_labels.get_overlapping(window, clip=True)
    assert clipped.boxes.min() >= 0 and clipped.boxes.max() <= 200
    # Local coordinates of a window and back.
    w2 = Box(100, 150, 300, 350)
    local = tree_labels.get_overlapping(w2).to_local(w2)
    np.testing.assert_allclose(local.to_global(w2).boxes, tree_labels.get_overlapping(w2).boxes)
    assert local.boxes[:, 2].max() > 0 and local.boxes[:, 0].min() < 200


def test_object_detection_concatenate_subset_and_scores():
    a = ObjectDetectionLabels([[0, 0, 10, 10]], [1], [0.9])
    b = ObjectDetectionLabels([[5, 5, 15, 15], [20, 20, 30, 30]], [2, 3], [0.2, 0.6])
    both = ObjectDetectionLabels.concatenate(a, b)
    assert len(both) == 3 and both.class_ids.tolist() == [1, 2, 3]
    # The instance form keeps the instance first (never silently drops it).
    assert a.concatenate(b).class_ids.tolist() == [1, 2, 3]
    assert both.filter_by_score(0.5).class_ids.tolist() == [1, 3]
    # Scores are dropped when one input has none.
    assert ObjectDetectionLabels.concatenate(a, ObjectDetectionLabels([[0, 0, 1, 1]], [1])).scores is None
    assert len(ObjectDetectionLabels.make_empty()) == 0
    with pytest.raises(ValueError):
        ObjectDetectionLabels([[0, 0, 1, 1]], [1, 2])


def test_filter_by_aoi_modes():
    labels = ObjectDetectionLabels([[0, 0, 10, 10], [8, 8, 20, 20], [50, 50, 60, 60]], [1, 1, 1])
    aoi = [shapely.box(0, 0, 15, 15)]  # pixel space: x = col, y = row
    assert len(labels.filter_by_aoi(aoi)) == 1
    assert len(labels.filter_by_aoi(aoi, mode="intersects")) == 2
    assert len(labels.filter_by_aoi(aoi, mode="center")) == 2  # center of box 2 is (14, 14)
    assert len(labels.filter_by_aoi(None)) == 3


def test_chip_classification_cells():
    cells = Box(0, 0, 600, 600).get_windows(200)
    labels = ChipClassificationLabels(
        [c.to_tuple() for c in cells], np.arange(len(cells)) % 2, np.eye(2)[np.arange(len(cells)) % 2]
    )
    assert len(labels) == 9
    class_id, scores = labels.get_cell(Box(200, 400, 400, 600))
    assert class_id == 1 and scores.tolist() == [0, 1]
    assert labels.get_cell(Box(0, 0, 100, 100)) is None
    inside = labels.filter_by_aoi([shapely.box(0, 0, 400, 400)])
    assert len(inside) == 4
    assert len(ChipClassificationLabels.concatenate(inside, inside)) == 8
    first_cell, first_id, first_scores = next(iter(inside))
    assert first_cell == Box(0, 0, 200, 200) and first_id == 0 and first_scores.tolist() == [1, 0]


def test_semantic_segmentation_pieces():
    labels = SemanticSegmentationLabels()
    labels.add_window(Box(0, 0, 4, 4), np.full((4, 4), 1, np.uint8))
    labels.add_window(Box(2, 2, 6, 6), np.full((4, 4), 2, np.uint8), scores=np.ones((4, 4, 3)))
    arr = labels.get_label_arr(Box(0, 0, 6, 6))
    assert arr[0, 0] == 1 and arr[3, 3] == 2  # the later window wins where they overlap
    assert arr[5, 0] == IGNORE_CLASS_ID and arr[0, 5] == IGNORE_CLASS_ID
    assert labels.class_counts() == {1: 16, 2: 16}
    scores = labels.get_scores_arr(Box(0, 0, 6, 6))
    assert np.isnan(scores[0, 0]).all() and (scores[5, 5] == 1).all()
    masked = labels.filter_by_aoi([shapely.box(0, 0, 3, 6)])  # keep columns 0-2
    assert (masked.get_label_arr(Box(0, 0, 6, 6))[:, 3:] == IGNORE_CLASS_ID).all()
    with pytest.raises(ValueError):
        labels.add_window(Box(0, 0, 2, 2), np.zeros((3, 3), np.uint8))
