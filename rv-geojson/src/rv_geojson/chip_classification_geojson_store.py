"""Chip classification predictions as GeoJSON: one rectangle per cell with its class and ``scores``."""

from __future__ import annotations

import numpy as np

from rv.labels import ChipClassificationLabels
from rv_geojson.chip_classification_geojson_source import read_cells
from rv_geojson.geojson_reader import ClassResolver
from rv_geojson.geojson_store import GeoJSONStore


class ChipClassificationGeoJSONStore(GeoJSONStore):
    """Cells as rectangle features with ``class_id``, ``class_name`` and ``scores`` (one per class,
    class-map order) when the labels have them; see :class:`rv_geojson.geojson_store.GeoJSONStore`."""

    labels_class = ChipClassificationLabels
    score_property = "scores"

    def rectangles(self, labels: ChipClassificationLabels) -> np.ndarray:
        return labels.cells

    def get_labels(self) -> ChipClassificationLabels:
        """The saved labels, back in pixel coordinates of the raster."""
        return read_cells(self.uri, self.crs_transformer, ClassResolver(self.class_map))
