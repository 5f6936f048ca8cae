"""Sliding-window prediction over a raster of any size, in bounded memory.

The caller gives a ``read_window(window) -> (chip, mask)`` callable (a chip
``(H, W, C)`` and a nodata mask ``(H, W)``, True = nodata or outside the
raster; ``window`` is a pixel box ``(ymin, xmin, ymax, xmax)``) and the
raster's extent ``(height, width)``. Windows of ``chip_size`` move by
``stride`` row by row; the last row and column are aligned to the raster's
edge, so no window reaches past it unless the raster is smaller than a chip.

Windows are read and normalised in a background thread feeding a bounded
queue, so raster I/O overlaps the model's compute. Windows that are nodata
only are skipped.

- :func:`predict_segmentation` blends class probabilities where windows
  overlap (each window's weight ramps down to its edges that lie inside the
  raster, where a network sees the least context, so an overlap of a few
  dozen pixels hides the seams) and hands finished strips to a
  ``write(window, class_ids, scores)`` callback as soon as no later window
  can touch them: it never holds more than a band of rows of the raster.
- :func:`predict_object_detection` moves each window's boxes to raster
  coordinates and merges duplicates across windows with class-aware NMS
  (``torchvision.ops.batched_nms``; on many boxes, :func:`class_aware_nms`
  runs it on groups of boxes that cannot suppress each other across groups).
- :func:`predict_chip_classification` predicts one class per cell.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms

from rv.errors import ConfigError, DataError
from rv_pytorch.data import IGNORE_INDEX, Normalizer

Window = tuple[int, int, int, int]
ReadWindow = Callable[[Window], tuple[np.ndarray, np.ndarray]]
WriteTile = Callable[[Window, np.ndarray, "np.ndarray | None"], None]


def window_positions(length: int, chip_size: int, stride: int) -> list[int]:
    """Start offsets along one axis: every ``stride`` and one flush with the far edge."""
    if length <= chip_size:
        return [0]
    positions = list(range(0, length - chip_size, stride))
    positions.append(length - chip_size)
    return positions


def sliding_windows(extent: tuple[int, int], chip_size: int, stride: int) -> list[list[Window]]:
    """The windows covering ``extent``, grouped in rows (top to bottom, left to right)."""
    height, width = extent
    xs = window_positions(width, chip_size, stride)
    return [[(y, x, y + chip_size, x + chip_size) for x in xs] for y in window_positions(height, chip_size, stride)]


def _check_geometry(extent: tuple[int, int], chip_size: int, stride: int | None) -> int:
    stride = chip_size if stride is None else stride
    if chip_size < 1 or not 0 < stride <= chip_size:
        raise ConfigError(
            f"Prediction chip size {chip_size} and stride {stride}: the stride must be between "
            "1 and the chip size (a larger stride would leave gaps between windows)."
        )
    if extent[0] < 1 or extent[1] < 1:
        raise DataError(f"The raster extent {tuple(extent)} is empty; nothing to predict.")
    return stride


@dataclass
class _Chip:
    row: int
    window: Window
    image: torch.Tensor
    mask: np.ndarray


_ROW_END = "row_end"
_DONE = "done"


class WindowFeeder:
    """Reads and normalises windows in a background thread.

    Iterating yields :class:`_Chip` items and, after the last window of each
    window row, ``("row_end", row_index)``. An exception in the reader is
    re-raised in the consumer; leaving the iteration early stops the reader.
    """

    def __init__(self, read_window: ReadWindow, rows: list[list[Window]], normalizer: Normalizer,
                 queue_size: int = 16):
        self.read_window = read_window
        self.rows = rows
        self.normalizer = normalizer
        self.queue: queue.Queue = queue.Queue(maxsize=max(queue_size, 1))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rv-window-reader", daemon=True)

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for row_index, row in enumerate(self.rows):
                for window in row:
                    chip, mask = self.read_window(window)
                    mask = np.asarray(mask, dtype=bool)
                    expected = (window[2] - window[0], window[3] - window[1])
                    if chip.shape[:2] != expected or mask.shape != expected:
                        raise DataError(
                            f"read_window{window} returned a chip of shape {chip.shape} and a mask of "
                            f"shape {mask.shape}; both must cover the window, {expected} pixels "
                            "(pad outside the raster and mark it in the mask)."
                        )
                    if mask.all():
                        continue  # nodata only: nothing to predict
                    item = _Chip(row_index, window, self.normalizer(chip, mask), mask)
                    if not self._put(item):
                        return
                if not self._put((_ROW_END, row_index)):
                    return
            self._put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)

    def __iter__(self) -> Iterator[Any]:
        self.thread.start()
        try:
            while True:
                item = self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, tuple) and item[0] == _DONE:
                    return
                yield item
        finally:
            self.stop.set()
            self.thread.join()


def _batches(feeder: WindowFeeder, batch_size: int) -> Iterator[tuple[list[_Chip], list[int]]]:
    """Batches of chips (spanning window rows) with the rows finished once the batch is processed."""
    batch: list[_Chip] = []
    finished: list[int] = []
    for item in feeder:
        if isinstance(item, _Chip):
            batch.append(item)
            if len(batch) == batch_size:
                yield batch, finished
                batch, finished = [], []
        else:
            finished.append(item[1])
            if not batch:
                yield [], finished
                finished = []
    if batch or finished:
        yield batch, finished


def _with_progress(batches: Iterator[tuple[list[_Chip], list[int]]], rows: list[list[Window]],
                   description: str) -> Iterator[tuple[list[_Chip], list[int]]]:
    """Yield ``batches`` unchanged while rv's progress display counts the windows done."""
    from rv.progress import Progress

    with Progress() as progress:
        task = progress.add_task(description, total=sum(len(row) for row in rows))
        for chips, finished in batches:
            yield chips, finished
            progress.advance(task, len(chips))


def _run_model(model: nn.Module, chips: list[_Chip], device: torch.device):
    images = torch.stack([c.image for c in chips]).to(device, non_blocking=True)
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        return model(images)


#: test-time augmentation: the dihedral transforms averaged by ``tta``
#: (``(flip rows, flip columns, quarter turns)``; quarter turns need square windows).
TTA_TRANSFORMS = {
    "none": [(False, False, 0)],
    "flips": [(False, False, 0), (True, False, 0), (False, True, 0), (True, True, 0)],
    "d4": [(v, h, k) for k in (0, 1) for v in (False, True) for h in (False, True)],
}


def _class_probabilities(model: nn.Module, chips: list[_Chip], device: torch.device, tta: str) -> np.ndarray:
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


def _index_to_id(class_ids: Sequence[int] | None, num_classes: int) -> np.ndarray:
    ids = list(range(num_classes)) if class_ids is None else list(class_ids)
    if len(ids) != num_classes:
        raise ConfigError(f"{len(ids)} class ids were given for a model with {num_classes} classes.")
    return np.asarray(ids + [IGNORE_INDEX], dtype=np.uint8)


class _RowBand:
    """Probability sums, weights and validity for rows ``[top, top + height)`` of the raster.

    The buffers are allocated once to the rows the windows span and reused:
    finished rows are dropped by moving the remaining ones up, so memory is
    a fixed band of the raster's width, whatever its height.
    """

    def __init__(self, num_classes: int, width: int):
        self.top = 0
        self.rows = 0  # rows in use, from ``top``
        self.width = width
        self.sums = np.zeros((num_classes, 0, width), np.float32)
        self.weights = np.zeros((0, width), np.float32)
        self.valid = np.zeros((0, width), bool)

    @property
    def bottom(self) -> int:
        return self.top + self.rows

    def ensure(self, bottom: int) -> None:
        needed = bottom - self.top
        if needed > self.weights.shape[0]:
            sums = np.zeros((self.sums.shape[0], needed, self.width), np.float32)
            weights = np.zeros((needed, self.width), np.float32)
            valid = np.zeros((needed, self.width), bool)
            sums[:, : self.rows] = self.sums[:, : self.rows]
            weights[: self.rows] = self.weights[: self.rows]
            valid[: self.rows] = self.valid[: self.rows]
            self.sums, self.weights, self.valid = sums, weights, valid
        self.rows = max(self.rows, needed)

    def add(self, window: Window, probs: np.ndarray, mask: np.ndarray, extent: tuple[int, int],
            weight: np.ndarray | None = None) -> None:
        """Add a window's probabilities ``(K, h, w)``, times ``weight`` ``(h, w)`` (default 1)."""
        ymin, xmin = window[:2]
        ymax, xmax = min(window[2], extent[0]), min(window[3], extent[1])
        h, w = ymax - ymin, xmax - xmin
        self.ensure(ymax)
        rows = slice(ymin - self.top, ymax - self.top)
        if weight is None:
            self.sums[:, rows, xmin:xmax] += probs[:, :h, :w]
            self.weights[rows, xmin:xmax] += 1.0
        else:
            self.sums[:, rows, xmin:xmax] += probs[:, :h, :w] * weight[:h, :w]
            self.weights[rows, xmin:xmax] += weight[:h, :w]
        self.valid[rows, xmin:xmax] |= ~mask[:h, :w]

    def drop(self, upto: int) -> None:
        """Forget rows ``[top, upto)``: the rest move up, the freed rows are zeroed for reuse."""
        n = min(upto - self.top, self.rows)
        keep = self.rows - n
        if keep > 0:
            self.sums[:, :keep] = self.sums[:, n : self.rows].copy()
            self.weights[:keep] = self.weights[n : self.rows].copy()
            self.valid[:keep] = self.valid[n : self.rows].copy()
        self.sums[:, keep : self.rows] = 0
        self.weights[keep : self.rows] = 0
        self.valid[keep : self.rows] = False
        self.rows = keep
        self.top = upto


def _ramp(length: int, ramp: int, start: bool, end: bool) -> np.ndarray:
    """Weights along one side of a window: 1, rising linearly over ``ramp`` pixels from the
    ``start`` and/or ``end`` edge. Two windows overlapping by ``ramp`` pixels then cross-fade:
    their weights sum to 1 at every pixel of the overlap, and no weight is 0."""
    weights = np.ones(length, np.float32)
    ramp = min(ramp, length)
    rise = (np.arange(ramp, dtype=np.float32) + 0.5) / ramp
    if start:
        weights[:ramp] = rise
    if end:
        weights[length - ramp :] = np.minimum(weights[length - ramp :], rise[::-1])
    return weights


class BlendWeights:
    """The weight map of each prediction window: 1 inside, ramping down over ``ramp`` pixels
    towards the window's edges that lie inside the raster (a raster edge is not tapered: no
    other window covers it). ``ramp`` 0 weighs every pixel 1 (a plain average)."""

    def __init__(self, chip_size: int, ramp: int, extent: tuple[int, int]):
        self.chip_size = chip_size
        self.ramp = max(int(ramp), 0)
        self.extent = extent
        self._maps: dict[tuple[bool, bool, bool, bool], np.ndarray] = {}

    def __call__(self, window: Window) -> np.ndarray | None:
        if self.ramp == 0:
            return None
        ymin, xmin, ymax, xmax = window
        inner = (ymin > 0, ymax < self.extent[0], xmin > 0, xmax < self.extent[1])
        if inner not in self._maps:  # at most 16 maps: one per combination of inner edges
            rows = _ramp(self.chip_size, self.ramp, inner[0], inner[1])
            cols = _ramp(self.chip_size, self.ramp, inner[2], inner[3])
            self._maps[inner] = rows[:, None] * cols[None, :]
        return self._maps[inner]


#: the widest tile a finished strip is turned into class ids at once: the
#: argmax and score temporaries scale with it, not with the raster's width
EMIT_TILE_WIDTH = 2048


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
    stride = _check_geometry(extent, chip_size, stride)
    if tta not in TTA_TRANSFORMS:
        raise ConfigError(f"Unknown test-time augmentation {tta!r}; choose from {sorted(TTA_TRANSFORMS)}.")
    device = _prepare(model, device)
    height, width = extent
    rows = sliding_windows(extent, chip_size, stride)
    row_tops = [row[0][0] for row in rows] + [height]
    lut: np.ndarray | None = None
    band: _RowBand | None = None
    tile_width = width if tile_width is None else max(int(tile_width), 1)
    blend = BlendWeights(chip_size, chip_size - stride if edge_ramp is None else edge_ramp, extent)
    pending_rows: list[int] = []

    def emit(upto: int) -> None:
        if band is None or upto <= band.top:
            return
        band.ensure(upto)
        top, n = band.top, upto - band.top
        # Tile by tile: the temporaries are bounded by a tile, not the width.
        step = min(tile_width, EMIT_TILE_WIDTH)
        for x0 in range(0, width, tile_width):
            x1 = min(x0 + tile_width, width)
            classes = np.empty((n, x1 - x0), np.uint8)
            tile_scores = np.empty((band.sums.shape[0], n, x1 - x0), np.float32) if scores else None
            for c0 in range(x0, x1, step):
                c1 = min(c0 + step, x1)
                sums = band.sums[:, :n, c0:c1]
                weights = band.weights[:n, c0:c1]
                # Every class's sum over the same weight: the argmax of the sums is that of the means.
                index = sums.argmax(axis=0)
                index[~((weights > 0) & band.valid[:n, c0:c1])] = len(lut) - 1
                classes[:, c0 - x0 : c1 - x0] = lut[index]
                if tile_scores is not None:
                    # Blend weights are fractions: divide where any window counted (elsewhere 0 / 1).
                    np.divide(sums, np.where(weights > 0, weights, 1), out=tile_scores[:, :, c0 - x0 : c1 - x0])
            write((top, x0, upto, x1), classes, tile_scores)
        band.drop(upto)

    for chips, finished in _with_progress(_batches(WindowFeeder(read_window, rows, normalizer, queue_size), batch_size),
                                          rows, "predict windows"):
        if chips:
            probs = _class_probabilities(model, chips, device, tta)
            if band is None:
                band = _RowBand(probs.shape[1], width)
                lut = _index_to_id(class_ids, probs.shape[1])
            for chip, chip_probs in zip(chips, probs):
                band.add(chip.window, chip_probs, chip.mask, extent, blend(chip.window))
        for row_index in finished:
            pending_rows.append(row_index)
        if pending_rows and band is not None:
            # Rows above the next window row's top can no longer change.
            emit(min(row_tops[max(pending_rows) + 1], height))
            pending_rows.clear()
    if band is None:
        # Every window was nodata: the whole raster is "no prediction".
        for y0 in range(0, height, chip_size):
            y1 = min(y0 + chip_size, height)
            for x0 in range(0, width, tile_width):
                x1 = min(x0 + tile_width, width)
                write((y0, x0, y1, x1), np.full((y1 - y0, x1 - x0), IGNORE_INDEX, np.uint8), None)
        return
    emit(height)


@torch.inference_mode()
def predict_object_detection(
    model: nn.Module,
    read_window: ReadWindow,
    extent: tuple[int, int],
    *,
    chip_size: int,
    normalizer: Normalizer,
    stride: int | None = None,
    batch_size: int = 8,
    class_ids: Sequence[int] | None = None,
    score_thresh: float = 0.5,
    merge_thresh: float = 0.5,
    device: str | torch.device | None = None,
    queue_size: int = 16,
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
    stride = _check_geometry(extent, chip_size, stride)
    device = _prepare(model, device)
    height, width = extent
    all_boxes, all_classes, all_scores, all_cut = [], [], [], []
    rows = sliding_windows(extent, chip_size, stride)
    for chips, _ in _with_progress(_batches(WindowFeeder(read_window, rows, normalizer, queue_size), batch_size),
                                   rows, "predict windows"):
        if not chips:
            continue
        for chip, det in zip(chips, _run_model(model, chips, device)):
            keep = det["scores"] >= score_thresh
            boxes = det["boxes"][keep].float().cpu()
            all_cut.append(_touches_inner_edge(boxes, chip.window, extent))
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


def _touches_inner_edge(boxes: torch.Tensor, window: Window, extent: tuple[int, int], margin: float = 1.0) -> torch.Tensor:
    """Which window-pixel boxes touch an edge of the window that lies inside the raster
    (where the object may continue into the next window)."""
    ymin, xmin, ymax, xmax = window
    size_y, size_x = ymax - ymin, xmax - xmin
    cut = torch.zeros(len(boxes), dtype=torch.bool)
    if ymin > 0:
        cut |= boxes[:, 0] <= margin
    if xmin > 0:
        cut |= boxes[:, 1] <= margin
    if ymax < extent[0]:
        cut |= boxes[:, 2] >= size_y - margin
    if xmax < extent[1]:
        cut |= boxes[:, 3] >= size_x - margin
    return cut


#: above this many boxes, :func:`class_aware_nms` splits them into independent groups first
NMS_GROUPING_MIN_BOXES = 8192
#: boxes per call of torchvision's NMS kernel when grouping (its cost grows with boxes x kept boxes)
NMS_CHUNK_BOXES = 512


def class_aware_nms(boxes: torch.Tensor, scores: torch.Tensor, class_ids: torch.Tensor, iou_thresh: float) -> torch.Tensor:
    """``torchvision.ops.batched_nms``, made fast on the many boxes of a large raster; highest score first.

    torchvision's CPU kernel compares each kept box with every box after it,
    so its time grows with boxes x kept boxes wherever they are (~2 s for
    100,000 boxes of a 20,000² raster). A box only suppresses boxes of its
    class that it overlaps by more than ``iou_thresh``, so NMS decomposes
    over the connected components of that "suppresses" graph: beyond
    :data:`NMS_GROUPING_MIN_BOXES` boxes the components are found with a grid
    (cells as large as the largest box, so overlapping boxes sit in the same
    or adjacent cells), and whole components, a few hundred boxes at a time,
    go through torchvision's NMS, kept apart by coordinate offsets (the
    "coordinate trick" of ``batched_nms``; in float64, so the offsets do not
    blur the coordinates). The boxes kept are those of ``batched_nms``. When
    the boxes are too big or crowded for the grid (more candidate pairs than
    :data:`NMS_MAX_PAIRS_PER_BOX` a box), it is ``batched_nms`` on them all.
    """
    n = len(boxes)
    if n <= NMS_GROUPING_MIN_BOXES:
        return batched_nms(boxes, scores, class_ids, iou_thresh)
    from torchvision.ops import nms

    label = _suppression_groups(boxes, class_ids, iou_thresh)
    if label is None:
        return batched_nms(boxes, scores, class_ids, iou_thresh)
    order = np.argsort(label, kind="stable")
    labels = label[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    # Chunks of whole components: cut at the first component start at or after each multiple of the chunk size.
    pick = np.searchsorted(starts, np.arange(0, n, NMS_CHUNK_BOXES))
    bounds = np.unique(np.r_[starts[pick[pick < len(starts)]], n])
    coords = boxes.detach().cpu().double()
    span = float(coords.abs().max()) * 2 + 1
    scores64 = scores.detach().cpu().double()
    kept = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        index = torch.from_numpy(order[start:end])
        rank = np.unique(labels[start:end], return_inverse=True)[1]  # 0, 1, ... per component of the chunk
        offsets = torch.from_numpy(rank.astype(np.float64)) * span
        kept.append(index[nms(coords[index] + offsets[:, None], scores64[index], iou_thresh)])
    keep = torch.cat(kept)
    return keep[torch.argsort(scores.detach().cpu()[keep], descending=True, stable=True)].to(boxes.device)


#: most candidate pairs the grid may give (per box, and at least): beyond, the boxes are too big or too
#: crowded for the grid to help, and plain ``batched_nms`` (memory linear in the boxes) does the work
NMS_MAX_PAIRS_PER_BOX = 32
NMS_MAX_PAIRS = 4_000_000


def _candidate_pairs(b: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Every pair ``(i, j)`` of boxes of one class that may overlap, each once (and some that do not):
    on a grid of cells as large as the largest box, two boxes that overlap have their top-left corners
    in the same or adjacent cells. None when there would be more pairs than the limits above."""
    n = len(b)
    heights, widths = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cell = max(float(heights.max()), float(widths.max()), 1e-6)
    cy = np.floor(b[:, 0] / cell).astype(np.int64)
    cx = np.floor(b[:, 1] / cell).astype(np.int64)
    cy -= cy.min()
    cx -= cx.min()
    rows, cols = int(cy.max()) + 3, int(cx.max()) + 3
    key = ((classes - classes.min()) * rows + cy + 1) * cols + cx + 1
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    cells, first, count = np.unique(sorted_key, return_index=True, return_counts=True)
    position = np.arange(n) - np.repeat(first, count)
    plans = []
    for dy, dx in ((0, 0), (0, 1), (1, -1), (1, 0), (1, 1)):
        wanted = sorted_key + dy * cols + dx
        at = np.minimum(np.searchsorted(cells, wanted), len(cells) - 1)
        rows_with = np.flatnonzero(cells[at] == wanted)
        begin, size = first[at[rows_with]], count[at[rows_with]]
        if dy == 0 and dx == 0:  # within a cell: the boxes after this one
            skip = position[rows_with] + 1
            begin, size = begin + skip, size - skip
            some = size > 0
            rows_with, begin, size = rows_with[some], begin[some], size[some]
        plans.append((rows_with, begin, size))
    if sum(int(size.sum()) for _, _, size in plans) > max(NMS_MAX_PAIRS, NMS_MAX_PAIRS_PER_BOX * n):
        return None
    sources, targets = [], []
    for rows_with, begin, size in plans:
        offsets = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
        sources.append(order[np.repeat(rows_with, size)])
        targets.append(order[np.repeat(begin, size) + offsets])
    return np.concatenate(sources), np.concatenate(targets)


def _intersections(b: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a, c = b[src], b[dst]
    return (np.clip(np.minimum(a[:, 2], c[:, 2]) - np.maximum(a[:, 0], c[:, 0]), 0, None)
            * np.clip(np.minimum(a[:, 3], c[:, 3]) - np.maximum(a[:, 1], c[:, 1]), 0, None))


def _suppression_groups(boxes: torch.Tensor, class_ids: torch.Tensor, iou_thresh: float) -> np.ndarray | None:
    """A component label per box of the graph joining boxes of one class with IoU above ``iou_thresh``
    (taken a hair lower: the groups may only be coarser than the graph's components, never finer);
    None when the grid would give too many candidate pairs (see :func:`_candidate_pairs`)."""
    b = boxes.detach().cpu().double().numpy()
    classes = class_ids.detach().cpu().numpy().astype(np.int64)
    n = len(b)
    heights, widths = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    pairs = _candidate_pairs(b, classes)
    if pairs is None:
        return None
    src, dst = pairs
    inter = _intersections(b, src, dst)
    area = heights * widths
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area[src] + area[dst] - inter)
    joined = iou > iou_thresh - 1e-6
    src, dst = src[joined], dst[joined]
    label = np.arange(n)
    while True:  # min-label propagation with pointer jumping: a few rounds for the small components of NMS
        low = np.minimum(label[src], label[dst])
        new = label.copy()
        np.minimum.at(new, src, low)
        np.minimum.at(new, dst, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new


def merge_detections(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    class_ids: torch.Tensor,
    cut: torch.Tensor | None = None,
    merge_thresh: float = 0.5,
    cut_overlap: float = 0.5,
) -> torch.Tensor:
    """Indices of the detections to keep after merging duplicates, highest score first.

    1. Class-aware NMS (:func:`class_aware_nms`, i.e. ``torchvision.ops.batched_nms``):
       of two boxes of the same class with IoU above ``merge_thresh`` the
       lower-scoring one goes.
    2. A box cut by an inner window edge (``cut``) is a partial view of an
       object that an overlapping window may see whole; it goes when at least
       ``cut_overlap`` of its area lies in a kept uncut box of its class
       (its IoU with the whole box can be well under ``merge_thresh``).
    """
    keep = class_aware_nms(boxes, scores, class_ids, merge_thresh)
    if cut is None or not bool(cut[keep].any()):
        return keep
    kept_cut = keep[cut[keep]]
    whole = keep[~cut[keep]]
    if len(keep) > NMS_GROUPING_MIN_BOXES and len(whole):
        dropped = _covered_cut_views(boxes, class_ids, keep, cut[keep], cut_overlap)
        if dropped is not None:
            return keep[~dropped]
    drop = torch.zeros(len(kept_cut), dtype=torch.bool)
    if len(whole):
        for start in range(0, len(kept_cut), 1024):  # bounded (1024 x N) matrices
            part = kept_cut[start : start + 1024]
            a, b = boxes[part], boxes[whole]
            top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
            bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
            inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
            area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
            covered = inter / area.clamp(min=1e-6)[:, None]
            same_class = class_ids[part][:, None] == class_ids[whole][None, :]
            drop[start : start + len(part)] = ((covered >= cut_overlap) & same_class).any(dim=1)
    dropped = set(kept_cut[drop].tolist())
    return torch.tensor([i for i in keep.tolist() if i not in dropped], dtype=torch.int64)


def _covered_cut_views(boxes, class_ids, keep, keep_is_cut, cut_overlap: float) -> torch.Tensor | None:
    """Which of the kept boxes are cut views covered (``cut_overlap`` of their area) by a kept whole box of
    their class: what the loop of :func:`merge_detections` finds, over nearby pairs only (None: too many
    pairs, see :func:`_candidate_pairs`)."""
    b = boxes[keep].detach().cpu().double().numpy()
    is_cut = keep_is_cut.cpu().numpy()
    pairs = _candidate_pairs(b, class_ids[keep].detach().cpu().numpy().astype(np.int64))
    if pairs is None:
        return None
    src, dst = pairs
    # Pairs of a cut view and a whole box, in either order: (cut, whole).
    forward = is_cut[src] & ~is_cut[dst]
    backward = ~is_cut[src] & is_cut[dst]
    part = np.r_[src[forward], dst[backward]]
    other = np.r_[dst[forward], src[backward]]
    area = np.maximum((b[part, 2] - b[part, 0]) * (b[part, 3] - b[part, 1]), 1e-6)
    hit = _intersections(b, part, other) / area >= cut_overlap
    dropped = np.zeros(len(b), bool)
    dropped[part[hit]] = True
    return torch.from_numpy(dropped)


@torch.inference_mode()
def predict_chip_classification(
    model: nn.Module,
    read_window: ReadWindow,
    extent: tuple[int, int],
    *,
    chip_size: int,
    normalizer: Normalizer,
    stride: int | None = None,
    batch_size: int = 8,
    class_ids: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    queue_size: int = 16,
) -> dict[str, np.ndarray]:
    """Predict one class per cell of a grid over the raster.

    Cells are the sliding windows (``stride`` defaults to ``chip_size``: a
    grid without overlap). Nodata-only cells are skipped.

    Returns:
        ``windows`` int64 ``(N, 4)`` (``ymin, xmin, ymax, xmax``),
        ``class_ids`` int64 ``(N,)`` and ``scores`` float32 ``(N, K)`` class
        probabilities.
    """
    stride = _check_geometry(extent, chip_size, stride)
    device = _prepare(model, device)
    windows, probs = [], []
    rows = sliding_windows(extent, chip_size, stride)
    for chips, _ in _with_progress(_batches(WindowFeeder(read_window, rows, normalizer, queue_size), batch_size),
                                   rows, "predict windows"):
        if not chips:
            continue
        probs.append(_run_model(model, chips, device).float().softmax(dim=1).cpu().numpy())
        windows.extend(c.window for c in chips)
    if not windows:
        return {"windows": np.zeros((0, 4), np.int64), "class_ids": np.zeros(0, np.int64),
                "scores": np.zeros((0, 0), np.float32)}
    scores = np.concatenate(probs).astype(np.float32)
    lut = _index_to_id(class_ids, scores.shape[1])
    return {
        "windows": np.asarray(windows, np.int64),
        "class_ids": lut[scores.argmax(axis=1)].astype(np.int64),
        "scores": scores,
    }
