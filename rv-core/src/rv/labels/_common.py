"""Helpers shared by the label classes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class concat_method:
    """``Labels.concatenate(a, b, ...)`` on the class, ``a.concatenate(b, ...)`` on an instance.

    Both forms call the same ``classmethod``-style function with every
    labels object in order; on an instance the instance comes first, so
    ``a.concatenate(b)`` never silently drops ``a``.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]  # a descriptor, not a function

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return functools.partial(self.func, owner)
        return functools.partial(self.func, owner, instance)


def polygons_union(polygons: Any) -> Any:
    """One shapely geometry: the union of a geometry or a sequence of geometries.

    Invalid polygons (self-intersections are common in hand-drawn AOIs and
    labels) are repaired with ``shapely.make_valid`` first, so the union
    never fails on them.
    """
    import numpy as np
    import shapely

    if polygons is None:
        return None
    geoms = (
        np.atleast_1d(np.asarray(polygons, dtype=object))
        if not isinstance(polygons, shapely.Geometry)
        else np.array([polygons], dtype=object)
    )
    if len(geoms) == 0:
        return shapely.Polygon()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    if len(geoms) == 1:
        return geoms[0]
    return shapely.union_all(geoms)


def boxes_in_aoi(boxes: Any, aoi_polygons: Any, mode: str = "within") -> Any:
    """Boolean ``(N,)``: which pixel-space boxes lie in the AOI.

    ``mode="within"`` (Raster Vision's rule) keeps boxes entirely inside the
    AOI, ``"intersects"`` keeps boxes that touch it, ``"center"`` keeps boxes
    whose center is inside.
    """
    import numpy as np
    import shapely

    from rv.core.box import as_box_array, boxes_to_shapely

    b = as_box_array(boxes)
    if len(b) == 0:
        return np.zeros(0, dtype=bool)
    aoi = polygons_union(aoi_polygons)
    shapely.prepare(aoi)
    if mode == "within":
        return shapely.contains(aoi, boxes_to_shapely(b))
    if mode == "intersects":
        return shapely.intersects(aoi, boxes_to_shapely(b))
    if mode == "center":
        return shapely.contains_xy(aoi, (b[:, 1] + b[:, 3]) / 2, (b[:, 0] + b[:, 2]) / 2)
    raise ValueError(f"mode must be 'within', 'intersects' or 'center', got {mode!r}")
