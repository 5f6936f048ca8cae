"""SEMANTIC_SEGMENTATION_RASTER label store: a tiled GeoTIFF written window by window."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.label_store.label_store_config import LabelStoreConfig, LabelStoreConfigBuilder


@attrs.frozen
class SemanticSegmentationRasterStoreConfig(LabelStoreConfig):
    """Predicted classes as a GeoTIFF (class ids, or RGB), optional scores and polygons."""

    extension = ".tif"

    rgb: bool = field(default=False, doc="write RGB colors of the classes instead of class ids")
    write_scores: bool = field(default=False, doc="also write per-class scores (<uri>-scores.tif)")
    vector_output: bool = field(default=False, doc="also write polygons per class (<uri stem>-polygons.geojson, WGS84)")
    vector_crs: str | None = field(default=None, doc="write polygons in this CRS instead of WGS84 ('source' for the raster's)")

    def output_uris(self) -> list[str]:
        out = [self.uri] if self.uri else []
        if self.uri and self.vector_output:
            out.append(self.vector_uri)
        return out

    @property
    def vector_uri(self) -> str:
        base = self.uri[:-4] if self.uri.lower().endswith(".tif") else self.uri
        return f"{base}-polygons.geojson"

    @property
    def scores_uri(self) -> str:
        base = self.uri[:-4] if self.uri.lower().endswith(".tif") else self.uri
        return f"{base}-scores.tif"

    def create(self, task_config: Any, raster_source: Any, extent: Any, tmp_dir: str):
        from rv.data.label_store.semantic_segmentation_raster_store import SemanticSegmentationRasterStore

        return SemanticSegmentationRasterStore(
            self.uri,
            extent=extent,
            crs=raster_source.crs,
            transform=raster_source.transform,
            class_map=task_config.class_map,
            rgb=self.rgb,
            write_scores=self.write_scores,
            vector_output=self.vector_uri if self.vector_output else None,
            vector_crs=self.vector_crs,
            tmp_dir=tmp_dir,
        )


class SemanticSegmentationRasterStoreConfigBuilder(LabelStoreConfigBuilder):
    """Builder of :class:`SemanticSegmentationRasterStoreConfig`."""

    config_class = SemanticSegmentationRasterStoreConfig

    def with_rgb(self, rgb: bool = True):
        """Write class colors (3 bands) instead of class ids."""
        return self._with(rgb=bool(rgb))

    def with_scores(self, write_scores: bool = True):
        """Also write per-class scores (float32) to <uri stem>-scores.tif."""
        return self._with(write_scores=bool(write_scores))

    def with_vector_output(self, vector_output: bool = True, crs: str | None = None):
        """Also write polygons per class to <uri stem>-polygons.geojson (WGS84, or crs="source")."""
        return self._with(vector_output=bool(vector_output), vector_crs=crs)
