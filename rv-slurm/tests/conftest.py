"""Fixtures of rv-slurm's tests: a one-node Slurm cluster on loopback and a small torch-free experiment.

The cluster is :func:`rv_slurm.testing.slurm_cluster` (munged, slurmctld and
slurmd started for the session, stopped by their pids). The experiment is the
land-cover segmentation of the Sentinel-2 tile in ``examples/data/landcover``
with MAJORITY_CLASS_BASELINE, a torch-free backend from a legacy plugin
*module* (``PLUGINS_MODULES``) on ``PYTHONPATH``, the pattern of
``tests/aws/conftest.py``: ANALYZE → BUNDLE runs in seconds. The jobs get
``PYTHONPATH`` and ``PLUGINS_MODULES`` through ``#SBATCH --export=ALL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rv_slurm.testing import slurm_cluster  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
LANDCOVER = ROOT / "examples" / "data" / "landcover"
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

            if os.environ.get("RV_TEST_FAIL_TRAIN"):
                raise RuntimeError("training failed on purpose (RV_TEST_FAIL_TRAIN is set)")

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
    """No rv or Slurm settings from the developer's shell; the baseline backend as a legacy module.

    The working directory is an empty ``cwd`` folder; ``PYTHONPATH`` holds the
    baseline backend's module so ``rv run`` and the jobs (which inherit the
    environment) find it as an installed module.
    """
    from rv import plugins, settings

    for name in list(os.environ):
        if name.startswith(("RV_", "PLUGINS_", "SLURM_", "SBATCH_")):
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
def experiment_args():
    """``experiment_args(root)``: the ``-a`` options of the land-cover experiment writing under ``root``."""

    def _args(root) -> list[str]:
        return ["-a", "root_uri", str(root), "-a", "image_uri", str(IMAGE), "-a", "labels_uri", str(LABELS)]

    return _args


@pytest.fixture
def run_rv():
    """``run_rv(*args, env=None)``: run the ``rv`` command in a subprocess, as a user would; returns the result."""

    def _run(*args, env=None, timeout=600):
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
