"""Task parts of training: losses, confusion-matrix metrics and AP50."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rv.errors import ConfigError
from rv_pytorch.metrics import confusion_matrix, confusion_metrics, predicted_class
from rv_pytorch.tasks import ChipClassificationTask, SemanticSegmentationTask
from rv_pytorch.tasks.object_detection import average_precision
from rv_pytorch.tasks.semantic_segmentation import lovasz_softmax_loss, soft_dice_loss


def test_confusion_metrics_by_hand():
    target = torch.tensor([0, 0, 0, 1, 1, 255, 2])
    pred = torch.tensor([0, 0, 1, 1, 0, 1, 2])
    matrix = confusion_matrix(pred, target, 3)
    assert matrix.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]  # the 255 pixel is skipped
    m = confusion_metrics(matrix, ["bg", "building", "road"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_building"] == pytest.approx(1 / 2) and m["recall_building"] == pytest.approx(1 / 2)
    assert m["iou_bg"] == pytest.approx(2 / 4) and m["iou_building"] == pytest.approx(1 / 3)
    assert m["f1_road"] == 1.0
    assert m["mIoU"] == pytest.approx((0.5 + 1 / 3 + 1) / 3)


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
    assert float(plain) == pytest.approx(float(SemanticSegmentationTask(["a", "b"], loss=name).criterion(
        torch.zeros(1, 2, 2, 2), labels)), abs=1e-5)
    weighted = SemanticSegmentationTask(["a", "b"], class_weights=[1.0, 3.0], loss=name)
    wrong_on_b = torch.zeros(1, 2, 2, 2)
    wrong_on_b[0, 0] = 2.0  # predicts class a everywhere
    assert float(weighted.criterion(wrong_on_b, labels)) > float(
        SemanticSegmentationTask(["a", "b"], loss=name).criterion(wrong_on_b, labels))


def test_task_options_are_checked():
    with pytest.raises(ConfigError, match="2 classes"):
        SemanticSegmentationTask(["a", "b"], class_weights=[1.0])
    with pytest.raises(ConfigError, match="loss"):
        SemanticSegmentationTask(["a", "b"], loss="focal")
    with pytest.raises(ConfigError, match="3 classes"):
        ChipClassificationTask(["a", "b", "c"], class_weights=[1.0, 2.0])


def _dets(boxes, scores, classes=None):
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    classes = torch.zeros(len(boxes), dtype=torch.int64) if classes is None else torch.tensor(classes)
    return {"boxes": boxes, "scores": torch.tensor(scores, dtype=torch.float32), "class_ids": classes}


def test_average_precision_by_hand():
    truth = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "class_ids": torch.tensor([0, 0])}]
    # Both found, best scores first: AP 1.
    assert average_precision([_dets([[0, 0, 10, 10], [20, 20, 30, 31]], [0.9, 0.8])], truth, 0) == 1.0
    # A false positive ranked first, then both hits: precision 1/2 at recall 0.5 and
    # 2/3 at recall 1; the interpolated (envelope) precision is 2/3 at both recalls.
    found = _dets([[50, 50, 60, 60], [0, 0, 10, 10], [20, 20, 30, 30]], [0.95, 0.9, 0.8])
    assert average_precision([found], truth, 0) == pytest.approx(2 / 3)
    # A miss ranked between the hits: precision 1 at recall 0.5, 2/3 at recall 1.
    found = _dets([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], [0.95, 0.9, 0.8])
    assert average_precision([found], truth, 0) == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))
    # A duplicate of a matched box is a false positive; IoU below 0.5 misses.
    duplicate = _dets([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8])
    assert average_precision([duplicate], truth, 0) == pytest.approx(0.5)
    assert average_precision([_dets([[0, 0, 10, 4]], [0.9])], truth, 0) == 0.0
    # Another class's boxes do not count; a class without ground truth has no AP.
    assert average_precision([_dets([[0, 0, 10, 10]], [0.9], [1])], truth, 0) == 0.0
    assert average_precision([_dets([], [])], truth, 1) is None
