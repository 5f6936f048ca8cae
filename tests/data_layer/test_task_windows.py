"""The shared chipping loop reads every chip at one whole-pixel window, whatever the label source gives."""

from __future__ import annotations

import numpy as np

import rv
from rv.core.box import Box
from rv.data.scene import Scene
from rv.labels import ChipClassificationLabels


class FractionalCells:
    """A label source (as a third-party plugin might write) whose cells sit a fraction of a pixel off."""

    def __init__(self):
        self.labels = ChipClassificationLabels([[0.3, -0.2, 64.3, 63.8], [63.6, 64.4, 127.6, 128.4]], [1, 2])

    def get_labels(self, window=None):
        return self.labels if window is None else self.labels.subset(np.zeros(len(self.labels), bool))


def test_chip_classification_reads_cells_at_whole_pixels(rv_env, data_dir, tmp_path):
    task = (
        rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
        .with_classes({"building": 1, "background": 2})
        .with_chip_size(64)
        .build()
    )
    tif = data_dir / "buildings" / "kampala_oam_b.tif"
    raster = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(str(tif)).build().create(str(tmp_path))
    scene = Scene("b", raster, FractionalCells())
    written = []

    def write(split, scene_id, image, mask, labels, window):
        written.append((window, int(labels["class_id"]), image))

    count = task.create().chip_scene(scene, "train", write, [], np.random.default_rng(0))
    assert count == 2
    assert [(w, c) for w, c, _ in written] == [(Box(0, 0, 64, 64), 1), (Box(64, 64, 128, 128), 2)]
    np.testing.assert_array_equal(written[1][2], raster.get_chip(Box(64, 64, 128, 128)))
