"""The interface of raster transformers: functions applied to every chip a raster source reads."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class RasterTransformer(ABC):
    """Transforms a chip ``(H, W, C)`` (channel order already applied) into another chip.

    Transformers run in :meth:`rv.data.raster_source.RasterSource.get_chip`
    after the read, in the order given to the source. The nodata mask
    (``(H, W)`` bool, True = nodata) is passed so a transformer can keep
    nodata pixels recognisable.
    """

    @abstractmethod
    def transform(self, chip: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """The transformed chip ``(H, W, C')``."""

    def out_dtype(self, in_dtype: np.dtype) -> np.dtype:
        """dtype of the chips this transformer returns for input ``in_dtype`` (same by default)."""
        return np.dtype(in_dtype)

    def out_num_channels(self, in_num_channels: int) -> int:
        """Number of channels returned for ``in_num_channels`` input channels (same by default)."""
        return in_num_channels
