"""Sliding-window prediction over a raster of any size, in bounded memory.

Three steps, each in its module:

- window feeding (:mod:`rv_pytorch.windows`): the sliding windows of
  ``chip_size`` every ``stride`` (the last row and column flush with the
  raster's edge), read by the caller's ``read_window(window) -> (chip, mask)``
  and normalised in a background thread ahead of the model; nodata-only
  windows are skipped;
- the model, here: batches of windows, with test-time augmentation for
  segmentation;
- putting the windows together: :func:`predict_segmentation` blends class
  probabilities where windows overlap and streams finished strips to a
  ``write(window, class_ids, scores)`` callback (:mod:`rv_pytorch.stitching`);
  :func:`predict_object_detection` moves each window's boxes to raster
  coordinates and merges duplicates across windows (:mod:`rv_pytorch.merging`);
  :func:`predict_chip_classification` predicts one class per cell.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NotRequired, Required, TypedDict, Unpack

import numpy as np
import torch
from torch import nn

from rv.errors import ConfigError
from rv_pytorch.backend_config import TTA_CHOICES
from rv_pytorch.data import IGNORE_INDEX, Normalizer
from rv_pytorch.merging import merge_detections, touches_inner_edge
from rv_pytorch.stitching import BlendWeights, SegmentationStitcher, WriteTile, write_unpredicted
from rv_pytorch.windows import ReadWindow, WindowChip, check_geometry, sliding_windows, window_batches


def _run_model(model: nn.Module, chips: list[WindowChip], device: torch.device):
    images = torch.stack([c.image for c in chips]).to(device, non_blocking=True)
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        return model(images)


#: test-time augmentation: the dihedral transforms averaged by ``tta``
#: (``(flip rows, flip columns, quarter turns)``; quarter turns need square windows).
TTA_TRANSFORMS = dict(
    zip(
        TTA_CHOICES,  # "none", "flips", "d4"
        (
            [(False, False, 0)],
            [(False, False, 0), (True, False, 0), (False, True, 0), (True, True, 0)],
            [(v, h, k) for k in (0, 1) for v in (False, True) for h in (False, True)],
        ),
        strict=True,
    )
)


def _class_probabilities(model: nn.Module, chips: list[WindowChip], device: torch.device, tta: str) -> np.ndarray:
    """Softmax of the model's logits, averaged over the ``tta`` transforms of the inputs."""
    images = torch.stack([c.image for c in chips]).to(device, non_blocking=True)
    transforms = TTA_TRANSFORMS[tta]
    if images.shape[-1] != images.shape[-2]:
        transforms = [t for t in transforms if t[2] == 0]
    total = None
    for flip_v, flip_h, turns in transforms:
        dims = [d for d, flip in ((-2, flip_v), (-1, flip_h)) if flip]
        x = torch.flip(images, dims) if dims else images
        x = torch.rot90(x, turns, (-2, -1)) if turns else x
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            probs = model(x).float().softmax(dim=1)
        # Undo the transform on the output: rotate back, then flip back.
        probs = torch.rot90(probs, -turns, (-2, -1)) if turns else probs
        probs = torch.flip(probs, dims) if dims else probs
        total = probs if total is None else total + probs
    return (total / len(transforms)).cpu().numpy()


def _prepare(model: nn.Module, device: str | torch.device | None) -> torch.device:
    from rv_pytorch.train import place_model, resolve_device

    device = resolve_device(device if device is None else str(device))
    place_model(model, device).eval()
    return device


class WindowFeed(TypedDict, total=False):
    """How windows reach the model: the keyword arguments :func:`predict_object_detection` and
    :func:`predict_chip_classification` share (described at :func:`predict_segmentation`)."""

    chip_size: Required[int]
    normalizer: Required[Normalizer]
    stride: NotRequired[int | None]  # default chip_size
    batch_size: NotRequired[int]  # default 8
    device: NotRequired[str | torch.device | None]
    queue_size: NotRequired[int]  # default 16


def _model_outputs(
    model: nn.Module, read_window: ReadWindow, extent: tuple[int, int], feed: WindowFeed
) -> Iterator[tuple[list[WindowChip], Any]]:
    """``(chips, model output)`` for each batch of windows that holds data, in raster order."""
    chip_size = feed["chip_size"]
    stride = check_geometry(extent, chip_size, feed.get("stride"))
    device = _prepare(model, feed.get("device"))
    rows = sliding_windows(extent, chip_size, stride)
    batches = window_batches(
        read_window, rows, feed["normalizer"], feed.get("batch_size", 8), feed.get("queue_size", 16)
    )
    for chips, _ in batches:
        if chips:
            yield chips, _run_model(model, chips, device)


def _index_to_id(class_ids: Sequence[int] | None, num_classes: int) -> np.ndarray:
    ids = list(range(num_classes)) if class_ids is None else list(class_ids)
    if len(ids) != num_classes:
        raise ConfigError(f"{len(ids)} class ids were given for a model with {num_classes} classes.")
    return np.asarray(ids + [IGNORE_INDEX], dtype=np.uint8)


@torch.inference_mode()
def predict_segmentation(
    model: nn.Module,
    read_window: ReadWindow,
    extent: tuple[int, int],
    write: WriteTile,
    *,
    chip_size: int,
    normalizer: Normalizer,
    stride: int | None = None,
    batch_size: int = 8,
    class_ids: Sequence[int] | None = None,
    scores: bool = False,
    tile_width: int | None = None,
    tta: str = "none",
    edge_ramp: int | None = None,
    device: str | torch.device | None = None,
    queue_size: int = 16,
) -> None:
    """Predict class ids over a raster and stream them to ``write`` strip by strip.

    Args:
        model: returns logits ``(N, K, H, W)`` for images ``(N, C, H, W)``.
        read_window: ``window -> (chip (H, W, C), nodata mask (H, W))``.
        extent: the raster's ``(height, width)`` in pixels.
        write: called as ``write(window, class_arr, scores)`` with finished
            tiles in raster order: ``class_arr`` uint8 ``(h, w)`` of class ids
            (255 where nodata or not predicted) and ``scores`` float32
            ``(K, h, w)`` mean class probabilities (None unless ``scores``).
        chip_size: window size in pixels.
        normalizer: the normalisation the model was trained with.
        stride: window step (default ``chip_size``, no overlap). Where windows
            overlap their class probabilities are blended (see ``edge_ramp``).
        batch_size: windows per forward pass.
        class_ids: the class id of each model class index (default the index).
        scores: also hand over the averaged probabilities.
        tile_width: split each finished strip into tiles at most this wide
            (default: the full width).
        tta: test-time augmentation: ``"none"``, ``"flips"`` (average over
            the 4 flips of each window) or ``"d4"`` (the 8 flips and
            rotations; 8 times the compute, usually a point or two of IoU).
        edge_ramp: pixels over which a window's weight rises from ~0 at each
            of its edges inside the raster to 1 (default: the overlap,
            ``chip_size - stride``, so neighbouring windows cross-fade and
            the pixels a window sees with the least context count least);
            0 averages overlapping windows with equal weights.
        device: as :func:`rv_pytorch.train.resolve_device`.
        queue_size: windows read ahead by the reader thread.
    """
    stride = check_geometry(extent, chip_size, stride)
    if tta not in TTA_CHOICES:
        raise ConfigError(f"Unknown test-time augmentation {tta!r}; choose from {TTA_CHOICES}.")
    device = _prepare(model, device)
    height = extent[0]
    rows = sliding_windows(extent, chip_size, stride)
    row_tops = [row[0][0] for row in rows] + [height]
    blend = BlendWeights(chip_size, chip_size - stride if edge_ramp is None else edge_ramp, extent)
    stitcher: SegmentationStitcher | None = None
    pending_rows: list[int] = []
    for chips, finished in window_batches(read_window, rows, normalizer, batch_size, queue_size):
        if chips:
            probs = _class_probabilities(model, chips, device, tta)
            if stitcher is None:
                lut = _index_to_id(class_ids, probs.shape[1])
                stitcher = SegmentationStitcher(extent, blend, write, lut, scores=scores, tile_width=tile_width)
            for chip, chip_probs in zip(chips, probs):
                stitcher.add(chip.window, chip_probs, chip.mask)
        pending_rows.extend(finished)
        if pending_rows and stitcher is not None:
            # Rows above the next window row's top can no longer change.
            stitcher.emit(min(row_tops[max(pending_rows) + 1], height))
            pending_rows.clear()
    if stitcher is None:  # every window was nodata: the whole raster is "no prediction"
        write_unpredicted(extent, write, chip_size, tile_width)
        return
    stitcher.emit(height)


@torch.inference_mode()
def predict_object_detection(
    model: nn.Module,
    read_window: ReadWindow,
    extent: tuple[int, int],
    *,
    score_thresh: float = 0.5,
    merge_thresh: float = 0.5,
    class_ids: Sequence[int] | None = None,
    **feed: Unpack[WindowFeed],
) -> dict[str, np.ndarray]:
    """Detect objects over a raster.

    Args:
        model: a :class:`rv_pytorch.models.detection.DetectionModel` (eval
            mode returns per image ``boxes``, ``class_ids``, ``scores``).
        score_thresh: drop detections scoring below this.
        merge_thresh: IoU above which two detections of the same class (from
            the same or overlapping windows) are merged, keeping the higher
            score; partial views cut by a window edge also go when an
            overlapping window saw the object whole (see :func:`merge_detections`).
        Other arguments as :func:`predict_segmentation`.

    Returns:
        ``boxes`` float32 ``(N, 4)`` raster pixels ``ymin, xmin, ymax, xmax``
        (clipped to the extent), ``class_ids`` int64 ``(N,)`` and ``scores``
        float32 ``(N,)``, highest score first.
    """
    height, width = extent
    all_boxes, all_classes, all_scores, all_cut = [], [], [], []
    for chips, detections in _model_outputs(model, read_window, extent, feed):
        for chip, det in zip(chips, detections):
            keep = det["scores"] >= score_thresh
            boxes = det["boxes"][keep].float().cpu()
            all_cut.append(touches_inner_edge(boxes, chip.window, extent))
            offset = torch.tensor([chip.window[0], chip.window[1]] * 2, dtype=torch.float32)
            all_boxes.append(boxes + offset)
            all_classes.append(det["class_ids"][keep].cpu())
            all_scores.append(det["scores"][keep].float().cpu())
    if not all_boxes:
        boxes, classes, scores = torch.zeros((0, 4)), torch.zeros(0, dtype=torch.int64), torch.zeros(0)
        cut = torch.zeros(0, dtype=torch.bool)
    else:
        boxes, classes, scores = torch.cat(all_boxes), torch.cat(all_classes), torch.cat(all_scores)
        cut = torch.cat(all_cut)
    limits = torch.tensor([height, width, height, width], dtype=torch.float32)
    boxes = torch.minimum(boxes.clamp(min=0), limits)
    nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, classes, scores, cut = boxes[nonempty], classes[nonempty], scores[nonempty], cut[nonempty]
    keep = merge_detections(boxes, scores, classes, cut, merge_thresh)
    num_classes = int(getattr(model, "num_classes", int(classes.max()) + 1 if len(classes) else 1))
    lut = _index_to_id(class_ids, num_classes)
    return {
        "boxes": boxes[keep].numpy().astype(np.float32),
        "class_ids": lut[classes[keep].numpy()].astype(np.int64),
        "scores": scores[keep].numpy().astype(np.float32),
    }


@torch.inference_mode()
def predict_chip_classification(
    model: nn.Module,
    read_window: ReadWindow,
    extent: tuple[int, int],
    *,
    class_ids: Sequence[int] | None = None,
    **feed: Unpack[WindowFeed],
) -> dict[str, np.ndarray]:
    """Predict one class per cell of a grid over the raster.

    Cells are the sliding windows (``stride`` defaults to ``chip_size``: a
    grid without overlap). Nodata-only cells are skipped.

    Returns:
        ``windows`` int64 ``(N, 4)`` (``ymin, xmin, ymax, xmax``),
        ``class_ids`` int64 ``(N,)`` and ``scores`` float32 ``(N, K)`` class
        probabilities.
    """
    windows, probs = [], []
    for chips, logits in _model_outputs(model, read_window, extent, feed):
        probs.append(logits.float().softmax(dim=1).cpu().numpy())
        windows.extend(c.window for c in chips)
    if not windows:
        return {
            "windows": np.zeros((0, 4), np.int64),
            "class_ids": np.zeros(0, np.int64),
            "scores": np.zeros((0, 0), np.float32),
        }
    scores = np.concatenate(probs).astype(np.float32)
    lut = _index_to_id(class_ids, scores.shape[1])
    return {
        "windows": np.asarray(windows, np.int64),
        "class_ids": lut[scores.argmax(axis=1)].astype(np.int64),
        "scores": scores,
    }
