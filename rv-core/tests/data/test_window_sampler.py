"""Random windows inside an AOI: uniform over the windows that fit, never silently too few."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from rv.core.box import Box
from rv.core.window_sampler import WindowSampler, random_windows
from rv.errors import DataError

EXTENT = Box(0, 0, 4096, 4096)
#: A thin L along the bottom and right edges: arms 300 px wide for 256 px windows (2–3 % of the
#: random windows of the extent lie inside it, so capped rejection sampling gives a fraction).
THIN_L = shapely.union(shapely.box(100, 3700, 4000, 4000), shapely.box(3700, 100, 4000, 4000))


def test_thin_l_shaped_aoi_gets_every_window_inside():
    windows = random_windows(EXTENT, 256, 500, np.random.default_rng(3), aoi=THIN_L, mode="within")
    assert len(windows) == 500
    assert all(shapely.contains(THIN_L, w.to_shapely()) for w in windows)
    assert all(w.height == w.width == 256 and float(w.ymin).is_integer() for w in windows)
    # Both arms are sampled (uniform over the feasible origins, not stuck in a corner).
    in_bottom = sum(w.ymin >= 3700 and w.xmax <= 3700 for w in windows)
    in_right = sum(w.xmin >= 3700 and w.ymax <= 3700 for w in windows)
    assert in_bottom > 150 and in_right > 150


def test_deterministic_with_a_seed():
    a = random_windows(EXTENT, 256, 100, np.random.default_rng(7), aoi=THIN_L)
    b = random_windows(EXTENT, 256, 100, np.random.default_rng(7), aoi=THIN_L)
    c = random_windows(EXTENT, 256, 100, np.random.default_rng(8), aoi=THIN_L)
    assert a == b
    assert a != c
    assert random_windows(EXTENT, 256, 5, 11) == random_windows(EXTENT, 256, 5, 11)


def test_intersects_mode_touches_the_aoi():
    windows = WindowSampler(EXTENT, 256, THIN_L, mode="intersects").sample(300, 0)
    assert len(windows) == 300
    assert all(shapely.intersects(THIN_L, w.to_shapely()) for w in windows)
    assert all(EXTENT.contains_box(w) for w in windows)


def test_uniform_over_feasible_origins():
    # A 260 px wide strip: 5 feasible columns for 256 px windows, each drawn about equally often.
    strip = shapely.box(1000, 0, 1260, 4096)
    windows = random_windows(EXTENT, 256, 2000, 0, aoi=strip)
    xs, counts = np.unique([w.xmin for w in windows], return_counts=True)
    assert list(xs) == [1000, 1001, 1002, 1003, 1004]
    assert counts.min() > 300
    # An exact fit has one column.
    assert {w.xmin for w in random_windows(EXTENT, 256, 20, 0, aoi=shapely.box(1000, 0, 1256, 4096))} == {1000}


def test_small_aoi_in_a_large_scene():
    extent = Box(0, 0, 20000, 20000)
    aoi = shapely.box(12345, 777, 12345 + 300, 777 + 300)
    windows = random_windows(extent, 256, 50, 0, aoi=aoi)
    assert len(windows) == 50 and all(shapely.contains(aoi, w.to_shapely()) for w in windows)


def test_no_window_fits_names_the_aoi_and_size():
    with pytest.raises(DataError, match=r"No 400x400 window fits inside the AOI of scene 'a'"):
        WindowSampler(EXTENT, 400, THIN_L, aoi_name="the AOI of scene 'a'")
    # Thin everywhere but long: candidates exist only near the edge, none fits.
    with pytest.raises(DataError, match="No 290x290 window"):
        random_windows(EXTENT, 290, 5, 0, aoi=shapely.box(10, 10, 300, 20.5))
    with pytest.raises(DataError, match="empty"):
        WindowSampler(EXTENT, 64, shapely.Polygon())


def test_without_aoi_and_extent_smaller_than_the_window():
    windows = random_windows(EXTENT, 256, 200, 0)
    assert len(windows) == 200 and all(EXTENT.contains_box(w) for w in windows)
    # Smaller than the window: the one (padded) window at the origin.
    assert random_windows(Box(0, 0, 100, 100), 256, 2, 0) == [Box(0, 0, 256, 256)] * 2


class _Extent:
    """Just enough of a raster source for windowing."""

    extent = EXTENT


def test_segmentation_random_sample_fills_chips_per_scene_in_a_thin_aoi():
    import rv
    from rv.data.scene import Scene

    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": 0, "building": 1})
        .with_background_class_id(0)
        .with_chip_size(256)
        .with_chip_options(window_method="random_sample", chips_per_scene=200)
        .build()
        .create()
    )
    # Arms 100 px wide, narrower than the chip: windows touch the AOI (the rest is masked later).
    thin = shapely.union(shapely.box(0, 3900, 4000, 4000), shapely.box(3900, 0, 4000, 4000))
    scene = Scene("thin", _Extent(), aoi_polygons=[thin])
    windows = task.get_train_windows(scene, np.random.default_rng(0))
    assert len(windows) == 200
    assert all(scene.window_in_aoi(w, mode="intersects") and EXTENT.contains_box(w) for w in windows)
    assert windows == task.get_train_windows(scene, np.random.default_rng(0))
    # A small AOI: 0.6 % of the scene's windows touch it (capped rejection gave ~6 % of the chips).
    small = shapely.box(2000, 1000, 2040, 1040)
    windows = task.get_train_windows(Scene("small", _Extent(), aoi_polygons=[small]), np.random.default_rng(1))
    assert len(windows) == 200 and all(shapely.intersects(small, w.to_shapely()) for w in windows)
    far = Scene("far", _Extent(), aoi_polygons=[shapely.box(9000, 9000, 9100, 9100)])
    with pytest.raises(DataError, match=r"No 256x256 window fits touching the AOI of scene 'far'"):
        task.get_train_windows(far, np.random.default_rng(0))


class _Boxes:
    """A label source with a few boxes in the L's bottom arm."""

    def __init__(self):
        from rv.labels import ObjectDetectionLabels

        self.labels = ObjectDetectionLabels([[3800, 500, 3850, 560], [3750, 2000, 3790, 2030]], [1, 1])

    def get_labels(self, window=None):
        return self.labels


def test_detection_negatives_fill_a_thin_aoi():
    import rv
    from rv.core.box import ioa_matrix
    from rv.data.scene import Scene

    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"tree": 1})
        .with_chip_size(256)
        .with_chip_options(window_method="chip", neg_ratio=40)
        .build()
        .create()
    )
    scene = Scene("thin", _Extent(), _Boxes(), aoi_polygons=[THIN_L])
    windows = task.get_train_windows(scene, np.random.default_rng(0))
    pos, neg = windows[:2], windows[2:]
    assert all(w.contains_box(b) for w, (b, _, _) in zip(pos, scene.label_source.labels))  # one around each box
    assert len(neg) == 80  # neg_ratio x 2 boxes, although ~2 % of the scene's windows lie in the AOI
    assert all(shapely.contains(THIN_L, w.to_shapely()) for w in neg)
    assert not (ioa_matrix(scene.label_source.labels.boxes, np.array([w.to_tuple() for w in neg])) > 0).any()
    assert windows == task.get_train_windows(scene, np.random.default_rng(0))
    # No window fits in a 200 px band: a warning, the two positives, no negatives.
    band = Scene("band", _Extent(), _Boxes(), aoi_polygons=[shapely.box(0, 3700, 4096, 3900)])
    with pytest.warns(UserWarning, match=r"No 256x256 window fits inside the AOI of scene 'band'.*no negative"):
        assert len(task.get_train_windows(band, np.random.default_rng(0))) == 2
