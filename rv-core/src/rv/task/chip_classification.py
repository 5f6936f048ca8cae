"""Chip classification: one chip per labelled cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rv.core.box import Box
from rv.task.task import Task, pixel_window

if TYPE_CHECKING:
    from rv.data.scene import Scene


class ChipClassification(Task):
    """Chips are the label source's cells, each with one class id."""

    def get_train_windows(self, scene: Scene, rng: np.random.Generator) -> list[Box]:
        labels = scene.label_source.get_labels()
        if scene.aoi_polygons is not None:
            labels = labels.filter_by_aoi(scene.aoi_polygons)
        # Chips are read at whole-pixel windows (Task.chip_scene rounds them); cells read from
        # a reprojected file can sit a fraction of a pixel off, so look classes up by the
        # rounded cell.
        self._class_by_window = {pixel_window(cell).to_tuple(): class_id for cell, class_id, _ in labels}
        return labels.get_cells()

    def get_train_labels(self, window: Box, scene: Scene, valid: np.ndarray) -> dict[str, np.ndarray] | None:
        classes = getattr(self, "_class_by_window", None)
        if classes is not None:
            class_id = classes.get(pixel_window(window).to_tuple())
        else:
            class_id = scene.label_source.get_labels(window).get_cell_class_id(window)
        if class_id is None:
            return None
        return {"class_id": np.asarray(class_id, dtype=np.int64)}

    def is_negative(self, labels: dict[str, np.ndarray]) -> bool:
        bg = self.class_map.background_class_id
        return bg is not None and int(labels["class_id"]) == bg
