"""Training data: a torch Dataset over rv's chip directories.

A chip directory (see ``docs/internals.md``, "The chip format") holds
``chips.json`` and one ``.npz`` per chip under ``train/`` and ``valid/``;
:mod:`rv.chips` reads and checks it (:func:`rv.chips.read_chip_manifest`).
:class:`ChipDataset` reads one split, normalises the image with per-channel
statistics (:class:`Normalizer`), maps the user's class ids to the model's
contiguous class indices (255 stays "ignore"), marks nodata pixels as ignored,
and applies flips / 90° rotations consistently to image, mask, labels and
boxes.

Items are dicts of tensors: ``image`` float32 ``(C, H, W)``, ``mask`` bool
``(H, W)`` (True = nodata) and, by task, ``labels`` int64 ``(H, W)``,
``class_id`` int64 scalar, or ``boxes`` float32 ``(N, 4)`` (``ymin, xmin,
ymax, xmax`` pixels) with ``class_ids`` int64 ``(N,)``. :func:`collate_chips`
batches them (boxes stay lists, one tensor per chip).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rv import keys
from rv.chips import chip_paths, load_chip, read_chip_manifest
from rv.errors import ConfigError, DataError
from rv_pytorch.backend_config import AUGMENTATIONS

#: label of pixels that no class covers: rv's IGNORE_CLASS_ID, skipped by losses and metrics
IGNORE_INDEX = keys.IGNORE_CLASS_ID


class Normalizer:
    """Per-channel ``(x - mean) / std`` of raw pixel values; nodata pixels become 0.

    Args:
        mean, std: one value per channel, in the units of the raw image.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ConfigError(
                f"Normalisation mean has {self.mean.size} values and std {self.std.size}; "
                "give one mean and one std per channel."
            )
        if (self.std <= 0).any() or not np.isfinite(self.std).all():
            raise ConfigError(
                f"Normalisation std {self.std.tolist()} has a zero, negative or non-finite "
                "value; a constant band cannot be normalised. Drop it with channel_order."
            )

    @classmethod
    def for_dtype(cls, dtype: str | np.dtype, num_channels: int) -> Normalizer:
        """The default for a dtype: uint8 images are divided by 255.

        Raises:
            ConfigError: other dtypes need statistics (see :func:`compute_channel_stats`).
        """
        if np.dtype(dtype) == np.uint8:
            return cls([0.0] * num_channels, [255.0] * num_channels)
        raise ConfigError(
            f"{np.dtype(dtype).name} images need per-channel statistics to be normalised: "
            "run ANALYZE and use the stats transformer (uint8 chips), or pass mean and std "
            "computed with rv_pytorch.data.compute_channel_stats."
        )

    @property
    def num_channels(self) -> int:
        return int(self.mean.size)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> Normalizer:
        return cls(data["mean"], data["std"])

    def __call__(self, image: np.ndarray, mask: np.ndarray | None = None) -> torch.Tensor:
        """``(H, W, C)`` raw image (+ ``(H, W)`` nodata mask) -> float32 ``(C, H, W)`` tensor."""
        if image.ndim != 3 or image.shape[2] != self.num_channels:
            raise DataError(
                f"An image of shape {image.shape} was given to a model for "
                f"{self.num_channels} channels (H, W, C expected). Check channel_order."
            )
        out = (image.astype(np.float32) - self.mean) / self.std
        if mask is not None and mask.any():
            out[mask] = 0.0
        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def compute_channel_stats(paths: Iterable[str | Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over the valid (non-nodata) pixels of chip files."""
    total = sq_total = None
    count = 0
    for path in paths:
        with np.load(path) as chip:
            image = chip["image"]
            mask = chip["mask"] if "mask" in chip else None
        pixels = image.reshape(-1, image.shape[-1]).astype(np.float64)
        if mask is not None:
            pixels = pixels[~mask.reshape(-1)]
        if total is None:
            total = np.zeros(pixels.shape[1])
            sq_total = np.zeros(pixels.shape[1])
        total += pixels.sum(axis=0)
        sq_total += (pixels**2).sum(axis=0)
        count += pixels.shape[0]
    if not count:
        raise DataError(
            "No valid pixels to compute channel statistics from: every chip is nodata or there are no chips."
        )
    mean = total / count
    std = np.sqrt(np.maximum(sq_total / count - mean**2, 0.0))
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


def class_index_lut(class_ids: Sequence[int]) -> np.ndarray:
    """A 256-entry table mapping class id -> model class index; 255 stays 255, unknown ids -> -1."""
    lut = np.full(256, -1, dtype=np.int16)
    lut[IGNORE_INDEX] = IGNORE_INDEX
    for index, class_id in enumerate(class_ids):
        lut[class_id] = index
    return lut


# --- augmentation ---------------------------------------------------------


def flip_boxes(boxes: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Mirror ``(N, 4)`` ymin, xmin, ymax, xmax boxes along image axis 0 (rows) or 1 (cols)."""
    out = boxes.copy()
    lo, hi = (0, 2) if axis == 0 else (1, 3)
    out[:, lo] = size - boxes[:, hi]
    out[:, hi] = size - boxes[:, lo]
    return out


def rot90_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes of an image rotated like ``np.rot90(image, 1)`` (counter-clockwise).

    A point ``(y, x)`` moves to ``(width - x, y)``.
    """
    ymin, xmin, ymax, xmax = boxes.T
    return np.stack([width - xmax, ymin, width - xmin, ymax], axis=1).astype(boxes.dtype)


def dihedral(arrays: dict[str, np.ndarray], flip_v: bool, flip_h: bool, quarter_turns: int) -> dict[str, np.ndarray]:
    """Apply a flip/rotation to every spatial array of a chip and to its boxes."""
    out = dict(arrays)
    spatial = [k for k in ("image", "mask", "labels") if k in out]
    height, width = out["image"].shape[:2]
    if flip_v:
        for k in spatial:
            out[k] = out[k][::-1]
        if "boxes" in out:
            out["boxes"] = flip_boxes(out["boxes"], height, 0)
    if flip_h:
        for k in spatial:
            out[k] = out[k][:, ::-1]
        if "boxes" in out:
            out["boxes"] = flip_boxes(out["boxes"], width, 1)
    for _ in range(quarter_turns % 4):
        for k in spatial:
            out[k] = np.rot90(out[k], 1)
        if "boxes" in out:
            out["boxes"] = rot90_boxes(out["boxes"], width)
        height, width = width, height
    return out


def color_jitter(image: torch.Tensor, mask: np.ndarray | None = None) -> torch.Tensor:
    """Random radiometric changes of a normalised ``(C, H, W)`` chip.

    Scenes differ in illumination, white balance and roof materials far more
    than in geometry, and a model trained on one scene learns colour shortcuts
    (e.g. "red tile = building") that fail on the next. This jitters, in
    normalised units: saturation (blend towards the per-pixel band mean, down
    to grey with probability 0.2), per-band gain (0.75-1.25) and offset
    (+-0.1), and global contrast (0.7-1.3) and brightness (+-0.15).
    Nodata pixels stay 0.
    """
    channels = image.shape[0]
    if channels > 1:
        grey = image.mean(dim=0, keepdim=True)
        saturation = 0.0 if float(torch.rand(())) < 0.2 else float(0.4 + 1.2 * torch.rand(()))
        image = grey + saturation * (image - grey)
    gain = 0.75 + 0.5 * torch.rand(channels, 1, 1)
    offset = 0.2 * (torch.rand(channels, 1, 1) - 0.5)
    image = image * gain + offset
    mean = image.mean()
    contrast = 0.7 + 0.6 * torch.rand(())
    brightness = 0.3 * (torch.rand(()) - 0.5)
    image = (image - mean) * contrast + mean + brightness
    if mask is not None and mask.any():
        image[:, torch.from_numpy(np.ascontiguousarray(mask))] = 0.0
    return image


class ChipDataset(Dataset):
    """One split (``train`` or ``valid``) of a chip directory.

    Args:
        chip_dir: the chip directory (holding ``chips.json``).
        split: ``"train"`` or ``"valid"``.
        normalizer: image normalisation; default :meth:`Normalizer.for_dtype`
            of the manifest's dtype.
        augment: names from :data:`AUGMENTATIONS`: ``"flip"`` (random
            vertical/horizontal flips), ``"rot90"`` (random quarter turns of
            square chips), ``"color"`` (:func:`color_jitter`). Random choices use torch's RNG, so
            ``torch.manual_seed`` makes them reproducible.
        cache: keep decoded chips in memory after the first read.
    """

    def __init__(
        self,
        chip_dir: str | Path,
        split: str,
        *,
        normalizer: Normalizer | None = None,
        augment: Sequence[str] = (),
        cache: bool = False,
    ):
        self.chip_dir = Path(chip_dir)
        self.split = split
        self.manifest = read_chip_manifest(chip_dir)
        self.paths = chip_paths(chip_dir, split)
        unknown = sorted(set(augment) - set(AUGMENTATIONS))
        if unknown:
            raise ConfigError(f"Unknown augmentation(s) {unknown}; choose from {AUGMENTATIONS}.")
        self.augment = tuple(augment)
        self.normalizer = normalizer or Normalizer.for_dtype(self.manifest.dtype, self.manifest.num_channels)
        if self.normalizer.num_channels != self.manifest.num_channels:
            raise ConfigError(
                f"The normaliser has {self.normalizer.num_channels} channels but the chips in "
                f"{str(chip_dir)!r} have {self.manifest.num_channels}; give one mean/std per channel."
            )
        self.task = self.manifest.task
        self.lut = class_index_lut(self.manifest.class_ids)
        self._cache: dict[int, dict[str, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> dict[str, np.ndarray]:
        """The chip's arrays with class ids mapped to class indices, before augmentation."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        path = self.paths[index]
        arrays = self._check_and_map(path, load_chip(path))
        if self._cache is not None:
            self._cache[index] = arrays
        return arrays

    def _check_and_map(self, path: str, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        image = raw.get("image")
        if image is None or image.ndim != 3 or image.shape[2] != self.manifest.num_channels:
            shape = None if image is None else image.shape
            raise DataError(
                f"The chip {str(path)!r} has image shape {shape}; expected (H, W, "
                f"{self.manifest.num_channels}) as chips.json says. Rerun CHIP."
            )
        mask = raw.get("mask")
        mask = np.zeros(image.shape[:2], bool) if mask is None else mask.astype(bool)
        out = {"image": image, "mask": mask}
        if self.task == keys.SEMANTIC_SEGMENTATION:
            labels = raw.get("labels")
            if labels is None or labels.shape != image.shape[:2]:
                raise DataError(f"The segmentation chip {str(path)!r} has no labels array of shape {image.shape[:2]}.")
            mapped = self.lut[labels.astype(np.int64).clip(0, 255)]
            self._check_ids(path, labels[mapped < 0])
            mapped[mask] = IGNORE_INDEX
            out["labels"] = mapped.astype(np.uint8)
        elif self.task == keys.CHIP_CLASSIFICATION:
            if "class_id" not in raw:
                raise DataError(f"The chip classification chip {str(path)!r} has no class_id.")
            class_id = int(raw["class_id"])
            index = int(self.lut[class_id]) if 0 <= class_id < 256 else -1
            if index < 0:
                self._check_ids(path, np.array([class_id]))
            out["class_id"] = np.int64(index)
        else:
            boxes = raw.get("boxes", np.zeros((0, 4), np.float32)).astype(np.float32).reshape(-1, 4)
            ids = raw.get("class_ids", np.zeros(0, np.int64)).astype(np.int64).reshape(-1)
            if len(ids) != len(boxes):
                raise DataError(f"The chip {str(path)!r} has {len(boxes)} boxes but {len(ids)} class_ids.")
            indices = self.lut[ids.clip(0, 255)] if len(ids) else ids
            self._check_ids(path, ids[(indices < 0) | (ids > 254)] if len(ids) else ids)
            out["boxes"] = boxes
            out["class_ids"] = indices.astype(np.int64)
        return out

    def _check_ids(self, path: str, bad: np.ndarray) -> None:
        if bad.size:
            raise DataError(
                f"The chip {str(path)!r} has class id(s) {sorted(set(bad.tolist()))[:10]} that are "
                f"not in the class map {list(self.manifest.class_ids)} of chips.json. Add them to "
                "the class map or fix the labels."
            )

    def _random_augmentation(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        draws = torch.randint(0, 4, (3,)).tolist()
        flip_v = flip_h = False
        turns = 0
        if "flip" in self.augment:
            flip_v, flip_h = draws[0] % 2 == 1, draws[1] % 2 == 1
        height, width = arrays["image"].shape[:2]
        if "rot90" in self.augment and height == width:
            turns = draws[2]
        return dihedral(arrays, flip_v, flip_h, turns)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        arrays = self.read(index)
        if self.augment:
            arrays = self._random_augmentation(arrays)
        image = self.normalizer(arrays["image"], arrays["mask"])
        if "color" in self.augment:
            image = color_jitter(image, arrays["mask"])
        item = {"image": image, "mask": torch.from_numpy(np.ascontiguousarray(arrays["mask"]))}
        if "labels" in arrays:
            item["labels"] = torch.from_numpy(np.ascontiguousarray(arrays["labels"])).long()
        if "class_id" in arrays:
            item["class_id"] = torch.tensor(int(arrays["class_id"]), dtype=torch.long)
        if "boxes" in arrays:
            item["boxes"] = torch.from_numpy(np.ascontiguousarray(arrays["boxes"], dtype=np.float32))
            item["class_ids"] = torch.from_numpy(np.ascontiguousarray(arrays["class_ids"]))
        return item


def class_counts(dataset: ChipDataset) -> np.ndarray:
    """How often each class index occurs in a dataset (before augmentation):
    labelled pixels (segmentation, 255 skipped), chips (chip classification)
    or boxes (object detection)."""
    counts = np.zeros(dataset.manifest.num_classes, np.int64)
    for index in range(len(dataset)):
        arrays = dataset.read(index)
        if "labels" in arrays:
            counts += np.bincount(arrays["labels"].ravel(), minlength=256)[: len(counts)]
        elif "class_id" in arrays:
            counts[int(arrays["class_id"])] += 1
        else:
            counts += np.bincount(arrays["class_ids"], minlength=len(counts))[: len(counts)]
    return counts


def balanced_class_weights(counts: Sequence[int], power: float = 0.5) -> list[float]:
    """Loss weights ``frequency ** -power`` (0: all 1; 0.5: inverse square root
    of the frequency; 1: inverse frequency), scaled so that the average weight
    of a training sample stays 1. Classes that never occur get weight 1.

    Rare classes then count for more in the loss, which moves the model's
    operating point towards recall of the rare classes: the F1 and IoU of a
    class that covers a quarter of the training area but more of the scenes
    predicted later improve markedly (Kampala buildings: 24 % of the training
    scene, 59 % of the validation scene).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or power == 0:
        return [1.0] * len(counts)
    freq = counts / total
    present = freq > 0
    weights = np.ones_like(freq)
    weights[present] = freq[present] ** -power
    weights[present] /= float((freq[present] * weights[present]).sum())
    return [float(w) for w in weights]


LIST_KEYS = ("boxes", "class_ids")


def collate_chips(items: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """Stack chip tensors into a batch; ``boxes`` and ``class_ids`` stay lists."""
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        batch[key] = values if key in LIST_KEYS else torch.stack(values)
    return batch
