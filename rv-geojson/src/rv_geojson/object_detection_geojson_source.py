"""Object detection labels from GeoJSON: one axis-aligned pixel box per feature.

Each feature's geometry (any CRS, usually a rectangle drawn around an
object) is reprojected onto the scene, clipped to the scene extent, and
its pixel bounding box becomes a label box. Window queries go through the
scene's :class:`rv_geojson.vector_index.VectorIndex`.
"""

from __future__ import annotations

import attrs
import numpy as np
from shapely import STRtree

from rv.core.box import Box, boxes_from_shapely, boxes_to_shapely
from rv.data.label_source.label_source import LabelSource
from rv.labels import ObjectDetectionLabels
from rv_geojson.chip_classification_geojson_source import _scores_of
from rv_geojson.geojson_file_source import GeoJSONFileSource, geojson_source
from rv_geojson.geojson_reader import PixelFeatures, snap_to_integers
from rv_geojson.vector_index import VectorIndex


def boxes_from_features(features: PixelFeatures) -> ObjectDetectionLabels:
    """Labels with the bounding box, class and (if every feature has one) ``score`` of each feature."""
    if not len(features):
        return ObjectDetectionLabels.make_empty()
    boxes = snap_to_integers(boxes_from_shapely(features.geoms))
    return ObjectDetectionLabels(boxes, features.class_ids, _scores_of(features.properties, "score", features.uri))


@geojson_source
class ObjectDetectionGeoJSONSource(GeoJSONFileSource, LabelSource):
    """Object detection ground truth (boxes) from a GeoJSON file.

    Args:
        uri, class_map, crs_transformer, extent, class_options: the GeoJSON file and the scene it labels
            (see :class:`rv_geojson.geojson_file_source.GeoJSONFileSource`); boxes are
            clipped to the scene extent, features outside it dropped.
        point_radius: pixels; points become boxes of this half-size (None: points dropped).
    """

    point_radius: float | None = attrs.field(default=None, kw_only=True)

    def _load(self) -> None:
        features = self.read_features(point_radius=self.point_radius)
        self.index = VectorIndex(features, self.extent)
        self.labels = boxes_from_features(self.index.features)
        # Query the boxes, not the polygons: a box is what the label is, and
        # a concave polygon can miss a window its box overlaps.
        self._box_tree = STRtree(boxes_to_shapely(self.labels.boxes))

    def get_labels(self, window: Box | None = None) -> ObjectDetectionLabels:
        """All boxes of the scene, or the boxes sharing area with ``window``.

        Boxes stay whole and in scene pixel coordinates; cut them to the
        window with ``labels.get_overlapping(window, clip=True)`` and move them
        to the chip's frame with ``labels.to_local(window)``.
        """
        if window is None:
            return self.labels
        idx = self._box_tree.query(window.to_shapely(), predicate="intersects")
        b = self.labels.boxes[idx]
        # Boxes touching the window only along an edge share no area.
        overlaps = (np.minimum(b[:, 2], window.ymax) > np.maximum(b[:, 0], window.ymin)) & (
            np.minimum(b[:, 3], window.xmax) > np.maximum(b[:, 1], window.xmin)
        )
        return self.labels.subset(np.sort(idx[overlaps]))
