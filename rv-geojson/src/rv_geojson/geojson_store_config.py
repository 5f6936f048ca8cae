"""What the GeoJSON label stores of chip classification and object detection share.

Light module: imported at plugin discovery.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import attrs

from rv.config import field
from rv.data.label_store.label_store_config import LabelStoreConfig, LabelStoreConfigBuilder


@attrs.frozen
class GeoJSONStoreConfig(LabelStoreConfig):
    """Predictions as a GeoJSON file: WGS84 (RFC 7946) by default, or the raster's CRS on request."""

    extension = ".geojson"
    #: ``"module:Class"`` of the store entity, imported only when a store is created
    store_class: ClassVar[str] = ""

    use_source_crs: bool = field(
        default=False, doc="write coordinates in the raster's CRS (with a crs member) instead of WGS84 (RFC 7946)"
    )

    def create(self, task_config: Any, raster_source: Any, extent: Any, tmp_dir: str):
        """The store entity of a scene, georeferenced like ``raster_source``."""
        module, name = self.store_class.split(":")
        store_cls = getattr(importlib.import_module(module), name)
        return store_cls(
            self.uri, task_config.class_map, raster_source.crs_transformer, use_source_crs=self.use_source_crs
        )


class GeoJSONStoreConfigBuilder(LabelStoreConfigBuilder):
    """Builder of any :class:`GeoJSONStoreConfig`."""

    def with_source_crs(self, use_source_crs: bool = True):
        """Write coordinates in the raster's CRS (with a ``crs`` member) instead of WGS84."""
        return self._with(use_source_crs=bool(use_source_crs))
