"""GEOTIFF_SOURCE: GeoTIFFs (one file or a mosaic) read window by window."""

from __future__ import annotations

from typing import Any

import attrs

from rv.config import field
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.errors import ConfigError


@attrs.frozen
class GeoTIFFSourceConfig(RasterSourceConfig):
    """One GeoTIFF, or several mosaicked into one source (a VRT)."""

    uris: tuple[str, ...] = field(factory=tuple, doc="GeoTIFF URIs (local, http(s), s3); several are mosaicked")
    nodata: float | None = field(default=None, doc="nodata value (default: the file's)")
    format_version = 2  # v1 stored a single "uri"

    @classmethod
    def upgrade(cls, data: dict, from_version: int) -> dict:
        # Format 1 stored one file as "uri"; format 2 stores a list "uris".
        if from_version < 2 and "uri" in data:
            data = dict(data)
            data["uris"] = [data.pop("uri")]
        return data

    def validate(self) -> None:
        super().validate()
        if not self.uris:
            raise ConfigError("GEOTIFF_SOURCE needs at least one file: call .with_uri('scene.tif').")

    def input_uris(self) -> list[str]:
        return list(self.uris)

    def create(self, tmp_dir: str, **context: Any):
        from rv.data.raster_source.geotiff_source import GeoTIFFSource

        return GeoTIFFSource(
            list(self.uris),
            channel_order=None if self.channel_order is None else list(self.channel_order),
            nodata=self.nodata,
            transformers=self._create_transformers(),
            tmp_dir=tmp_dir,
        )


class GeoTIFFSourceConfigBuilder(RasterSourceConfigBuilder):
    """Builder of :class:`GeoTIFFSourceConfig`."""

    config_class = GeoTIFFSourceConfig

    def with_uri(self, uri: str) -> GeoTIFFSourceConfigBuilder:
        """One GeoTIFF."""
        return self._with(uris=(uri,))

    def with_uris(self, uris) -> GeoTIFFSourceConfigBuilder:
        """Several GeoTIFFs in the same CRS, mosaicked into one source."""
        return self._with(uris=tuple(uris))

    def with_nodata(self, nodata: float | None) -> GeoTIFFSourceConfigBuilder:
        """Override the files' nodata value."""
        return self._with(nodata=nodata)
