"""Adapters between CHIP's output and what a batch needs, per task.

:class:`rv_pytorch.data.ChipDataset` gives one item per chip file. Two
things it leaves to the backend:

- chips of different sizes (object detection's ``label`` and ``image``
  window methods write one chip per box, or the whole scene): a batch needs
  one size, so :class:`FixedSizeChips` pads smaller chips (the padding is
  nodata) and crops larger ones (randomly for training), keeping the boxes
  that stay mostly visible;
- an ignored class (``ignore_class_id``): :class:`IgnoredClassChips` turns
  its pixels into "ignore" (255) for segmentation and drops its boxes for
  detection; :func:`chips_without_class` leaves its chips out of chip
  classification.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from rv_pytorch.data import IGNORE_INDEX


class FixedSizeChips(Dataset):
    """Items of ``dataset`` brought to ``size`` x ``size`` pixels.

    Args:
        dataset: items with ``image`` ``(C, H, W)``, ``mask`` ``(H, W)`` and
            optionally ``boxes`` ``(N, 4)`` with ``class_ids`` or ``labels``.
        size: the side of every output chip.
        random_crop: crop larger chips at a random offset (training) instead
            of their centre.
        min_visible: a box cut by a crop is kept when at least this share of
            its area stays inside.
    """

    def __init__(self, dataset: Dataset, size: int, random_crop: bool = False, min_visible: float = 0.5):
        self.dataset = dataset
        self.size = int(size)
        self.random_crop = random_crop
        self.min_visible = min_visible

    def __len__(self) -> int:
        return len(self.dataset)

    def _offset(self, length: int) -> int:
        spare = length - self.size
        if spare <= 0:
            return 0
        if self.random_crop:
            return int(torch.randint(0, spare + 1, ()).item())
        return spare // 2

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index])
        image = item["image"]
        height, width = image.shape[-2:]
        if (height, width) == (self.size, self.size):
            return item
        y0, x0 = self._offset(height), self._offset(width)
        h, w = min(height, self.size), min(width, self.size)
        rows, cols = slice(y0, y0 + h), slice(x0, x0 + w)

        out_image = image.new_zeros((image.shape[0], self.size, self.size))
        out_image[:, :h, :w] = image[:, rows, cols]
        out_mask = torch.ones((self.size, self.size), dtype=torch.bool)
        out_mask[:h, :w] = item["mask"][rows, cols]
        item["image"], item["mask"] = out_image, out_mask
        if "labels" in item:
            labels = torch.full((self.size, self.size), IGNORE_INDEX, dtype=item["labels"].dtype)
            labels[:h, :w] = item["labels"][rows, cols]
            item["labels"] = labels
        if "boxes" in item:
            boxes = item["boxes"]
            shifted = boxes - torch.tensor([y0, x0, y0, x0], dtype=boxes.dtype)
            limits = torch.tensor([h, w, h, w], dtype=boxes.dtype)
            clipped = torch.minimum(shifted.clamp(min=0), limits)
            area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
            keep = (visible > 0) & (visible >= self.min_visible * area)
            item["boxes"], item["class_ids"] = clipped[keep], item["class_ids"][keep]
        return item


class IgnoredClassChips(Dataset):
    """Items of ``dataset`` without the model class ``class_index``: its pixels
    become 255 (ignored by the loss) and its boxes are dropped."""

    def __init__(self, dataset: Dataset, class_index: int):
        self.dataset = dataset
        self.class_index = int(class_index)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index])
        if "labels" in item:
            labels = item["labels"].clone()
            labels[labels == self.class_index] = IGNORE_INDEX
            item["labels"] = labels
        if "class_ids" in item:
            keep = item["class_ids"] != self.class_index
            item["boxes"], item["class_ids"] = item["boxes"][keep], item["class_ids"][keep]
        return item


def chips_without_class(dataset, class_index: int) -> Dataset:
    """The chip classification chips of ``dataset`` (a ChipDataset) whose class is not ``class_index``."""
    keep = [i for i in range(len(dataset)) if int(dataset.read(i)["class_id"]) != class_index]
    if len(keep) == len(dataset):
        return dataset
    return Subset(dataset, keep)
