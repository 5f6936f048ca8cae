"""Merging the detections of overlapping windows into one set of raster boxes.

Overlapping windows see an object several times: whole in one window, cut by
an inner window edge in another. :func:`merge_detections` keeps one box per
object: class-aware NMS (``torchvision.ops.batched_nms``, made fast on the
many boxes of a large raster by :func:`class_aware_nms`), then it drops the
partial views that a kept whole box covers. Which boxes overlap comes from
:func:`rv.core.box.intersecting_pairs` (a shapely ``STRtree``), and the
groups of boxes that may suppress each other are the connected components of
that graph (``scipy.sparse.csgraph``).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import batched_nms

from rv.core.box import intersecting_pairs
from rv_pytorch.windows import Window

#: above this many boxes, :func:`class_aware_nms` splits them into independent groups first
NMS_GROUPING_MIN_BOXES = 8192
#: boxes per call of torchvision's NMS kernel when grouping (its cost grows with boxes x kept boxes)
NMS_CHUNK_BOXES = 512
#: most overlapping pairs the grouping may meet (per box, and at least): beyond, the boxes are too big or
#: too crowded for groups to help, and plain ``batched_nms`` (memory linear in the boxes) does the work
NMS_MAX_PAIRS_PER_BOX = 32
NMS_MAX_PAIRS = 4_000_000


def touches_inner_edge(
    boxes: torch.Tensor, window: Window, extent: tuple[int, int], margin: float = 1.0
) -> torch.Tensor:
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


def _same_class_pairs(
    boxes: np.ndarray, classes: np.ndarray, max_pairs: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`rv.core.box.intersecting_pairs` of ``boxes`` with themselves, of one class only."""
    pairs = intersecting_pairs(boxes, max_pairs=max_pairs)
    if pairs is None:
        return None
    i, j, inter, iou = pairs
    same = classes[i] == classes[j]
    return i[same], j[same], inter[same], iou[same]


def suppression_groups(boxes: torch.Tensor, class_ids: torch.Tensor, iou_thresh: float) -> np.ndarray | None:
    """A group label per box: the connected components of the graph joining boxes of one class with IoU
    above ``iou_thresh`` (taken a hair lower: the groups may only be coarser than the graph's components,
    never finer). None when the boxes overlap in more pairs than :data:`NMS_MAX_PAIRS` (or
    :data:`NMS_MAX_PAIRS_PER_BOX` a box)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    b = boxes.detach().cpu().double().numpy()
    n = len(b)
    pairs = _same_class_pairs(
        b, class_ids.detach().cpu().numpy(), max_pairs=max(NMS_MAX_PAIRS, NMS_MAX_PAIRS_PER_BOX * n)
    )
    if pairs is None:
        return None
    src, dst, _, iou = pairs
    joined = iou > iou_thresh - 1e-6
    graph = coo_matrix((np.ones(int(joined.sum()), np.int8), (src[joined], dst[joined])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def class_aware_nms(
    boxes: torch.Tensor, scores: torch.Tensor, class_ids: torch.Tensor, iou_thresh: float
) -> torch.Tensor:
    """``torchvision.ops.batched_nms``, made fast on the many boxes of a large raster; highest score first.

    torchvision's CPU kernel compares each kept box with every box after it,
    so its time grows with boxes x kept boxes wherever they are (~2 s for
    100,000 boxes of a 20,000² raster). A box only suppresses boxes of its
    class that it overlaps by more than ``iou_thresh``, so NMS decomposes
    over the connected components of that "suppresses" graph: beyond
    :data:`NMS_GROUPING_MIN_BOXES` boxes the components are found
    (:func:`suppression_groups`), and whole components, a few hundred boxes
    at a time, go through torchvision's NMS, kept apart by coordinate offsets
    (the "coordinate trick" of ``batched_nms``; in float64, so the offsets
    do not blur the coordinates). The boxes kept are those of
    ``batched_nms``. When the boxes overlap in too many pairs for groups to
    help, it is ``batched_nms`` on them all.
    """
    n = len(boxes)
    if n <= NMS_GROUPING_MIN_BOXES:
        return batched_nms(boxes, scores, class_ids, iou_thresh)
    from torchvision.ops import nms

    label = suppression_groups(boxes, class_ids, iou_thresh)
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
        offsets = torch.from_numpy(rank.reshape(-1).astype(np.float64)) * span
        kept.append(index[nms(coords[index] + offsets[:, None], scores64[index], iou_thresh)])
    keep = torch.cat(kept)
    return keep[torch.argsort(scores.detach().cpu()[keep], descending=True, stable=True)].to(boxes.device)


def covered_cut_views(
    boxes: torch.Tensor, class_ids: torch.Tensor, is_cut: torch.Tensor, cut_overlap: float
) -> torch.Tensor:
    """Which boxes are cut views with at least ``cut_overlap`` of their area inside an uncut box of their
    class (bool, one per box)."""
    b = boxes.detach().cpu().double().numpy()
    cut = is_cut.detach().cpu().numpy()
    src, dst, inter, _ = _same_class_pairs(b, class_ids.detach().cpu().numpy())
    # Pairs of a cut view and a whole box, in either order: (cut, whole).
    forward = cut[src] & ~cut[dst]
    backward = ~cut[src] & cut[dst]
    part = np.r_[src[forward], dst[backward]]
    shared = np.r_[inter[forward], inter[backward]]
    area = np.maximum((b[part, 2] - b[part, 0]) * (b[part, 3] - b[part, 1]), 1e-6)
    dropped = np.zeros(len(b), bool)
    dropped[part[shared / area >= cut_overlap]] = True
    return torch.from_numpy(dropped)


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
    dropped = covered_cut_views(boxes[keep], class_ids[keep], cut[keep], cut_overlap)
    return keep[~dropped.to(keep.device)]
