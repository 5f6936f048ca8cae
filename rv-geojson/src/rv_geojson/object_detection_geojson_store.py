"""Object detection predictions as GeoJSON: one rectangle per box with its class and score."""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.core.box import boxes_to_shapely
from rv.data.label_store.label_store import LabelStore
from rv.labels import ObjectDetectionLabels
from rv_geojson.geojson_reader import ClassResolver, read_pixel_features
from rv_geojson.geojson_writer import write_geojson
from rv_geojson.object_detection_geojson_source import boxes_from_features


class ObjectDetectionGeoJSONStore(LabelStore):
    """Writes and reads object detection labels as GeoJSON polygons.

    Each box becomes a rectangle feature with properties ``class_id``,
    ``class_name`` and, when the labels have scores, ``score``. The file is
    RFC 7946 (WGS84 lon/lat, no ``crs`` member) unless ``use_source_crs``
    asks for the raster's CRS (then with a ``crs`` member). Writes are atomic.

    Args:
        uri: where the GeoJSON goes (local path or URI).
        class_map: the experiment's :class:`rv.core.class_map.ClassMap`.
        crs_transformer: the raster's :class:`rv.core.crs_transformer.CRSTransformer`.
        use_source_crs: write coordinates in the raster's CRS instead of WGS84.
    """

    def __init__(self, uri: str, class_map: Any, crs_transformer: Any, use_source_crs: bool = False):
        self.uri = str(uri)
        self.class_map = class_map
        self.crs_transformer = crs_transformer
        self.use_source_crs = use_source_crs

    def save(self, labels: ObjectDetectionLabels) -> None:
        """Write ``labels`` (pixel boxes) to :attr:`uri`, replacing what was there."""
        names = {item.id: item.name for item in self.class_map}
        properties: list[dict[str, Any]] = [
            {"class_id": int(c), "class_name": names.get(int(c))} for c in labels.class_ids.tolist()
        ]
        if labels.scores is not None:
            for props, score in zip(properties, np.asarray(labels.scores, dtype=float).tolist()):
                props["score"] = score
        write_geojson(self.uri, boxes_to_shapely(labels.boxes), properties, self.crs_transformer, self.use_source_crs)

    def empty(self):
        """Empty labels to fill and pass to :meth:`save`."""
        return ObjectDetectionLabels.make_empty()

    def get_labels(self) -> ObjectDetectionLabels:
        """The saved labels, back in pixel coordinates of the raster."""
        features = read_pixel_features(self.uri, self.crs_transformer, ClassResolver(self.class_map))
        return boxes_from_features(features)
