"""Normalise chips to uint8 with per-channel statistics."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rv.data.raster_transformer.raster_transformer import RasterTransformer
from rv.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from rv.analyzer.stats_analyzer import RasterStats


class StatsTransformer(RasterTransformer):
    """Maps each channel to uint8: clip to ``mean ± max_stds·std``, scale linearly to 1..255.

    0 is kept for nodata: pixels True in the mask become 0 in every channel,
    so a model (and the nodata augmentor) can tell nodata from dark pixels.
    A channel with zero spread maps to 128 (mid-grey).

    Args:
        raster_stats: per-channel :class:`rv.analyzer.stats_analyzer.RasterStats`,
            in the raster source's channel order.
        max_stds: number of standard deviations kept on each side of the mean.
    """

    def __init__(self, raster_stats: RasterStats, max_stds: float = 3.0):
        self.raster_stats = raster_stats
        self.max_stds = float(max_stds)
        means = np.asarray(raster_stats.means, dtype=np.float64)
        stds = np.asarray(raster_stats.stds, dtype=np.float64)
        self._lo = (means - self.max_stds * stds).astype(np.float32)
        span = (2 * self.max_stds * stds).astype(np.float32)
        self._flat = span <= 0
        self._scale = np.where(self._flat, 0, 254.0 / np.where(self._flat, 1, span)).astype(np.float32)

    def transform(self, chip: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """uint8 chip ``(H, W, C)`` (values 1..255, 0 where ``mask`` is True)."""
        c = chip.shape[-1]
        if c != len(self._lo):
            raise DataError(
                f"The stats have {len(self._lo)} channels but the chip has {c}: stats.json was computed "
                "with another channel order. Rerun ANALYZE with this raster source's channel order."
            )
        x = chip.astype(np.float32)
        x -= self._lo
        x *= self._scale
        np.clip(x, 0, 254, out=x)
        x += 1.5  # 1..255, +0.5 rounds to nearest on the cast
        out = x.astype(np.uint8)
        if self._flat.any():
            out[..., self._flat] = 128
        if mask is not None:
            out[mask] = 0
        return out

    def out_dtype(self, in_dtype: np.dtype) -> np.dtype:
        return np.dtype(np.uint8)
