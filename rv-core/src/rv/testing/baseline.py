"""MAJORITY_CLASS_BASELINE: a torch-free segmentation backend for tests that run whole experiments.

It "trains" by counting the classes of the training chips and predicts the
most frequent one at every pixel. It reads and writes through
:mod:`rv.file_utils` like a real backend, so TRAIN, PREDICT, EVAL and BUNDLE
run on any file system (S3 included) in seconds, and ``rv predict`` loads
its bundle. Tests use it two ways:

- in-process: the fixture ``rv_baseline_backend`` of :mod:`rv.testing`
  registers :data:`PLUGIN` into the test's fresh plugin manager;
- in subprocesses (``rv run``, runners' jobs, QGIS): name this module in
  ``PLUGINS_MODULES`` (:data:`MODULE`), the legacy plugin form a job loads
  from its environment; :func:`rv.testing.use_baseline_backend` sets it.

``RV_TEST_FAIL_TRAIN=1`` makes TRAIN fail on purpose (a runner's handling of
a failed command).
"""

from __future__ import annotations

import json
import os
import textwrap
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from rv import file_utils, keys
from rv.backend.backend import Backend
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
from rv.hookspecs import hookimpl

if TYPE_CHECKING:
    from rv.data.scene import Scene
    from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

#: the backend key
BASELINE_BACKEND = "MAJORITY_CLASS_BASELINE"
#: this module's name, for ``PLUGINS_MODULES``
MODULE = __name__
#: the model file TRAIN writes and the bundle holds
MODEL = "model.pth"
#: set (non-empty) to make TRAIN fail on purpose
FAIL_TRAIN_VARIABLE = "RV_TEST_FAIL_TRAIN"


class MajorityClassBackend(Backend):
    """Predicts the class most frequent in the training chips, everywhere."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.class_id: int | None = None

    def train(self, chip_uri: str, train_uri: str, stats_uri: str | None, tmp_dir: str) -> None:
        from rv.chips import iter_chips

        if os.environ.get(FAIL_TRAIN_VARIABLE):
            raise RuntimeError(f"training failed on purpose ({FAIL_TRAIN_VARIABLE} is set)")
        local = os.path.join(tmp_dir, "chips")
        file_utils.sync_from_dir(chip_uri, local)
        counts = np.zeros(256, dtype=np.int64)
        for chip in iter_chips(local, "train"):
            counts += np.bincount(chip["labels"].ravel(), minlength=256)
        counts[keys.IGNORE_CLASS_ID] = 0  # ignored pixels
        model = {"class_id": int(counts.argmax()), "counts": {str(i): int(c) for i, c in enumerate(counts) if c}}
        file_utils.write_text(file_utils.join(train_uri, MODEL), json.dumps(model))

    def bundle_files(self, train_uri: str) -> dict[str, str]:
        return {MODEL: file_utils.join(train_uri, MODEL)}

    def load_model(self, model_uri: str, tmp_dir: str) -> None:
        if file_utils.is_local(model_uri) and os.path.isdir(model_uri):  # a bundle's folder
            model_uri = os.path.join(model_uri, MODEL)
        self.class_id = json.loads(file_utils.read_text(model_uri))["class_id"]

    def predict_scene(self, scene: Scene, tmp_dir: str) -> SemanticSegmentationLabels:
        from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

        extent = scene.extent
        label_arr = np.full((int(extent.ymax), int(extent.xmax)), self.class_id, dtype=np.uint8)
        labels = SemanticSegmentationLabels.from_array(label_arr)
        if scene.label_store is not None:
            scene.label_store.save(labels)
        return labels


@attrs.frozen
class MajorityClassBackendConfig(BackendConfig):
    """The config of :class:`MajorityClassBackend` (no options)."""

    def create(self, task_config: Any = None, tmp_dir: str | None = None) -> MajorityClassBackend:
        return MajorityClassBackend(task_config or self.task)


class MajorityClassBackendConfigBuilder(BackendConfigBuilder):
    config_class = MajorityClassBackendConfig


class _Plugin:
    """The pluggy form, for a test's plugin manager."""

    @hookimpl
    def register_backends(self, register: Any) -> None:
        register(BASELINE_BACKEND, MajorityClassBackendConfigBuilder)


#: the plugin object ``rv_register_plugin`` takes
PLUGIN = _Plugin()


def register_plugin(plugin_registry: Any) -> None:
    """The legacy form: what ``PLUGINS_MODULES=rv.testing.baseline`` loads in a subprocess."""
    plugin_registry.register_config_builder("backends", BASELINE_BACKEND, MajorityClassBackendConfigBuilder)


#: An experiment file: land-cover segmentation of one image, trained on the baseline by default (``-a backend
#: KEY`` for another, with a small training budget); ``-a root_uri``, ``image_uri`` and ``labels_uri`` are
#: required. The scenes ``tile4-train`` and ``tile4-valid`` share the image, which the tests of runners
#: use with ``examples/data/landcover``; the four classes are that tile's. Options for other tests:
#: ``-a train N`` / ``-a valid N`` (N > 1: scenes ``tile4-train-0`` ... ``tile4-train-{N-1}``, the image
#: under N ids), ``-a aoi_uri URI`` (the training scene's AOI), ``-a vector_output true`` (the validation
#: predictions written as polygons too), ``-a every_window_stats true`` (statistics read from every
#: 100-pixel window rather than a sample of 300-pixel ones: several windows per scene for ANALYZE's parts).
LANDCOVER_EXPERIMENT = textwrap.dedent(
    """
    import rv

    CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"), "water": (4, "blue")}


    class LandCover(rv.ExperimentSet):
        def exp_landcover(
            self, root_uri, image_uri, labels_uri, backend="MAJORITY_CLASS_BASELINE", chip_size: int = 64,
            num_epochs: int = 1, batch_size: int = 4, train: int = 1, valid: int = 1, aoi_uri=None,
            vector_output: bool = False, every_window_stats: bool = False,
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
            train_scenes = scenes.with_aoi_uri(aoi_uri) if aoi_uri else scenes
            valid_scenes = scenes
            if vector_output:
                store = rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_vector_output(True).build()
                valid_scenes = scenes.with_label_store(store)
            dataset = rv.DatasetConfig.builder()
            for i in range(train):
                dataset = dataset.with_train_scene(train_scenes.with_id(_scene_id("tile4-train", i, train)).build())
            for i in range(valid):
                dataset = dataset.with_validation_scene(valid_scenes.with_id(_scene_id("tile4-valid", i, valid)).build())
            stats = {"sample_prob": 1.0, "chip_size": 100} if every_window_stats else {}
            return (
                rv.ExperimentConfig.builder()
                .with_id("landcover")
                .with_task(task)
                .with_backend(backend)
                .with_dataset(dataset.build())
                .with_root_uri(root_uri)
                .with_stats_analyzer(**stats)
                .build()
            )


    def _scene_id(name, i, count):
        return name if count == 1 else f"{name}-{i}"


    if __name__ == "__main__":
        rv.main()
    """
)
