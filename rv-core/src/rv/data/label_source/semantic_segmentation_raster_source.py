"""Segmentation ground truth from a raster of class ids or of class colors."""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID, ClassMap
from rv.data.label_source.label_source import LabelSource
from rv.errors import DataError
from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels


class SemanticSegmentationRasterSource(LabelSource):
    """Reads ``uint8 (H, W)`` class-id arrays from a label raster, window by window.

    - Class-id raster (``rgb_class_map=False``): band 0 holds class ids.
      Pixels that are nodata in the label raster, outside it, or whose value
      is not a class id of ``class_map`` become 255 (ignore).
    - RGB raster (``rgb_class_map=True``): the first three channels are colors;
      each pixel whose color is a class's color (``class_map`` colors) gets
      that class's id, any other color 255.

    Args:
        raster_source: a :class:`rv.data.raster_source.RasterSource` of the
            label raster (no transformers), on the same grid as the imagery.
        class_map: the classes.
        rgb_class_map: whether the raster holds colors instead of ids.
    """

    def __init__(self, raster_source: Any, class_map: ClassMap, rgb_class_map: bool = False):
        self.raster_source = raster_source
        self.class_map = class_map
        self.rgb_class_map = rgb_class_map
        if rgb_class_map:
            rgb = class_map.colors_rgb()
            keys = np.array([(r << 16) | (g << 8) | b for r, g, b in rgb.values()], dtype=np.int64)
            if len(set(keys.tolist())) != len(keys):
                raise DataError(
                    "Two classes of the class map share a color, so an RGB label raster cannot tell them "
                    f"apart ({class_map.to_list()}). Give each class its own color."
                )
            order = np.argsort(keys)
            self._color_keys = keys[order]
            self._color_ids = np.array(list(rgb), dtype=np.uint8)[order]
        else:
            self._id_lut = np.full(256, IGNORE_CLASS_ID, dtype=np.uint8)
            self._id_lut[class_map.ids] = class_map.ids
            # Where the lookup changes nothing: a band whose values all lie in such a run needs none.
            self._identity = self._id_lut == np.arange(256)

    @property
    def extent(self) -> Box:
        """Extent of the label raster."""
        return self.raster_source.extent

    def get_label_arr(self, window: Box | None = None) -> np.ndarray:
        """``uint8 (H, W)`` class ids of ``window`` (default: the whole extent), 255 = ignore."""
        window = self.extent if window is None else window
        chip, mask = self.raster_source.get_chip_with_mask(window)
        if self.rgb_class_map:
            if chip.shape[2] < 3:
                raise DataError(
                    f"Label raster {self.raster_source.name} has {chip.shape[2]} channel(s) but rgb_class_map=True "
                    "needs 3 (R, G, B). Set rgb_class_map=False for a class-id raster."
                )
            rgb = chip[..., :3].astype(np.int64)
            keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            pos = np.searchsorted(self._color_keys, keys).clip(0, len(self._color_keys) - 1)
            found = self._color_keys[pos] == keys
            labels = np.where(found, self._color_ids[pos], IGNORE_CLASS_ID).astype(np.uint8)
        else:
            band = chip[..., 0]
            if band.dtype != np.uint8:
                # Ids above 255 (or negative) are no class: send them to the ignore slot.
                band = np.where((band >= 0) & (band <= 255), band, IGNORE_CLASS_ID).astype(np.uint8)
            if band.size and self._identity[band.min() : int(band.max()) + 1].all():
                labels = band.copy()  # (a copy: the chip may be a view the source keeps)
            else:
                labels = self._id_lut.take(band)
        if mask.any():
            labels[mask] = IGNORE_CLASS_ID
        return labels

    def get_labels(self, window: Box | None = None) -> SemanticSegmentationLabels:
        """Labels holding one window (the whole extent by default: small scenes only)."""
        window = self.extent if window is None else window
        return SemanticSegmentationLabels.from_array(self.get_label_arr(window), window)
