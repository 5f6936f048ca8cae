"""Sliding-window prediction: stitching, overlap averaging, streaming, NMS merge, nodata."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
import torch
from rvpt_data import KAMPALA_B, NEON, read_scene
from torch import nn

from rv.errors import DataError
from rv_pytorch.data import Normalizer
from rv_pytorch.merging import merge_detections
from rv_pytorch.models import create_detection_model, create_segmentation_model
from rv_pytorch.predict import predict_chip_classification, predict_object_detection, predict_segmentation
from rv_pytorch.windows import sliding_windows

RGB = Normalizer([0.0] * 3, [255.0] * 3)


def reader(image: np.ndarray, nodata: np.ndarray | None = None, log: list | None = None):
    """A read_window over an in-memory scene, padding outside it (mask True there)."""
    height, width = image.shape[:2]

    def read_window(window):
        ymin, xmin, ymax, xmax = window
        if log is not None:
            log.append(("read", window))
        chip = np.zeros((ymax - ymin, xmax - xmin, image.shape[2]), image.dtype)
        mask = np.ones((ymax - ymin, xmax - xmin), bool)
        y1, x1 = min(ymax, height), min(xmax, width)
        chip[: y1 - ymin, : x1 - xmin] = image[ymin:y1, xmin:x1]
        mask[: y1 - ymin, : x1 - xmin] = False if nodata is None else nodata[ymin:y1, xmin:x1]
        return chip, mask

    return read_window


class Mosaic:
    """A write callback assembling the streamed tiles (for checking only)."""

    def __init__(self, extent, num_classes=None):
        self.classes = np.full(extent, 77, np.uint8)  # 77: never written
        self.scores = None if num_classes is None else np.full((num_classes, *extent), np.nan, np.float32)
        self.windows = []

    def __call__(self, window, class_arr, scores):
        ymin, xmin, ymax, xmax = window
        assert class_arr.shape == (ymax - ymin, xmax - xmin)
        assert (self.classes[ymin:ymax, xmin:xmax] == 77).all(), "a pixel was written twice"
        self.classes[ymin:ymax, xmin:xmax] = class_arr
        if self.scores is not None:
            self.scores[:, ymin:ymax, xmin:xmax] = scores
        self.windows.append(window)


class PixelModel(nn.Module):
    """A per-pixel (1x1 conv) classifier: its prediction for a pixel does not
    depend on the window, so any tiling must reproduce the full-image answer."""

    def __init__(self, bands=3, classes=3):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(bands, classes, 1)
        self.calls = 0
        self.images = 0

    def forward(self, x):
        self.calls += 1
        self.images += len(x)
        return self.conv(x) * 5


def predict_mosaic(model, scene, num_classes, **options):
    """``predict_segmentation`` of all of ``scene`` in chips of 64 pixels, with scores, into a new
    :class:`Mosaic` (``options``: stride, batch_size and the others)."""
    mosaic = Mosaic(scene.shape[:2], num_classes)
    predict_segmentation(
        model, reader(scene), scene.shape[:2], mosaic, chip_size=64, normalizer=RGB, scores=True, **options
    )
    return mosaic


def detect(model, image, **options):
    """``predict_object_detection`` of all of ``image``, boxes of neighbouring windows merged at IoU 0.5
    (``options``: chip_size, stride, score_thresh and the others)."""
    return predict_object_detection(model, reader(image), image.shape[:2], normalizer=RGB, merge_thresh=0.5, **options)


@pytest.fixture(scope="module")
def scene():
    return read_scene(KAMPALA_B, (100, 50, 150, 170))  # 150 x 170 real pixels


@pytest.mark.parametrize("stride", [64, 40, 17])
def test_tiling_reproduces_the_full_image_prediction_of_a_per_pixel_model(scene, stride):
    model = PixelModel()
    full = model(RGB(scene)[None]).softmax(dim=1)[0].detach().numpy()
    mosaic = predict_mosaic(model, scene, 3, stride=stride, batch_size=3, class_ids=[10, 20, 30])
    assert np.allclose(mosaic.scores, full, atol=1e-5)
    expected = np.array([10, 20, 30], np.uint8)[full.argmax(axis=0)]
    assert np.array_equal(mosaic.classes, expected)


def reference_blend(model, scene, chip_size, stride, ramp):
    """Per-window CNN predictions blended in full-scene arrays (what streaming must equal): each window
    weighs a pixel min(1, (d + 0.5) / ramp), d its distance to the window's edges inside the scene
    (``ramp`` 0: every pixel 1, a plain average)."""
    height, width = scene.shape[:2]
    sums = np.zeros((2, height, width))
    weights = np.zeros((height, width))

    def along(start, length, limit):
        d = np.arange(length, dtype=float)
        w = np.ones(length)
        if ramp:
            if start > 0:
                w = np.minimum(w, (d + 0.5) / ramp)
            if start + length < limit:
                w = np.minimum(w, (length - d - 0.5) / ramp)
        return w

    with torch.no_grad():
        for row in sliding_windows((height, width), chip_size, stride):
            for ymin, xmin, ymax, xmax in row:
                probs = model(RGB(scene[ymin:ymax, xmin:xmax])[None]).softmax(dim=1)[0].numpy()
                w = along(ymin, ymax - ymin, height)[:, None] * along(xmin, xmax - xmin, width)[None, :]
                sums[:, ymin:ymax, xmin:xmax] += probs * w
                weights[ymin:ymax, xmin:xmax] += w
    return sums / weights


@pytest.mark.parametrize("stride, edge_ramp", [(64, None), (40, 0), (40, None), (56, None)])
def test_cnn_windows_are_stitched_and_overlaps_blended(scene, stride, edge_ramp):
    torch.manual_seed(1)
    model = create_segmentation_model("resnet18", 2, decoder_channels=32).eval()
    expected = reference_blend(model, scene, 64, stride, 64 - stride if edge_ramp is None else edge_ramp)
    mosaic = predict_mosaic(model, scene, 2, stride=stride, batch_size=4, edge_ramp=edge_ramp)
    assert np.allclose(mosaic.scores, expected, atol=1e-4)
    decided = np.abs(expected[1] - expected[0]) > 1e-3
    assert np.array_equal(mosaic.classes[decided], expected.argmax(axis=0)[decided])
    # Where windows do not overlap a block is exactly one window's prediction
    # (rows 0-64 and 64-86 are covered by one window row each at stride 64).
    if stride == 64:
        with torch.no_grad():
            window = model(RGB(scene[0:64, 64:128])[None]).softmax(dim=1)[0].numpy()
        assert np.allclose(mosaic.scores[:, 0:64, 64:106], window[:, :, :42], atol=1e-4)


def test_the_blend_cross_fades_neighbouring_windows_over_their_overlap():
    """Two windows overlapping by the ramp: their weights sum to 1 across the overlap (a cross-fade),
    each is 1 elsewhere, and no weight is 0 (every covered pixel is predicted)."""
    from rv_pytorch.stitching import BlendWeights

    blend = BlendWeights(64, 8, (64, 120))
    left, right = blend((0, 0, 64, 64)), blend((0, 56, 64, 120))
    assert left.shape == right.shape == (64, 64)
    np.testing.assert_allclose(left[:, 56:] + right[:, :8], 1.0)
    assert (left[:, :56] == 1).all() and (right[:, 8:] == 1).all()  # the scene's own edges are not tapered
    assert left.min() > 0 and right.min() > 0
    assert BlendWeights(64, 0, (64, 120))((0, 0, 64, 64)) is None  # ramp 0: a plain average


def test_streaming_holds_a_band_of_rows_not_the_scene():
    tall = np.tile(read_scene(NEON, (0, 0, 400, 96)), (8, 1, 1))  # 3200 x 96 real pixels
    extent = tall.shape[:2]
    log: list = []
    lock = threading.Lock()
    read = reader(tall, log=log)

    def locked_read(window):
        with lock:
            return read(window)

    def write(window, class_arr, scores):
        with lock:
            log.append(("write", window))
        assert scores.shape == (3, *class_arr.shape)

    model = PixelModel()
    tracemalloc.start()
    predict_segmentation(
        model,
        locked_read,
        extent,
        write,
        chip_size=64,
        stride=48,
        normalizer=RGB,
        batch_size=4,
        scores=True,
        queue_size=4,
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    writes = [w for kind, w in log if kind == "write"]
    # Strips arrive top to bottom, each at most chip + stride rows, covering the scene once.
    assert writes[0][0] == 0 and writes[-1][2] == extent[0]
    assert all(a[2] == b[0] for a, b in zip(writes, writes[1:]))
    assert max(w[2] - w[0] for w in writes) <= 64 + 48
    # Results are handed over while reading goes on: rows read but not yet written stay bounded.
    written = 0
    lag = 0
    for kind, window in log:
        if kind == "write":
            written = window[2]
        else:
            lag = max(lag, window[2] - written)
    assert lag <= 64 + 48 * 8
    # Scores for the whole scene would be 3 x 3200 x 96 float32 = 3.7 MB.
    assert peak < 1.5e6


def test_nodata_windows_are_skipped_and_nodata_pixels_get_255(scene):
    nodata = np.zeros(scene.shape[:2], bool)
    nodata[:64, :] = True  # the whole first window row
    nodata[100:110, 100:120] = True  # a patch inside valid windows
    model = PixelModel()
    mosaic = Mosaic(scene.shape[:2])
    predict_segmentation(
        model, reader(scene, nodata), scene.shape[:2], mosaic, chip_size=64, stride=64, normalizer=RGB, batch_size=1
    )
    windows = sum(len(r) for r in sliding_windows(scene.shape[:2], 64, 64))
    assert model.images == windows - 3  # the 3 windows of the first row are nodata only
    assert (mosaic.classes[nodata] == 255).all()
    assert (mosaic.classes[~nodata] < 3).all()


def test_a_scene_smaller_than_a_chip_is_padded(scene):
    small = scene[:30, :45]
    model = PixelModel()
    mosaic = predict_mosaic(model, small, 3)
    full = model(RGB(small)[None]).softmax(dim=1)[0].detach().numpy()
    assert np.allclose(mosaic.scores, full, atol=1e-5)


def test_reader_errors_reach_the_caller(scene):
    def broken(window):
        if window[0] > 0:
            raise DataError(f"cannot read window {window}")
        return reader(scene)(window)

    with pytest.raises(DataError, match="cannot read window"):
        predict_segmentation(
            PixelModel(), broken, scene.shape[:2], Mosaic(scene.shape[:2]), chip_size=64, normalizer=RGB
        )


class SquareDetector(nn.Module):
    """Finds the bright square in each window (pixels > 0.9 in band 0) and
    reports its box as seen in that window: whole or cut by the window edge."""

    num_classes = 1

    def forward(self, images):
        out = []
        for image in images:
            ys, xs = torch.nonzero(image[0] > 0.9, as_tuple=True)
            if len(ys):
                box = torch.tensor([[ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]], dtype=torch.float32)
                out.append({"boxes": box, "class_ids": torch.tensor([0]), "scores": torch.tensor([0.9])})
            else:
                out.append(
                    {
                        "boxes": torch.zeros((0, 4)),
                        "class_ids": torch.zeros(0, dtype=torch.int64),
                        "scores": torch.zeros(0),
                    }
                )
        return out


def test_detection_duplicates_across_windows_are_merged():
    image = (read_scene(NEON, (0, 0, 200, 200)) // 2).astype(np.uint8)  # real background, all < 0.9
    squares = [(30, 40, 50, 62), (120, 130, 140, 150)]
    for y0, x0, y1, x1 in squares:
        image[y0:y1, x0:x1] = 255
    # 64 px windows every 32 px: each square is seen (whole or cut) by up to 9 windows.
    out = detect(SquareDetector(), image, chip_size=64, stride=32, score_thresh=0.5, class_ids=[7])
    order = np.argsort(out["boxes"][:, 0])
    assert out["boxes"][order].tolist() == [list(map(float, s)) for s in squares]
    assert out["class_ids"].tolist() == [7, 7]
    assert np.allclose(out["scores"], 0.9)


def test_merge_detections_is_class_aware():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [0, 0, 10, 4.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    classes = torch.tensor([0, 0, 1, 0])
    cut = torch.tensor([False, False, False, True])
    # Box 1 duplicates box 0 (IoU 0.81); box 2 has another class; box 3 is a cut view inside box 0.
    assert merge_detections(boxes, scores, classes, cut, 0.5).tolist() == [0, 2]
    assert merge_detections(boxes, scores, classes, None, 0.5).tolist() == [3, 0, 2]


def test_class_aware_nms_on_many_boxes_keeps_what_batched_nms_keeps(monkeypatch):
    """Beyond NMS_GROUPING_MIN_BOXES, NMS runs on independent groups of boxes: the same boxes survive."""
    from torchvision.ops import batched_nms

    from rv_pytorch.merging import NMS_GROUPING_MIN_BOXES, class_aware_nms

    rng = np.random.default_rng(0)
    objects, views = 6000, 4  # as overlapping windows see objects: each several times, jittered
    side = rng.uniform(8, 60, (objects, 2))
    corner = rng.uniform(-100, 5000, (objects, 2))  # dense: objects overlap each other too
    base = np.concatenate([corner, corner + side], axis=1)
    boxes = base[:, None] + rng.normal(0, 0.08, (objects, views, 4)) * np.concatenate([side, side], 1)[:, None]
    boxes = boxes.reshape(-1, 4)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 0.5)
    boxes = torch.from_numpy(boxes).float()
    scores = torch.from_numpy(rng.permutation(len(boxes)) / len(boxes)).float()  # no ties
    classes = torch.from_numpy(np.repeat(rng.integers(0, 3, objects), views))
    assert len(boxes) > NMS_GROUPING_MIN_BOXES
    for thresh in (0.3, 0.5):
        expected = batched_nms(boxes, scores, classes, thresh)
        got = class_aware_nms(boxes, scores, classes, thresh)
        assert got.tolist() == expected.tolist()  # the same boxes, highest score first
        assert 0.2 * len(boxes) < len(got) < 0.9 * len(boxes)

    from rv_pytorch import merging

    # A box as large as the scene overlaps every box of its class: the groups still give batched_nms's answer.
    huge = torch.cat([boxes, torch.tensor([[-100.0, -100.0, 5100.0, 5100.0]])])
    huge_scores, huge_classes = torch.cat([scores, torch.tensor([0.5])]), torch.cat([classes, torch.tensor([0])])
    assert (
        class_aware_nms(huge, huge_scores, huge_classes, 0.5).tolist()
        == batched_nms(huge, huge_scores, huge_classes, 0.5).tolist()
    )
    # Boxes overlapping in more pairs than the limits allow: plain batched_nms on them all, the same answer.
    assert merging.suppression_groups(boxes, classes, 0.5) is not None
    with monkeypatch.context() as patched:
        patched.setattr(merging, "NMS_MAX_PAIRS", 10)
        patched.setattr(merging, "NMS_MAX_PAIRS_PER_BOX", 0)
        assert merging.suppression_groups(boxes, classes, 0.5) is None
        assert (
            class_aware_nms(boxes, scores, classes, 0.5).tolist() == batched_nms(boxes, scores, classes, 0.5).tolist()
        )

    # merge_detections drops the same cut views whether NMS runs on groups or on all the boxes at once.
    cut = torch.from_numpy(rng.random(len(boxes)) < 0.2)
    many = merge_detections(boxes, scores, classes, cut, 0.5)
    monkeypatch.setattr(merging, "NMS_GROUPING_MIN_BOXES", 10**9)
    few = merge_detections(boxes, scores, classes, cut, 0.5)
    assert many.tolist() == few.tolist() and len(few) < len(batched_nms(boxes, scores, classes, 0.5))


def test_merge_drops_exactly_the_cut_views_a_kept_whole_box_of_their_class_covers():
    """Against the definition, pair by pair over every kept box (dense matrices of rv.core.box)."""
    from torchvision.ops import batched_nms

    from rv.core.box import intersection_matrix

    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 400, (600, 2))
    boxes = torch.from_numpy(np.concatenate([corner, corner + rng.uniform(5, 40, (600, 2))], axis=1)).float()
    scores = torch.from_numpy(rng.permutation(600) / 600).float()
    classes = torch.from_numpy(rng.integers(0, 2, 600))
    cut = torch.from_numpy(rng.random(600) < 0.4)
    kept = batched_nms(boxes, scores, classes, 0.5)
    b, c, k = boxes[kept].double().numpy(), classes[kept].numpy(), cut[kept].numpy()
    covered = intersection_matrix(b, b) / ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[:, None]
    covers = (covered >= 0.5) & (c[:, None] == c[None, :]) & k[:, None] & ~k[None, :]
    expected = kept[torch.from_numpy(~covers.any(axis=1))]
    assert 0 < len(kept) - len(expected) < len(kept)
    assert merge_detections(boxes, scores, classes, cut, 0.5).tolist() == expected.tolist()


def test_detection_with_a_real_model_returns_raster_boxes():
    image = read_scene(NEON, (0, 0, 150, 200))
    torch.manual_seed(0)
    model = create_detection_model("resnet18", 1, fpn_channels=32)
    out = detect(model, image, chip_size=96, stride=64, score_thresh=0.0)
    boxes = out["boxes"]
    assert boxes.shape[1] == 4 and len(out["scores"]) == len(boxes) == len(out["class_ids"])
    assert (boxes[:, 2] <= 150).all() and (boxes[:, 3] <= 200).all() and (boxes >= 0).all()
    assert np.all(np.diff(out["scores"]) <= 0)


def test_chip_classification_predicts_one_class_per_cell(scene):
    class MeanClassifier(nn.Module):
        def forward(self, x):  # class 1 when the cell is brighter than 0.5
            brightness = x.mean(dim=(1, 2, 3))
            return torch.stack([0.5 - brightness, brightness - 0.5], dim=1) * 10

    nodata = np.zeros(scene.shape[:2], bool)
    nodata[:50, :50] = True
    out = predict_chip_classification(
        MeanClassifier(), reader(scene, nodata), scene.shape[:2], chip_size=50, normalizer=RGB, class_ids=[0, 1]
    )
    windows = out["windows"]
    assert len(windows) == 3 * 4 - 1 and [0, 0, 50, 50] not in windows.tolist()
    for window, class_id in zip(windows, out["class_ids"]):
        ymin, xmin, ymax, xmax = window
        assert class_id == int(scene[ymin:ymax, xmin:xmax].mean() / 255 > 0.5)
    assert np.allclose(out["scores"].sum(axis=1), 1.0)


def _view(x, flip_v, flip_h, turns):
    dims = [d for d, flip in ((-2, flip_v), (-1, flip_h)) if flip]
    return torch.rot90(x.flip(dims) if dims else x, turns, (-2, -1))


def _unview(y, flip_v, flip_h, turns):
    dims = [d for d, flip in ((-2, flip_v), (-1, flip_h)) if flip]
    y = torch.rot90(y, -turns, (-2, -1))
    return y.flip(dims) if dims else y


@pytest.mark.parametrize("tta", ["flips", "d4"])
def test_test_time_augmentation_averages_the_flipped_predictions(scene, tta):
    square = scene[:64, :64]
    torch.manual_seed(2)
    model = create_segmentation_model("resnet18", 2, decoder_channels=32).eval()
    x = RGB(square)[None]
    flips = [(v, h) for v in (False, True) for h in (False, True)]
    transforms = [(v, h, 0) for v, h in flips] + ([(v, h, 1) for v, h in flips] if tta == "d4" else [])
    with torch.no_grad():
        expected = (
            torch.stack([_unview(model(_view(x, *t)).softmax(dim=1), *t) for t in transforms]).mean(dim=0)[0].numpy()
        )
    mosaic = Mosaic(square.shape[:2], 2)
    predict_segmentation(
        model, reader(square), square.shape[:2], mosaic, chip_size=64, normalizer=RGB, scores=True, tta=tta
    )
    assert np.allclose(mosaic.scores, expected, atol=1e-5)
    # A per-pixel model gives the same answer with or without test-time augmentation.
    pixel = PixelModel()
    plain, augmented = Mosaic(square.shape[:2], 3), Mosaic(square.shape[:2], 3)
    predict_segmentation(pixel, reader(square), square.shape[:2], plain, chip_size=64, normalizer=RGB, scores=True)
    predict_segmentation(
        pixel, reader(square), square.shape[:2], augmented, chip_size=64, normalizer=RGB, scores=True, tta=tta
    )
    assert np.allclose(plain.scores, augmented.scores, atol=1e-5)


def test_prediction_reports_its_windows_through_rvs_progress_display(scene, capsys, monkeypatch):
    """Without a terminal (a batch log), rv's display writes one line: how many windows were predicted."""
    monkeypatch.delenv("RV_PROGRESS", raising=False)
    windows = sum(len(row) for row in sliding_windows(scene.shape[:2], 64, 40))
    predict_segmentation(
        PixelModel(), reader(scene), scene.shape[:2], Mosaic(scene.shape[:2]), chip_size=64, stride=40, normalizer=RGB
    )
    err = capsys.readouterr().err
    assert f"predict windows: {windows} " in err, err
