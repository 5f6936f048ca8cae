"""The shared training loop on real chips: it learns, checkpoints, resumes and logs."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from rv.errors import ConfigError
from rv_pytorch.data import ChipDataset, collate_chips
from rv_pytorch.models import create_classification_model, create_detection_model, create_segmentation_model
from rv_pytorch.tasks import ChipClassificationTask, ObjectDetectionTask, SemanticSegmentationTask
from rv_pytorch.train import TrainOptions, load_weights, lr_factor, place_model, read_log, train, validate

BUILDING = ["background", "building"]


def options(**kwargs) -> TrainOptions:
    base = dict(batch_size=8, num_epochs=3, lr=2e-3, seed=0, tensorboard=False)
    base.update(kwargs)
    return TrainOptions(**base)


# resnet10t: the smallest timm ResNet keeps these real trainings to seconds.
ENCODER = "resnet10t"


def seg_model(seed: int = 0):
    torch.manual_seed(seed)
    return create_segmentation_model(ENCODER, 2, decoder_channels=64, fine=False)


def test_segmentation_training_learns_buildings(seg_chip_dir, tmp_path):
    train_set = ChipDataset(seg_chip_dir, "train", augment=["flip", "rot90"], cache=True)
    task = SemanticSegmentationTask(BUILDING)
    model = seg_model()
    result = train(model, task, train_set, ChipDataset(seg_chip_dir, "valid"), tmp_path,
                   options(num_epochs=20, lr=5e-3))

    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.7 * losses[0]
    # On the training chips the model beats the trivial "all background" answer.
    plain = DataLoader(ChipDataset(seg_chip_dir, "train"), batch_size=8, collate_fn=collate_chips)
    metrics = validate(model, task, plain, torch.device("cpu"))
    labels = np.concatenate([np.load(p)["labels"].ravel() for p in train_set.paths])
    trivial_miou = (labels == 0).mean() / 2  # background IoU = its share; building IoU = 0
    assert metrics["miou"] > trivial_miou + 0.15
    assert metrics["f1_building"] > 0.5

    # Files a user looks at.
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "training_curves.png").stat().st_size > 10_000
    rows = read_log(tmp_path / "log.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 21))
    assert {"train_loss", "valid_loss", "miou", "iou_building", "f1_building", "lr"} <= set(rows[0])
    reloaded = load_weights(seg_model(seed=1), tmp_path / "model.safetensors")
    assert torch.equal(reloaded.head.weight, model.head.weight)


class Interrupting(torch.utils.data.Dataset):
    """A dataset whose reads stop (like Ctrl-C) after ``after`` items."""

    def __init__(self, dataset, after: int):
        self.dataset, self.after, self.reads = dataset, after, 0

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads > self.after:
            raise KeyboardInterrupt
        return self.dataset[index]


def test_resume_continues_from_the_saved_epoch_and_step(seg_chip_dir, tmp_path):
    train_set = ChipDataset(seg_chip_dir, "train", augment=["flip"], cache=True)
    task = SemanticSegmentationTask(BUILDING)

    # Uninterrupted: 3 epochs of 3 steps.
    straight = train(seg_model(), task, train_set, None, tmp_path / "straight", options(num_epochs=3))
    assert (straight.epochs, straight.steps) == (3, 9)

    # The same plan interrupted during epoch 3 (after the epoch-2 checkpoint)...
    with pytest.raises(KeyboardInterrupt):
        train(seg_model(), task, Interrupting(train_set, after=2 * 24 + 5), None, tmp_path / "resumed",
              options(num_epochs=3))
    checkpoint = torch.load(tmp_path / "resumed" / "last.pth", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["step"]) == (2, 6)
    # ... and resumed by a fresh process with a fresh model.
    model = seg_model(seed=99)  # weights are replaced by the checkpoint's
    resumed = train(model, task, train_set, None, tmp_path / "resumed", options(num_epochs=3))
    assert (resumed.epochs, resumed.steps) == (3, 9)
    with open(tmp_path / "resumed" / "log.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1", "2", "3"]
    # Same data order, augmentation and weights as the uninterrupted run.
    assert [r["train_loss"] for r in resumed.history] == pytest.approx([r["train_loss"] for r in straight.history])
    straight_state = load_file(tmp_path / "straight" / "model.safetensors")
    for name, tensor in model.state_dict().items():
        assert torch.allclose(tensor.float(), straight_state[name].float(), atol=1e-5), name

    # A finished run is not trained again; replace_model starts afresh.
    again = train(model, task, train_set, None, tmp_path / "resumed", options(num_epochs=3))
    assert (again.epochs, again.steps, len(again.history)) == (3, 9, 3)
    fresh = train(seg_model(), task, train_set, None, tmp_path / "resumed", options(num_epochs=1, replace_model=True))
    assert (fresh.epochs, fresh.steps) == (1, 3)
    assert len(read_log(tmp_path / "resumed" / "log.csv")) == 1


def test_num_steps_is_the_exact_number_of_steps_also_past_num_epochs_and_after_a_partial_epoch(seg_chip_dir,
                                                                                                tmp_path):
    train_set = ChipDataset(seg_chip_dir, "train", cache=True)  # 24 chips: 3 steps per epoch
    task = SemanticSegmentationTask(BUILDING)
    # num_steps beyond num_epochs' 3 steps: the steps decide, over a partial second epoch.
    first = train(seg_model(), task, train_set, None, tmp_path, options(num_epochs=1, num_steps=5))
    assert (first.epochs, first.steps) == (2, 5)
    assert [(r["epoch"], r["step"]) for r in read_log(tmp_path / "log.csv")] == [(1.0, 3.0), (2.0, 5.0)]
    # Asked for one more step, the run resumes from its partial epoch and stops at exactly 6.
    more = train(seg_model(), task, train_set, None, tmp_path, options(num_epochs=1, num_steps=6))
    assert (more.epochs, more.steps) == (3, 6)


def test_resuming_a_different_model_is_a_config_error(seg_chip_dir, tmp_path):
    train_set = ChipDataset(seg_chip_dir, "train")
    task = SemanticSegmentationTask(BUILDING)
    train(seg_model(), task, train_set, None, tmp_path, options(num_epochs=1))
    other = create_segmentation_model(ENCODER, 2, decoder_channels=32, fine=False)
    with pytest.raises(ConfigError, match="replace_model"):
        train(other, task, train_set, None, tmp_path, options(num_epochs=2))


def test_chip_classification_beats_the_majority_class(cls_chip_dir, tmp_path):
    train_set = ChipDataset(cls_chip_dir, "train", augment=["flip", "rot90"], cache=True)
    task = ChipClassificationTask(BUILDING)
    torch.manual_seed(0)
    model = create_classification_model(ENCODER, 2)
    result = train(model, task, train_set, ChipDataset(cls_chip_dir, "valid"), tmp_path,
                   options(num_epochs=10, batch_size=16))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    plain = DataLoader(ChipDataset(cls_chip_dir, "train"), batch_size=32, collate_fn=collate_chips)
    metrics = validate(model, task, plain, torch.device("cpu"))
    labels = np.array([int(np.load(p)["class_id"]) for p in train_set.paths])
    majority = max(labels.mean(), 1 - labels.mean())
    assert metrics["recall"] > majority + 0.1  # recall weighted by ground truth: the accuracy
    assert {"precision", "recall", "f1", "f1_building"} <= set(result.history[-1])


def test_object_detection_training_reduces_the_loss(det_chip_dir, tmp_path):
    train_set = ChipDataset(det_chip_dir, "train", augment=["flip", "rot90"], cache=True)
    torch.manual_seed(0)
    model = create_detection_model(ENCODER, 1, fpn_channels=64)
    result = train(model, ObjectDetectionTask(["tree"]), train_set, ChipDataset(det_chip_dir, "valid"), tmp_path,
                   options(num_epochs=4, batch_size=4, lr=1e-3))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0]
    assert 0.0 <= result.history[-1]["ap50"] <= 1.0 and "ap50_tree" in result.history[-1]
    assert "valid_loss" not in result.history[-1]


def test_learning_rate_schedules():
    total = 100
    onecycle = [lr_factor("onecycle", s, total, 0.2) for s in range(total)]
    assert onecycle[0] == pytest.approx(1 / 25) and max(onecycle) == pytest.approx(1.0, abs=1e-3)
    assert int(np.argmax(onecycle)) == 20 and onecycle[-1] < 1e-3
    cosine = [lr_factor("cosine", s, total, 0.1) for s in range(total)]
    assert cosine[0] < cosine[9] and cosine[-1] < 0.01
    assert lr_factor("constant", 50, total, 0.2) == 1.0


def test_bad_options_are_config_errors(seg_chip_dir, tmp_path):
    with pytest.raises(ConfigError, match="schedule"):
        TrainOptions(schedule="step")
    with pytest.raises(ConfigError, match="num_steps"):
        TrainOptions(num_steps=0)
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "chips.json").write_text((seg_chip_dir / "chips.json").read_text())
    with pytest.raises(ConfigError, match="empty"):
        train(seg_model(), SemanticSegmentationTask(BUILDING), ChipDataset(empty, "train"), None, tmp_path / "out")


def test_place_model_is_channels_last_same_outputs_and_trainable_after_inference():
    torch.manual_seed(0)
    model = create_segmentation_model("resnet18", 2, decoder_channels=32).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    with torch.inference_mode():  # as PREDICT places it
        place_model(model, "cpu")
        after = model(x)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(before, after, atol=1e-4)
    # the weights are not inference tensors: the same model trains afterwards
    model.train()
    loss = model(x).logsumexp(dim=1).mean()
    loss.backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
