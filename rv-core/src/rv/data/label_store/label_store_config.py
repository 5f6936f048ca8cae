"""LabelStoreConfig: the family of label store configs (where predictions go)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field

if TYPE_CHECKING:
    from rv.core.box import Box
    from rv.data.raster_source.raster_source import RasterSource
    from rv.task.task_config import TaskConfig


@attrs.frozen
class LabelStoreConfig(Config):
    """Base of label store configs (registered with ``register_label_stores``)."""

    group: ClassVar[str] = "label_stores"
    #: file extension of the default URI the experiment gives a store without one
    extension: ClassVar[str] = ".json"

    uri: str | None = field(default=None, doc="where predictions are written (default: <predict_uri>/<scene id>)")

    def create(self, task_config: TaskConfig, raster_source: RasterSource, extent: Box, tmp_dir: str) -> Any:
        """The runtime :class:`rv.data.label_store.LabelStore` for a scene (georeferenced like ``raster_source``)."""
        raise NotImplementedError

    def output_uris(self) -> list[str]:
        return [self.uri] if self.uri else []


class LabelStoreConfigBuilder(ConfigBuilder):
    """Builder of any label store config."""

    def with_uri(self, uri: str) -> LabelStoreConfigBuilder:
        """Where predictions are written."""
        return self._with(uri=uri)
