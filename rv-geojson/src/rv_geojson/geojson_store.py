"""What the GeoJSON label stores of chip classification and object detection share.

Each label (a cell or a box) is written as a rectangle feature with
properties ``class_id``, ``class_name`` and its scores, by rv's one GeoJSON
writer (:func:`rv.core.geojson.write_geojson`): RFC 7946 (WGS84 lon/lat, no
``crs`` member, rings counterclockwise) unless ``use_source_crs`` asks for
the raster's CRS (then with a ``crs`` member). Writes are atomic. A task's
store says where its rectangles and scores are, and how it reads them back.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rv.core.box import boxes_to_shapely
from rv.core.geojson import SOURCE_CRS, write_geojson
from rv.data.label_store.label_store import LabelStore

if TYPE_CHECKING:
    from rv.core.class_map import ClassMap
    from rv.core.crs_transformer import CRSTransformer


class GeoJSONStore(LabelStore):
    """Writes and reads one task's labels as GeoJSON rectangles.

    Args:
        uri: where the GeoJSON goes (local path or URI).
        class_map: the experiment's class map.
        crs_transformer: the raster's CRS transformer.
        use_source_crs: write coordinates in the raster's CRS instead of WGS84.
    """

    #: the labels class (``make_empty``)
    labels_class: ClassVar[Any]
    #: the feature property of the scores (``"scores"``: one per class; ``"score"``: one number)
    score_property: ClassVar[str]

    def __init__(
        self, uri: str, class_map: ClassMap, crs_transformer: CRSTransformer, use_source_crs: bool = False
    ) -> None:
        self.uri = str(uri)
        self.class_map = class_map
        self.crs_transformer = crs_transformer
        self.use_source_crs = use_source_crs

    def save(self, labels: Any) -> None:
        """Write ``labels`` (pixel rectangles) to :attr:`uri`, replacing what was there."""
        names = {item.id: item.name for item in self.class_map}
        properties: list[dict[str, Any]] = [
            {"class_id": int(c), "class_name": names.get(int(c))} for c in labels.class_ids.tolist()
        ]
        if labels.scores is not None:
            for props, scores in zip(properties, np.asarray(labels.scores, dtype=float).tolist()):
                props[self.score_property] = scores
        rectangles = boxes_to_shapely(self.rectangles(labels))
        crs = SOURCE_CRS if self.use_source_crs else None
        write_geojson(self.uri, rectangles, properties, self.crs_transformer, crs)

    @abstractmethod
    def rectangles(self, labels: Any) -> np.ndarray:
        """The ``(N, 4)`` pixel rectangles (``ymin, xmin, ymax, xmax``) of ``labels``."""

    def empty(self) -> Any:
        """Empty labels to fill and pass to :meth:`save`."""
        return self.labels_class.make_empty()
