"""Write pixel-space geometries of a scene as a georeferenced GeoJSON FeatureCollection.

The one GeoJSON writer of rv: rv-core's segmentation store writes its class
polygons with it, rv-geojson's label stores their cells and boxes. By default
the file is RFC 7946: WGS84 longitude/latitude, no ``crs`` member, exterior
rings counterclockwise and holes clockwise. On request it is written in the
raster's own CRS (``"source"``) or another CRS, with a legacy ``crs`` member
naming it so that GIS tools and rv-geojson's reader read it right, or in
pixel coordinates (``"pixel"``). Writes are atomic
(:func:`rv.file_utils.write_text`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rv.core.crs_transformer import CRSTransformer

#: the CRS of GeoJSON without a ``crs`` member (RFC 7946)
GEOJSON_DEFAULT_CRS = "EPSG:4326"
#: output CRS choices besides a CRS string: the raster's own, and pixel coordinates
SOURCE_CRS = "source"
PIXEL_CRS = "pixel"


def crs_member(crs: Any) -> dict[str, Any]:
    """The legacy GeoJSON ``crs`` member naming ``crs`` (``urn:ogc:def:crs:EPSG::<code>`` when it has one)."""
    from rasterio.crs import CRS

    crs = CRS.from_user_input(crs)
    epsg = crs.to_epsg()
    return {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else crs.to_wkt()}}


def _is_wgs84(crs: str) -> bool:
    return crs.upper() in (GEOJSON_DEFAULT_CRS, "OGC:CRS84", "WGS84")


def geojson_text(
    pixel_geoms: Sequence[Any] | np.ndarray,
    properties: Sequence[dict[str, Any]],
    crs_transformer: CRSTransformer,
    crs: str | None = None,
) -> str:
    """FeatureCollection text of pixel-space geometries with their properties.

    Args:
        pixel_geoms: shapely geometries in the raster's pixel space (x = column, y = row).
        properties: one JSON-serializable dict per geometry.
        crs_transformer: the raster's :class:`rv.core.crs_transformer.CRSTransformer`.
        crs: ``None`` (WGS84, RFC 7946), ``"source"`` (the raster's CRS), a CRS
            string (``"EPSG:32617"``), or ``"pixel"``. A raster without a CRS
            is written in its map coordinates, which are pixels.
    """
    import shapely

    geoms = np.asarray(pixel_geoms, dtype=object).reshape(-1)
    if len(geoms) != len(properties):
        raise ValueError(f"{len(geoms)} geometries but {len(properties)} property dicts")
    header: dict[str, Any] = {"type": "FeatureCollection"}
    raster_crs = crs_transformer.crs
    if crs == PIXEL_CRS:
        out = geoms
    elif raster_crs is None:
        out = crs_transformer.pixel_to_map_geoms(geoms) if len(geoms) else geoms
    elif crs == SOURCE_CRS:
        out = crs_transformer.pixel_to_map_geoms(geoms) if len(geoms) else geoms
        header["crs"] = crs_member(raster_crs)
    else:
        target = crs or GEOJSON_DEFAULT_CRS
        out = crs_transformer.pixel_to_crs_geoms(geoms, target) if len(geoms) else geoms
        if not _is_wgs84(target):
            header["crs"] = crs_member(target)
    if len(geoms):
        # RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise. Pixel space has y
        # pointing down, so the rings are oriented after the transform.
        geometry_texts = shapely.to_geojson(shapely.orient_polygons(out, exterior_cw=False))
    else:
        geometry_texts = []
    features = [
        '{"type": "Feature", "geometry": ' + g + ', "properties": ' + json.dumps(p) + "}"
        for g, p in zip(geometry_texts, properties)
    ]
    head = json.dumps(header)[:-1]  # drop the closing brace to append the features
    return head + ', "features": [\n' + ",\n".join(features) + "\n]}\n"


def write_geojson(
    uri: str,
    pixel_geoms: Sequence[Any] | np.ndarray,
    properties: Sequence[dict[str, Any]],
    crs_transformer: CRSTransformer,
    crs: str | None = None,
) -> None:
    """Write pixel-space geometries with properties to ``uri`` as GeoJSON (see :func:`geojson_text`), atomically."""
    from rv import file_utils

    file_utils.write_text(str(uri), geojson_text(pixel_geoms, properties, crs_transformer, crs))
