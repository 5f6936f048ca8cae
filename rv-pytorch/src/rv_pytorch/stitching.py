"""Stitching segmentation windows into a raster, in a band of rows.

Where windows overlap their class probabilities are blended: each window's
weight ramps down towards its edges that lie inside the raster, where a
network sees the least context, so an overlap of a few dozen pixels hides
the seams (:class:`BlendWeights`). :class:`SegmentationStitcher` sums the
weighted probabilities in a :class:`RowBand` and hands finished strips,
turned into class ids, to a ``write(window, class_ids, scores)`` callback as
soon as no later window can touch them: it never holds more than a band of
rows of the raster.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rv_pytorch.data import IGNORE_INDEX
from rv_pytorch.windows import Window

WriteTile = Callable[[Window, np.ndarray, "np.ndarray | None"], None]

#: the widest tile a finished strip is turned into class ids at once: the
#: argmax and score temporaries scale with it, not with the raster's width
EMIT_TILE_WIDTH = 2048


class RowBand:
    """Probability sums, weights and validity for rows ``[top, top + height)`` of the raster.

    The buffers are allocated once to the rows the windows span and reused:
    finished rows are dropped by moving the remaining ones up, so memory is
    a fixed band of the raster's width, whatever its height.
    """

    def __init__(self, num_classes: int, width: int):
        self.top = 0
        self.rows = 0  # rows in use, from ``top``
        self.width = width
        self.sums = np.zeros((num_classes, 0, width), np.float32)
        self.weights = np.zeros((0, width), np.float32)
        self.valid = np.zeros((0, width), bool)

    @property
    def bottom(self) -> int:
        return self.top + self.rows

    def ensure(self, bottom: int) -> None:
        needed = bottom - self.top
        if needed > self.weights.shape[0]:
            sums = np.zeros((self.sums.shape[0], needed, self.width), np.float32)
            weights = np.zeros((needed, self.width), np.float32)
            valid = np.zeros((needed, self.width), bool)
            sums[:, : self.rows] = self.sums[:, : self.rows]
            weights[: self.rows] = self.weights[: self.rows]
            valid[: self.rows] = self.valid[: self.rows]
            self.sums, self.weights, self.valid = sums, weights, valid
        self.rows = max(self.rows, needed)

    def add(
        self,
        window: Window,
        probs: np.ndarray,
        mask: np.ndarray,
        extent: tuple[int, int],
        weight: np.ndarray | None = None,
    ) -> None:
        """Add a window's probabilities ``(K, h, w)``, times ``weight`` ``(h, w)`` (default 1)."""
        ymin, xmin = window[:2]
        ymax, xmax = min(window[2], extent[0]), min(window[3], extent[1])
        h, w = ymax - ymin, xmax - xmin
        self.ensure(ymax)
        rows = slice(ymin - self.top, ymax - self.top)
        if weight is None:
            self.sums[:, rows, xmin:xmax] += probs[:, :h, :w]
            self.weights[rows, xmin:xmax] += 1.0
        else:
            self.sums[:, rows, xmin:xmax] += probs[:, :h, :w] * weight[:h, :w]
            self.weights[rows, xmin:xmax] += weight[:h, :w]
        self.valid[rows, xmin:xmax] |= ~mask[:h, :w]

    def drop(self, upto: int) -> None:
        """Forget rows ``[top, upto)``: the rest move up, the freed rows are zeroed for reuse."""
        n = min(upto - self.top, self.rows)
        keep = self.rows - n
        if keep > 0:
            self.sums[:, :keep] = self.sums[:, n : self.rows].copy()
            self.weights[:keep] = self.weights[n : self.rows].copy()
            self.valid[:keep] = self.valid[n : self.rows].copy()
        self.sums[:, keep : self.rows] = 0
        self.weights[keep : self.rows] = 0
        self.valid[keep : self.rows] = False
        self.rows = keep
        self.top = upto


def _ramp(length: int, ramp: int, start: bool, end: bool) -> np.ndarray:
    """Weights along one side of a window: 1, rising linearly over ``ramp`` pixels from the
    ``start`` and/or ``end`` edge. Two windows overlapping by ``ramp`` pixels then cross-fade:
    their weights sum to 1 at every pixel of the overlap, and no weight is 0."""
    weights = np.ones(length, np.float32)
    ramp = min(ramp, length)
    rise = (np.arange(ramp, dtype=np.float32) + 0.5) / ramp
    if start:
        weights[:ramp] = rise
    if end:
        weights[length - ramp :] = np.minimum(weights[length - ramp :], rise[::-1])
    return weights


class BlendWeights:
    """The weight map of each prediction window: 1 inside, ramping down over ``ramp`` pixels
    towards the window's edges that lie inside the raster (a raster edge is not tapered: no
    other window covers it). ``ramp`` 0 weighs every pixel 1 (a plain average)."""

    def __init__(self, chip_size: int, ramp: int, extent: tuple[int, int]):
        self.chip_size = chip_size
        self.ramp = max(int(ramp), 0)
        self.extent = extent
        self._maps: dict[tuple[bool, bool, bool, bool], np.ndarray] = {}

    def __call__(self, window: Window) -> np.ndarray | None:
        if self.ramp == 0:
            return None
        ymin, xmin, ymax, xmax = window
        inner = (ymin > 0, ymax < self.extent[0], xmin > 0, xmax < self.extent[1])
        if inner not in self._maps:  # at most 16 maps: one per combination of inner edges
            rows = _ramp(self.chip_size, self.ramp, inner[0], inner[1])
            cols = _ramp(self.chip_size, self.ramp, inner[2], inner[3])
            self._maps[inner] = rows[:, None] * cols[None, :]
        return self._maps[inner]


class SegmentationStitcher:
    """Blends window probabilities into the raster and writes finished strips as class ids.

    Args:
        extent: the raster's ``(height, width)``.
        blend: the weight map of each window.
        write: called as ``write(window, class_arr, scores)`` with finished
            tiles in raster order: ``class_arr`` uint8 ``(h, w)`` of class ids
            (255 where nodata or not predicted) and ``scores`` float32
            ``(K, h, w)`` mean class probabilities (None unless ``scores``).
        lut: class index -> class id (uint8), with 255 last for "not predicted".
        scores: also hand over the averaged probabilities.
        tile_width: split each finished strip into tiles at most this wide.
    """

    def __init__(
        self,
        extent: tuple[int, int],
        blend: BlendWeights,
        write: WriteTile,
        lut: np.ndarray,
        *,
        scores: bool = False,
        tile_width: int | None = None,
    ):
        self.extent = extent
        self.blend = blend
        self.write = write
        self.lut = lut
        self.scores = scores
        self.tile_width = extent[1] if tile_width is None else max(int(tile_width), 1)
        self.band = RowBand(len(lut) - 1, extent[1])

    def add(self, window: Window, probs: np.ndarray, mask: np.ndarray) -> None:
        """Add one window's class probabilities ``(K, H, W)`` and its nodata mask."""
        self.band.add(window, probs, mask, self.extent, self.blend(window))

    def emit(self, upto: int) -> None:
        """Write the rows above ``upto`` (no later window touches them) and forget them."""
        band, lut, width, tile_width = self.band, self.lut, self.extent[1], self.tile_width
        if upto <= band.top:
            return
        band.ensure(upto)
        top, n = band.top, upto - band.top
        # Tile by tile: the temporaries are bounded by a tile, not the width.
        step = min(tile_width, EMIT_TILE_WIDTH)
        for x0 in range(0, width, tile_width):
            x1 = min(x0 + tile_width, width)
            classes = np.empty((n, x1 - x0), np.uint8)
            tile_scores = np.empty((band.sums.shape[0], n, x1 - x0), np.float32) if self.scores else None
            for c0 in range(x0, x1, step):
                c1 = min(c0 + step, x1)
                sums = band.sums[:, :n, c0:c1]
                weights = band.weights[:n, c0:c1]
                # Every class's sum over the same weight: the argmax of the sums is that of the means.
                index = sums.argmax(axis=0)
                index[~((weights > 0) & band.valid[:n, c0:c1])] = len(lut) - 1
                classes[:, c0 - x0 : c1 - x0] = lut[index]
                if tile_scores is not None:
                    # Blend weights are fractions: divide where any window counted (elsewhere 0 / 1).
                    np.divide(sums, np.where(weights > 0, weights, 1), out=tile_scores[:, :, c0 - x0 : c1 - x0])
            self.write((top, x0, upto, x1), classes, tile_scores)
        band.drop(upto)


def write_unpredicted(extent: tuple[int, int], write: WriteTile, chip_size: int, tile_width: int | None) -> None:
    """Write the whole raster as "no prediction" (255), in tiles: what a raster of nodata only gets."""
    height, width = extent
    tile_width = width if tile_width is None else max(int(tile_width), 1)
    for y0 in range(0, height, chip_size):
        y1 = min(y0 + chip_size, height)
        for x0 in range(0, width, tile_width):
            x1 = min(x0 + tile_width, width)
            write((y0, x0, y1, x1), np.full((y1 - y0, x1 - x0), IGNORE_INDEX, np.uint8), None)
