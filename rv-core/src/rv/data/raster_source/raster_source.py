"""The interface of raster sources: windowed reads of a scene's imagery."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from rv.core.box import Box
from rv.core.crs_transformer import CRSTransformer, OnRasterGrid
from rv.errors import DataError


class RasterSource(OnRasterGrid, ABC):
    """A raster read window by window.

    Subclasses implement :meth:`_read` for windows inside the extent and the
    metadata properties; this base class adds the rest once for all sources:
    windows partly or wholly outside the extent (padded with 0 and masked),
    the channel order, and the raster transformers.

    Conventions: a window is a pixel :class:`Box`; a chip is ``(H, W, C)``
    in :attr:`dtype`; a mask is ``(H, W)`` bool, True where the pixel is
    nodata or outside the raster.

    Args:
        channel_order: 0-based band indices to read, in order (None: every band
            the source considers image data, e.g. all but an alpha band).
        transformers: :class:`rv.data.raster_transformer.RasterTransformer`
            objects applied in order by :meth:`get_chip`.
    """

    def __init__(self, channel_order: Sequence[int] | None = None, transformers: Sequence[Any] = ()):
        self._channel_order_arg = None if channel_order is None else [int(c) for c in channel_order]
        self.transformers = list(transformers)

    # ------------------------------------------------------ to implement

    @property
    @abstractmethod
    def extent(self) -> Box:
        """``Box(0, 0, height, width)`` of the whole raster."""

    @property
    @abstractmethod
    def crs_transformer(self) -> CRSTransformer:
        """Pixel ↔ map transformer of the raster."""

    @property
    @abstractmethod
    def num_bands(self) -> int:
        """Number of bands in the underlying raster (before the channel order)."""

    @property
    @abstractmethod
    def raw_dtype(self) -> np.dtype:
        """dtype of the raster's pixels (before transformers)."""

    @property
    def nodata(self) -> float | None:
        """The nodata value in force (given or from the file), or None."""
        return None

    @property
    def name(self) -> str:
        """What to call this source in messages (usually its URI)."""
        return type(self).__name__

    def _default_channel_order(self) -> list[int]:
        return list(range(self.num_bands))

    @abstractmethod
    def _read(self, window: Box, bands: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Read ``window`` (int coordinates, inside the extent) of 0-based ``bands``.

        Returns the chip ``(h, w, len(bands))`` in :attr:`raw_dtype` and a
        ``(h, w)`` bool nodata mask, or None when no pixel is nodata.
        """

    # ---------------------------------------------------------- derived

    @property
    def channel_order(self) -> list[int]:
        """0-based bands read, in order (validated against the band count)."""
        order = self._channel_order_arg
        if order is None:
            return self._default_channel_order()
        n = self.num_bands
        bad = [c for c in order if not 0 <= c < n]
        if bad:
            raise DataError(
                f"channel_order {order} of {self.name} asks for band index {bad[0]}, but the raster "
                f"has {n} band{'s' if n != 1 else ''} (indices 0-{n - 1}). Channel indices are 0-based; "
                "fix the channel order."
            )
        return order

    @property
    def num_channels(self) -> int:
        """Channels of the chips :meth:`get_chip` returns (channel order and transformers applied)."""
        n = len(self.channel_order)
        for t in self.transformers:
            n = t.out_num_channels(n)
        return n

    @property
    def dtype(self) -> np.dtype:
        """dtype of the chips :meth:`get_chip` returns (after transformers)."""
        dt = np.dtype(self.raw_dtype)
        for t in self.transformers:
            dt = t.out_dtype(dt)
        return dt

    # ------------------------------------------------------------ reads

    def get_raw_chip_with_mask(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """``(chip, mask)`` with the channel order applied but no transformers.

        ``window`` is rounded to ints; parts outside the extent are 0 in the
        chip and True in the mask.
        """
        window = _int_window(window)
        if window.height <= 0 or window.width <= 0:
            raise ValueError(f"Cannot read the empty window {window} from {self.name}")
        bands = self.channel_order
        inside = window.intersection(self.extent)
        if inside == window:
            chip, mask = self._read(window, bands)
            if mask is None:
                mask = np.zeros(chip.shape[:2], dtype=bool)
            return chip, mask
        height, width = int(window.height), int(window.width)
        chip = np.zeros((height, width, len(bands)), dtype=self.raw_dtype)
        mask = np.ones((height, width), dtype=bool)
        if inside is not None:
            part, part_mask = self._read(inside, bands)
            dst = inside.shift(-window.ymin, -window.xmin).to_slices()
            chip[dst] = part
            mask[dst] = False if part_mask is None else part_mask
        return chip, mask

    def get_raw_bands_with_mask(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """Band-sequential ``(C, H, W)`` raw bands and the ``(H, W)`` mask of ``window``.

        For consumers that work band by band (the stats analyzer). This default
        views the ``(H, W, C)`` chip band by band; a source that can read bands
        contiguously (``GeoTIFFSource``) overrides it.
        """
        chip, mask = self.get_raw_chip_with_mask(window)
        return np.moveaxis(chip, -1, 0), mask

    def read_order(self, windows: Sequence[Box]) -> list[Box]:
        """``windows`` in the order this source reads them fastest; the default is row by row.

        Only the order changes, never which windows are read (``GeoTIFFSource``
        orders them to reuse GDAL's block cache).
        """
        return sorted(windows, key=lambda w: (w.ymin, w.xmin))

    def check_complete(self) -> None:
        """Raise :class:`rv.errors.DataError` when the source's data is unreadable (a truncated file).

        The input check calls it before any command runs. The default checks
        nothing; ``GeoTIFFSource`` reads the last block of each local file.
        """
        return None

    def get_raw_chip(self, window: Box) -> np.ndarray:
        """Chip ``(H, W, C)`` with the channel order applied, before transformers."""
        return self.get_raw_chip_with_mask(window)[0]

    def get_chip_with_mask(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """``(chip, mask)``: the chip after channel order and transformers, and its nodata mask."""
        chip, mask = self.get_raw_chip_with_mask(window)
        for t in self.transformers:
            chip = t.transform(chip, mask)
        return chip, mask

    def get_chip(self, window: Box) -> np.ndarray:
        """Chip ``(H, W, C)`` after channel order and transformers."""
        return self.get_chip_with_mask(window)[0]

    def sampled_valid_pixels(self, bounds: Box | None = None, grid: int = 4, size: int = 256) -> tuple[int, int]:
        """``(valid, sampled)`` pixel counts over a sparse ``grid`` × ``grid`` of windows inside ``bounds``.

        A cheap look at a raster before any heavy work (the input check):
        at most ``grid``² windows of ``size``² pixels, spread evenly over
        ``bounds`` (default the extent), whatever the raster's size. A pixel
        is valid when the nodata mask (nodata value in every band, or the
        file's mask) does not mark it.
        """
        bounds = (bounds or self.extent).intersection(self.extent)
        if bounds is None:
            return 0, 0
        h, w = int(min(size, bounds.height)), int(min(size, bounds.width))
        if h <= 0 or w <= 0:
            return 0, 0
        ys = np.unique(np.linspace(bounds.ymin, bounds.ymax - h, grid).round().astype(int))
        xs = np.unique(np.linspace(bounds.xmin, bounds.xmax - w, grid).round().astype(int))
        valid = sampled = 0
        for y in ys:
            for x in xs:
                _, mask = self.get_raw_chip_with_mask(Box(int(y), int(x), int(y) + h, int(x) + w))
                valid += int((~mask).sum())
                sampled += mask.size
        return valid, sampled

    def get_image_array(self) -> np.ndarray:
        """The whole raster as one chip. Only for small rasters: memory grows with the scene."""
        return self.get_chip(self.extent)


def _int_window(window: Box) -> Box:
    return Box(
        int(round(window.ymin)),
        int(round(window.xmin)),
        int(round(window.ymax)),
        int(round(window.xmax)),
    )
