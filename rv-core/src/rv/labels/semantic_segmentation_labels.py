"""Semantic segmentation labels held in memory as (window, class-id array, scores) pieces.

For small things (a chip, a test, a window being evaluated): a whole scene's
labels are streamed by the raster label store, never held here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID


class LabelWindow(NamedTuple):
    """One piece of segmentation labels: a pixel window, its ``uint8 (H, W)`` class ids, optional ``(H, W, C)`` scores."""

    window: Box
    label_arr: np.ndarray
    scores: np.ndarray | None


class SemanticSegmentationLabels:
    """Segmentation labels as a list of windows with class-id arrays (255 = ignore) and optional scores.

    Windows may overlap; where they do, the window added last wins in
    :meth:`get_label_arr`.
    """

    def __init__(self) -> None:
        self._windows: list[LabelWindow] = []

    @classmethod
    def from_array(cls, label_arr: np.ndarray, window: Box | None = None, scores: np.ndarray | None = None):
        """Labels holding one array (at ``window``, default the array's own extent at 0, 0)."""
        labels = cls()
        if window is None:
            window = Box(0, 0, label_arr.shape[0], label_arr.shape[1])
        labels.add_window(window, label_arr, scores)
        return labels

    def add_window(self, window: Box, label_arr: np.ndarray, scores: np.ndarray | None = None) -> None:
        """Add class ids (``uint8 (H, W)``) for ``window`` (int coordinates), and optional scores ``(H, W, C)``."""
        window = window.to_int()
        label_arr = np.asarray(label_arr)
        if label_arr.shape != (window.height, window.width):
            raise ValueError(f"label array shape {label_arr.shape} does not match window {window} ({window.size})")
        if label_arr.dtype != np.uint8:
            if label_arr.size and (label_arr.min() < 0 or label_arr.max() > 255):
                raise ValueError("class ids must fit in uint8 (0-254, 255 = ignore)")
            label_arr = label_arr.astype(np.uint8)
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape[:2] != label_arr.shape or scores.ndim != 3:
                raise ValueError(f"scores must be (H, W, C) with (H, W) = {label_arr.shape}, got {scores.shape}")
        self._windows.append(LabelWindow(window, label_arr, scores))

    def get_windows(self) -> list[Box]:
        """The windows added, in order."""
        return [lw.window for lw in self._windows]

    def __iter__(self) -> Iterator[LabelWindow]:
        return iter(self._windows)

    def __len__(self) -> int:
        return len(self._windows)

    def __repr__(self) -> str:
        return f"SemanticSegmentationLabels({len(self)} windows)"

    def get_label_arr(self, window: Box, fill: int = IGNORE_CLASS_ID) -> np.ndarray:
        """``uint8 (H, W)`` class ids of ``window`` composed from the stored pieces; ``fill`` (255) where none."""
        window = window.to_int()
        out = np.full((int(window.height), int(window.width)), fill, dtype=np.uint8)
        for lw in self._windows:
            inter = lw.window.intersection(window)
            if inter is None:
                continue
            src = inter.shift(-lw.window.ymin, -lw.window.xmin).to_slices()
            dst = inter.shift(-window.ymin, -window.xmin).to_slices()
            out[dst] = lw.label_arr[src]
        return out

    def get_scores_arr(self, window: Box) -> np.ndarray | None:
        """``float32 (H, W, C)`` scores of ``window`` (NaN where no piece has scores), or None if no scores at all."""
        window = window.to_int()
        with_scores = [lw for lw in self._windows if lw.scores is not None]
        if not with_scores:
            return None
        num_classes = with_scores[0].scores.shape[2]  # type: ignore[union-attr]
        out = np.full((int(window.height), int(window.width), num_classes), np.nan, dtype=np.float32)
        for lw in with_scores:
            inter = lw.window.intersection(window)
            if inter is None:
                continue
            src = inter.shift(-lw.window.ymin, -lw.window.xmin).to_slices()
            dst = inter.shift(-window.ymin, -window.xmin).to_slices()
            out[dst] = lw.scores[src]  # type: ignore[index]
        return out

    def class_counts(self) -> dict[int, int]:
        """Pixels per class id over all pieces (255 excluded; overlaps counted twice)."""
        counts = np.zeros(256, dtype=np.int64)
        for lw in self._windows:
            counts += np.bincount(lw.label_arr.ravel(), minlength=256)
        return {i: int(c) for i, c in enumerate(counts) if c and i != IGNORE_CLASS_ID}

    def filter_by_aoi(self, aoi_polygons: Any) -> SemanticSegmentationLabels:
        """Copy with pixels outside the AOI (pixel-space polygons) set to 255."""
        from affine import Affine
        from rasterio.features import geometry_mask

        from rv.labels._common import polygons_union

        if aoi_polygons is None:
            return self
        aoi = polygons_union(aoi_polygons)
        out = SemanticSegmentationLabels()
        for lw in self._windows:
            outside = (
                geometry_mask(
                    [aoi],
                    out_shape=lw.label_arr.shape,
                    transform=Affine.translation(lw.window.xmin, lw.window.ymin),
                )
                if not aoi.is_empty
                else np.ones(lw.label_arr.shape, dtype=bool)
            )
            arr = lw.label_arr.copy()
            arr[outside] = IGNORE_CLASS_ID
            out.add_window(lw.window, arr, lw.scores)
        return out
