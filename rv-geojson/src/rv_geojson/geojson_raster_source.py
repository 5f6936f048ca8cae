"""A raster source that rasterizes GeoJSON labels window by window (segmentation ground truth).

The GeoJSON is read once into pixel space and indexed; each
:meth:`GeoJSONRasterSource.get_chip` call asks the STRtree for the few
polygons near the window and burns only those with
``rasterio.features.rasterize`` into a ``(H, W, 1)`` uint8 chip of class
ids. Nothing scene-sized is ever allocated, so it keeps up with the image
reads in CHIP's loop.

The burning goes into one in-memory (GDAL ``MEM``) dataset per process,
reused window after window: ``rasterize(out_shape=...)`` wraps a new GDAL
dataset around a new array at every call, and that wrapping, not the
burning, was two thirds of its ~0.2 ms. GDAL is given the same geometries,
burn values, options and geotransform either way, so the class ids are the
same.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
from affine import Affine
from rasterio.features import rasterize

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID
from rv.data.raster_source.raster_source import RasterSource
from rv_geojson.geojson_file_source import GeoJSONFileSourceWithBackground, geojson_source
from rv_geojson.vector_index import VectorIndex

#: Features whose rasterize input :class:`GeoJSONRasterSource` keeps ready (a few MB at most).
_SHAPE_MEMO_SIZE = 4096
#: Largest window (pixels) whose in-memory GDAL dataset is kept for the next window; larger ones are one-offs.
_CANVAS_KEEP_PIXELS = 2048 * 2048


def _int_window(window: Box) -> Box:
    """The window with coordinates rounded to ints, as the image sources read it."""
    return Box(*(int(round(v)) for v in window.to_tuple()))


@geojson_source
class GeoJSONRasterSource(GeoJSONFileSourceWithBackground, RasterSource):
    """Class-id raster of a scene drawn from GeoJSON polygons, lines and points.

    Chips are ``(H, W, 1)`` uint8: the class id under each pixel (later
    features in the file drawn over earlier ones), ``background_class_id``
    where no feature is, and 255 (:data:`rv.core.class_map.IGNORE_CLASS_ID`,
    mask True) outside the scene extent. Without a background class,
    unlabelled pixels are 255 too: they are ignored, not called background.

    Args:
        uri, class_map, crs_transformer, extent, class_options: the GeoJSON file and the grid of the
            scene's image it is drawn on (see :class:`rv_geojson.geojson_file_source.GeoJSONFileSource`).
        background_class_id: class of pixels no feature covers (default: the class map's).
        line_buffer: pixels to buffer lines by on each side (number or class id → number; None drops lines).
        point_radius: radius in pixels of the disc drawn for a point (number or class id → number).
        all_touched: burn every pixel a polygon touches, not only those whose center is inside.
    """

    line_buffer: float | Mapping[int, float] | None = attrs.field(default=15, kw_only=True)
    point_radius: float | Mapping[int, float] | None = attrs.field(default=15, kw_only=True)
    all_touched: bool = attrs.field(default=False, kw_only=True)

    def _load(self) -> None:
        self.fill_value = IGNORE_CLASS_ID if self.background_class_id is None else int(self.background_class_id)
        features = self.read_features(line_buffer=self.line_buffer, point_radius=self.point_radius)
        self.index = VectorIndex(features, self.extent)
        self._values = self.index.class_ids.astype(np.int64).tolist()
        # (GeoJSON-like geometry, value) pairs for rasterize, by feature index. rasterize reads
        # ``__geo_interface__`` (a Python copy of the coordinates) of every shapely geometry it is
        # given, ~20 µs each, so each pair is made once and memoised; neighbouring windows (read
        # in order) share features. The memo is bounded, so its memory does not grow with the file.
        self._shape_memo: dict[int, tuple[dict, int]] = {}
        # The GDAL MEM dataset windows are burnt into: (pid, (height, width), dataset, fill plane).
        self._canvas: tuple[int, tuple[int, int], Any, np.ndarray] | None = None

    # The canvas is a GDAL handle of this process: never pickled, and made again after a fork.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_canvas"] = None
        return state

    # --------------------------------------------------------- metadata

    @property
    def num_bands(self) -> int:
        """One band of class ids."""
        return 1

    @property
    def raw_dtype(self) -> np.dtype:
        """uint8 class ids."""
        return np.dtype(np.uint8)

    @property
    def name(self) -> str:
        """The GeoJSON URI."""
        return self.uri

    # ------------------------------------------------------------ reads

    def rasterize_window(self, window: Box) -> np.ndarray:
        """``(H, W)`` uint8 class ids of the labels in an integer ``window`` (outside the extent too)."""
        height, width = int(window.height), int(window.width)
        # Bounding-box candidates are enough: rasterize burns only what lies in the window.
        idx = np.sort(self.index.tree.query(window.to_shapely()))
        if not len(idx):
            return np.full((height, width), self.fill_value, dtype=np.uint8)
        shapes = [self._shape(i) for i in idx.tolist()]
        # The "map" frame here is scene pixels: pixel (col, row) of the window
        # is scene (xmin + col, ymin + row).
        transform = Affine.translation(window.xmin, window.ymin)
        canvas, fill = self._canvas_of(height, width)
        try:
            canvas.transform = transform
            canvas.write(fill, 1)
            rasterize(shapes, transform=transform, all_touched=self.all_touched, dst_path=canvas)
            return canvas.read(1)
        finally:
            if height * width > _CANVAS_KEEP_PIXELS:
                self._canvas = None
                canvas.close()

    def _canvas_of(self, height: int, width: int) -> tuple[Any, np.ndarray]:
        """This process's ``MEM`` dataset of ``height`` × ``width`` (read-write) and a plane of the fill value."""
        pid = os.getpid()
        if self._canvas is not None and self._canvas[:2] == (pid, (height, width)):
            return self._canvas[2], self._canvas[3]
        if self._canvas is not None and self._canvas[0] == pid:
            self._canvas[2].close()
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            canvas = rasterio.open(
                "rv-geojson-labels", "w+", driver="MEM", width=width, height=height, count=1, dtype="uint8"
            )
        fill = np.full((height, width), self.fill_value, dtype=np.uint8)
        self._canvas = (pid, (height, width), canvas, fill)
        return canvas, fill

    def _shape(self, i: int) -> tuple[dict, int]:
        """The ``(geometry mapping, class id)`` pair of feature ``i``, from the memo when there."""
        shape = self._shape_memo.get(i)
        if shape is None:
            if len(self._shape_memo) >= _SHAPE_MEMO_SIZE:
                self._shape_memo.clear()
            shape = self._shape_memo[i] = (self.index.geoms[i].__geo_interface__, self._values[i])
        return shape

    def _read(self, window: Box, bands: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        return self.rasterize_window(window)[:, :, None], None

    def get_raw_chip_with_mask(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """``(chip, mask)``: labels ``(H, W, 1)``; outside the extent 255 (ignore) and mask True.

        Unlike image sources, pixels outside the scene are not 0 — 0 may be a
        class — but the ignore id.
        """
        window = _int_window(window)
        if window.height <= 0 or window.width <= 0:
            raise ValueError(f"Cannot read the empty window {window} from {self.name}")
        labels = self.rasterize_window(window)
        mask = np.zeros(labels.shape, dtype=bool)
        inside = window.intersection(self.extent)
        if inside != window:
            mask[:] = True
            if inside is not None:
                mask[inside.shift(-window.ymin, -window.xmin).to_slices()] = False
            labels[mask] = IGNORE_CLASS_ID
        return labels[:, :, None], mask
