"""Fixtures of rv-pytorch's tests: chip directories built from the shared real data
(see ``rvpt_data.py``)."""

from __future__ import annotations

import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a busy machine (pytest -n,
# other jobs) spinning threads multiply torch's CPU time several-fold. Read
# when torch first loads, so it is set before anything imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path

import numpy as np
import pytest

# The helpers module sits beside this file; its unique name avoids clashes
# with other packages' test modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rvpt_data import (  # noqa: E402
    BUILDING_CLASSES,
    KAMPALA_A,
    KAMPALA_B,
    NEON,
    grid,
    kampala_building_raster,
    neon_boxes,
    neon_detection_chips,
    read_scene,
    write_chip_dir,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (real training to the product quality bar)")


@pytest.fixture(scope="session")
def kampala_a() -> tuple[np.ndarray, np.ndarray]:
    """Kampala A's image (H, W, 3) and building labels (H, W)."""
    return read_scene(KAMPALA_A), kampala_building_raster(KAMPALA_A)


@pytest.fixture(scope="session")
def kampala_b() -> tuple[np.ndarray, np.ndarray]:
    """Kampala B's image and building labels."""
    return read_scene(KAMPALA_B), kampala_building_raster(KAMPALA_B)


@pytest.fixture(scope="session")
def seg_chip_dir(tmp_path_factory, kampala_a, kampala_b) -> Path:
    """Small segmentation chips: 64 px chips of a 256 x 384 block of Kampala A
    (train, 24 chips, 40 % building) and of the top-left 128 x 128 of Kampala B
    (valid, 4 chips)."""
    image_a, labels_a = kampala_a
    image_b, labels_b = kampala_b
    size = 64

    def chip(image, labels, y, x):
        return {
            "image": image[y : y + size, x : x + size],
            "mask": np.zeros((size, size), bool),
            "labels": labels[y : y + size, x : x + size],
        }

    train = [chip(image_a, labels_a, 256 + y, 1152 + x) for y, x in grid(256, 384, size, size)]
    valid = [chip(image_b, labels_b, y, x) for y, x in grid(128, 128, size, size)]
    root = tmp_path_factory.mktemp("seg_chips")
    return write_chip_dir(root, "SEMANTIC_SEGMENTATION", BUILDING_CLASSES, {"train": train, "valid": valid}, size)


@pytest.fixture(scope="session")
def cls_chip_dir(tmp_path_factory, kampala_a, kampala_b) -> Path:
    """Chip classification chips: 32 px cells of Kampala (train: the 256 x 384
    block of A also used for segmentation; valid: the top-left 128 x 128 of B),
    class 1 ("building") when more than 20 % of the cell is building."""
    image_a, labels_a = kampala_a
    image_b, labels_b = kampala_b
    size = 32

    def chips(image, labels, block):
        y0, x0, h, w = block
        out = []
        for y, x in grid(h, w, size, size):
            cell = labels[y0 + y : y0 + y + size, x0 + x : x0 + x + size]
            out.append({
                "image": image[y0 + y : y0 + y + size, x0 + x : x0 + x + size],
                "mask": np.zeros((size, size), bool),
                "class_id": np.int64(cell.mean() > 0.2),
            })
        return out

    train = chips(image_a, labels_a, (256, 1152, 256, 384))
    valid = chips(image_b, labels_b, (0, 0, 128, 128))
    root = tmp_path_factory.mktemp("cls_chips")
    return write_chip_dir(root, "CHIP_CLASSIFICATION", BUILDING_CLASSES, {"train": train, "valid": valid}, size)


@pytest.fixture(scope="session")
def det_chip_dir(tmp_path_factory) -> Path:
    """Tree detection chips: 128 px chips (stride 64) of the left 256 columns
    of the NEON scene for training, the right 128 columns for validation."""
    image = read_scene(NEON)
    boxes = neon_boxes()
    train = neon_detection_chips(image, boxes, (0, 0, 400, 256), 128, 64)
    valid = neon_detection_chips(image, boxes, (0, 272, 384, 128), 128, 128)
    root = tmp_path_factory.mktemp("det_chips")
    return write_chip_dir(root, "OBJECT_DETECTION", [{"id": 0, "name": "tree", "color": "green"}],
                          {"train": train, "valid": valid}, 128)
