"""Chip classification predictions as GeoJSON: one rectangle per cell with its class and scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.core.box import boxes_to_shapely
from rv.data.label_store.label_store import LabelStore
from rv.labels import ChipClassificationLabels
from rv_geojson.chip_classification_geojson_source import read_cells
from rv_geojson.geojson_reader import ClassResolver
from rv_geojson.geojson_writer import write_geojson


class ChipClassificationGeoJSONStore(LabelStore):
    """Writes and reads chip classification labels as GeoJSON polygons.

    Each cell becomes a rectangle feature with properties ``class_id``,
    ``class_name`` and, when the labels have them, ``scores`` (one per class,
    class-map order). The file is RFC 7946 (WGS84 lon/lat, no ``crs``
    member) unless ``use_source_crs`` asks for the raster's CRS (then with a
    ``crs`` member). Writes are atomic.

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

    def save(self, labels: ChipClassificationLabels) -> None:
        """Write ``labels`` (pixel cells) to :attr:`uri`, replacing what was there."""
        names = {item.id: item.name for item in self.class_map}
        class_ids = labels.class_ids.tolist()
        properties: list[dict[str, Any]] = [
            {"class_id": int(c), "class_name": names.get(int(c))} for c in class_ids
        ]
        if labels.scores is not None:
            for props, scores in zip(properties, np.asarray(labels.scores, dtype=float).tolist()):
                props["scores"] = scores
        write_geojson(self.uri, boxes_to_shapely(labels.cells), properties, self.crs_transformer, self.use_source_crs)

    def empty(self):
        """Empty labels to fill and pass to :meth:`save`."""
        return ChipClassificationLabels.make_empty()

    def get_labels(self) -> ChipClassificationLabels:
        """The saved labels, back in pixel coordinates of the raster."""
        return read_cells(self.uri, self.crs_transformer, ClassResolver(self.class_map))
