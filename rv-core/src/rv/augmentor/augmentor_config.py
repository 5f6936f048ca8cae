"""AugmentorConfig: the family of augmentor configs (applied at CHIP)."""

from __future__ import annotations

from typing import ClassVar

import attrs

from rv.config import Config, ConfigBuilder


@attrs.frozen
class AugmentorConfig(Config):
    """Base of augmentor configs (registered with ``register_augmentors``)."""

    group: ClassVar[str] = "augmentors"

    def create(self):
        raise NotImplementedError


class AugmentorConfigBuilder(ConfigBuilder):
    """Builder of any augmentor config."""
