"""Chip classification labels from GeoJSON: cells inferred from polygons, or cells read as drawn.

With ``infer_cells=True`` (the usual case: the GeoJSON holds objects, e.g.
building footprints) the scene is cut into square cells of ``cell_size``
pixels and each cell gets a class with Raster Vision 0.8's rule: among the
polygons that overlap the cell enough — intersection over the polygon's
area (or over the cell's area with ``use_intersection_over_cell``) at least
``ioa_thresh`` — the cell takes the class of the one covering most of the
cell (the first in file order on a tie), or the smallest class id with
``pick_min_class_id``; a cell with no such polygon gets the background class
(or no label when there is none). One STRtree bulk query and vectorized
shapely areas do the work for every cell at once.

With ``infer_cells=False`` each feature *is* a cell (its bounding box), with
its class and optional ``scores``, as :class:`ChipClassificationGeoJSONStore`
writes predictions.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import shapely

from rv.core.box import Box, areas, as_box_array, boxes_from_shapely, boxes_to_shapely
from rv.data.label_source.label_source import LabelSource
from rv.errors import ConfigError, DataError
from rv.labels import ChipClassificationLabels
from rv_geojson.geojson_file_source import GeoJSONFileSourceWithBackground, geojson_source
from rv_geojson.geojson_reader import ClassResolver, PixelFeatures, read_pixel_features
from rv_geojson.vector_index import VectorIndex


def infer_cell_class_ids(
    index: VectorIndex,
    cells: Any,
    ioa_thresh: float = 0.5,
    use_intersection_over_cell: bool = False,
    pick_min_class_id: bool = False,
) -> np.ndarray:
    """Class id of each cell from the polygons in ``index`` (``-1`` where no polygon qualifies).

    Args:
        index: the scene's label polygons.
        cells: ``(N, 4)`` pixel boxes ``ymin, xmin, ymax, xmax``.
        ioa_thresh: a polygon counts for a cell when its intersection with the
            cell divided by the polygon's area (or the cell's, see below) is
            at least this.
        use_intersection_over_cell: divide by the cell's area instead.
        pick_min_class_id: among qualifying polygons take the smallest class
            id; otherwise the polygon covering the largest share of the cell
            (first in file order on a tie).
    """
    cells = as_box_array(cells)
    result = np.full(len(cells), -1, dtype=np.int64)
    cell_polys = boxes_to_shapely(cells)
    cell_idx, geom_idx = index.query_bulk(cell_polys)
    if not len(cell_idx):
        return result
    inter = shapely.area(shapely.intersection(cell_polys[cell_idx], index.geoms[geom_idx]))
    cell_area = areas(cells)[cell_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        over_cell = np.where(cell_area > 0, inter / cell_area, 0.0)
        geom_area = shapely.area(index.geoms)[geom_idx]
        over_geom = np.where(geom_area > 0, inter / geom_area, 0.0)
    enough = (over_cell if use_intersection_over_cell else over_geom) >= ioa_thresh
    enough &= inter > 0
    cell_idx, geom_idx, over_cell = cell_idx[enough], geom_idx[enough], over_cell[enough]
    if not len(cell_idx):
        return result
    class_ids = index.class_ids[geom_idx]
    if pick_min_class_id:
        order = np.lexsort((class_ids, cell_idx))
    else:
        # Largest share of the cell first; file order breaks ties.
        order = np.lexsort((geom_idx, -over_cell, cell_idx))
    first_cells, first = np.unique(cell_idx[order], return_index=True)
    result[first_cells] = class_ids[order][first]
    return result


def _scores_of(properties: list[dict[str, Any]], key: str, uri: str) -> np.ndarray | None:
    """The ``key`` property of every feature as an array, or None when some feature lacks it."""
    if not properties or any(p.get(key) is None for p in properties):
        return None
    try:
        return np.asarray([p[key] for p in properties], dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(
            f"The {key!r} properties of {uri} are not numbers of one shape (first: {properties[0][key]!r}). "
            f"Give every feature the same number of {key}, or none."
        ) from None


def read_cells(
    uri: Any,
    crs_transformer: Any,
    class_resolver: ClassResolver,
    extent: Box | None = None,
) -> ChipClassificationLabels:
    """Cells as drawn in a GeoJSON file: each feature's bounding box (to whole pixels), class and ``scores``.

    With an ``extent``, cells not overlapping it are dropped (with the
    counting warning of :class:`VectorIndex`) and a file with cells but none
    on the scene is a ``DataError``.
    """
    features = read_pixel_features(uri, crs_transformer, class_resolver)
    if extent is not None:
        index = VectorIndex(features, extent, require_overlap=len(features) > 0, clip=False)
        features = index.features
    return _cells_from_features(features)


def _cells_from_features(features: PixelFeatures) -> ChipClassificationLabels:
    # A cell is a window of whole pixels (chips are read, and predictions made, at whole
    # pixels): a cell drawn in lon/lat a fraction of a pixel off is the window it rounds to,
    # so that it matches the chip and the predicted cell at the same place.
    cells = np.round(boxes_from_shapely(features.geoms)) if len(features) else np.zeros((0, 4))
    return ChipClassificationLabels(cells, features.class_ids, _scores_of(features.properties, "scores", features.uri))


@geojson_source
class ChipClassificationGeoJSONSource(GeoJSONFileSourceWithBackground, LabelSource):
    """Chip classification ground truth from a GeoJSON file (see the module docstring for the rules).

    Args:
        uri, class_map, crs_transformer, extent, class_options: the GeoJSON file and the scene it labels
            (see :class:`rv_geojson.geojson_file_source.GeoJSONFileSource`).
        cell_size: side of the square cells, in pixels (needed with ``infer_cells``).
        ioa_thresh: minimum intersection over area for a polygon to count for a cell.
        use_intersection_over_cell: measure the intersection over the cell's area
            instead of the polygon's.
        pick_min_class_id: on several qualifying polygons take the smallest class id
            instead of the one covering most of the cell.
        background_class_id: class of cells without a qualifying polygon; defaults
            to the class map's background class; with neither, such cells get no label.
        infer_cells: infer cells from polygons (True) or read each feature as a cell.
    """

    cell_size: int | None = attrs.field(default=None, kw_only=True)
    ioa_thresh: float = attrs.field(default=0.5, kw_only=True)
    use_intersection_over_cell: bool = attrs.field(default=False, kw_only=True)
    pick_min_class_id: bool = attrs.field(default=False, kw_only=True)
    infer_cells: bool = attrs.field(default=True, kw_only=True)

    def _load(self) -> None:
        cell_size = self.cell_size
        if self.infer_cells:
            if not cell_size or cell_size <= 0:
                raise ConfigError(
                    f"ChipClassificationGeoJSONSource for {self.uri} infers cells but cell_size is "
                    f"{cell_size!r}; give the cell size in pixels (e.g. cell_size=256)."
                )
            features = self.read_features()
            self.index: VectorIndex | None = VectorIndex(features, self.extent)
            cells = as_box_array([c.to_tuple() for c in self.extent.get_windows(cell_size, cell_size, padding="pad")])
            self.labels = self._infer(cells)
        else:
            self.index = None
            self.labels = read_cells(self.uri, self.crs_transformer, self.class_resolver, self.extent)

    def _infer(self, cells: np.ndarray) -> ChipClassificationLabels:
        class_ids = infer_cell_class_ids(
            self.index, cells, self.ioa_thresh, self.use_intersection_over_cell, self.pick_min_class_id
        )
        if self.background_class_id is not None:
            class_ids[class_ids < 0] = self.background_class_id
        keep = class_ids >= 0
        return ChipClassificationLabels(cells[keep], class_ids[keep])

    def get_labels(self, window: Box | None = None) -> ChipClassificationLabels:
        """All cells of the scene, or the label of one window.

        For a window that is one of the cells, that cell's label. For any
        other window: inferred for that window with the same rule when cells
        are inferred, else the read cells lying inside the window. A window
        without a qualifying polygon and no background class gives no cells.
        """
        if window is None:
            return self.labels
        found = self.labels.get_cell(window)
        if found is not None:
            class_id, scores = found
            scores = None if scores is None else scores[None]
            return ChipClassificationLabels(window.to_array()[None], [class_id], scores)
        if self.index is not None:
            return self._infer(window.to_array()[None])
        cells = self.labels.cells
        inside = (
            (cells[:, 0] >= window.ymin)
            & (cells[:, 1] >= window.xmin)
            & (cells[:, 2] <= window.ymax)
            & (cells[:, 3] <= window.xmax)
        )
        return self.labels.subset(inside)
