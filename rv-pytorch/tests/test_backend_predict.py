"""PREDICT through the backend entity on real scenes: where windows are read, where labels land.

The models here are small deterministic stand-ins whose answer is a known
function of the window's pixels, so every test can compute the expected
labels itself, from rasterio reads, and check that the backend read the
right windows and put each label at the right place of the scene and the map.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
import torch
from pyproj import Transformer
from rasterio.warp import transform_geom
from torch import nn

import rv
from rv.core.box import Box
from rv.errors import DataError
from rv_pytorch.data import Normalizer
from rv_pytorch.model_files import ModelSpec

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
NEON = DATA / "trees" / "neon_osbs_029.tif"
KAMPALA_B = DATA / "buildings" / "kampala_oam_b.tif"
S2 = DATA / "landcover" / "s2_aberystwyth_tile4.tif"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def write_aoi(path: Path, pixel_polygon, tif: Path) -> str:
    """A WGS84 GeoJSON AOI of a pixel-space polygon of ``tif`` (transformed with GDAL, not rv)."""
    with rasterio.open(tif) as ds:
        t = ds.transform
        map_poly = shapely.transform(
            pixel_polygon, lambda xy: np.column_stack([t.c + t.a * xy[:, 0], t.f + t.e * xy[:, 1]])
        )
        geometry = transform_geom(ds.crs, "EPSG:4326", shapely.geometry.mapping(map_poly))
    path.write_text(json.dumps({"type": "FeatureCollection",
                                "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}))
    return str(path)


def read_image(tif: Path, bands=None) -> np.ndarray:
    with rasterio.open(tif) as ds:
        return np.moveaxis(ds.read(bands), 0, -1)


class BrightestPixelDetector(nn.Module):
    """Finds, in each window, the brightest pixel of band 0 and reports a 9 x 9 box centred on it."""

    num_classes = 1

    def set_thresholds(self, **kwargs):
        self.thresholds = kwargs

    def forward(self, images):
        out = []
        for image in images:
            band = image[0]
            flat = int(torch.argmax(band))
            y, x = divmod(flat, band.shape[1])
            box = torch.tensor([[y - 4, x - 4, y + 5, x + 5]], dtype=torch.float32)
            out.append({"boxes": box, "class_ids": torch.zeros(1, dtype=torch.int64),
                        "scores": torch.tensor([0.9])})
        return out


class MeanThresholdClassifier(nn.Module):
    """Class index 1 when a window's mean of band 0 (normalised) exceeds ``threshold``, else 0;
    nodata pixels (normalised to 0) count as 0."""

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def forward(self, images):
        mean = images[:, 0].mean(dim=(1, 2))
        logit = (mean - self.threshold) * 100
        return torch.stack([-logit, logit], dim=1)


class GreenerThanRed(nn.Module):
    """Segmentation: class index 1 where band 1 exceeds band 0 (pixel by pixel)."""

    def forward(self, images):
        logit = (images[:, 1] - images[:, 0]) * 1000
        return torch.stack([-logit, logit], dim=1)


def backend_with(key: str, task, model: nn.Module, num_channels: int = 3):
    """A backend entity whose loaded model is ``model`` (uint8 input, /255)."""
    config = rv.BackendConfig.builder(key).with_task(task).build()
    backend = config.create(task, None)
    classes = [{"id": c.id, "name": c.name, "color": c.color} for c in task.classes]
    normalizer = Normalizer.for_dtype("uint8", num_channels)
    backend.spec = ModelSpec(backend=key, task=task.key, encoder="stand-in", classes=classes,
                             num_channels=num_channels, dtype="uint8", normalizer=normalizer.to_dict(),
                             chip_size=task.chip_size)
    backend.model, backend.normalizer = model.eval(), normalizer
    return backend


def test_detected_boxes_land_on_the_map_where_the_pixels_are(tmp_path):
    task = (rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"tree": (0, "green")}).with_chip_size(100)
            .with_predict_options(stride=100, score_thresh=0.5, merge_thresh=0.5).with_predict_batch_size(3).build())
    out = tmp_path / "trees.geojson"
    scene = (rv.SceneConfig.builder().with_task(task).with_id("osbs").with_raster_source(str(NEON))
             .with_label_store(str(out)).build().create(task, str(tmp_path), with_labels=False, with_store=True))
    backend = backend_with(rv.PYTORCH_OBJECT_DETECTION, task, BrightestPixelDetector())
    labels = backend.predict_scene(scene, str(tmp_path))
    assert backend.model.thresholds == {"score_thresh": 0.5, "nms_thresh": 0.5}

    # Expected, from the image itself: one box per 100 x 100 window around its brightest band-0 pixel
    # (nodata 255 pixels are masked to 0 by the normaliser, so they never win).
    image = read_image(NEON)
    valid = ~(image == 255).all(axis=2)
    expected = []
    for y0 in range(0, 400, 100):
        for x0 in range(0, 400, 100):
            band = np.where(valid, image[..., 0].astype(float), 0.0)[y0:y0 + 100, x0:x0 + 100]
            y, x = np.unravel_index(np.argmax(band), band.shape)
            box = np.array([y0 + y - 4, x0 + x - 4, y0 + y + 5, x0 + x + 5], float)
            expected.append(np.clip(box, 0, 400))
    expected = np.array(sorted(map(tuple, expected)))
    assert len(labels) == 16
    np.testing.assert_allclose(np.array(sorted(map(tuple, labels.boxes))), expected)

    # The GeoJSON is WGS84; back to pixels with pyproj and the raster's transform, independently of rv.
    doc = json.loads(out.read_text())
    assert "crs" not in doc and len(doc["features"]) == 16
    with rasterio.open(NEON) as ds:
        to_scene = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True)
        inverse = ~ds.transform
    found = []
    for feature in doc["features"]:
        assert feature["properties"]["class_name"] == "tree" and feature["properties"]["score"] == pytest.approx(0.9)
        lon, lat = np.asarray(feature["geometry"]["coordinates"][0]).T
        xs, ys = to_scene.transform(lon, lat)
        xs, ys = np.asarray(xs), np.asarray(ys)
        cols, rows = inverse.a * xs + inverse.b * ys + inverse.c, inverse.d * xs + inverse.e * ys + inverse.f
        found.append((rows.min(), cols.min(), rows.max(), cols.max()))
    np.testing.assert_allclose(np.array(sorted(found)), expected, atol=1e-3)


def test_detections_outside_the_aoi_are_not_reported(tmp_path):
    task = (rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"tree": (0, "green")}).with_chip_size(100)
            .with_predict_options(stride=100).build())
    aoi = write_aoi(tmp_path / "right.geojson", shapely.box(200, 0, 400, 400), NEON)
    scene = (rv.SceneConfig.builder().with_task(task).with_id("right").with_raster_source(str(NEON))
             .with_aoi_uri(aoi).build().create(task, str(tmp_path), with_labels=False))
    labels = backend_with(rv.PYTORCH_OBJECT_DETECTION, task, BrightestPixelDetector()).predict_scene(scene, "")
    assert len(labels) == 8  # the 8 windows of the right half
    centres_x = (labels.boxes[:, 1] + labels.boxes[:, 3]) / 2
    assert (centres_x >= 200).all()


def test_chip_classification_cells_are_the_label_grid_and_classes_come_from_their_pixels(tmp_path):
    size = 96  # 400 px is not a multiple: the last row and column of cells stick out past the edge
    task = (rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_classes({"dark": (0, "black"), "bright": (1, "white")})
            .with_chip_size(size).build())
    out = tmp_path / "cells.geojson"
    scene = (rv.SceneConfig.builder().with_task(task).with_id("osbs").with_raster_source(str(NEON))
             .with_label_store(str(out)).build().create(task, str(tmp_path), with_labels=False, with_store=True))
    threshold = 0.3
    labels = backend_with(rv.PYTORCH_CHIP_CLASSIFICATION, task, MeanThresholdClassifier(threshold)).predict_scene(
        scene, str(tmp_path)
    )
    grid = Box(0, 0, 400, 400).get_windows(size, size, padding="pad")
    assert sorted(map(tuple, labels.cells.tolist())) == sorted(b.to_tuple() for b in grid)
    image = read_image(NEON)
    band = np.where((image == 255).all(axis=2), 0.0, image[..., 0] / 255.0)
    padded = np.zeros((5 * size, 5 * size))
    padded[:400, :400] = band
    for (ymin, xmin, ymax, xmax), class_id, scores in zip(labels.cells.astype(int), labels.class_ids, labels.scores):
        want = int(padded[ymin:ymax, xmin:xmax].mean() > threshold)
        assert class_id == want
        assert scores.shape == (2,) and scores.sum() == pytest.approx(1.0)
    assert set(labels.class_ids.tolist()) == {0, 1}  # the rule splits this scene
    saved = scene.label_store.get_labels()
    assert len(saved) == 25 and sorted(saved.class_ids.tolist()) == sorted(labels.class_ids.tolist())


def test_segmentation_is_georeferenced_like_the_image_and_empty_outside_the_aoi(tmp_path):
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"red": (3, "red"), "green": (7, "green")})
            .with_chip_size(128).with_predict_options(stride=96).build())
    aoi = write_aoi(tmp_path / "aoi.geojson", shapely.Polygon([(0, 0), (300, 0), (0, 400)]), KAMPALA_B)
    store = rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_uri(str(tmp_path / "b.tif")).with_scores()
    scene = (rv.SceneConfig.builder().with_task(task).with_id("b").with_raster_source(str(KAMPALA_B))
             .with_label_store(store).with_aoi_uri(aoi).build()
             .create(task, str(tmp_path), with_labels=False, with_store=True))
    assert backend_with(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, GreenerThanRed()).predict_scene(scene, "") is None

    with rasterio.open(tmp_path / "b.tif") as out, rasterio.open(KAMPALA_B) as src:
        assert out.crs == src.crs and out.transform == src.transform and out.shape == src.shape
        assert out.nodata == 255 and out.dtypes == ("uint8",)
        predicted = out.read(1)
        image = np.moveaxis(src.read(), 0, -1).astype(int)
    rows, cols = np.mgrid[0:512, 0:512]
    inside = shapely.contains_xy(shapely.Polygon([(0, 0), (300, 0), (0, 400)]), cols + 0.5, rows + 0.5)
    assert (predicted[~inside] == 255).all()
    want = np.where(image[..., 1] > image[..., 0], 7, 3)
    decided = inside & (image[..., 1] != image[..., 0])
    np.testing.assert_array_equal(predicted[decided], want[decided])
    with rasterio.open(tmp_path / "b-scores.tif") as scores_file:
        scores = scores_file.read()
    assert scores.shape == (2, 512, 512)
    assert np.isnan(scores[:, ~inside]).all()
    np.testing.assert_allclose(scores[:, inside].sum(axis=0), 1.0, atol=1e-5)


def test_segmentation_without_a_store_returns_the_labels(tmp_path):
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"red": (3, "red"), "green": (7, "green")})
            .with_chip_size(256).build())
    scene = (rv.SceneConfig.builder().with_task(task).with_id("b").with_raster_source(str(KAMPALA_B)).build()
             .create(task, str(tmp_path), with_labels=False))
    labels = backend_with(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, GreenerThanRed()).predict_scene(scene, "")
    predicted = labels.get_label_arr(Box(0, 0, 512, 512))
    image = read_image(KAMPALA_B).astype(int)
    decided = image[..., 1] != image[..., 0]
    np.testing.assert_array_equal(predicted[decided], np.where(image[..., 1] > image[..., 0], 7, 3)[decided])


def test_a_scene_the_model_cannot_read_is_refused_with_what_the_model_takes(tmp_path):
    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["a", "b"]).with_chip_size(64).build()
    backend = backend_with(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, GreenerThanRed())
    ten_bands = (rv.SceneConfig.builder().with_task(task).with_id("s2").with_raster_source(str(S2)).build()
                 .create(task, str(tmp_path), with_labels=False))
    with pytest.raises(DataError, match=r"gives 10 channel\(s\).*takes 3 uint8 channel"):
        backend.predict_scene(ten_bands, "")
    rgb_uint16 = (rv.SceneConfig.builder().with_task(task).with_id("s2").with_raster_source(str(S2), [2, 1, 0])
                  .build().create(task, str(tmp_path), with_labels=False))
    with pytest.raises(DataError, match="gives uint16 pixels, but the model was trained on uint8 chips"):
        backend.predict_scene(rgb_uint16, "")


class CountingModel(nn.Module):
    """Segmentation that is not flip-invariant: class index 1 where band 1 beats band 0 by more than a
    left-to-right ramp. Counts the images it is given (one per window and forward pass)."""

    def __init__(self):
        super().__init__()
        self.images = 0

    def forward(self, images):
        self.images += len(images)
        ramp = torch.linspace(-0.2, 0.2, images.shape[-1])
        logit = (images[:, 1] - images[:, 0] - ramp) * 100
        return torch.stack([-logit, logit], dim=1)


def segmentation_backend(task, model: nn.Module, **options):
    """A segmentation backend built as a user builds it (RESNET18 model defaults plus ``options``), whose
    model spec carries the model options TRAIN records, with ``model`` as the loaded network."""
    builder = rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task)
    config = (builder.with_config(options) if options else builder).build()
    backend = backend_with(rv.PYTORCH_SEMANTIC_SEGMENTATION, task, model)
    backend.config = config
    backend.spec = ModelSpec(**{**backend.spec.__dict__, "model_options": config.model_options()})
    return config, backend


def logged_windows(scene) -> list[tuple]:
    """Record the windows PREDICT reads from ``scene``'s raster source."""
    source, windows = scene.raster_source, []
    read = source.get_chip_with_mask

    def logging_read(box):
        windows.append(tuple(int(v) for v in box.to_tuple()))
        return read(box)

    source.get_chip_with_mask = logging_read
    return windows


def test_prediction_defaults_are_one_forward_pass_per_window_and_an_eighth_of_a_chip_of_overlap(tmp_path):
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"red": (3, "red"), "green": (7, "green")})
            .with_chip_size(256).build())  # no predict options: what a user gets
    assert task.predict_options.stride is None and task.predict_options.window_stride(256) == 224
    config, backend = segmentation_backend(task, CountingModel())
    assert config.tta == "none"

    def predict(backend):
        scene = (rv.SceneConfig.builder().with_task(task).with_id("b").with_raster_source(str(KAMPALA_B)).build()
                 .create(task, str(tmp_path), with_labels=False))
        windows = logged_windows(scene)
        labels = backend.predict_scene(scene, "")
        return windows, labels.get_label_arr(Box(0, 0, 512, 512))

    windows, plain = predict(backend)
    # 512 px at stride 224: windows at 0 and 224, and one flush with the far edge at 256.
    assert sorted(windows) == sorted((y, x, y + 256, x + 256) for y in (0, 224, 256) for x in (0, 224, 256))
    assert backend.model.images == 9  # one forward pass per window

    # Test-time augmentation on request: 4 passes a window, and the flips change this model's answer.
    config, flipping = segmentation_backend(task, CountingModel(), tta="flips")
    assert config.tta == "flips"
    _, augmented = predict(flipping)
    assert flipping.model.images == 36
    assert (augmented != plain).any() and (augmented != 255).all()


def test_prediction_at_the_default_stride_covers_the_scene_without_seams(tmp_path):
    """Every pixel with data gets the per-pixel answer (no seam where windows meet or blend), and
    nodata appears only where the image is nodata."""
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"red": (3, "red"), "green": (7, "green")})
            .with_chip_size(128).build())  # default stride 112: windows at 0, 112, 224 and 272 on 400 px
    out = tmp_path / "osbs.tif"
    scene = (rv.SceneConfig.builder().with_task(task).with_id("osbs").with_raster_source(str(NEON))
             .with_label_store(rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_uri(str(out)))
             .build().create(task, str(tmp_path), with_labels=False, with_store=True))
    windows = logged_windows(scene)
    _, backend = segmentation_backend(task, GreenerThanRed())
    assert backend.predict_scene(scene, "") is None
    assert {w[1] for w in windows} == {0, 112, 224, 272}

    with rasterio.open(out) as predicted_file, rasterio.open(NEON) as src:
        predicted = predicted_file.read(1)
        nodata = src.dataset_mask() == 0
        image = np.moveaxis(src.read(), 0, -1).astype(int)
    assert nodata.any() and (~nodata).any()  # the scene has both
    np.testing.assert_array_equal(predicted == 255, nodata)
    decided = ~nodata & (image[..., 1] != image[..., 0])
    want = np.where(image[..., 1] > image[..., 0], 7, 3)
    np.testing.assert_array_equal(predicted[decided], want[decided])
