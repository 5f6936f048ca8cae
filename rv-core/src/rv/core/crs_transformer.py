"""Pixel ↔ map coordinates of one raster.

A :class:`CRSTransformer` wraps the raster's affine ``transform`` (pixel →
map) and its ``crs``. Pixel coordinates are continuous: ``(col, row)`` =
``(0, 0)`` is the top-left corner of the top-left pixel, ``(0.5, 0.5)`` its
center. Map coordinates are ``(x, y)`` in the raster's CRS (easting/northing,
or lon/lat for geographic CRSs). Every method is vectorized over numpy arrays
and shapely geometry arrays.

rasterio and pyproj are imported inside the methods that need them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from affine import Affine


def _to_crs(crs: Any) -> Any:
    """A ``rasterio.crs.CRS`` from a CRS, an EPSG int, a string, or None."""
    if crs is None:
        return None
    from rasterio.crs import CRS

    if isinstance(crs, CRS):
        return crs
    return CRS.from_user_input(crs)


def _apply(affine: Affine, u: Any, v: Any) -> tuple[Any, Any]:
    """``affine * (u, v)``, vectorized over scalars or arrays (float64)."""
    a, b, c, d, e, f = tuple(affine)[:6]
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return _unwrap(a * u + b * v + c), _unwrap(d * u + e * v + f)


class CRSTransformer:
    """Converts between pixel ``(col, row)`` and map ``(x, y)`` coordinates of one raster.

    Args:
        transform: the raster's ``affine.Affine`` (pixel → map), as rasterio gives it.
        crs: the raster's CRS (``rasterio.crs.CRS``, EPSG int, WKT/PROJ/"EPSG:n" string)
            or None for an image without georeferencing.
    """

    def __init__(self, transform: Affine, crs: Any = None):
        if not isinstance(transform, Affine):
            transform = Affine(*list(transform)[:6])
        if transform.determinant == 0:
            raise ValueError(f"The raster transform {tuple(transform)[:6]} is not invertible.")
        self.transform = transform
        self.inverse = ~transform
        self.crs = _to_crs(crs)

    @classmethod
    def from_dataset(cls, dataset: Any) -> CRSTransformer:
        """Transformer of an open rasterio dataset."""
        return cls(dataset.transform, dataset.crs)

    def __repr__(self) -> str:
        crs = self.crs.to_string() if self.crs is not None else None
        return f"{type(self).__name__}(transform={tuple(self.transform)[:6]}, crs={crs!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CRSTransformer)
            and self.transform.almost_equals(other.transform)
            and self.crs == other.crs
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------- points

    def map_to_pixel(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Map ``(x, y)`` → pixel ``(col, row)`` as floats (scalars or arrays).

        Floor the result to get the index of the pixel containing the point.
        """
        return _apply(self.inverse, x, y)

    def pixel_to_map(self, col: Any, row: Any) -> tuple[Any, Any]:
        """Pixel ``(col, row)`` → map ``(x, y)`` (scalars or arrays).

        Pass ``col + 0.5, row + 0.5`` for pixel centers.
        """
        return _apply(self.transform, col, row)

    # ---------------------------------------------------------- geometries

    def map_to_pixel_geoms(self, geoms: Any) -> Any:
        """Map-CRS shapely geometries (one or an array) → pixel space (x = col, y = row)."""
        import shapely

        inv = self.inverse
        return shapely.transform(geoms, lambda xy: _apply_affine(inv, xy))

    def pixel_to_map_geoms(self, geoms: Any) -> Any:
        """Pixel-space shapely geometries (one or an array) → the raster's map CRS."""
        import shapely

        fwd = self.transform
        return shapely.transform(geoms, lambda xy: _apply_affine(fwd, xy))

    def crs_to_pixel_geoms(self, geoms: Any, src_crs: Any) -> Any:
        """Geometries in ``src_crs`` (e.g. ``"EPSG:4326"`` from GeoJSON) → pixel space.

        Reprojects with pyproj (``always_xy``: lon/lat order) when ``src_crs``
        differs from the raster's CRS. Raises ``ValueError`` when the raster
        has no CRS.
        """
        return self.map_to_pixel_geoms(self._reproject(geoms, _to_crs(src_crs), self._require_crs()))

    def pixel_to_crs_geoms(self, geoms: Any, dst_crs: Any = "EPSG:4326") -> Any:
        """Pixel-space geometries → ``dst_crs`` (WGS84 lon/lat by default, as RFC 7946 GeoJSON wants)."""
        return self._reproject(self.pixel_to_map_geoms(geoms), self._require_crs(), _to_crs(dst_crs))

    def _require_crs(self) -> Any:
        if self.crs is None:
            raise ValueError(
                "This raster has no CRS, so geometries in another CRS cannot be placed on it; "
                "give the raster a CRS or use pixel coordinates."
            )
        return self.crs

    @staticmethod
    def _reproject(geoms: Any, src: Any, dst: Any) -> Any:
        if src == dst:
            return geoms
        import shapely

        t = _transformer(src, dst)

        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = t.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, fn)


class IdentityCRSTransformer(CRSTransformer):
    """Transformer of an image without georeferencing: map coordinates are pixel coordinates, no CRS."""

    def __init__(self) -> None:
        super().__init__(Affine.identity(), None)


@lru_cache(maxsize=32)
def _transformer(src: Any, dst: Any) -> Any:
    """The pyproj ``Transformer`` (lon/lat order) from ``src`` to ``dst``, built once per pair.

    Building one costs milliseconds, as much as reprojecting thousands of
    label boxes; pyproj's transformers are thread-safe, so one is shared.
    """
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _apply_affine(t: Affine, xy: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = tuple(t)[:6]
    x = xy[:, 0]
    y = xy[:, 1]
    return np.column_stack([a * x + b * y + c, d * x + e * y + f])


def _unwrap(v: np.ndarray) -> Any:
    """Python float for 0-d results, the array otherwise."""
    return v.item() if v.ndim == 0 else v


class _HasCRSTransformer(Protocol):
    @property
    def crs_transformer(self) -> CRSTransformer: ...


class OnRasterGrid:
    """Mixin: the ``crs`` and affine ``transform`` of an object placed on a raster's grid by its
    ``crs_transformer`` (raster sources, the segmentation raster store)."""

    @property
    def crs(self: _HasCRSTransformer) -> Any:
        """The raster's CRS (``rasterio.crs.CRS``) or None."""
        return self.crs_transformer.crs

    @property
    def transform(self: _HasCRSTransformer) -> Any:
        """The raster's affine transform (pixel → map)."""
        return self.crs_transformer.transform
