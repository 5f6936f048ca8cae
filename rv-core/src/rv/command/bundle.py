"""BUNDLE: one model-bundle.zip with the weights, the configs prediction needs and the stats.

Layout of the zip::

    manifest.json        format version, rv and plugin versions, task, classes,
                         bands and channel order, dtype, chip size, the label
                         store settings predictions are written with
                         (read through rv.predictor.upgrade_manifest, which
                         lifts the manifests of older formats)
    bundle-config.json   the BUNDLE command config (task, backend, template
                         scene: raster source, transformers, and the label
                         store of the experiment's predicted scenes, URI left out)
    stats.json           when the raster source uses the stats transformer
    <backend files>      the weights (rv-pytorch: model.safetensors) and whatever else the backend lists
"""

from __future__ import annotations

import json
import os
import zipfile

from rv import file_utils

#: format of manifest.json. 2: ``channel_order`` is always the list of bands the
#: model was trained on (format 1 wrote null when the scenes read every band).
#: 3: ``label_store`` records the experiment's label store (its type and
#: options, no URI; null: the task's default store), which the template scene
#: of bundle-config.json holds, so ``rv predict`` writes what PREDICT writes
#: (older bundles predict with the task's default store, as before).
#: A change of format adds a step to ``rv.predictor.MANIFEST_UPGRADES``.
BUNDLE_FORMAT_VERSION = 3


def label_store_settings(store) -> dict | None:
    """The manifest's record of a label store config: its type tag and options, without the URI."""
    from rv.serialization import unstructure

    if store is None:
        return None
    settings = unstructure(store)
    settings.pop("uri", None)
    return settings


def bundle_manifest(config, raster_source=None) -> dict:
    """What a bundle promises about its input and what it was made with."""
    import rv
    from rv.plugins import get_plugin_manager
    from rv.serialization import required_plugins

    rs = config.scene.raster_source
    manifest = {
        "format_version": BUNDLE_FORMAT_VERSION,
        "rv_version": rv.__version__,
        "plugins": required_plugins(config, get_plugin_manager()),
        "task": config.task.key,
        "backend": config.backend.key,
        "classes": [{"id": c.id, "name": c.name, "color": c.color} for c in config.task.classes],
        "chip_size": config.task.chip_size,
        "channel_order": list(rs.channel_order) if rs.channel_order is not None else None,
        "transformers": [t.key for t in rs.transformers],
        "label_store": label_store_settings(config.scene.label_store),
    }
    if raster_source is not None:
        manifest["channel_order"] = [int(c) for c in raster_source.channel_order]
        manifest["num_bands"] = int(raster_source.num_bands)
        manifest["num_channels"] = int(raster_source.num_channels)
        manifest["dtype"] = str(raster_source.raw_dtype)
    return manifest


def run_bundle(config, tmp_dir: str) -> None:
    from rv.serialization import config_to_json

    backend = config.backend.create(config.task, tmp_dir)
    rs_config = config.scene.raster_source
    import attrs

    raster_source = attrs.evolve(rs_config, transformers=()).create(tmp_dir)
    manifest = bundle_manifest(config, raster_source)
    zip_path = os.path.join(tmp_dir, "model-bundle.zip")
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        zf.writestr("bundle-config.json", config_to_json(config))
        if config.stats_uri:
            zf.write(file_utils.download_if_needed(config.stats_uri, tmp_dir), "stats.json")
        for name, uri in backend.bundle_files(config.backend.training_output_uri).items():
            zf.write(file_utils.download_if_needed(uri, tmp_dir), name)
    # upload() writes atomically: an interrupted run never leaves a zip that looks finished
    file_utils.upload(zip_path, config.task.predict_package_uri)
    print(f"rv: model bundle written to {config.task.predict_package_uri}", flush=True)
