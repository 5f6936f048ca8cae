"""Areas of interest: GeoJSON polygons (any CRS) turned into pixel-space polygons of a scene.

An AOI limits where CHIP takes training windows and where EVAL compares
labels. rv-core's scene takes the list of pixel polygons this module
returns; AOIs from several files are simply concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from rv.core.box import Box
from rv.errors import DataError
from rv_geojson.geojson_reader import _list_indices, read_pixel_features, snap_to_integers
from rv_geojson.vector_index import keep_polygonal


def _scene_bounds_text(crs_transformer: Any, extent: Box) -> str:
    """The scene's bounds in pixels, in its CRS and (when it has one) in lon/lat, for messages."""
    text = f"{int(extent.height)}x{int(extent.width)} px"
    if getattr(crs_transformer, "crs", None) is None:
        return text
    geom = extent.to_shapely()
    xmin, ymin, xmax, ymax = crs_transformer.pixel_to_map_geoms(geom).bounds
    text += f"; x {xmin:.6g}..{xmax:.6g}, y {ymin:.6g}..{ymax:.6g} in {crs_transformer.crs}"
    try:
        lon0, lat0, lon1, lat1 = crs_transformer.pixel_to_crs_geoms(geom, "EPSG:4326").bounds
        text += f"; lon {lon0:.6f}..{lon1:.6f}, lat {lat0:.6f}..{lat1:.6f}"
    except Exception:  # a CRS pyproj cannot take to WGS84: the bounds above are enough
        pass
    return text


def read_aoi(uris: str | Sequence[str], crs_transformer: Any, extent: Box) -> list[shapely.Polygon]:
    """Pixel-space AOI polygons of a scene from one or more GeoJSON files.

    Each file may be in any CRS (RFC 7946 WGS84 unless a ``crs`` member
    says otherwise). Multipolygons are split into polygons, polygons are
    clipped to the scene extent, and invalid ones repaired (with a warning).

    Raises:
        DataError: a file with non-polygon features, or whose polygons all
            lie outside the scene (the message gives the file's and the
            scene's bounds).
    """
    if isinstance(uris, (str, bytes)) or not isinstance(uris, Sequence):
        uris = [uris]  # type: ignore[list-item]
    extent_poly = extent.to_shapely()
    polygons: list[shapely.Polygon] = []
    for uri in uris:
        features = read_pixel_features(uri, crs_transformer, polygons_only=False)
        uri = features.uri
        if not len(features):
            raise DataError(f"AOI file {uri} has no features. Draw the area of interest as a polygon.")
        polygonal = np.isin(shapely.get_type_id(features.geoms), [3, 6])
        if not polygonal.all():
            bad = features.feature_indices[~polygonal]
            raise DataError(
                f"AOI file {uri} has non-polygon geometries (feature(s) {_list_indices(bad)}: "
                f"{features.geoms[~polygonal][0].geom_type}). An AOI is an area: draw it as polygons."
            )
        # An AOI drawn along pixel edges (often the scene's own edge) comes back from the
        # reprojection round trip 1e-9 px off; snapped, a label box on that edge is "within" it.
        geoms = shapely.transform(features.geoms, snap_to_integers)
        broken = ~shapely.is_valid(geoms)
        if broken.any():
            geoms[broken] = keep_polygonal(shapely.make_valid(geoms[broken]))
        clipped = keep_polygonal(shapely.intersection(geoms, extent_poly))
        clipped = clipped[~shapely.is_empty(clipped) & (shapely.area(clipped) > 0)]
        if not len(clipped):
            xmin, ymin, xmax, ymax = shapely.total_bounds(features.geoms)
            raise DataError(
                f"The AOI in {uri} lies outside the scene: it spans pixel columns {xmin:.0f}..{xmax:.0f} "
                f"and rows {ymin:.0f}..{ymax:.0f}, but the scene is {_scene_bounds_text(crs_transformer, extent)}. "
                "Give this scene the AOI drawn for it, and check the AOI's CRS (RFC 7946 GeoJSON without a "
                "crs member must be WGS84 lon/lat)." + (f" {features.note}" if features.note else "")
            )
        polygons.extend(p for p in shapely.get_parts(clipped) if p.area > 0)
    return polygons
