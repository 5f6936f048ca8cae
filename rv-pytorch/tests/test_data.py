"""ChipDataset: reading the chip format, normalisation, class ids, nodata, augmentation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rvpt_data import BUILDING_CLASSES, NEON, neon_boxes, read_scene, write_chip_dir

from rv.chips import chip_paths, read_chip_manifest
from rv.errors import ConfigError, DataError
from rv_pytorch.data import (
    ChipDataset,
    Normalizer,
    balanced_class_weights,
    class_counts,
    collate_chips,
    compute_channel_stats,
    dihedral,
)


def test_segmentation_chips_are_read_and_normalised(seg_chip_dir, kampala_a):
    dataset = ChipDataset(seg_chip_dir, "train")
    assert len(dataset) == 24 and len(ChipDataset(seg_chip_dir, "valid")) == 4
    manifest = read_chip_manifest(seg_chip_dir)
    assert manifest.class_names == ("background", "building") and manifest.num_classes == 2
    item = dataset[0]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    # uint8 chips are divided by 255 by default.
    raw = np.load(chip_paths(seg_chip_dir, "train")[0])["image"]
    assert torch.allclose(item["image"], torch.from_numpy(raw.transpose(2, 0, 1) / 255.0).float())
    assert item["labels"].dtype == torch.int64
    assert set(item["labels"].unique().tolist()) <= {0, 1}


def test_class_ids_map_to_indices_and_nodata_is_ignored(tmp_path):
    image = read_scene(NEON, (0, 0, 32, 32))
    labels = np.full((32, 32), 7, np.uint8)
    labels[:, 16:] = 3
    labels[0, 0] = 255
    mask = np.zeros((32, 32), bool)
    mask[10:12] = True
    classes = [{"id": 3, "name": "grass", "color": "green"}, {"id": 7, "name": "water", "color": "blue"}]
    write_chip_dir(
        tmp_path, "SEMANTIC_SEGMENTATION", classes, {"train": [{"image": image, "mask": mask, "labels": labels}]}, 32
    )
    item = ChipDataset(tmp_path, "train")[0]
    out = item["labels"].numpy()
    assert out[20, 0] == 1 and out[20, 20] == 0  # id 7 -> index 1, id 3 -> index 0
    assert out[0, 0] == 255 and (out[10:12] == 255).all()
    assert (item["image"][:, 10:12] == 0).all()  # nodata pixels are zeroed after normalisation


def test_unknown_class_id_is_a_data_error_naming_the_chip(tmp_path):
    labels = np.full((16, 16), 9, np.uint8)
    write_chip_dir(
        tmp_path,
        "SEMANTIC_SEGMENTATION",
        BUILDING_CLASSES,
        {"train": [{"image": np.zeros((16, 16, 3), np.uint8), "mask": np.zeros((16, 16), bool), "labels": labels}]},
        16,
    )
    with pytest.raises(DataError, match=r"scene-0\.npz.*\[9\]"):
        ChipDataset(tmp_path, "train")[0]


def test_missing_manifest_and_wrong_band_count(tmp_path, seg_chip_dir):
    with pytest.raises(DataError, match="chips.json"):
        ChipDataset(tmp_path, "train")
    with pytest.raises(ConfigError, match="3"):
        ChipDataset(seg_chip_dir, "train", normalizer=Normalizer([0] * 4, [1] * 4))
    with pytest.raises(ConfigError, match="augmentation"):
        ChipDataset(seg_chip_dir, "train", augment=["mixup"])


def test_non_uint8_chips_need_statistics(tmp_path, data_dir):
    image = read_scene(data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif", (0, 0, 32, 32))
    assert image.dtype == np.uint16 and image.shape[2] == 10
    write_chip_dir(
        tmp_path,
        "CHIP_CLASSIFICATION",
        BUILDING_CLASSES,
        {"train": [{"image": image, "mask": np.zeros((32, 32), bool), "class_id": np.int64(1)}]},
        32,
    )
    with pytest.raises(ConfigError, match="uint16"):
        ChipDataset(tmp_path, "train")
    mean, std = compute_channel_stats(chip_paths(tmp_path, "train"))
    assert np.allclose(mean, image.reshape(-1, 10).mean(axis=0), rtol=1e-5)
    item = ChipDataset(tmp_path, "train", normalizer=Normalizer(mean, std))[0]
    assert item["image"].shape == (10, 32, 32)
    assert abs(float(item["image"].mean())) < 1e-3 and item["class_id"] == 1


def _painted(shape, boxes):
    labels = np.zeros(shape, np.uint8)
    for i, (y0, x0, y1, x1) in enumerate(boxes.astype(int)):
        labels[y0:y1, x0:x1] = i + 1
    return labels


@pytest.mark.parametrize("flip_v", [False, True])
@pytest.mark.parametrize("flip_h", [False, True])
@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_flips_and_rotations_move_boxes_with_the_pixels(flip_v, flip_h, turns):
    # Two real tree boxes of the NEON scene, inside a 96 x 96 chip at (0, 160).
    boxes = neon_boxes() - np.array([0, 160, 0, 160], np.float32)
    boxes = boxes[(boxes >= 0).all(axis=1) & (boxes <= 96).all(axis=1)][:2]
    assert len(boxes) == 2
    image = read_scene(NEON, (0, 160, 96, 96))
    arrays = {"image": image, "mask": image[..., 0] == 255, "labels": _painted((96, 96), boxes), "boxes": boxes}
    out = dihedral(arrays, flip_v, flip_h, turns)
    for i, box in enumerate(out["boxes"]):
        ys, xs = np.nonzero(out["labels"] == i + 1)
        assert [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1] == box.astype(int).tolist()
    # The image moved with the labels: pixels under box 1 are the same set of pixels.
    before = np.sort(image[arrays["labels"] == 1].reshape(-1))
    after = np.sort(out["image"][out["labels"] == 1].reshape(-1))
    assert np.array_equal(before, after)


def test_detection_items_and_collate_keep_boxes_as_lists(det_chip_dir):
    dataset = ChipDataset(det_chip_dir, "train", augment=["flip", "rot90"])
    torch.manual_seed(0)
    items = [dataset[i] for i in range(4)]
    counts = [len(item["boxes"]) for item in items]
    assert sum(counts) > 0
    batch = collate_chips(items)
    assert batch["image"].shape == (4, 3, 128, 128)
    assert isinstance(batch["boxes"], list) and [len(b) for b in batch["boxes"]] == counts
    for boxes in batch["boxes"]:
        assert ((boxes >= 0) & (boxes <= 128)).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_augmentation_is_reproducible_with_the_torch_seed(seg_chip_dir):
    dataset = ChipDataset(seg_chip_dir, "train", augment=["flip", "rot90", "color"])
    torch.manual_seed(5)
    first = [dataset[i]["labels"] for i in range(6)]
    torch.manual_seed(5)
    second = [dataset[i]["labels"] for i in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_bad_manifest_is_a_data_error(tmp_path):
    (tmp_path / "chips.json").write_text(json.dumps({"task": "SEMANTIC_SEGMENTATION"}))
    with pytest.raises(DataError, match="chips.json"):
        read_chip_manifest(tmp_path)


def test_class_counts_and_balanced_weights(seg_chip_dir, kampala_a, cls_chip_dir):
    dataset = ChipDataset(seg_chip_dir, "train")
    counts = class_counts(dataset)
    _, labels = kampala_a
    block = labels[256:512, 1152:1536]  # the block the fixture chipped
    assert counts.tolist() == [int((block == 0).sum()), int((block == 1).sum())]
    weights = balanced_class_weights(counts, 0.5)
    freq = counts / counts.sum()
    assert weights[1] / weights[0] == pytest.approx(np.sqrt(freq[0] / freq[1]))
    assert float(np.dot(freq, weights)) == pytest.approx(1.0)  # the loss keeps its scale
    assert balanced_class_weights(counts, 0.0) == [1.0, 1.0]
    assert balanced_class_weights([10, 0], 1.0) == [1.0, 1.0]
    cls_counts = class_counts(ChipDataset(cls_chip_dir, "train"))
    assert cls_counts.sum() == len(ChipDataset(cls_chip_dir, "train"))
