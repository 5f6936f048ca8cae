"""Write pixel-space label geometries of a scene as a georeferenced GeoJSON file.

By default the file is RFC 7946: WGS84 longitude/latitude, no ``crs``
member, exterior rings counterclockwise. On request it is written in the
raster's own CRS, with a legacy ``crs`` member naming it so that GIS tools
(and :mod:`rv_geojson.geojson_reader`) read it right. Writes are atomic
(``rv.file_utils.write_text``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from rv_geojson.geojson_reader import GEOJSON_DEFAULT_CRS


def crs_member(crs: Any) -> dict[str, Any]:
    """Legacy GeoJSON ``crs`` member naming ``crs`` (``urn:ogc:def:crs:EPSG::<code>`` when it has one)."""
    epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
    name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else (crs.to_wkt() if hasattr(crs, "to_wkt") else str(crs))
    return {"type": "name", "properties": {"name": name}}


def geojson_text(
    pixel_geoms: Sequence[Any] | np.ndarray,
    properties: Sequence[dict[str, Any]],
    crs_transformer: Any,
    use_source_crs: bool = False,
) -> str:
    """FeatureCollection text of pixel-space geometries with their properties.

    Args:
        pixel_geoms: shapely geometries in the raster's pixel space (x = column, y = row).
        properties: one JSON-serializable dict per geometry.
        crs_transformer: the raster's :class:`rv.core.crs_transformer.CRSTransformer`.
        use_source_crs: write in the raster's CRS with a ``crs`` member instead of WGS84.
    """
    geoms = np.asarray(pixel_geoms, dtype=object).reshape(-1)
    if len(geoms) != len(properties):
        raise ValueError(f"{len(geoms)} geometries but {len(properties)} property dicts")
    raster_crs = getattr(crs_transformer, "crs", None)
    header: dict[str, Any] = {"type": "FeatureCollection"}
    if raster_crs is None:
        # An image without georeferencing: its "map" coordinates are pixels.
        map_geoms = crs_transformer.pixel_to_map_geoms(geoms) if len(geoms) else geoms
    elif use_source_crs:
        map_geoms = crs_transformer.pixel_to_map_geoms(geoms) if len(geoms) else geoms
        header["crs"] = crs_member(raster_crs)
    else:
        map_geoms = crs_transformer.pixel_to_crs_geoms(geoms, GEOJSON_DEFAULT_CRS) if len(geoms) else geoms
    if len(geoms):
        # RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise.
        # Pixel space has y pointing down, so orient after reprojecting.
        map_geoms = shapely.orient_polygons(map_geoms, exterior_cw=False)
        geometry_texts = shapely.to_geojson(map_geoms)
    else:
        geometry_texts = []
    features = [
        '{"type": "Feature", "geometry": ' + g + ', "properties": ' + json.dumps(p) + "}"
        for g, p in zip(geometry_texts, properties)
    ]
    head = json.dumps(header)[:-1]  # drop the closing brace to append the features
    return head + ', "features": [\n' + ",\n".join(features) + "\n]}\n"


def write_geojson(
    uri: Any,
    pixel_geoms: Sequence[Any] | np.ndarray,
    properties: Sequence[dict[str, Any]],
    crs_transformer: Any,
    use_source_crs: bool = False,
) -> None:
    """Write pixel-space geometries with properties to ``uri`` as GeoJSON (see :func:`geojson_text`)."""
    from rv import file_utils

    # Atomic: a temporary file is renamed into place (or uploaded), so an
    # interrupted command never leaves a half-written label file.
    file_utils.write_text(str(uri), geojson_text(pixel_geoms, properties, crs_transformer, use_source_crs))
