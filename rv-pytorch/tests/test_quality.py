"""The product quality bar, from scratch on 2 CPU cores (slow: minutes each).

- Segmentation: RESNET18 defaults trained on Kampala A, evaluated on the whole
  of Kampala B: building F1 >= 0.80, building IoU >= 0.68, mIoU >= 0.60
  (B is 59 % building: "all building" scores F1 0.744, IoU 0.59, mIoU 0.30).
- Detection: FCOS on NEON trees, trained on the left 70 % of the scene,
  AP50 >= 0.25 on the right 30 %.
- Chip classification: building cells of Kampala B beat the majority answer
  by 10 points of accuracy and of macro F1.

Run with ``pytest -m slow rv-pytorch/tests/test_quality.py``.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest
import torch
from rvpt_data import BUILDING_CLASSES, NEON, grid, neon_boxes, neon_detection_chips, read_scene, write_chip_dir

from rv.core.class_map import ClassMap
from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation
from rv.evaluation.object_detection_evaluation import ObjectDetectionEvaluation
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation
from rv_pytorch.data import ChipDataset, balanced_class_weights, class_counts
from rv_pytorch.metrics import confusion_matrix, confusion_metrics
from rv_pytorch.models import create_classification_model, create_detection_model, create_segmentation_model
from rv_pytorch.predict import predict_chip_classification, predict_object_detection, predict_segmentation
from rv_pytorch.tasks import ChipClassificationTask, ObjectDetectionTask, SemanticSegmentationTask
from rv_pytorch.train import TrainOptions, train

pytestmark = pytest.mark.slow


def defaults(backend_key: str) -> dict:
    doc = json.loads((resources.files("rv_pytorch") / "model_defaults.json").read_text())
    return doc["RESNET18"][backend_key]


def train_options(d: dict, seed: int = 0) -> TrainOptions:
    names = ("batch_size", "num_epochs", "num_steps", "lr", "weight_decay", "schedule", "warmup_fraction", "grad_clip")
    return TrainOptions(seed=seed, tensorboard=False, **{k: d[k] for k in names if k in d})


def in_memory_reader(image: np.ndarray, nodata: np.ndarray | None = None):
    def read_window(window):
        ymin, xmin, ymax, xmax = window
        chip = np.zeros((ymax - ymin, xmax - xmin, image.shape[2]), image.dtype)
        mask = np.ones(chip.shape[:2], bool)
        part = image[ymin:ymax, xmin:xmax]
        chip[: part.shape[0], : part.shape[1]] = part
        mask[: part.shape[0], : part.shape[1]] = False if nodata is None else nodata[ymin:ymax, xmin:xmax]
        return chip, mask

    return read_window


def test_building_segmentation_reaches_the_bar_on_kampala_b(tmp_path, kampala_a, kampala_b):
    d = defaults("PYTORCH_SEMANTIC_SEGMENTATION")
    image_a, labels_a = kampala_a
    image_b, labels_b = kampala_b
    size = 256

    def chip(image, labels, y, x):
        return {
            "image": image[y : y + size, x : x + size],
            "mask": np.zeros((size, size), bool),
            "labels": labels[y : y + size, x : x + size],
        }

    # 256 px chips every 128 px over A (77 chips); B's four quarters validate each epoch.
    train_chips = [chip(image_a, labels_a, y, x) for y, x in grid(1024, 1536, size, size // 2)]
    valid_chips = [chip(image_b, labels_b, y, x) for y, x in grid(512, 512, size, size)]
    chip_dir = write_chip_dir(
        tmp_path / "chips",
        "SEMANTIC_SEGMENTATION",
        BUILDING_CLASSES,
        {"train": train_chips, "valid": valid_chips},
        size,
    )
    train_set = ChipDataset(chip_dir, "train", augment=d["augmentation"], cache=True)
    weights = balanced_class_weights(class_counts(train_set), d["class_balance"])
    task = SemanticSegmentationTask(["background", "building"], class_weights=weights, loss=d["loss"])
    torch.manual_seed(0)
    model = create_segmentation_model(d["encoder"], 2, decoder_channels=d["decoder_channels"], fine=d["fine"])
    train(model, task, train_set, ChipDataset(chip_dir, "valid"), tmp_path / "train", train_options(d))

    predicted = np.full(labels_b.shape, 77, np.uint8)

    def write(window, class_arr, scores):
        predicted[window[0] : window[2], window[1] : window[3]] = class_arr

    predict_segmentation(
        model,
        in_memory_reader(image_b),
        labels_b.shape,
        write,
        chip_size=size,
        stride=size // 2,
        normalizer=train_set.normalizer,
        tta=d["tta"],
    )
    assert (predicted != 77).all()
    metrics = confusion_metrics(
        confusion_matrix(torch.from_numpy(predicted), torch.from_numpy(labels_b), 2),
        ["background", "building"],
        SemanticSegmentationEvaluation,
    )
    print({k: round(v, 4) for k, v in metrics.items()})
    assert metrics["f1_building"] >= 0.80
    assert metrics["iou_building"] >= 0.68
    assert metrics["miou"] >= 0.60


def test_tree_detection_beats_the_bar_on_held_out_neon(tmp_path):
    d = defaults("PYTORCH_OBJECT_DETECTION")
    image = read_scene(NEON)
    boxes = neon_boxes()
    split = 280  # train left of column 280, evaluate right of it
    train_chips = neon_detection_chips(image, boxes, (0, 0, 400, split), 128, 32)
    chip_dir = write_chip_dir(
        tmp_path / "chips",
        "OBJECT_DETECTION",
        [{"id": 0, "name": "tree", "color": "green"}],
        {"train": train_chips},
        128,
    )
    train_set = ChipDataset(chip_dir, "train", augment=d["augmentation"], cache=True)
    torch.manual_seed(0)
    model = create_detection_model(
        d["encoder"], 1, architecture=d["detector"], fpn_channels=d["fpn_channels"], min_stride=d["min_stride"]
    )
    train(model, ObjectDetectionTask(["tree"]), train_set, None, tmp_path / "train", train_options(d))

    held_out = image[:, split:]
    found = predict_object_detection(
        model,
        in_memory_reader(held_out, (held_out == 255).all(axis=2)),
        held_out.shape[:2],
        chip_size=128,
        stride=64,
        normalizer=train_set.normalizer,
        score_thresh=0.05,
        merge_thresh=0.4,
    )
    # Trees with at least half their box right of the split, clipped to it.
    shifted = boxes - np.array([0, split, 0, split], np.float32)
    clipped = np.clip(shifted, 0, [400, 400 - split, 400, 400 - split])
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    truth = clipped[area(clipped) >= 0.5 * area(shifted)]
    assert len(truth) >= 15
    evaluation = ObjectDetectionEvaluation(ClassMap.from_spec({"tree": 0}))
    evaluation.update(truth, np.zeros(len(truth), np.int64), found["boxes"], found["class_ids"], found["scores"])
    ap = evaluation.overall()["ap50"]  # EVAL's AP50: COCO's 101 recall points
    print({"ap50": ap, "detections": len(found["boxes"]), "trees": len(truth)})
    assert ap >= 0.25


def test_building_cells_beat_the_majority_answer_on_kampala_b(tmp_path, kampala_a, kampala_b):
    d = defaults("PYTORCH_CHIP_CLASSIFICATION")
    size = 32

    def cells(image, labels):
        return [
            {
                "image": image[y : y + size, x : x + size],
                "mask": np.zeros((size, size), bool),
                "class_id": np.int64(labels[y : y + size, x : x + size].mean() >= 0.5),
            }
            for y, x in grid(*labels.shape, size, size)
        ]

    classes = [{"id": 0, "name": "no_building", "color": "black"}, {"id": 1, "name": "building", "color": "red"}]
    chip_dir = write_chip_dir(tmp_path / "chips", "CHIP_CLASSIFICATION", classes, {"train": cells(*kampala_a)}, size)
    train_set = ChipDataset(chip_dir, "train", augment=d["augmentation"], cache=True)
    torch.manual_seed(0)
    model = create_classification_model(d["encoder"], 2)
    train(
        model,
        ChipClassificationTask(["no_building", "building"]),
        train_set,
        None,
        tmp_path / "train",
        train_options(d),
    )

    image_b, labels_b = kampala_b
    found = predict_chip_classification(
        model, in_memory_reader(image_b), labels_b.shape, chip_size=size, normalizer=train_set.normalizer
    )
    truth = np.array([int(labels_b[y0:y1, x0:x1].mean() >= 0.5) for y0, x0, y1, x1 in found["windows"]])
    metrics = confusion_metrics(
        confusion_matrix(torch.from_numpy(found["class_ids"]), torch.from_numpy(truth), 2),
        ["no_building", "building"],
        ChipClassificationEvaluation,
    )
    accuracy = metrics["recall"]  # recall weighted by ground truth
    macro_f1 = (metrics["f1_no_building"] + metrics["f1_building"]) / 2
    majority = max(truth.mean(), 1 - truth.mean())
    majority_macro_f1 = (2 * majority / (1 + majority)) / 2  # one class at F1 2p/(1+p), the other at 0
    print({"accuracy": accuracy, "macro_f1": macro_f1, "majority": majority})
    assert accuracy >= majority + 0.10
    assert macro_f1 >= majority_macro_f1 + 0.10
