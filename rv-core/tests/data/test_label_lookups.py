"""The per-chip label checks and lookups take shortcuts; they must decide exactly as the full lookups do."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from rv import keys
from rv.chips import ChipWriter
from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource
from rv.data.raster_source import GeoTIFFSource
from rv.errors import DataError


def write(writer, labels):
    return writer.write("train", "s", np.zeros((4, 4, 3), np.uint8), labels=np.asarray(labels, np.uint8))


def test_writer_accepts_class_ids_and_ignore_and_names_the_others(tmp_path):
    # Ids 0 and 2: 1 is a gap, 255 is the ignore id.
    cm = ClassMap.from_spec({"background": 0, "building": 2})
    writer = ChipWriter(str(tmp_path / "c"), keys.SEMANTIC_SEGMENTATION, cm, 4)
    write(writer, [[0, 2, 2, 0]] * 4)
    write(writer, [[0, 255, 2, 255]] * 4)
    write(writer, [[255] * 4] * 4)
    for bad, ids in (
        ([[0, 1, 2, 2]] * 4, r"\[1\]"),
        ([[0, 2, 7, 254]] * 4, r"\[7, 254\]"),
        ([[3, 3, 255, 2]] * 4, r"\[3\]"),
    ):
        with pytest.raises(DataError, match=rf"class id\(s\) {ids} that are not in the class map \[0, 2\]"):
            write(writer, bad)
    assert writer.counts["train"] == 3


def label_raster(tmp_path, values):
    """A 1-band uint8 label raster (nodata 250) holding ``values`` (H, W)."""
    path = tmp_path / "labels.tif"
    arr = np.asarray(values, np.uint8)
    profile = {
        "driver": "GTiff", "width": arr.shape[1], "height": arr.shape[0], "count": 1, "dtype": "uint8",
        "nodata": 250, "crs": "EPSG:32616", "transform": Affine(1, 0, 0, 0, -1, 0),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    return str(path)


@pytest.mark.parametrize(
    "values",
    [
        [[1, 2, 3, 4], [4, 3, 2, 1]],  # only class ids: no lookup needed
        [[0, 1, 2, 5], [4, 3, 9, 1]],  # 0, 5, 9 are not classes
        [[1, 250, 2, 250], [3, 3, 4, 4]],  # nodata
        [[6, 7, 8, 9], [6, 6, 6, 6]],  # nothing is a class
    ],
)
def test_label_arr_equals_a_plain_lookup(tmp_path, landcover_class_map, values):
    source = SemanticSegmentationRasterSource(GeoTIFFSource(label_raster(tmp_path, values)), landcover_class_map)
    arr = np.asarray(values)
    expected = np.where(np.isin(arr, [1, 2, 3, 4]), arr, 255).astype(np.uint8)
    got = source.get_label_arr(Box(0, 0, 2, 4))
    np.testing.assert_array_equal(got, expected)
    # A window sticking out: the outside is ignored.
    np.testing.assert_array_equal(source.get_label_arr(Box(0, 2, 2, 6))[:, 2:], np.full((2, 2), 255))
    np.testing.assert_array_equal(source.get_label_arr(Box(0, 2, 2, 6))[:, :2], expected[:, 2:])
