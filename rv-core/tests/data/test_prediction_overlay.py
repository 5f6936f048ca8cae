"""The overlay PNG's pictures are read decimated, block by block, never as a whole raster."""

import numpy as np
import pytest

from rv.prediction_overlay import BLOCK_SIZE, _decimation_step, _read_decimated


@pytest.mark.parametrize(
    ("height", "width", "step", "bands"),
    [(5000, 3001, 5, 3), (4097, 4097, 4, None), (100, 250, 1, 2), (6000, 2100, 7, None)],
)
def test_decimated_read_equals_the_subsampled_raster_and_reads_at_most_a_block(height, width, step, bands):
    rng = np.random.default_rng(0)
    shape = (height, width) if bands is None else (height, width, bands)
    raster = rng.integers(0, 255, size=shape, dtype=np.uint8)
    windows = []

    def read(window):
        windows.append(window)
        return raster[window.ymin : window.ymax, window.xmin : window.xmax]

    picture = _read_decimated(read, height, width, step)
    np.testing.assert_array_equal(picture, raster[::step, ::step])
    assert max(w.height * w.width for w in windows) <= BLOCK_SIZE * BLOCK_SIZE


def test_the_step_keeps_the_picture_within_max_size():
    assert _decimation_step(32768, 32768, 1024) == 32
    assert _decimation_step(1000, 800, 1024) == 1
    assert _decimation_step(1025, 10, 1024) == 2
