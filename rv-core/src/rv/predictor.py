"""rv.Predictor: predict on new imagery with a model bundle."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import attrs

from rv import file_utils
from rv.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rv.backend.backend import Backend
    from rv.command.command_config import BundleCommandConfig


def _manifest_1_to_2(manifest: dict) -> dict:
    """Format 1 wrote ``channel_order: null`` when the scenes read every band; format 2 names the bands."""
    if manifest.get("channel_order") is None and manifest.get("num_channels") is not None:
        manifest["channel_order"] = list(range(int(manifest["num_channels"])))
    return manifest


def _manifest_2_to_3(manifest: dict) -> dict:
    """Format 2 recorded no label store: such bundles predict with the task's default store."""
    manifest.setdefault("label_store", None)
    return manifest


#: ``{n: step}``: each step lifts a manifest of format ``n`` to format ``n + 1``
MANIFEST_UPGRADES = {1: _manifest_1_to_2, 2: _manifest_2_to_3}


def upgrade_manifest(manifest: dict, source: str) -> dict:
    """Lift a manifest of an older bundle format to the current one (a copy; the input is left alone).

    A manifest without ``format_version`` is of format 1. A format newer than
    this rv reads is refused with what to do.
    """
    from rv.command.bundle import BUNDLE_FORMAT_VERSION

    try:
        version = int(manifest.get("format_version", 1))
    except (TypeError, ValueError):
        raise DataError(
            f"{source} has the format version {manifest.get('format_version')!r}, not a number: the manifest.json "
            "of the bundle is damaged; bundle the model again."
        ) from None
    if version > BUNDLE_FORMAT_VERSION:
        raise ConfigError(
            f"{source} is a bundle of format {version}, newer than this rv reads ({BUNDLE_FORMAT_VERSION}): upgrade rv."
        )
    if version < 1:
        raise DataError(
            f"{source} has the format version {version}; bundle formats start at 1. Bundle the model again."
        )
    manifest = dict(manifest)
    while version < BUNDLE_FORMAT_VERSION:
        manifest = MANIFEST_UPGRADES[version](manifest)
        version += 1
    manifest["format_version"] = version
    return manifest


def _image_stem(image_uri: str) -> str:
    """The name of an image without its folder and extension (``a/kampala_b.tif`` → ``kampala_b``)."""
    return os.path.splitext(os.path.basename(str(image_uri).rstrip("/")))[0] or "scene"


class Predictor:
    """Load a model bundle and predict on images, georeferenced in and out.

    Predictions are written with the experiment's label store as the bundle
    records it (class GeoTIFF plus polygons, scores or colors; boxes or cells
    as GeoJSON), so a file written here holds what PREDICT wrote for the same
    image. Bundles older than format 3 use the task's default store.

    Args:
        bundle_uri: ``model-bundle.zip`` (local, http(s), s3).
        tmp_dir: where the bundle is unpacked (default: a new temporary directory).
        update_stats: recompute the statistics on each image instead of using the bundle's.
        channel_order: bands of the new image to use (default: the bundle's).
    """

    def __init__(self, bundle_uri: str, tmp_dir: str | None = None, update_stats: bool = False, channel_order=None):
        self.bundle_uri = str(bundle_uri)
        self._tmp = None
        if tmp_dir is None:
            from rv.settings import tmp_dir as default_tmp

            self._tmp = tempfile.TemporaryDirectory(prefix="rv-predictor-", dir=default_tmp())
            tmp_dir = self._tmp.name
        self.tmp_dir = str(tmp_dir)
        self.update_stats = update_stats
        self.channel_order = None if channel_order is None else tuple(int(c) for c in channel_order)
        self.bundle_dir = os.path.join(self.tmp_dir, "bundle")
        self.backend: Backend | None = None
        self.config: BundleCommandConfig
        self._unpack()

    def _unpack(self) -> None:
        from rv.bundle_archive import extract_bundle
        from rv.command.command_config import BundleCommandConfig
        from rv.serialization import config_from_json

        local = file_utils.download_if_needed(self.bundle_uri, self.tmp_dir)
        # Entries, total size and the manifest are checked before anything is written or read.
        self.manifest = extract_bundle(
            local, self.bundle_dir, self.bundle_uri, check_manifest=lambda m: upgrade_manifest(m, self.bundle_uri)
        )
        with open(os.path.join(self.bundle_dir, "bundle-config.json")) as f:
            self.config = config_from_json(
                f.read(), BundleCommandConfig, source=f"{self.bundle_uri}:bundle-config.json"
            )

    def load_model(self) -> None:
        """Create the backend and load the bundled weights (done on first predict otherwise)."""
        if self.backend is None:
            self.backend = self.config.backend.create(self.config.task, self.tmp_dir)
            self.backend.load_model(self.bundle_dir, self.tmp_dir)

    def scene_config(self, image_uri: str, label_uri: str | None) -> Any:
        """The scene config that predicting ``image_uri`` uses (what --export-config writes)."""
        template = self.config.scene.raster_source
        changes = self._image_changes(image_uri)
        if self.channel_order is not None:
            changes["channel_order"] = self.channel_order
        stats_uri = os.path.join(self.bundle_dir, "stats.json")
        if self.update_stats:
            stats_uri = self._compute_stats(attrs.evolve(template, transformers=(), **changes))
        changes["transformers"] = tuple(
            attrs.evolve(t, stats_uri=stats_uri) if t.needs_stats() else t  # type: ignore[call-arg]  # a stats transformer
            for t in template.transformers
        )
        raster_source = attrs.evolve(template, **changes)
        store = self.label_store_config()
        if label_uri is not None:
            store = attrs.evolve(store, uri=label_uri)
        return attrs.evolve(
            self.config.scene,
            id=_image_stem(image_uri),
            raster_source=raster_source,
            label_source=None,
            label_store=store,
            aoi_uris=(),
        )

    def label_store_config(self) -> Any:
        """The label store config predictions are written with, without a URI: the experiment's (bundles
        of format 3 record it: polygons, scores, RGB as PREDICT wrote them), else the task's default store."""
        from rv.plugins import get_plugin_manager

        store = self.config.scene.label_store if self.config.scene is not None else None
        if store is not None:
            return attrs.evolve(store, uri=None)
        task_type = self.config.task.key
        builder = get_plugin_manager().hook.default_label_store(task_type=task_type)
        if builder is None:
            raise ConfigError(f"No label store is installed for {task_type}; install the plugin providing it.")
        return builder.build()

    def output_uri(self, image_uri: str, output_dir: str) -> str:
        """Where :meth:`predict_images` writes the predictions of ``image_uri``: ``<output_dir>/<image name>``
        with the label store's extension (``.tif`` for segmentation, ``.geojson`` for boxes and cells)."""
        return file_utils.join(output_dir, _image_stem(image_uri) + self.label_store_config().extension)

    def predict_images(self, image_uris, output_dir: str, config_dir: str | None = None) -> dict[str, str]:
        """Predict on several images with one loaded model: each image's predictions go to
        ``output_dir`` under its own name (:meth:`output_uri`), with whatever else the label store
        writes beside them (polygons, scores). ``config_dir`` also gets each image's prediction config
        (``<image name>.json``). Every image is checked against the bundle's input contract before
        the first is predicted. Returns ``{image URI: output URI}``.

        Raises:
            ConfigError: two images share a name (their predictions would overwrite each other).
            DataError: an image does not fit the bundle's input contract.
        """
        image_uris = [str(u) for u in image_uris]
        outputs = {u: self.output_uri(u, output_dir) for u in image_uris}
        by_output: dict[str, str] = {}
        for image_uri, out in outputs.items():
            if out in by_output:
                raise ConfigError(
                    f"The images {by_output[out]} and {image_uri} have the same name, so both predictions "
                    f"would be written to {out}. Predict them in separate calls with different output folders."
                )
            by_output[out] = image_uri
        for image_uri in image_uris:  # a wrong band count fails before any model work
            self.check_image(image_uri)
        for image_uri, out in outputs.items():
            config_uri = file_utils.join(config_dir, _image_stem(image_uri) + ".json") if config_dir else None
            self.predict(image_uri, out, config_uri=config_uri)
        return outputs

    def _compute_stats(self, rs_config) -> str:
        from rv.analyzer.stats_analyzer import StatsAnalyzer

        stats = StatsAnalyzer(sample_prob=1.0).process([rs_config.create(self.tmp_dir)])
        path = os.path.join(self.tmp_dir, "image-stats.json")
        stats.save(path)
        return path

    def _image_changes(self, image_uri: str) -> dict[str, Any]:
        """The fields of the bundle's raster source config that point it at ``image_uri``."""
        fields = attrs.fields_dict(type(self.config.scene.raster_source))
        if "uris" in fields:
            return {"uris": (image_uri,)}
        if "uri" in fields:
            return {"uri": image_uri}
        return {}

    def check_image(self, image_uri: str) -> None:
        """Refuse ``image_uri`` when it does not fit the bundle's input contract (band count, channel
        order, dtype), saying what the bundle expects and what the image has. Reads the raster's
        metadata only, no pixels, and loads no model."""
        template = self.config.scene.raster_source
        # Every band, no transformers: the band count comes from the file, whatever the channel order.
        raw = attrs.evolve(template, transformers=(), channel_order=None, **self._image_changes(image_uri))
        self._check_contract(raw.create(self.tmp_dir), image_uri)

    def _check_contract(self, raster_source, image_uri: str) -> None:
        """``raster_source``: the image with every band and no transformers (see :meth:`check_image`)."""
        m = self.manifest
        want_channels = m.get("num_channels")
        trained_order = m.get("channel_order")
        trained = (
            f"channel order {list(trained_order) if trained_order is not None else 'all bands'} of a "
            f"{m.get('num_bands', '?')}-band {m.get('dtype', '?')} image"
        )
        if self.channel_order is not None:
            order, whose = list(self.channel_order), "the channel order asked for (--channel-order)"
        else:
            template_order = self.config.scene.raster_source.channel_order
            order = None if template_order is None else [int(c) for c in template_order]
            whose = "the bundle's channel order"
        num_bands = int(raster_source.num_bands)
        if order is not None:
            bad = [c for c in order if not 0 <= c < num_bands]
            if bad:
                expects = f"{want_channels} band(s)" if want_channels is not None else f"{len(order)} band(s)"
                raise DataError(
                    f"The bundle {self.bundle_uri}'s model expects {expects} ({trained}); the raster {image_uri} "
                    f"has {num_bands} band(s) (indices 0-{num_bands - 1}), so index {bad[0]} of {whose} {order} is "
                    f"out of range. Pass --channel-order with {expects.split(' ')[0]} band indices from 0 to "
                    f"{num_bands - 1} (0-based)."
                )
            channels = len(order)
        else:
            channels = int(raster_source.num_channels)
            order = list(raster_source.channel_order)
        if want_channels is not None and channels != want_channels:
            raise DataError(
                f"{image_uri} gives {channels} channel(s) (bands {order} of its {num_bands}), but "
                f"the bundle {self.bundle_uri} expects {want_channels} ({trained}). "
                f"Pass --channel-order to pick {want_channels} bands."
            )
        dtype = m.get("dtype")
        if dtype and str(raster_source.raw_dtype) != dtype and not m.get("transformers"):
            raise DataError(
                f"{image_uri} is {raster_source.raw_dtype}, but the bundle {self.bundle_uri} was trained on {dtype} "
                f"imagery without a stats transformer; convert the image to {dtype}."
            )

    def predict(self, image_uri: str, label_uri: str | None = None, config_uri: str | None = None):
        """Predict on ``image_uri``; write to ``label_uri`` when given (with the polygons, scores or
        colors the experiment's label store writes beside it); return the labels. The model is
        loaded on the first call and kept for the next ones."""
        from rv.serialization import config_to_json

        # The contract first: before statistics are computed, pixels read or the model loaded.
        self.check_image(image_uri)
        scene_config = self.scene_config(image_uri, label_uri)
        if config_uri:
            file_utils.write_text(config_uri, config_to_json(scene_config))
        scene = scene_config.create(self.config.task, self.tmp_dir, with_labels=False, with_store=label_uri is not None)
        self.load_model()
        labels = self.backend.predict_scene(scene, self.tmp_dir)
        if labels is None and scene.label_store is not None:
            labels = scene.label_store.get_labels()
        return labels
