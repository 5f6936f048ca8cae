"""Object detection: windowing and labels for CHIP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rv.core.box import Box, ioa_matrix
from rv.task.task import Task, sliding_stride

if TYPE_CHECKING:
    from rv.data.scene import Scene


class ObjectDetection(Task):
    """Chips are windows with the boxes that lie (mostly) inside them."""

    def get_train_windows(self, scene: Scene, rng: np.random.Generator) -> list[Box]:
        opts = self.config.chip_options
        extent = scene.extent
        size = self.chip_size
        method = opts.window_method
        if method == "image":
            return [extent]
        if method == "sliding":
            return self.windows_in_aoi(scene, extent.get_windows(size, sliding_stride(size), padding="shift"))
        labels = scene.label_source.get_labels()
        if scene.aoi_polygons is not None:
            labels = labels.filter_by_aoi(scene.aoi_polygons)
        boxes = [Box(*b) for b in np.asarray(labels.boxes)]
        if method == "label":
            return [label_window(b, opts.label_buffer, extent) for b in boxes]
        # "chip": a random square around each box, plus negative windows
        pos: list[Box] = []
        for b in boxes:
            if b.height > size or b.width > size:
                pos.append(Box(b.ymin, b.xmin, b.ymin + size, b.xmin + size))
            else:
                pos.append(b.make_random_square_container(size, rng))
        neg: list[Box] = []
        n_neg = int(round(opts.neg_ratio * len(pos)))
        all_boxes = np.asarray(labels.boxes, dtype=float).reshape(-1, 4)
        attempts = 0
        if n_neg and extent.height >= size and extent.width >= size:
            # Negatives are drawn among the windows inside the AOI (a thin or small AOI still gets
            # them); those touching a box are dropped, up to a cap (densely labelled scenes have few).
            from rv.core.window_sampler import WindowSampler
            from rv.errors import DataError

            try:
                sampler = WindowSampler(extent, size, scene.aoi, "within", f"the AOI of scene {scene.id!r}")
            except DataError as e:
                import warnings

                warnings.warn(f"{e} Scene {scene.id!r} gets no negative chips.", stacklevel=2)
                sampler = None
            max_attempts = n_neg * 20 + 20
            while sampler is not None and len(neg) < n_neg and attempts < max_attempts:
                for w in sampler.sample(min(n_neg - len(neg), max_attempts - attempts), rng):
                    attempts += 1
                    if len(all_boxes) and (ioa_matrix(all_boxes, w.to_array()[None]) > 0).any():
                        continue
                    neg.append(w)
        return pos + neg

    def get_train_labels(self, window: Box, scene: Scene, valid: np.ndarray) -> dict[str, np.ndarray] | None:
        opts = self.config.chip_options
        labels = scene.label_source.get_labels(window)
        if scene.aoi_polygons is not None:
            labels = labels.filter_by_aoi(scene.aoi_polygons)
        labels = labels.get_overlapping(window, ioa_thresh=opts.ioa_thresh, clip=True).to_local(window)
        return {
            "boxes": np.asarray(labels.boxes, dtype=np.float32).reshape(-1, 4),
            "class_ids": np.asarray(labels.class_ids, dtype=np.int64),
        }

    def is_negative(self, labels: dict[str, np.ndarray]) -> bool:
        return len(labels["class_ids"]) == 0


def label_window(box: Box, label_buffer: float, extent: Box) -> Box:
    """The ``label`` window method's window around ``box``, clipped to ``extent``.

    ``label_buffer`` below 1 is a fraction of the box: each side moves out by
    that share of the box's height (top, bottom) or width (left, right),
    rounded to whole pixels. From 1 up it is a number of pixels on every side.
    """
    if label_buffer < 1:
        dy, dx = round(label_buffer * box.height), round(label_buffer * box.width)
    else:
        dy = dx = round(label_buffer)
    return Box(box.ymin - dy, box.xmin - dx, box.ymax + dy, box.xmax + dx).clip(extent)
