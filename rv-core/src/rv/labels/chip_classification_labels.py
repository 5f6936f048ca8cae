"""Chip classification labels: one class per cell (a pixel window) of a scene."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from rv.core.box import Box, as_box_array
from rv.labels._common import boxes_in_aoi, concat_method


class ChipClassificationLabels:
    """Cells ``(N, 4)`` (pixel ``ymin, xmin, ymax, xmax``), their class ids ``(N,)`` and optional scores ``(N, C)``.

    Arrays, not one object per cell: a scene split into 100 000 cells is three
    arrays. Scores, when present, are per class in class-map order (model
    index order). Cell lookup by :class:`Box` is a hash lookup.
    """

    def __init__(self, cells: Any = None, class_ids: Any = None, scores: Any = None):
        self.cells = as_box_array(cells if cells is not None else np.zeros((0, 4)))
        self.class_ids = np.asarray(class_ids if class_ids is not None else [], dtype=np.int64).reshape(-1)
        if len(self.class_ids) != len(self.cells):
            raise ValueError(f"{len(self.cells)} cells but {len(self.class_ids)} class ids")
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.ndim != 2 or scores.shape[0] != len(self.cells):
                raise ValueError(f"scores must be (N, C) with N = {len(self.cells)} cells, got {scores.shape}")
        self.scores = scores
        self._index: dict[tuple[float, ...], int] | None = None

    @classmethod
    def make_empty(cls, num_classes: int | None = None) -> ChipClassificationLabels:
        """Labels with no cells (with an empty ``(0, num_classes)`` score array if given)."""
        scores = None if num_classes is None else np.zeros((0, num_classes), dtype=np.float32)
        return cls(np.zeros((0, 4)), np.zeros(0, dtype=np.int64), scores)

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[tuple[Box, int, np.ndarray | None]]:
        """Yields ``(cell, class_id, scores_or_None)``."""
        for i in range(len(self)):
            yield (
                Box.from_array(self.cells[i]),
                int(self.class_ids[i]),
                None if self.scores is None else self.scores[i],
            )

    def __repr__(self) -> str:
        return f"ChipClassificationLabels({len(self)} cells, scores={'yes' if self.scores is not None else 'no'})"

    def _lookup(self, cell: Box) -> int | None:
        if self._index is None:
            # Later cells override earlier ones, as with set_cell.
            self._index = {tuple(row): i for i, row in enumerate(self.cells.tolist())}
        return self._index.get(tuple(float(v) for v in cell.to_tuple()))

    def get_cell(self, cell: Box) -> tuple[int, np.ndarray | None] | None:
        """``(class_id, scores_or_None)`` of this exact cell, or None when it has no label."""
        i = self._lookup(cell)
        if i is None:
            return None
        return int(self.class_ids[i]), (None if self.scores is None else self.scores[i])

    def get_cell_class_id(self, cell: Box) -> int | None:
        """Class id of this exact cell, or None."""
        found = self.get_cell(cell)
        return None if found is None else found[0]

    def get_cells(self) -> list[Box]:
        """The cells as :class:`Box` objects."""
        return [Box.from_array(row) for row in self.cells]

    def subset(self, index: Any) -> ChipClassificationLabels:
        """Labels for the cells selected by a boolean mask or index array."""
        return ChipClassificationLabels(
            self.cells[index],
            self.class_ids[index],
            None if self.scores is None else self.scores[index],
        )

    @concat_method
    def concatenate(cls: Any, *labels: ChipClassificationLabels | Iterable[ChipClassificationLabels]):
        """All cells of several labels (``ChipClassificationLabels.concatenate(a, b)`` or ``a.concatenate(b)``).

        Scores are kept only when every input has them.
        """
        items: list[ChipClassificationLabels] = []
        for item in labels:
            items.extend([item] if isinstance(item, ChipClassificationLabels) else item)
        if not items:
            return cls.make_empty()
        with_scores = all(lab.scores is not None for lab in items)
        return cls(
            np.concatenate([lab.cells for lab in items]),
            np.concatenate([lab.class_ids for lab in items]),
            np.concatenate([lab.scores for lab in items]) if with_scores else None,
        )

    def filter_by_aoi(self, aoi_polygons: Any, mode: str = "within") -> ChipClassificationLabels:
        """Cells inside the AOI (pixel-space shapely polygons); ``mode`` as in :func:`rv.labels._common.boxes_in_aoi`."""
        if aoi_polygons is None:
            return self
        return self.subset(boxes_in_aoi(self.cells, aoi_polygons, mode))
