"""The Evaluator entity: scenes in, eval.json and confusion_matrix.png out."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from rv import file_utils
from rv.core.class_map import ClassMap
from rv.errors import DataError
from rv.evaluation.chip_classification_evaluation import ChipClassificationEvaluation
from rv.evaluation.confusion_matrix_plot import render_confusion_matrix_png, write_confusion_matrix_png
from rv.evaluation.evaluator import Evaluator, sibling_uri
from rv.evaluation.object_detection_evaluation import evaluate_object_detection
from rv.labels import ObjectDetectionLabels


class BoxEvaluator(Evaluator):
    """A detection evaluator over scenes that carry their labels directly (the real scene API comes later)."""

    def evaluate_scene(self, scene):
        return evaluate_object_detection(scene.gt, scene.pred, self.class_map)


@pytest.fixture
def scenes():
    a_gt = ObjectDetectionLabels([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 2])
    a_pred = ObjectDetectionLabels([[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]], [1, 1, 2], [0.9, 0.8, 0.7])
    b_gt = ObjectDetectionLabels([[5, 5, 15, 15]], [1])
    b_pred = ObjectDetectionLabels([[5, 6, 15, 16]], [1], [0.6])
    return [
        SimpleNamespace(id="kampala_a", gt=a_gt, pred=a_pred),
        SimpleNamespace(id="kampala_b", gt=b_gt, pred=b_pred),
    ]


@pytest.fixture
def class_map():
    return ClassMap.from_spec({"building": 1, "car": 2})


def test_process_writes_eval_json_and_png(tmp_path, scenes, class_map):
    out = tmp_path / "eval" / "exp1" / "eval.json"
    report = BoxEvaluator(class_map, out).process(scenes, tmp_dir=tmp_path)

    d = json.loads(out.read_text())
    assert d == report.to_dict()
    assert list(d) == ["warnings", "overall", "classes", "confusion_matrix", "scenes"]
    assert d["warnings"] == []  # every class has ground truth: the scores stand
    assert list(d["scenes"]) == ["kampala_a", "kampala_b"]
    assert [c["class_name"] for c in d["classes"]] == ["building", "car"]
    building = d["classes"][0]
    assert set(building) == {
        "class_id",
        "class_name",
        "precision",
        "recall",
        "f1",
        "gt_count",
        "pred_count",
        "ap50",
        "ap",
    }
    # building: 2 gt (one per scene), 3 predicted (one right in each scene, one on the car)
    assert (building["gt_count"], building["pred_count"], building["recall"]) == (2, 3, 1.0)
    assert building["precision"] == pytest.approx(2 / 3)
    # detection matrices carry the background row and column
    assert d["confusion_matrix"] == [[2, 0, 0], [1, 0, 0], [0, 1, 0]]
    assert d["scenes"]["kampala_b"]["confusion_matrix"] == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]

    png = out.parent / "confusion_matrix.png"
    with Image.open(png) as im:
        assert im.format == "PNG"
        assert 300 <= im.width <= 2500 and 300 <= im.height <= 2500
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 10  # drawn, not blank
    # atomic writes leave no temporaries behind
    assert sorted(p.name for p in out.parent.iterdir()) == ["confusion_matrix.png", "eval.json"]


def test_process_to_a_uri_without_plot(scenes, class_map):
    uri = "memory://rv-eval-test/exp/eval.json"
    BoxEvaluator(class_map, uri, plot=False).process(scenes)
    assert json.loads(file_utils.read_text(uri))["overall"]["gt_count"] == 3
    assert not file_utils.exists(sibling_uri(uri, "confusion_matrix.png"))


def test_process_without_scenes_is_a_data_error(tmp_path, class_map):
    with pytest.raises(DataError, match="No scenes"):
        BoxEvaluator(class_map, tmp_path / "eval.json").process([])
    assert not (tmp_path / "eval.json").exists()


def test_sibling_uri():
    assert sibling_uri("s3://bucket/eval/eval.json", "confusion_matrix.png") == "s3://bucket/eval/confusion_matrix.png"
    assert sibling_uri("/tmp/x/eval.json", "a.png") == "/tmp/x/a.png"
    assert sibling_uri("eval.json", "a.png") == "a.png"


def test_confusion_matrix_png_is_a_sensible_image(tmp_path):
    cm = np.array([[50_000, 1_200, 3], [40, 8_000, 0], [0, 0, 0]])
    data = render_confusion_matrix_png(cm, ["forest", "grass", "urban"], title="Segmentation")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        assert 400 <= w <= 1000 and 400 <= h <= 1000
        rgb = np.asarray(im.convert("RGB")).astype(int)
    # the diagonal is dark (row-normalised fractions near 1): some pixels are deep blue
    assert ((rgb[..., 2] > 100) & (rgb[..., 0] < 40)).sum() > 1000

    # many classes: a bigger figure, still bounded
    many = np.random.default_rng(0).integers(0, 100, (40, 40))
    with Image.open(io.BytesIO(render_confusion_matrix_png(many, [f"class {i}" for i in range(40)]))) as im:
        assert w < im.width <= 2200

    out = tmp_path / "cm.png"
    write_confusion_matrix_png(out, cm, ["forest", "grass", "urban"])
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="one label per row"):
        render_confusion_matrix_png(cm, ["a", "b"])


def test_report_png_uses_plain_matrix_for_classification(tmp_path, class_map):
    ev = ChipClassificationEvaluation(class_map)
    ev.update([[0, 0, 1, 1]], [1], [[0, 0, 1, 1]], [2])
    assert ev.confusion_matrix_labels == ["building", "car"]
    assert ev.confusion_matrix.tolist() == [[0, 1], [0, 0]]
