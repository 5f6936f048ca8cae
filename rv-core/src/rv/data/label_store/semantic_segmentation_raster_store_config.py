"""SEMANTIC_SEGMENTATION_RASTER label store: a tiled GeoTIFF written window by window."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.label_store.label_store_config import LabelStoreConfig, LabelStoreConfigBuilder
from rv.errors import ConfigError


@attrs.frozen
class SemanticSegmentationRasterStoreConfig(LabelStoreConfig):
    """Predicted classes as a GeoTIFF (class ids, or RGB), optional scores and polygons."""

    extension = ".tif"

    rgb: bool = field(default=False, doc="write RGB colors of the classes instead of class ids")
    write_scores: bool = field(default=False, doc="also write per-class scores (<uri>-scores.tif)")
    vector_output: bool = field(default=False, doc="also write polygons per class (<uri stem>-polygons.geojson, WGS84)")
    vector_crs: str | None = field(
        default=None, doc="write polygons in this CRS instead of WGS84 ('source' for the raster's)"
    )

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
        """Also write polygons per class to <uri stem>-polygons.geojson (WGS84, or crs="source").

        ``vector_output`` is True or False. The list of per-class options of later Raster Vision
        releases (``[{"mode": "polygons", "class_id": 1, "denoise": 3}]``) is refused with the
        reason: rv writes every class's polygons, with no per-class mode or denoising, so taking
        the list as True would drop what it asks for in silence.
        """
        if isinstance(vector_output, bool) or (isinstance(vector_output, int) and vector_output in (0, 1)):
            return self._with(vector_output=bool(vector_output), vector_crs=crs)
        shown = repr(vector_output)
        if len(shown) > 200:
            shown = shown[:200] + "…"
        later = isinstance(vector_output, (list, tuple, dict))
        raise ConfigError(
            f"with_vector_output takes True or False (and crs=None for WGS84, crs='source' for the raster's "
            f"CRS, or a CRS such as 'EPSG:32636'); got {shown}"
            + (", the per-class list of later Raster Vision releases" if later else "")
            + ". rv writes the polygons of every class to <uri stem>-polygons.geojson, one feature per "
            "connected region with its class_id and class_name properties, and has no per-class mode "
            "(polygons, buildings) or denoise radius. Write with_vector_output(True) and keep the classes "
            "you want by their class_id property (in QGIS, or with geopandas: "
            "gpd.read_file(path).query('class_id == 1'))."
        )
