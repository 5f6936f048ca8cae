"""ImageSource: plain images in pixel coordinates, alpha as the nodata mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource, ImageSource
from rv.errors import DataError


@pytest.fixture
def kampala_crop(data_dir) -> np.ndarray:
    """A 200x300 RGB crop of the Kampala drone image."""
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_b.tif"))
    return src.get_chip(Box(100, 50, 300, 350))


def test_png_with_alpha(tmp_path, kampala_crop):
    alpha = np.full(kampala_crop.shape[:2], 255, np.uint8)
    alpha[:20, :30] = 0
    path = tmp_path / "crop.png"
    Image.fromarray(np.dstack([kampala_crop, alpha]), "RGBA").save(path)
    src = ImageSource(str(path))
    assert src.extent == Box(0, 0, 200, 300)
    assert src.crs is None and src.crs_transformer.pixel_to_map(5, 7) == (5, 7)
    assert src.num_bands == 4 and src.num_channels == 3  # alpha is not a channel
    chip, mask = src.get_chip_with_mask(Box(0, 0, 100, 100))
    np.testing.assert_array_equal(chip, kampala_crop[:100, :100])
    assert mask[:20, :30].all() and mask.sum() == 600
    # Padding and channel order work as for GeoTIFFs.
    chip, mask = ImageSource(str(path), channel_order=[2]).get_chip_with_mask(Box(150, 250, 250, 350))
    assert chip.shape == (100, 100, 1) and mask[50:].all() and mask[:, 50:].all()
    np.testing.assert_array_equal(chip[:50, :50, 0], kampala_crop[150:, 250:, 2])


def test_jpeg_and_missing_file(tmp_path, kampala_crop):
    path = tmp_path / "crop.jpg"
    Image.fromarray(kampala_crop).save(path, quality=95)
    src = ImageSource(str(path))
    chip = src.get_chip(src.extent)
    assert chip.shape == (200, 300, 3) and chip.dtype == np.uint8
    # Lossy, but the same picture.
    assert np.abs(chip.astype(int) - kampala_crop).mean() < 6
    with pytest.raises(DataError, match="does not exist"):
        _ = ImageSource(str(tmp_path / "nope.png")).extent
