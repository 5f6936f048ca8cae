"""LabelSourceConfig: the family of label source configs."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder


@attrs.frozen
class LabelSourceConfig(Config):
    """Base of label source configs (registered with ``register_label_sources``)."""

    group: ClassVar[str] = "label_sources"

    def create(self, task_config: Any, crs_transformer: Any, extent: Any, tmp_dir: str):
        """The runtime :class:`rv.data.label_source.LabelSource` for a scene."""
        raise NotImplementedError

    def input_uris(self) -> list[str]:
        return []


class LabelSourceConfigBuilder(ConfigBuilder):
    """Builder of any label source config."""
