"""IMAGE_SOURCE: a non-georeferenced image (.png, .jpg, .tif) in pixel coordinates."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.errors import ConfigError


@attrs.frozen
class ImageSourceConfig(RasterSourceConfig):
    """A plain image; labels are in pixel coordinates."""

    uri: str = field(default="", doc="image URI")

    def validate(self) -> None:
        super().validate()
        if not self.uri:
            raise ConfigError("IMAGE_SOURCE needs a file: call .with_uri('image.png').")

    def input_uris(self) -> list[str]:
        return [self.uri]

    def create(self, tmp_dir: str, **context: Any):
        from rv.data.raster_source.image_source import ImageSource

        return ImageSource(
            self.uri,
            channel_order=None if self.channel_order is None else list(self.channel_order),
            transformers=self._create_transformers(),
            tmp_dir=tmp_dir,
        )


class ImageSourceConfigBuilder(RasterSourceConfigBuilder):
    """Builder of :class:`ImageSourceConfig`."""

    config_class = ImageSourceConfig

    def with_uri(self, uri: str) -> ImageSourceConfigBuilder:
        return self._with(uri=uri)
