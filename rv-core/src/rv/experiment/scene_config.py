"""SceneConfig: raster source + label source + AOI + label store."""

from __future__ import annotations

from typing import Any, cast

import attrs

from rv.config import Config, ConfigBuilder, field
from rv.data.label_source.label_source_config import LabelSourceConfig
from rv.data.label_store.label_store_config import LabelStoreConfig
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.errors import ConfigError


@attrs.frozen
class SceneConfig(Config):
    """One scene: imagery, its labels (optional), an AOI (optional), where predictions go."""

    format_version = 2  # v1 stored one AOI as "aoi_uri"

    id: str = field(doc="scene id, unique in the experiment")
    raster_source: RasterSourceConfig = field(doc="the imagery")
    label_source: LabelSourceConfig | None = field(default=None, doc="ground truth (training and evaluation)")
    label_store: LabelStoreConfig | None = field(default=None, doc="where predictions are written")
    aoi_uris: tuple[str, ...] = field(factory=tuple, doc="GeoJSON polygons (any CRS) limiting chips and evaluation")

    @classmethod
    def upgrade(cls, data: dict, from_version: int) -> dict:
        if from_version < 2 and "aoi_uri" in data:
            data = dict(data)
            aoi = data.pop("aoi_uri")
            data["aoi_uris"] = [aoi] if aoi else []
        return data

    def validate(self) -> None:
        if not self.id or "/" in self.id:
            raise ConfigError(f"Scene id {self.id!r} must be non-empty and contain no '/'.")

    def input_uris(self, with_labels: bool = True) -> list[str]:
        uris = list(self.raster_source.input_uris())
        if with_labels and self.label_source is not None:
            uris += self.label_source.input_uris()
        return uris + list(self.aoi_uris)

    def create(self, task_config: Any, tmp_dir: str, with_labels: bool = True, with_store: bool = False):
        """The runtime :class:`rv.data.scene.Scene`."""
        from rv.data.scene import Scene

        raster_source = self.raster_source.create(tmp_dir)
        crs_transformer = raster_source.crs_transformer
        extent = raster_source.extent
        label_source = None
        if with_labels and self.label_source is not None:
            label_source = self.label_source.create(task_config, crs_transformer, extent, tmp_dir)
        label_store = None
        if with_store and self.label_store is not None:
            label_store = self.label_store.create(task_config, raster_source, extent, tmp_dir)
        return Scene(self.id, raster_source, label_source, label_store, self.read_aoi(crs_transformer, extent))

    def read_aoi(self, crs_transformer: Any, extent: Any) -> Any:
        """The scene's AOI polygons in pixel coordinates (through the ``read_aoi`` hook), or None without AOI
        files; a ConfigError when no installed plugin reads them."""
        if not self.aoi_uris:
            return None
        from rv.plugins import get_plugin_manager

        aoi_polygons = get_plugin_manager().hook.read_aoi(
            uris=list(self.aoi_uris), crs_transformer=crs_transformer, extent=extent
        )
        if aoi_polygons is None:
            raise ConfigError(
                f"Scene {self.id!r} has AOI file(s) {list(self.aoi_uris)} but no installed plugin reads them: "
                "AOIs are GeoJSON, read by rv-geojson (pip install rv-geojson)."
            )
        return aoi_polygons


class SceneConfigBuilder(ConfigBuilder):
    """Builder of :class:`SceneConfig`."""

    config_class = SceneConfig

    def with_id(self, scene_id: str) -> SceneConfigBuilder:
        return self._with(id=str(scene_id))

    def with_task(self, task) -> SceneConfigBuilder:
        """The task (used to pick default label sources and stores by URI)."""
        return self._with_context(task=task)

    def _task_type(self, what: str) -> str:
        task = self.context.get("task")
        if task is None:
            raise ConfigError(
                f"with_{what}(uri) picks a {what.replace('_', ' ')} by task: call .with_task(task) first, "
                f"or pass a {what.replace('_', ' ')} config."
            )
        return task.key

    def with_raster_source(self, source, channel_order=None) -> SceneConfigBuilder:
        """A raster source config/builder, or a URI (picked by the default_raster_source hook)."""
        if isinstance(source, str):
            from rv.plugins import get_plugin_manager

            builder = get_plugin_manager().hook.default_raster_source(uri=source)
            if builder is None:
                from rv.file_utils import directory_given_as_file

                message = directory_given_as_file(source)
                if message:
                    raise ConfigError(message)
                raise ConfigError(
                    f"No raster source handles {source!r}: use a .tif/.png/.jpg or pass a raster source config."
                )
            source = builder
        if isinstance(source, ConfigBuilder):
            if channel_order is not None:
                source = cast(RasterSourceConfigBuilder, source).with_channel_order(channel_order)
            source = source.build()
        elif channel_order is not None:
            source = attrs.evolve(source, channel_order=tuple(channel_order))
        return self._with(raster_source=source)

    def with_label_source(self, source) -> SceneConfigBuilder:
        """A label source config/builder, or a URI (picked by task and URI)."""
        if isinstance(source, str):
            from rv.plugins import get_plugin_manager

            task_type = self._task_type("label_source")
            builder = get_plugin_manager().hook.default_label_source(task_type=task_type, uri=source)
            if builder is None:
                raise ConfigError(
                    f"No label source handles {source!r} for {task_type}: use a .geojson (rv-geojson) or a "
                    f".tif class raster, or pass a label source config."
                )
            source = builder
        if isinstance(source, ConfigBuilder):
            source = source.build()
        return self._with(label_source=source)

    def with_label_store(self, store=None) -> SceneConfigBuilder:
        """A label store config/builder, a URI, or nothing for the task's default store."""
        if store is None or isinstance(store, str):
            from rv.plugins import get_plugin_manager

            task_type = self._task_type("label_store")
            builder = get_plugin_manager().hook.default_label_store(task_type=task_type)
            if builder is None:
                raise ConfigError(f"No default label store for {task_type}; pass a label store config.")
            if isinstance(store, str):
                builder = builder.with_uri(store)
            store = builder
        if isinstance(store, ConfigBuilder):
            store = store.build()
        return self._with(label_store=store)

    def clear_label_source(self) -> SceneConfigBuilder:
        """Remove the label source: the scene has no ground truth (a scene that is only predicted)."""
        return self._with(label_source=None)

    def clear_label_store(self) -> SceneConfigBuilder:
        """Remove the label store: predictions go to the task's default store at the default URI."""
        return self._with(label_store=None)

    def with_aoi_uri(self, uri: str) -> SceneConfigBuilder:
        return self._with(aoi_uris=(uri,))

    def with_aoi_uris(self, uris) -> SceneConfigBuilder:
        return self._with(aoi_uris=tuple(uris))


SceneConfig.builder_class = SceneConfigBuilder
