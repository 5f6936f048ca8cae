"""NodataAugmentor: zero squares on negative chips only, at the requested rate."""

from __future__ import annotations

import numpy as np

from rv.augmentor import NodataAugmentor
from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource


def test_negative_chips_get_zero_squares_marked_in_the_mask(data_dir):
    src = GeoTIFFSource(str(data_dir / "trees" / "neon_osbs_029.tif"))
    image, mask = src.get_chip_with_mask(Box(0, 0, 128, 128))
    assert image.min() > 0  # so the zero square is recognisable
    before_mask = mask.sum()  # NEON's nodata is 255: a few white pixels are masked already
    aug = NodataAugmentor(aug_prob=0.5, seed=3)
    changed = 0
    for _ in range(200):
        out, out_mask = aug.augment(image, mask, negative=True)
        if out is not image:
            zero = (out == 0).all(axis=2)
            if zero.any():
                changed += 1
                rows, cols = np.nonzero(zero)
                # One axis-aligned square, the same pixels in the mask.
                h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
                assert h == w and zero.sum() == h * w
                np.testing.assert_array_equal(out_mask, mask | zero)
                np.testing.assert_array_equal(out[~zero], image[~zero])
    assert 70 < changed < 130  # about half
    assert mask.sum() == before_mask and image.min() > 0  # the inputs were not modified


def test_positive_chips_are_untouched():
    aug = NodataAugmentor(aug_prob=1.0, seed=0)
    image = np.full((16, 16, 3), 7, np.uint8)
    out, mask = aug.augment(image, None, negative=False)
    assert out is image and mask is None
