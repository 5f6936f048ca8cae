"""A scene: one raster with its labels, AOI and prediction store."""

from __future__ import annotations

from typing import Any

import numpy as np

from rv.core.box import Box
from rv.labels._common import polygons_union


class Scene:
    """A raster source with its label source, label store and area of interest.

    Args:
        id: the scene's name (used in chip file names and outputs).
        raster_source: where the imagery comes from.
        label_source: ground truth (None for prediction-only scenes).
        label_store: where predictions go (None when not predicting).
        aoi_polygons: shapely polygons in *pixel* coordinates bounding the
            part of the scene that is labelled; None = the whole scene.
    """

    def __init__(
        self,
        id: str,
        raster_source: Any,
        label_source: Any = None,
        label_store: Any = None,
        aoi_polygons: Any = None,
    ):
        self.id = id
        self.raster_source = raster_source
        self.label_source = label_source
        self.label_store = label_store
        self.aoi_polygons = None if aoi_polygons is None else list(aoi_polygons)
        self._aoi: Any = None

    def __repr__(self) -> str:
        return f"Scene({self.id!r}, {self.raster_source!r})"

    @property
    def extent(self) -> Box:
        """The raster's pixel extent."""
        return self.raster_source.extent

    @property
    def aoi(self) -> Any:
        """The AOI as one prepared shapely geometry (pixel coordinates), or None."""
        if self.aoi_polygons is None:
            return None
        if self._aoi is None:
            import shapely

            self._aoi = polygons_union(self.aoi_polygons)
            shapely.prepare(self._aoi)
        return self._aoi

    def aoi_mask(self, window: Box) -> np.ndarray:
        """``bool (H, W)``: True for the window's pixels inside the AOI (all True without an AOI).

        A pixel is inside when its center is (``rasterio.features`` rule).
        """
        window = window.to_int()
        shape = (int(window.height), int(window.width))
        aoi = self.aoi
        if aoi is None:
            return np.ones(shape, dtype=bool)
        if aoi.is_empty:
            return np.zeros(shape, dtype=bool)
        from affine import Affine
        from rasterio.features import geometry_mask

        # Pixel space of the scene → window: a translation by the window's corner.
        return geometry_mask(
            [aoi], out_shape=shape, transform=Affine.translation(window.xmin, window.ymin), invert=True
        )

    def window_in_aoi(self, window: Box, mode: str = "within") -> bool:
        """Whether ``window`` lies in the AOI (``"within"``) or touches it (``"intersects"``); True without an AOI."""
        aoi = self.aoi
        if aoi is None:
            return True
        import shapely

        poly = window.to_shapely()
        return bool(shapely.contains(aoi, poly) if mode == "within" else shapely.intersects(aoi, poly))
