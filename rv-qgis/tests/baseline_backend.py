"""The torch-free baselines of rv-qgis's tests: rv's own MAJORITY_CLASS_BASELINE, and one for boxes and cells.

The conftest copies this file onto the ``PYTHONPATH`` of the ``rv`` and QGIS
processes and names it in ``PLUGINS_MODULES`` (a legacy plugin module). It
registers:

- ``MAJORITY_CLASS_BASELINE`` (:mod:`rv.testing.baseline`, segmentation: the
  most frequent training pixel class everywhere);
- ``MAJORITY_CLASS_VECTOR_BASELINE``, the same idea for the tasks whose
  predictions are vectors: for chip classification the most frequent training
  chip class on every cell of a ``chip_size`` grid; for object detection, in
  every ``chip_size`` window, one box of the median training box size at the
  window's centre, of the most frequent box class (score 1). A baseline to
  measure models against, not a detector: the QGIS tests need real bundles and
  real GeoJSON predictions of those tasks in seconds.
"""

import json

import attrs
import numpy as np

from rv import file_utils
from rv.testing.baseline import (  # noqa: F401  (re-exported)
    BASELINE_BACKEND,
    MODEL,
    MajorityClassBackend,
    MajorityClassBackendConfig,
    MajorityClassBackendConfigBuilder,
)
from rv.testing.baseline import register_plugin as register_segmentation_baseline

VECTOR_BASELINE_BACKEND = "MAJORITY_CLASS_VECTOR_BASELINE"


class MajorityClassVectorBackend(MajorityClassBackend):
    """Chip classification and object detection from the training chips' class counts (and box sizes)."""

    def train(self, chip_uri, train_uri, stats_uri, tmp_dir):
        import os

        from rv.chips import iter_chips

        local = os.path.join(tmp_dir, "chips")
        file_utils.sync_from_dir(chip_uri, local)
        counts = np.zeros(256, dtype=np.int64)
        sizes, kind = [], "cells"
        for chip in iter_chips(local, "train"):
            if "class_id" in chip:  # chip classification: a class per chip
                counts[int(chip["class_id"])] += 1
            else:  # object detection: boxes (ymin, xmin, ymax, xmax) and their classes
                kind = "boxes"
                counts += np.bincount(chip["class_ids"], minlength=256)
                boxes = np.asarray(chip["boxes"]).reshape(-1, 4)
                sizes.extend(zip(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))
        model = {"kind": kind, "class_id": int(counts.argmax()), "chip_size": int(self.task.chip_size)}
        if kind == "boxes":
            model["box_size"] = [float(v) for v in np.median(np.asarray(sizes), axis=0)] if sizes else [10.0, 10.0]
        file_utils.write_text(file_utils.join(train_uri, MODEL), json.dumps(model))

    def load_model(self, model_uri, tmp_dir):
        import os

        if file_utils.is_local(model_uri) and os.path.isdir(model_uri):  # a bundle's folder
            model_uri = os.path.join(model_uri, MODEL)
        self.model = json.loads(file_utils.read_text(model_uri))

    def predict_scene(self, scene, tmp_dir):
        from rv.core.box import Box
        from rv.labels.chip_classification_labels import ChipClassificationLabels
        from rv.labels.object_detection_labels import ObjectDetectionLabels

        extent = scene.extent
        class_id = self.model["class_id"]
        windows = Box(0, 0, int(extent.ymax), int(extent.xmax)).get_windows(self.model["chip_size"], padding="shift")
        if self.model["kind"] == "cells":
            labels = ChipClassificationLabels([w.to_tuple() for w in windows], [class_id] * len(windows))
        else:
            h, w = self.model["box_size"]
            boxes = [(cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2) for cy, cx in (win.center for win in windows)]
            labels = ObjectDetectionLabels(boxes, [class_id] * len(boxes), [1.0] * len(boxes))
        if scene.label_store is not None:
            scene.label_store.save(labels)
        return labels


@attrs.frozen
class MajorityClassVectorBackendConfig(MajorityClassBackendConfig):
    def create(self, task_config=None, tmp_dir=None):
        return MajorityClassVectorBackend(task_config or self.task)


class MajorityClassVectorBackendConfigBuilder(MajorityClassBackendConfigBuilder):
    config_class = MajorityClassVectorBackendConfig


def register_plugin(plugin_registry):
    register_segmentation_baseline(plugin_registry)
    plugin_registry.register_config_builder(
        "backends", VECTOR_BASELINE_BACKEND, MajorityClassVectorBackendConfigBuilder
    )
