"""Object detection labels: axis-aligned boxes with class ids and optional scores."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from rv.core.box import Box, as_box_array, clip_boxes, ioa_matrix
from rv.labels._common import boxes_in_aoi, concat_method


class ObjectDetectionLabels:
    """Boxes ``(N, 4)`` float (pixel ``ymin, xmin, ymax, xmax``), class ids ``(N,)`` int64, scores ``(N,)`` or None.

    Coordinates are scene pixels unless the labels came from :meth:`to_local`,
    which makes them relative to a window (the chip's frame).
    """

    def __init__(self, boxes: Any = None, class_ids: Any = None, scores: Any = None):
        self.boxes = as_box_array(boxes if boxes is not None else np.zeros((0, 4)))
        self.class_ids = np.asarray(class_ids if class_ids is not None else [], dtype=np.int64).reshape(-1)
        if len(self.class_ids) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.class_ids)} class ids")
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32).reshape(-1)
            if len(scores) != len(self.boxes):
                raise ValueError(f"{len(self.boxes)} boxes but {len(scores)} scores")
        self.scores = scores

    @classmethod
    def make_empty(cls, with_scores: bool = False) -> ObjectDetectionLabels:
        """Labels without boxes."""
        return cls(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), np.zeros(0) if with_scores else None)

    def __len__(self) -> int:
        return len(self.boxes)

    def __iter__(self) -> Iterator[tuple[Box, int, float | None]]:
        """Yields ``(box, class_id, score_or_None)``."""
        for i in range(len(self)):
            yield (
                Box.from_array(self.boxes[i]),
                int(self.class_ids[i]),
                None if self.scores is None else float(self.scores[i]),
            )

    def __repr__(self) -> str:
        return f"ObjectDetectionLabels({len(self)} boxes, scores={'yes' if self.scores is not None else 'no'})"

    def get_boxes(self) -> list[Box]:
        """The boxes as :class:`Box` objects."""
        return [Box.from_array(row) for row in self.boxes]

    def subset(self, index: Any) -> ObjectDetectionLabels:
        """Labels for the boxes selected by a boolean mask or index array."""
        return ObjectDetectionLabels(
            self.boxes[index],
            self.class_ids[index],
            None if self.scores is None else self.scores[index],
        )

    def filter_by_score(self, score_thresh: float) -> ObjectDetectionLabels:
        """Boxes with ``score >= score_thresh`` (all boxes when there are no scores)."""
        if self.scores is None:
            return self
        return self.subset(self.scores >= score_thresh)

    def get_overlapping(self, window: Box, ioa_thresh: float = 0.000001, clip: bool = False) -> ObjectDetectionLabels:
        """Boxes whose fraction inside ``window`` is greater than ``ioa_thresh``.

        The fraction is intersection over the *box's* area, so a large box
        barely entering the window is dropped at high thresholds. With
        ``clip=True`` the kept boxes are cut to the window. Coordinates stay
        in the same frame as ``self`` (use :meth:`to_local` for chip frame).
        """
        if len(self) == 0:
            return self.subset(slice(None))
        ioa = ioa_matrix(self.boxes, window.to_array()[None])[:, 0]
        keep = ioa > ioa_thresh
        out = self.subset(keep)
        if clip:
            out.boxes = clip_boxes(out.boxes, window)
        return out

    def to_local(self, window: Box) -> ObjectDetectionLabels:
        """Coordinates relative to ``window``'s top-left corner (the chip's pixel frame)."""
        shift = np.array([window.ymin, window.xmin, window.ymin, window.xmin], dtype=np.float64)
        return ObjectDetectionLabels(self.boxes - shift, self.class_ids, self.scores)

    def to_global(self, window: Box) -> ObjectDetectionLabels:
        """Inverse of :meth:`to_local`: window-relative coordinates back to scene pixels."""
        shift = np.array([window.ymin, window.xmin, window.ymin, window.xmin], dtype=np.float64)
        return ObjectDetectionLabels(self.boxes + shift, self.class_ids, self.scores)

    @concat_method
    def concatenate(cls: Any, *labels: ObjectDetectionLabels | Iterable[ObjectDetectionLabels]):
        """All boxes of several labels (``ObjectDetectionLabels.concatenate(a, b)`` or ``a.concatenate(b)``).

        Scores are kept only when every input has them.
        """
        items: list[ObjectDetectionLabels] = []
        for item in labels:
            items.extend([item] if isinstance(item, ObjectDetectionLabels) else item)
        if not items:
            return cls.make_empty()
        with_scores = all(lab.scores is not None for lab in items)
        return cls(
            np.concatenate([lab.boxes for lab in items]),
            np.concatenate([lab.class_ids for lab in items]),
            np.concatenate([lab.scores for lab in items]) if with_scores else None,
        )

    def filter_by_aoi(self, aoi_polygons: Any, mode: str = "within") -> ObjectDetectionLabels:
        """Boxes inside the AOI (pixel-space shapely polygons).

        ``mode="within"`` (default, as Raster Vision) keeps boxes entirely
        inside, ``"intersects"`` any box touching the AOI, ``"center"`` boxes
        whose center is inside.
        """
        if aoi_polygons is None:
            return self
        return self.subset(boxes_in_aoi(self.boxes, aoi_polygons, mode))
