"""Fixtures of the S3 and AWS Batch tests: a moto server, a scene on S3, an experiment file, ``rv`` in a subprocess.

Every test here runs against moto's server on 127.0.0.1 (``rv_aws.testing``):
nothing leaves the machine. The experiment is the land-cover segmentation of
the Sentinel-2 tile in ``examples/data/landcover``, with the tile and its
label raster uploaded to a fresh bucket. The backend is MAJORITY_CLASS_BASELINE,
a torch-free backend from a legacy plugin *module* (``PLUGINS_MODULES``) on
``PYTHONPATH`` (as if installed in the job's image): the whole pipeline runs
in seconds, and a Batch job must carry the legacy plugin to load the same
backend key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv_aws.testing import aws_batch_environment, moto_server, s3_bucket  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "examples" / "data"
LANDCOVER = DATA_DIR / "landcover"
IMAGE = LANDCOVER / "s2_aberystwyth_tile4.tif"
LABELS = LANDCOVER / "s2_aberystwyth_tile4_labels.tif"

BASELINE_MODULE = "rv_test_majority_baseline"
BASELINE_BACKEND = "MAJORITY_CLASS_BASELINE"
#: A torch-free backend in the legacy ``register_plugin`` form: it "trains" by counting the
#: classes of the training chips and predicts the most frequent class everywhere. It reads
#: and writes through rv's file utilities like a real backend, so TRAIN, PREDICT, EVAL and
#: BUNDLE all run on S3.
BASELINE_SOURCE = textwrap.dedent(
    '''
    """MAJORITY_CLASS_BASELINE: predicts the most frequent training class at every pixel."""
    import json
    import os

    import attrs
    import numpy as np

    import rv
    from rv import file_utils
    from rv.backend.backend import Backend
    from rv.backend.backend_config import BackendConfig, BackendConfigBuilder


    class MajorityClassBackend(Backend):
        def __init__(self, task):
            self.task = task
            self.class_id = None

        def train(self, chip_uri, train_uri, stats_uri, tmp_dir):
            from rv.chips import read_chip_dir

            local = os.path.join(tmp_dir, "chips")
            file_utils.sync_from_dir(chip_uri, local)
            counts = np.zeros(256, dtype=np.int64)
            for chip in read_chip_dir(local).iter_chips("train"):
                counts += np.bincount(chip["labels"].ravel(), minlength=256)
            counts[255] = 0  # ignored pixels
            model = {"class_id": int(counts.argmax()), "counts": {str(i): int(c) for i, c in enumerate(counts) if c}}
            file_utils.write_text(file_utils.join(train_uri, "model.pth"), json.dumps(model))

        def load_model(self, model_uri, tmp_dir):
            self.class_id = json.loads(file_utils.read_text(model_uri))["class_id"]

        def predict_scene(self, scene, tmp_dir):
            from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

            extent = scene.extent
            label_arr = np.full((int(extent.ymax), int(extent.xmax)), self.class_id, dtype=np.uint8)
            labels = SemanticSegmentationLabels.from_array(label_arr)
            scene.label_store.save(labels)
            return labels


    @attrs.frozen
    class MajorityClassBackendConfig(BackendConfig):
        def create(self, task_config=None, tmp_dir=None):
            return MajorityClassBackend(task_config or self.task)


    class MajorityClassBackendConfigBuilder(BackendConfigBuilder):
        config_class = MajorityClassBackendConfig


    def register_plugin(plugin_registry):
        plugin_registry.register_config_builder(rv.BACKEND, "MAJORITY_CLASS_BASELINE", MajorityClassBackendConfigBuilder)
    '''
)

#: The land-cover experiment; image, labels, root and backend come from ``-a``.
EXPERIMENT_FILE = textwrap.dedent(
    """
    import rv

    CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"), "water": (4, "blue")}


    class LandCover(rv.ExperimentSet):
        def exp_landcover(
            self, root_uri, image_uri, labels_uri, backend="MAJORITY_CLASS_BASELINE", chip_size: int = 64,
            num_epochs: int = 1, batch_size: int = 4,
        ):
            task = (
                rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
                .with_classes(CLASSES)
                .with_chip_size(chip_size)
                .with_chip_options(window_method="sliding", stride=chip_size)
                .build()
            )
            backend_builder = rv.BackendConfig.builder(backend).with_task(task)
            if backend != "MAJORITY_CLASS_BASELINE":
                # A real backend (rv-pytorch's): a tiny training budget, options named as in Raster Vision.
                backend_builder = backend_builder.with_num_epochs(num_epochs).with_batch_size(batch_size)
            backend = backend_builder.build()
            raster_source = (
                rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE)
                .with_uri(image_uri)
                .with_channel_order([2, 1, 0])
                .with_stats_transformer()
                .build()
            )
            scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(raster_source).with_label_source(labels_uri)
            train = scenes.with_id("tile4-train").build()
            valid = scenes.with_id("tile4-valid").build()
            dataset = rv.DatasetConfig.builder().with_train_scene(train).with_validation_scene(valid).build()
            return (
                rv.ExperimentConfig.builder()
                .with_id("landcover")
                .with_task(task)
                .with_backend(backend)
                .with_dataset(dataset)
                .with_root_uri(root_uri)
                .with_stats_analyzer()
                .build()
            )


    if __name__ == "__main__":
        rv.main()
    """
)


@pytest.fixture(autouse=True)
def clean_rv_environment(tmp_path, monkeypatch):
    """No rv settings from the developer's shell; the baseline backend as a legacy module; a fresh plugin manager.

    The working directory is an empty ``cwd`` folder; ``PYTHONPATH`` holds
    the baseline backend's module so subprocesses (``rv run``, the local runner's
    ``rv run_command``, a simulated Batch job) find it as an image would.
    """
    from rv import plugins, settings

    for name in list(os.environ):
        if name.startswith(("RV_", "PLUGINS_", "AWS_BATCH_")):
            monkeypatch.delenv(name)
    config_dir = tmp_path / "rv-config"
    config_dir.mkdir()
    monkeypatch.setenv("RV_CONFIG_DIR", str(config_dir))
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{BASELINE_MODULE}.py").write_text(BASELINE_SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PLUGINS_MODULES", BASELINE_MODULE)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    settings.reset_settings()
    saved = list(plugins._active)
    plugins._active.clear()
    try:
        yield
    finally:
        plugins._active[:] = saved
        settings.reset_settings()
        settings.set_tmp_dir(None)


@pytest.fixture
def experiment_file(tmp_path) -> Path:
    """The land-cover experiment file."""
    path = tmp_path / "landcover.py"
    path.write_text(EXPERIMENT_FILE, encoding="utf-8")
    return path


@pytest.fixture
def scene_on_s3(moto_server, s3_bucket):
    """The land-cover tile and its label raster uploaded to a fresh bucket: ``(bucket, image_uri, labels_uri)``."""
    s3 = moto_server.client()
    for path in (IMAGE, LABELS):
        s3.upload_file(str(path), s3_bucket, f"scenes/{path.name}")
    return s3_bucket, f"s3://{s3_bucket}/scenes/{IMAGE.name}", f"s3://{s3_bucket}/scenes/{LABELS.name}"


@pytest.fixture
def run_rv(tmp_path):
    """``run_rv(*args, env=None)``: run the ``rv`` command in a subprocess, as a user would; returns the result."""

    def _run(*args, env=None, timeout=300):
        environ = dict(os.environ)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "rv", *map(str, args)],
            capture_output=True,
            text=True,
            env=environ,
            cwd=os.getcwd(),
            timeout=timeout,
        )

    return _run


@pytest.fixture
def legacy_plugin_file(tmp_path):
    """A legacy plugin file (``register_plugin``) that registers a runner key; it only has to load."""
    path = tmp_path / "extra_plugin.py"
    path.write_text(
        "def register_plugin(plugin_registry):\n"
        "    plugin_registry.register_experiment_runner('extra_runner', 'rv.runner.local_runner:LocalRunner')\n",
        encoding="utf-8",
    )
    return path
