"""Object detection predictions as GeoJSON: one rectangle per box with its class and ``score``."""

from __future__ import annotations

import numpy as np

from rv.labels import ObjectDetectionLabels
from rv_geojson.geojson_reader import ClassResolver, read_pixel_features
from rv_geojson.geojson_store import GeoJSONStore
from rv_geojson.object_detection_geojson_source import boxes_from_features


class ObjectDetectionGeoJSONStore(GeoJSONStore):
    """Boxes as rectangle features with ``class_id``, ``class_name`` and ``score`` when the labels
    have scores; see :class:`rv_geojson.geojson_store.GeoJSONStore`."""

    labels_class = ObjectDetectionLabels
    score_property = "score"

    def rectangles(self, labels: ObjectDetectionLabels) -> np.ndarray:
        return labels.boxes

    def get_labels(self) -> ObjectDetectionLabels:
        """The saved labels, back in pixel coordinates of the raster."""
        return boxes_from_features(read_pixel_features(self.uri, self.crs_transformer, ClassResolver(self.class_map)))
