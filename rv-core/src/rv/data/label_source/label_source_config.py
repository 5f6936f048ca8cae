"""LabelSourceConfig: the family of label source configs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder

if TYPE_CHECKING:
    from rv.core.box import Box
    from rv.core.crs_transformer import CRSTransformer
    from rv.task.task_config import TaskConfig


@attrs.frozen
class LabelSourceConfig(Config):
    """Base of label source configs (registered with ``register_label_sources``)."""

    group: ClassVar[str] = "label_sources"

    def create(self, task_config: TaskConfig, crs_transformer: CRSTransformer, extent: Box, tmp_dir: str) -> Any:
        """The runtime :class:`rv.data.label_source.LabelSource` for a scene."""
        raise NotImplementedError

    def input_uris(self) -> list[str]:
        return []


class LabelSourceConfigBuilder(ConfigBuilder):
    """Builder of any label source config."""
