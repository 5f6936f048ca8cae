"""MAJORITY_CLASS_BASELINE: a torch-free segmentation backend that predicts the most frequent training class.

A legacy plugin *module* (``register_plugin``), put on ``PYTHONPATH`` and named
in ``PLUGINS_MODULES`` by the tests (the pattern of ``tests/aws/conftest.py``),
so a whole experiment runs ANALYZE → BUNDLE in seconds and ``rv predict``
loads its bundle (``load_model`` gets the bundle's folder).
"""
import json
import os

import attrs
import numpy as np

import rv
from rv import file_utils
from rv.backend.backend import Backend
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder

MODEL = "model.pth"


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
        file_utils.write_text(file_utils.join(train_uri, MODEL), json.dumps({"class_id": int(counts.argmax())}))

    def bundle_files(self, train_uri):
        return {MODEL: file_utils.join(train_uri, MODEL)}

    def load_model(self, model_uri, tmp_dir):
        if os.path.isdir(model_uri):  # a bundle's folder
            model_uri = os.path.join(model_uri, MODEL)
        self.class_id = json.loads(file_utils.read_text(model_uri))["class_id"]

    def predict_scene(self, scene, tmp_dir):
        from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

        extent = scene.extent
        labels = SemanticSegmentationLabels.from_array(
            np.full((int(extent.ymax), int(extent.xmax)), self.class_id, dtype=np.uint8))
        if scene.label_store is not None:
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
