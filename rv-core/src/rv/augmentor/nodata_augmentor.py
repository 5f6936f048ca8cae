"""Teach a model that nodata is not an object: blank out random blocks of negative chips."""

from __future__ import annotations

import numpy as np

from rv.core.box import Box


class NodataAugmentor:
    """Adds a random nodata (zero) square to negative chips, as Raster Vision 0.8 did.

    A chip with no labels (a negative) is, with probability ``aug_prob``,
    copied and given a zero-filled square of random side (0 to the chip's
    side) at a random place; the square is also marked in the nodata mask.
    Scenes often have nodata edges; without this, a model sees nodata only
    next to objects cut by the edge and may learn to predict objects there.

    Args:
        aug_prob: probability of augmenting a negative chip.
        seed: seed of the augmentor's random generator.
    """

    def __init__(self, aug_prob: float = 0.5, seed: int | None = None):
        if not 0 <= aug_prob <= 1:
            raise ValueError(f"aug_prob must be in [0, 1], got {aug_prob}")
        self.aug_prob = aug_prob
        self.rng = np.random.default_rng(seed)

    def augment(
        self, image: np.ndarray, mask: np.ndarray | None = None, *, negative: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(image, mask)``, possibly with a zero square; inputs are never modified.

        Only chips with ``negative=True`` (no labels) are augmented.
        """
        if not negative or self.rng.random() >= self.aug_prob:
            return image, mask
        h, w = image.shape[:2]
        size = int(round(self.rng.random() * min(h, w)))
        if size == 0:
            return image, mask
        square = Box(0, 0, h, w).make_random_square(size, self.rng)
        rows, cols = square.to_slices()
        image = image.copy()
        image[rows, cols] = 0
        if mask is not None:
            mask = mask.copy()
            mask[rows, cols] = True
        return image, mask
