"""NODATA_AUGMENTOR: nodata blocks added to negative chips."""

from __future__ import annotations

import attrs

from rv.augmentor.augmentor_config import AugmentorConfig, AugmentorConfigBuilder
from rv.config import field


@attrs.frozen
class NodataAugmentorConfig(AugmentorConfig):
    """With probability ``aug_prob``, add random nodata blocks to a chip with no labels."""

    aug_prob: float = field(default=0.5, doc="probability of augmenting a negative chip")
    seed: int = field(default=0, doc="random seed")

    def create(self):
        from rv.augmentor.nodata_augmentor import NodataAugmentor

        return NodataAugmentor(aug_prob=self.aug_prob, seed=self.seed)


class NodataAugmentorConfigBuilder(AugmentorConfigBuilder):
    """Builder of :class:`NodataAugmentorConfig`."""

    config_class = NodataAugmentorConfig

    def with_probability(self, aug_prob: float) -> NodataAugmentorConfigBuilder:
        """Probability of adding a nodata block to a negative chip."""
        return self._with(aug_prob=float(aug_prob))
