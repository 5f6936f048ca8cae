"""EVAL's warnings: a score that a ground truth makes meaningless is never presented in silence.

``eval.json`` carries ``warnings`` (plain sentences): ground truth of a single
class where every pixel or cell gets one (a constant answer scores 1.0),
classes the ground truth lacks, and no ground truth at all. The evaluator
also prints them (the EVAL log), and ``summary_lines`` (the end of ``rv run``)
shows them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from rv.core.class_map import ClassMap
from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource
from rv.data.label_store.semantic_segmentation_raster_store import SemanticSegmentationRasterStore
from rv.data.raster_source.geotiff_source import GeoTIFFSource
from rv.data.scene import Scene
from rv.evaluation.chip_classification_evaluation import evaluate_chip_classification
from rv.evaluation.classification_metrics import EvaluationReport
from rv.evaluation.evaluator import SemanticSegmentationEvaluator, summary_lines
from rv.evaluation.object_detection_evaluation import evaluate_object_detection
from rv.evaluation.semantic_segmentation_evaluation import SemanticSegmentationEvaluation
from rv.labels import ChipClassificationLabels, ObjectDetectionLabels, SemanticSegmentationLabels


@pytest.fixture
def landcover(data_dir):
    """The Sentinel-2 tile's image and class raster (classes 1-4), and the class raster as an array."""
    image = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    labels = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    with rasterio.open(labels) as ds:
        return image, labels, ds.read(1)


def evaluate_landcover(tmp_path, landcover, class_map, predicted):
    """EVAL of the tile: its class raster read through ``class_map`` against ``predicted``; eval.json's dict."""
    image, labels, _ = landcover
    raster_source = GeoTIFFSource(str(image))
    store = SemanticSegmentationRasterStore.from_raster_source(str(tmp_path / "predict.tif"), raster_source, class_map)
    store.save(SemanticSegmentationLabels.from_array(predicted))
    gt = SemanticSegmentationRasterSource(GeoTIFFSource(str(labels)), class_map)
    out = tmp_path / "eval.json"
    SemanticSegmentationEvaluator(class_map, out, plot=False).process([Scene("tile4", raster_source, gt, store)])
    return json.loads(out.read_text())


def test_one_class_ground_truth_scores_perfectly_but_says_why_it_means_nothing(tmp_path, landcover, capsys):
    # A user labels forest only: every other pixel of the tile is no class (ignored), and a model
    # answering "forest" everywhere gets F1 1.0.
    _, _, classes = landcover
    class_map = ClassMap.from_spec({"forest": (1, "darkgreen")})
    report = evaluate_landcover(tmp_path, landcover, class_map, np.full_like(classes, 1))

    forest = report["classes"][0]
    assert forest["f1"] == 1.0 and forest["gt_count"] == int((classes == 1).sum())
    assert report["overall"]["unlabelled_count"] == int((classes != 1).sum())
    (warning,) = report["warnings"]
    assert f"single class, 'forest' ({int((classes == 1).sum()):,} pixels)" in warning
    assert "scores F1 1.0" in warning
    # It says how many pixels were left out, and the setting that labels them.
    assert f"{int((classes != 1).sum()):,} pixels with image data inside the AOI have no class" in warning
    assert "with_background_class_id(id)" in warning
    # The EVAL log says it too, and so does the summary printed at the end of a run.
    assert f"rv: warning: {warning}" in capsys.readouterr().err
    assert f"warning: {warning}" in summary_lines(report)


def test_a_background_class_the_ground_truth_lacks_is_named(tmp_path, landcover):
    # The class named "background" is the background class; the forest-only labels hold none of it.
    _, _, classes = landcover
    class_map = ClassMap.from_spec({"forest": 1, "Background": 0})
    assert class_map.background_class_id == 0
    report = evaluate_landcover(tmp_path, landcover, class_map, np.where(classes == 1, 1, 0).astype(np.uint8))
    (warning,) = report["warnings"]
    assert "single class, 'forest'" in warning and "pixels) and no pixel of 'Background': a model" in warning
    # A background class is set: the pixels without a class are label values outside the map, not a setting.
    assert "label values outside the class map" in warning and "with_background_class_id" not in warning


def test_every_class_present_gives_no_warning_and_a_missing_one_is_named(tmp_path, landcover):
    _, _, classes = landcover
    shifted = np.full_like(classes, 1)
    shifted[:, :-1] = classes[:, 1:]
    full = ClassMap.from_spec({"forest": 1, "grass": 2, "urban": 3, "water": 4})
    report = evaluate_landcover(tmp_path, landcover, full, shifted)
    assert report["warnings"] == [] and 0 < report["overall"]["f1"] < 1.0
    assert not any(line.startswith("warning") for line in summary_lines(report))

    with_snow = ClassMap.from_spec({"forest": 1, "grass": 2, "urban": 3, "water": 4, "snow": 5})
    report = evaluate_landcover(tmp_path / "snow", landcover, with_snow, shifted)
    assert report["warnings"] == [
        "No pixel of the ground truth is 'snow' (class 5): its recall and F1 are 0 by definition and it has no "
        "weight in the overall scores."
    ]


def test_warnings_come_from_all_scenes_merged(three_classes):
    # Each scene alone holds one class; together they hold all three: the overall scores stand.
    scenes = {}
    for scene_id, class_id in (("a", 0), ("b", 1), ("c", 2)):
        ev = SemanticSegmentationEvaluation(three_classes)
        gt = np.full((10, 10), class_id, dtype=np.uint8)
        ev.update(gt, gt)
        scenes[scene_id] = ev
        assert len(ev.warnings()) == 1
    assert EvaluationReport(scenes).to_dict()["warnings"] == []


def test_chip_classification_and_detection_warnings(three_classes):
    cells = np.array([[0, 0, 50, 50], [0, 50, 50, 100], [50, 0, 100, 50]])
    all_buildings = ChipClassificationLabels(cells, [1, 1, 1])
    ev = evaluate_chip_classification(all_buildings, all_buildings, three_classes)
    (warning,) = ev.warnings()
    assert warning.startswith(
        "The ground truth holds a single class, 'building' (3 cells) and no cell of 'background', 'road': "
        "a model that predicts 'building' everywhere scores F1 1.0"
    )

    # Detection of one class is the usual case: no warning when its boxes are there.
    trees = ClassMap.from_spec({"tree": 1})
    gt = ObjectDetectionLabels([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1])
    assert evaluate_object_detection(gt, gt, trees).warnings() == []
    # A class the ground truth lacks is named; no boxes at all is said.
    trees_and_cars = ClassMap.from_spec({"tree": 1, "car": 2})
    assert evaluate_object_detection(gt, gt, trees_and_cars).warnings() == [
        "No box of the ground truth is 'car' (class 2): its recall and F1 are 0 by definition and it has no "
        "weight in the overall scores."
    ]
    none = ObjectDetectionLabels(np.zeros((0, 4)), [])
    (warning,) = evaluate_object_detection(none, gt, trees).warnings()
    assert warning.startswith("The ground truth holds no boxes of any class ('tree')")
