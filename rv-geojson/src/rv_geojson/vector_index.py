"""A spatial index over the pixel-space label geometries of one scene.

:class:`VectorIndex` clips a file's geometries to the scene extent (dropping
those outside, clipping those crossing the edge, with a warning that counts
them) and builds a ``shapely.STRtree`` over what is left, so that every
window query — CHIP asks one per chip — touches only the few geometries near
the window instead of scanning all features.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import shapely

from rv.core.box import Box
from rv.errors import DataError
from rv_geojson.geojson_reader import GeoJSONWarning, PixelFeatures, _polygonal_part


def _box_polygon(box: Any) -> shapely.Polygon:
    """Pixel-space rectangle of a Box-like ``(ymin, xmin, ymax, xmax)``."""
    return shapely.box(box.xmin, box.ymin, box.xmax, box.ymax)


def keep_polygonal(geoms: np.ndarray) -> np.ndarray:
    """Polygonal part of each geometry; clipping a polygon at a box edge can add stray lines or points."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return geoms
    mixed = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), [3, 6]))
    if len(mixed):
        geoms = geoms.copy()
        geoms[mixed] = np.array([_polygonal_part(g) for g in geoms[mixed]], dtype=object)
    return geoms


class VectorIndex:
    """Label geometries of one scene, clipped to its extent, behind an STRtree.

    Args:
        features: polygonal pixel-space features from
            :func:`rv_geojson.geojson_reader.read_pixel_features`.
        extent: the scene's pixel extent (a :class:`rv.core.box.Box`).
        require_overlap: raise ``DataError`` when no feature overlaps the
            scene (a label file for another place, or the wrong CRS).
        clip: cut geometries crossing the scene edge to the extent (False
            keeps them whole, e.g. chip classification cells read back).

    Attributes:
        features: the kept features, geometries clipped to the extent.
        overlapping: boolean mask over the input features: which were kept.
        num_inside, num_crossing, num_outside: how many features of the file
            lie inside the scene, cross its edge (clipped) or lie outside it
            (dropped; features that only touch the edge count as outside).
    """

    def __init__(self, features: PixelFeatures, extent: Box, require_overlap: bool = True, clip: bool = True):
        self.extent = extent
        self.uri = features.uri
        self.note = features.note
        geoms = features.geoms
        extent_poly = _box_polygon(extent)
        if len(geoms):
            inside = shapely.covered_by(geoms, extent_poly)
            # intersects() but not touches(): the interiors share area.
            overlapping = shapely.intersects(geoms, extent_poly) & ~shapely.touches(geoms, extent_poly)
        else:
            inside = overlapping = np.zeros(0, dtype=bool)
        crossing = overlapping & ~inside
        self.num_inside = int(inside.sum())
        self.num_crossing = int(crossing.sum())
        self.num_outside = int(len(geoms) - overlapping.sum())
        if require_overlap and not overlapping.any():
            raise DataError(self._no_overlap_message(geoms))
        if self.num_crossing or self.num_outside:
            warnings.warn(
                f"{self.uri}: of {len(geoms)} label features, {self.num_inside} lie inside the scene "
                f"({int(extent.height)}x{int(extent.width)} px), {self.num_crossing} cross its edge "
                f"{'(clipped) ' if clip else ''}and {self.num_outside} lie outside (dropped). "
                "This is expected when one label file covers several scenes.",
                GeoJSONWarning,
                stacklevel=3,
            )
        self.overlapping = overlapping
        kept = features.subset(overlapping)
        to_clip = np.flatnonzero(crossing[overlapping]) if clip else np.zeros(0, dtype=np.int64)
        if len(to_clip):
            kept.geoms = kept.geoms.copy()
            kept.geoms[to_clip] = keep_polygonal(shapely.intersection(kept.geoms[to_clip], extent_poly))
        self.features = kept
        self.geoms = kept.geoms
        self.class_ids = kept.class_ids
        self.tree = shapely.STRtree(self.geoms)

    def _no_overlap_message(self, geoms: np.ndarray) -> str:
        e = self.extent
        where = "it has no features"
        if len(geoms):
            xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
            where = (
                f"its {len(geoms)} features span pixel columns {xmin:.0f}..{xmax:.0f} and rows "
                f"{ymin:.0f}..{ymax:.0f} of this raster"
            )
        return (
            f"No label in {self.uri} overlaps the scene: {where}, but the scene covers columns "
            f"{e.xmin:.0f}..{e.xmax:.0f} and rows {e.ymin:.0f}..{e.ymax:.0f}. Check that the label file "
            "belongs to this image and that its CRS is right (RFC 7946 GeoJSON without a crs member "
            "must be WGS84 lon/lat; a file in another CRS needs a crs member)." + (f" {self.note}" if self.note else "")
        )

    def __len__(self) -> int:
        return len(self.geoms)

    def query_indices(self, window: Box) -> np.ndarray:
        """Sorted indices of the geometries sharing area with ``window`` (touching is not enough)."""
        window_poly = _box_polygon(window)
        idx = self.tree.query(window_poly, predicate="intersects")
        if len(idx):
            idx = idx[~shapely.touches(self.geoms[idx], window_poly)]
        return np.sort(idx)

    def query(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """``(geoms clipped to window, class_ids)`` of the labels in ``window`` (scene pixel coordinates)."""
        idx = self.query_indices(window)
        window_poly = _box_polygon(window)
        geoms = keep_polygonal(shapely.intersection(self.geoms[idx], window_poly))
        return geoms, self.class_ids[idx]

    def query_bulk(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(window_idx, geom_idx)`` pairs of overlapping windows and geometries, one tree query.

        ``windows`` is an array of pixel-space shapely polygons. Pairs are
        sorted by window, then geometry.
        """
        windows = np.asarray(windows, dtype=object)
        if not len(windows) or not len(self.geoms):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        win_idx, geom_idx = self.tree.query(windows, predicate="intersects")
        touching = shapely.touches(windows[win_idx], self.geoms[geom_idx])
        win_idx, geom_idx = win_idx[~touching], geom_idx[~touching]
        order = np.lexsort((geom_idx, win_idx))
        return win_idx[order].astype(np.int64), geom_idx[order].astype(np.int64)
