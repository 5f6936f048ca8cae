"""Task parts of training: losses, and validation metrics with EVAL's names and definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rv.core.class_map import ClassMap
from rv.errors import ConfigError
from rv.evaluation.object_detection_evaluation import ObjectDetectionEvaluation
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation
from rv_pytorch.metrics import confusion_matrix, confusion_metrics, predicted_class
from rv_pytorch.tasks import ChipClassificationTask, ObjectDetectionTask, SemanticSegmentationTask
from rv_pytorch.tasks.semantic_segmentation import lovasz_softmax_loss, soft_dice_loss


def test_confusion_metrics_by_hand():
    target = torch.tensor([0, 0, 0, 1, 1, 255, 2])
    pred = torch.tensor([0, 0, 1, 1, 0, 1, 2])
    matrix = confusion_matrix(pred, target, 3)
    assert matrix.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]  # the 255 pixel is skipped
    m = confusion_metrics(matrix, ["bg", "building", "road"], SemanticSegmentationEvaluation)
    assert m["precision_building"] == pytest.approx(1 / 2) and m["recall_building"] == pytest.approx(1 / 2)
    assert m["iou_bg"] == pytest.approx(2 / 4) and m["iou_building"] == pytest.approx(1 / 3)
    assert m["f1_road"] == 1.0
    assert m["miou"] == pytest.approx((0.5 + 1 / 3 + 1) / 3)
    # Overall scores are weighted by ground-truth count (3, 2, 1): recall is the pixel accuracy.
    assert m["recall"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx((3 * 2 / 3 + 2 * 1 / 2 + 1 * 1) / 6)


def test_predicted_class_is_argmax_over_classes_first_on_ties():
    g = torch.Generator().manual_seed(0)
    for shape in [(4, 2, 16, 16), (4, 6, 8, 8), (5, 3)]:
        logits = torch.randn(shape, generator=g)
        assert torch.equal(predicted_class(logits), logits.argmax(dim=1))
    tied = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    assert predicted_class(tied).tolist() == [1, 0]
    channels_last = torch.randn(2, 4, 8, 8, generator=g).contiguous(memory_format=torch.channels_last)
    assert torch.equal(predicted_class(channels_last), channels_last.argmax(dim=1))


def _perfect_logits(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(labels.clamp(max=num_classes - 1), num_classes).permute(0, 3, 1, 2).float() * 40


@pytest.mark.parametrize("loss", [lovasz_softmax_loss, soft_dice_loss])
def test_overlap_losses_are_zero_when_right_and_high_when_wrong(loss):
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (2, 12, 12))
    labels[0, :3] = 255  # ignored: anything may be predicted there
    right = _perfect_logits(labels, 3)
    right[0, :, :3] = torch.randn(3, 3, 12) * 40
    assert float(loss(right, labels)) < 1e-3
    assert float(loss(-right, labels)) > 0.9
    logits = torch.zeros(2, 3, 12, 12, requires_grad=True)
    loss(logits, labels).backward()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["ce", "ce+dice", "ce+lovasz"])
def test_segmentation_losses_ignore_255_and_use_class_weights(name):
    labels = torch.tensor([[[0, 1], [255, 1]]])
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 0, 1, 0] = 100.0  # a confident guess on the ignored pixel costs nothing
    plain = SemanticSegmentationTask(["a", "b"], loss=name).criterion(logits, labels)
    assert float(plain) == pytest.approx(
        float(SemanticSegmentationTask(["a", "b"], loss=name).criterion(torch.zeros(1, 2, 2, 2), labels)), abs=1e-5
    )
    weighted = SemanticSegmentationTask(["a", "b"], class_weights=[1.0, 3.0], loss=name)
    wrong_on_b = torch.zeros(1, 2, 2, 2)
    wrong_on_b[0, 0] = 2.0  # predicts class a everywhere
    assert float(weighted.criterion(wrong_on_b, labels)) > float(
        SemanticSegmentationTask(["a", "b"], loss=name).criterion(wrong_on_b, labels)
    )


def test_task_options_are_checked():
    with pytest.raises(ConfigError, match="2 classes"):
        SemanticSegmentationTask(["a", "b"], class_weights=[1.0])
    with pytest.raises(ConfigError, match="loss"):
        SemanticSegmentationTask(["a", "b"], loss="focal")
    with pytest.raises(ConfigError, match="3 classes"):
        ChipClassificationTask(["a", "b", "c"], class_weights=[1.0, 2.0])


class _Fixed(nn.Module):
    """A "model" that answers the same output whatever it is given."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, images, targets=None):
        return self.output


def _eval_json_scores(evaluation) -> dict[str, float]:
    """The float scores of an evaluation's eval.json entry, named as a user reads them: overall keys, and
    ``<key>_<class name>`` for the class rows."""
    data = evaluation.to_dict()
    out = {k: v for k, v in data["overall"].items() if isinstance(v, float) and k != "score_threshold"}
    for row in data["classes"]:
        out.update({f"{k}_{row['class_name']}": v for k, v in row.items() if isinstance(v, float)})
    return out


def test_segmentation_validation_scores_what_eval_scores_on_the_same_pixels():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 16, 16, generator=g)
    labels = torch.randint(0, 3, (2, 16, 16), generator=g)
    labels[0, :4] = 255  # nodata or unlabelled: scored by neither
    task = SemanticSegmentationTask(["background", "building", "road"])
    evaluator = task.evaluator()
    evaluator.update(_Fixed(logits), {"image": torch.zeros(2, 3, 16, 16), "labels": labels})
    logged = evaluator.compute()

    evaluation = SemanticSegmentationEvaluation(ClassMap.from_spec({"background": 0, "building": 1, "road": 2}))
    evaluation.update(labels.numpy(), logits.argmax(dim=1).numpy())
    assert task.monitor == "miou" and set(logged) == set(_eval_json_scores(evaluation))
    assert logged == pytest.approx(_eval_json_scores(evaluation), abs=1e-12)


def _dets(boxes, scores, classes=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    classes = torch.zeros(len(boxes), dtype=torch.int64) if classes is None else torch.tensor(classes)
    return {"boxes": boxes, "scores": torch.tensor(scores, dtype=torch.float32), "class_ids": classes}


def _detection_scores(found, truth_boxes, truth_classes=(0, 0)):
    evaluator = ObjectDetectionTask(["tree", "bush"]).evaluator()
    batch = {
        "image": torch.zeros(1, 3, 64, 64),
        "boxes": [torch.tensor(truth_boxes, dtype=torch.float32)],
        "class_ids": [torch.tensor(truth_classes)],
    }
    evaluator.update(_Fixed([found]), batch)
    return evaluator.compute()


def test_detection_validation_scores_coco_ap_as_eval_does():
    truth = [[0.0, 0, 10, 10], [20, 20, 30, 30]]
    # Both found, best scores first: AP 1.
    assert _detection_scores(_dets([[0, 0, 10, 10], [20, 20, 30, 31]], [0.9, 0.8]), truth)["ap50_tree"] == 1.0
    # A false positive ranked first, then both hits: the precision envelope is 2/3 at every recall.
    found = _dets([[50, 50, 60, 60], [0, 0, 10, 10], [20, 20, 30, 30]], [0.95, 0.9, 0.8])
    scores = _detection_scores(found, truth)
    assert scores["ap50_tree"] == pytest.approx(2 / 3) and scores["precision_tree"] == pytest.approx(2 / 3)
    # A duplicate of a matched box is a false positive: recall stops at 0.5, 51 of COCO's 101 recall points.
    assert _detection_scores(_dets([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8]), truth)["ap50"] == pytest.approx(
        51 / 101
    )
    # Another class's boxes do not count; a class without ground truth is left out of the mean (as in eval.json).
    scores = _detection_scores(_dets([[0, 0, 10, 10]], [0.9], [1]), truth)
    assert scores["ap50_tree"] == 0.0 and scores["ap50_bush"] == 0.0 and scores["ap50"] == 0.0

    expected = ObjectDetectionEvaluation(ClassMap.from_spec({"tree": 0, "bush": 1}))
    expected.update(
        np.array(truth), [0, 0], found["boxes"].numpy(), found["class_ids"].numpy(), found["scores"].numpy()
    )
    assert _detection_scores(found, truth) == pytest.approx(_eval_json_scores(expected), abs=1e-12)
