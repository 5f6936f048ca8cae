"""The Task entity: what chip classification, detection and segmentation share.

A task decides which windows of a scene become training chips and what
labels each chip carries; the chipping loop itself (read the window, mask
nodata and the outside of the AOI, augment, write) lives here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID

if TYPE_CHECKING:
    from rv.data.scene import Scene


class Task(ABC):
    """Runtime side of a :class:`~rv.task.task_config.TaskConfig`."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.class_map = config.class_map
        self.chip_size = config.chip_size

    # -- what differs per task ------------------------------------------------
    @abstractmethod
    def get_train_windows(self, scene: Scene, rng: np.random.Generator) -> list[Box]:
        """Windows of ``scene`` to turn into training chips."""

    @abstractmethod
    def get_train_labels(self, window: Box, scene: Scene, valid: np.ndarray) -> dict[str, np.ndarray] | None:
        """The chip's label arrays (chip-format names), or None to drop the chip.

        ``valid`` is a ``(H, W)`` bool array: True where the pixel has data and
        lies inside the AOI.
        """

    def is_negative(self, labels: dict[str, np.ndarray]) -> bool:
        """True when a chip holds nothing of interest (the nodata augmentor's target)."""
        return False

    # -- shared --------------------------------------------------------------
    def windows_in_aoi(self, scene: Scene, windows: list[Box], mode: str = "intersects") -> list[Box]:
        if scene.aoi_polygons is None:
            return windows
        return [w for w in windows if scene.window_in_aoi(w, mode=mode)]

    def read_order(self, scene: Scene, windows: list[Box]) -> list[Box]:
        """``windows`` in the order the chipping loop reads them: the one the raster source prefers.

        :meth:`rv.data.raster_source.raster_source.RasterSource.read_order`
        decides (``GeoTIFFSource``: an order that reuses GDAL's bounded block
        cache; row by row by default). Only the order changes, never which
        windows are chipped.
        """
        return list(scene.raster_source.read_order(windows))

    def get_chip_windows(self, scene: Scene, rng: np.random.Generator) -> list[Box]:
        """The windows :meth:`chip_scene` chips: :meth:`get_train_windows` at whole pixels, in read order.

        Deterministic for a given ``rng`` state, so that processes sharing a
        scene can each compute the list and chip their own part of it.
        """
        # The image, the labels and the AOI mask must all see the same whole-pixel window
        # (windows around reprojected boxes or cells have fractional edges).
        windows = [pixel_window(w) for w in self.get_train_windows(scene, rng)]
        return self.read_order(scene, windows)

    def chip_windows(self, scene: Scene, split: str, windows: list[Box], write: Any, augmentors: list[Any]) -> int:
        """Chip the given whole-pixel ``windows`` of ``scene``: ``write(split, scene_id, image, mask,
        labels, window)`` per chip (windows without valid pixels or labels are skipped); returns the count.

        ``augmentors`` change training chips only: a validation chip is the
        scene's pixels as they are, so that validation measures the model on
        what it will see.
        """
        if split != "train":
            augmentors = []
        count = 0
        for window in windows:
            image, nodata = scene.raster_source.get_chip_with_mask(window)
            valid = ~nodata
            if scene.aoi_polygons is not None:
                valid &= scene.aoi_mask(window)
            if not valid.any():
                continue
            labels = self.get_train_labels(window, scene, valid)
            if labels is None:
                continue
            mask = ~valid
            if augmentors:
                # Only augmentors need to know; the test costs a pass over the labels.
                negative = self.is_negative(labels)
                for augmentor in augmentors:
                    image, mask = augmentor.augment(image, mask, negative=negative)
            write(split, scene.id, image, mask, labels, window)
            count += 1
        return count

    def chip_scene(
        self,
        scene: Scene,
        split: str,
        write: Any,
        augmentors: list[Any],
        rng: np.random.Generator,
        shard: tuple[int, int] = (0, 1),
    ) -> int:
        """Chip one scene: ``write(split, scene_id, image, mask, labels, window)`` per chip; returns the count.

        ``shard=(k, n)`` chips only the k-th of n contiguous parts of the
        window list (:func:`shard_windows`): n processes given the same
        ``rng`` seed and shards 0..n-1 together write exactly the chips one
        process writes, in the same order.
        """
        windows = self.get_chip_windows(scene, rng)
        if shard != (0, 1):
            windows = shard_windows(windows, *shard)
        return self.chip_windows(scene, split, windows, write, augmentors)


def shard_windows(windows: list[Box], index: int, count: int) -> list[Box]:
    """Part ``index`` of ``count`` contiguous, near-equal parts of ``windows`` (contiguous parts
    keep each process's reads local to a part of the scene)."""
    if not 0 <= index < count:
        raise ValueError(f"shard index {index} is not in 0..{count - 1}")
    n = len(windows)
    return windows[n * index // count : n * (index + 1) // count]


def sliding_stride(chip_size: int) -> int:
    """Default stride of ``sliding`` chip windows: half the chip size (50 % overlap), as Raster Vision
    documents it; an object cut by one window's edge lies whole in its neighbour."""
    return max(chip_size // 2, 1)


def pixel_window(window: Box) -> Box:
    """``window`` with each edge rounded to the nearest pixel, as the raster sources round it."""
    return Box(*(int(round(v)) for v in window.to_tuple()))


def mask_labels(label_arr: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Segmentation labels with invalid pixels set to :data:`IGNORE_CLASS_ID`."""
    out = np.asarray(label_arr, dtype=np.uint8).copy()
    out[~valid] = IGNORE_CLASS_ID
    return out
