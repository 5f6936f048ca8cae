"""CHIP_CLASSIFICATION_GEOJSON label source: a class per cell, from GeoJSON.

The usual case is a file of objects (building footprints, ...): the scene
is cut into square cells and each cell gets the class of the polygons that
cover it enough (Raster Vision 0.8's rule, see
:mod:`rv_geojson.chip_classification_geojson_source`). With
``with_infer_cells(False)`` each feature *is* a cell, as the
CHIP_CLASSIFICATION_GEOJSON store writes them.

Light module: imported at plugin discovery.
"""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.label_source.label_source_config import LabelSourceConfig, LabelSourceConfigBuilder
from rv.errors import ConfigError
from rv_geojson.class_options_config import ClassOptionsBuilderMixin, GeoJSONClassOptions
from rv_geojson.geojson_source_config import vector_source_uri


@attrs.frozen
class ChipClassificationGeoJSONSourceConfig(LabelSourceConfig):
    """Chip classification ground truth from a GeoJSON file (any CRS)."""

    uri: str | None = field(
        default=None, doc="the GeoJSON file (any CRS; RFC 7946 WGS84 unless a crs member says otherwise)"
    )
    cell_size: int | None = field(
        default=None, doc="side of the square cells in pixels (default: the task's chip size)"
    )
    infer_cells: bool = field(
        default=True, doc="infer each cell's class from the polygons (True) or read each feature as a cell (False)"
    )
    ioa_thresh: float = field(
        default=0.5, doc="a polygon counts for a cell when intersection / polygon area (or cell area) reaches this"
    )
    use_intersection_over_cell: bool = field(
        default=False, doc="divide the intersection by the cell's area instead of the polygon's"
    )
    pick_min_class_id: bool = field(
        default=False, doc="on several qualifying polygons take the smallest class id (else the one covering most)"
    )
    background_class_id: int | None = field(
        default=None, doc="class of cells without a qualifying polygon (default: the task's; none: no label)"
    )
    class_options: GeoJSONClassOptions = field(factory=GeoJSONClassOptions, doc="how each feature's class is found")

    def validate(self) -> None:
        if not self.uri:
            raise ConfigError("CHIP_CLASSIFICATION_GEOJSON needs a GeoJSON file: call .with_uri('labels.geojson').")
        if self.cell_size is not None and self.cell_size <= 0:
            raise ConfigError(f"cell_size must be a positive number of pixels, got {self.cell_size}.")
        if not 0.0 <= self.ioa_thresh <= 1.0:
            raise ConfigError(f"ioa_thresh is a share of an area, in [0, 1]; got {self.ioa_thresh}.")
        self.class_options.validate()

    def input_uris(self) -> list[str]:
        return [self.uri] if self.uri else []

    def create(self, task_config: Any, crs_transformer: Any, extent: Any, tmp_dir: str):
        """The :class:`rv_geojson.chip_classification_geojson_source.ChipClassificationGeoJSONSource` of a scene."""
        from rv_geojson.chip_classification_geojson_source import ChipClassificationGeoJSONSource

        background = self.background_class_id
        if background is None:
            background = task_config.background_class_id
        return ChipClassificationGeoJSONSource(
            self.uri,
            task_config.class_map,
            crs_transformer,
            extent,
            cell_size=self.cell_size or task_config.chip_size,
            ioa_thresh=self.ioa_thresh,
            use_intersection_over_cell=self.use_intersection_over_cell,
            pick_min_class_id=self.pick_min_class_id,
            background_class_id=background,
            infer_cells=self.infer_cells,
            class_options=self.class_options,
        )


class ChipClassificationGeoJSONSourceConfigBuilder(ClassOptionsBuilderMixin, LabelSourceConfigBuilder):
    """Builder of :class:`ChipClassificationGeoJSONSourceConfig` (Raster Vision 0.8's options)."""

    config_class = ChipClassificationGeoJSONSourceConfig

    def with_uri(self, uri: str):
        """The GeoJSON file."""
        return self._with(uri=str(uri))

    def with_vector_source(self, uri: str):
        """The GeoJSON file: the name later Raster Vision releases gave ``with_uri``."""
        return self.with_uri(vector_source_uri(uri, "CHIP_CLASSIFICATION_GEOJSON"))

    def with_cell_size(self, cell_size: int | None):
        """Side of the square cells in pixels (None: the task's chip size)."""
        return self._with(cell_size=None if cell_size is None else int(cell_size))

    def with_infer_cells(self, infer_cells: bool = True):
        """Infer cells from polygons (True), or read each feature as a cell (False)."""
        return self._with(infer_cells=bool(infer_cells))

    def with_ioa_thresh(self, ioa_thresh: float):
        """Minimum intersection over area for a polygon to count for a cell."""
        return self._with(ioa_thresh=float(ioa_thresh))

    def with_use_intersection_over_cell(self, use_intersection_over_cell: bool = True):
        """Measure the intersection over the cell's area instead of the polygon's."""
        return self._with(use_intersection_over_cell=bool(use_intersection_over_cell))

    def with_pick_min_class_id(self, pick_min_class_id: bool = True):
        """On several qualifying polygons take the smallest class id."""
        return self._with(pick_min_class_id=bool(pick_min_class_id))

    def with_background_class_id(self, class_id: int | None):
        """Class of cells without a qualifying polygon (None: the task's background class)."""
        return self._with(background_class_id=None if class_id is None else int(class_id))
