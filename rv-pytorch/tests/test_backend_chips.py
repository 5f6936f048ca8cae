"""How the backends feed CHIP's output to the model: chips of any size, an ignored class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rvpt_data import NEON, neon_boxes, read_scene, write_chip_dir

import rv
from rv.chips import read_chip_manifest
from rv_pytorch.chip_adapters import FixedSizeChips, IgnoredClassChips, chips_without_class
from rv_pytorch.data import ChipDataset
from rv_pytorch.train import read_log

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def label_window_chips(buffer: int = 6) -> list[dict]:
    """One chip per NEON tree box, buffered as CHIP's 'label' window method does: chips of many sizes."""
    image = read_scene(NEON)
    boxes = neon_boxes()
    chips = []
    for box in boxes[:24]:
        ymin, xmin = (max(int(v) - buffer, 0) for v in box[:2])
        ymax, xmax = (min(int(np.ceil(v)) + buffer, 400) for v in box[2:])
        window = image[ymin:ymax, xmin:xmax]
        inside = boxes[(boxes[:, 0] >= ymin) & (boxes[:, 1] >= xmin) & (boxes[:, 2] <= ymax) & (boxes[:, 3] <= xmax)]
        chips.append(
            {
                "image": window,
                "mask": (window == 255).all(axis=2),
                "boxes": (inside - [ymin, xmin, ymin, xmin]).astype(np.float32),
                "class_ids": np.zeros(len(inside), np.int64),
            }
        )
    # CHIP's 'image' window method: the whole scene as one chip.
    chips.append(
        {
            "image": image,
            "mask": (image == 255).all(axis=2),
            "boxes": boxes.astype(np.float32),
            "class_ids": np.zeros(len(boxes), np.int64),
        }
    )
    return chips


@pytest.fixture(scope="module")
def varied_chip_dir(tmp_path_factory):
    chips = label_window_chips()
    assert len({c["image"].shape[:2] for c in chips}) > 10
    return write_chip_dir(
        tmp_path_factory.mktemp("label_chips"),
        "OBJECT_DETECTION",
        [{"id": 0, "name": "tree", "color": "green"}],
        {"train": chips[:-5], "valid": chips[-5:]},
        64,
    )


def test_chips_of_any_size_come_out_at_the_chip_size_with_their_boxes(varied_chip_dir):
    dataset = ChipDataset(varied_chip_dir, "train")
    fixed = FixedSizeChips(dataset, 64)
    for i in range(len(dataset)):
        item, out = dataset[i], fixed[i]
        h, w = item["image"].shape[-2:]
        assert out["image"].shape == (3, 64, 64) and out["mask"].shape == (64, 64)
        if h <= 64 and w <= 64:
            # Padded: the chip at the top left, the rest nodata; every box kept as it was.
            torch.testing.assert_close(out["image"][:, :h, :w], item["image"])
            assert out["mask"][h:].all() and out["mask"][:, w:].all() and (out["image"][:, h:] == 0).all()
            torch.testing.assert_close(out["boxes"], item["boxes"])

    # The whole scene (400 x 400) is cropped at its centre; boxes mostly inside survive, moved.
    whole = ChipDataset(varied_chip_dir, "valid")
    index = max(range(len(whole)), key=lambda i: whole[i]["image"].shape[-1])
    item, out = whole[index], FixedSizeChips(whole, 64)[index]
    assert item["image"].shape[-2:] == (400, 400)
    torch.testing.assert_close(out["image"], item["image"][:, 168:232, 168:232])
    boxes = item["boxes"].numpy() - 168
    clipped = np.clip(boxes, 0, 64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (visible > 0) & (visible >= 0.5 * area)
    assert keep.any()
    np.testing.assert_allclose(out["boxes"].numpy(), clipped[keep])


def test_a_detector_trains_on_label_window_chips_of_many_sizes(varied_chip_dir, tmp_path):
    task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"tree": (0, "green")}).with_chip_size(64).build()
    config = (
        rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION)
        .with_task(task)
        .with_batch_size(4)
        .with_num_epochs(1)
        .with_num_steps(2)
        .with_debug()
        .with_config({"encoder": "resnet18", "fpn_channels": 64, "do_monitoring": False})
        .build()
    )
    config.create(task, None).train(str(varied_chip_dir), str(tmp_path / "train"), None, str(tmp_path))
    rows = read_log(tmp_path / "train" / "log.csv")
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(1, 2)]
    assert "ap50" in rows[0]
    assert (tmp_path / "train" / "model.safetensors").is_file() and (tmp_path / "train" / "debug-chips.png").is_file()


def test_an_ignored_class_does_not_train_the_model(seg_chip_dir, cls_chip_dir):
    seg = ChipDataset(seg_chip_dir, "train")
    ignored = IgnoredClassChips(seg, 1)  # "building"
    for i in range(len(seg)):
        labels, masked = seg[i]["labels"], ignored[i]["labels"]
        assert (masked[labels == 1] == 255).all()
        assert torch.equal(masked[labels != 1], labels[labels != 1])

    cls = ChipDataset(cls_chip_dir, "train")
    kept = chips_without_class(cls, 0)
    classes = [int(cls[i]["class_id"]) for i in range(len(cls))]
    assert len(kept) == classes.count(1) and 0 < len(kept) < len(cls)
    assert all(int(kept[i]["class_id"]) == 1 for i in range(len(kept)))

    # The backends wire them in when ignore_class_id is set.
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": (0, "black"), "building": (1, "red")})
        .build()
    )
    backend = (
        rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
        .with_task(task)
        .with_config({"ignore_class_id": 1})
        .build()
        .create(task, None)
    )
    from rv_pytorch.model_files import ModelSpec

    manifest = read_chip_manifest(seg_chip_dir)
    spec = ModelSpec(
        backend="",
        task="",
        encoder="",
        classes=[{"id": i} for i in manifest.class_ids],
        num_channels=3,
        dtype="uint8",
        normalizer={},
        chip_size=64,
    )
    assert isinstance(backend.adapt_dataset(seg, "train", spec), IgnoredClassChips)
