"""rv.plot's figures on the sample data, and rv.run, the Python form of ``rv run``.

The experiments are the shipped examples (trees: object detection;
buildings: segmentation) with their roots in a temporary folder. Nothing is
trained: CHIP runs for real through ``rv.run``, and predictions are written
with the scenes' own label stores, as PREDICT writes them.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest

import rv

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example_experiment(name: str, set_class: str, root: Path):
    """``exp_<name>`` of the ExperimentSet ``set_class`` in ``examples/<name>.py``: one training step, under ``root``."""
    spec = importlib.util.spec_from_file_location(f"_rv_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(getattr(module, set_class)(), f"exp_{name}")(str(root), num_steps=1)


@pytest.fixture
def trees(tmp_path):
    return _example_experiment("trees_object_detection", "TreesObjectDetection", tmp_path / "trees")


@pytest.fixture
def buildings(tmp_path):
    return _example_experiment("buildings_segmentation", "BuildingsSegmentation", tmp_path / "buildings")


def _rectangles(ax):
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _scene(experiment, scene_id, tmp_path, with_store=False):
    resolved = experiment.resolved()
    config = next(s for s in resolved.dataset.all_scenes() if s.id == scene_id)
    # The image as stored: the statistics of ANALYZE are not needed to write or read labels.
    config = attrs.evolve(config, raster_source=attrs.evolve(config.raster_source, transformers=()))
    return config.create(resolved.task, str(tmp_path), with_labels=True, with_store=with_store)


def test_scene_shows_the_image_and_every_ground_truth_box(trees, tmp_path):
    import rv.plot

    fig = rv.plot.scene(trees, "osbs_029_train")
    (ax,) = fig.axes
    assert len(ax.images) == 1
    image = ax.images[0].get_array()
    assert image.shape == (400, 400, 3) and image.std() > 10  # the picture, not a blank
    gt = _scene(trees, "osbs_029_train", tmp_path).label_source.get_labels()
    boxes = _rectangles(ax)
    assert len(boxes) == len(gt) > 20
    assert {b.get_linestyle() for b in boxes} == {"solid"}  # ground truth alone: solid
    assert _legend_texts(ax) == ["tree"]
    assert ax.get_title() == "osbs_029_train: ground truth"


def test_scene_of_an_unknown_id_names_the_scenes(trees):
    import rv.plot

    with pytest.raises(rv.ConfigError, match="osbs_029_train, osbs_029_validation"):
        rv.plot.scene(trees, "nowhere")


def test_predictions_draw_the_stored_boxes_solid_over_dashed_ground_truth(trees, tmp_path):
    import rv.plot
    from rv.labels.object_detection_labels import ObjectDetectionLabels

    with pytest.raises(rv.DataError, match="run PREDICT first"):
        rv.plot.predictions(trees, "osbs_029_validation")
    scene = _scene(trees, "osbs_029_validation", tmp_path, with_store=True)
    predicted = ObjectDetectionLabels(
        boxes=[[10, 300, 60, 350], [100, 320, 150, 390], [200, 290, 240, 330]],
        class_ids=[1, 1, 1],
        scores=[0.9, 0.8, 0.7],
    )
    scene.label_store.save(predicted)
    fig = rv.plot.predictions(trees, "osbs_029_validation")
    (ax,) = fig.axes
    solid = [b for b in _rectangles(ax) if b.get_linestyle() == "solid"]
    dashed = [b for b in _rectangles(ax) if b.get_linestyle() == "dashed"]
    assert sorted((b.get_x(), b.get_y(), b.get_width(), b.get_height()) for b in solid) == [
        (290.0, 200.0, 40.0, 40.0),
        (300.0, 10.0, 50.0, 50.0),
        (320.0, 100.0, 70.0, 50.0),
    ]
    assert len(dashed) == len(scene.label_source.get_labels()) > 5
    assert _legend_texts(ax) == ["predicted", "ground truth", "tree"]
    with pytest.raises(rv.ConfigError, match="training scene"):
        rv.plot.predictions(trees, "osbs_029_train")


def test_segmentation_predictions_are_outlined_per_class(buildings, tmp_path):
    import rv.plot
    from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels

    scene = _scene(buildings, "kampala_b", tmp_path, with_store=True)
    extent = scene.raster_source.extent
    predicted = np.full((extent.height, extent.width), 2, dtype=np.uint8)
    predicted[100:200, 150:300] = 1  # one building
    scene.label_store.save(SemanticSegmentationLabels.from_array(predicted))
    fig = rv.plot.predictions(buildings, "kampala_b")
    (ax,) = fig.axes
    contours = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(contours) == 2  # ground truth, predictions: building only (background is not outlined)
    assert [c.get_linestyle()[0][1] is None for c in contours] == [False, True]  # dashed, then solid
    predicted_outline = np.concatenate([p.vertices for p in contours[1].get_paths()])
    xs, ys = predicted_outline[:, 0], predicted_outline[:, 1]
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == pytest.approx((149.5, 299.5, 99.5, 199.5), abs=1)
    assert _legend_texts(ax) == ["predicted", "ground truth", "building"]


def test_rv_run_chips_then_skips_and_plot_chips_draws_them_as_chip_does(trees, capfd):
    import rv.plot
    from rv.chips import ChipDir

    plan = rv.run(trees, "chip")
    assert [pc.config.command_type for pc in plan.to_run()] == ["CHIP"]
    err = capfd.readouterr().err
    # The label file's features outside the scene: said as rv's warning, never in Python's source-line format.
    assert "rv: warning: " in err and "of 61 label features" in err, err
    assert "GeoJSONWarning" not in err and "return ObjectDetectionGeoJSONSource(" not in err, err
    chip_dir = trees.resolved().command_uri("CHIP")
    assert rv.run(trees, ["CHIP"]).to_run() == []  # outputs in place from an identical config: skipped
    fig = rv.plot.chips(trees, count=16, columns=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 16
    names = [ax.get_title() for ax in shown]
    assert len(set(names)) == 16
    assert set(names) <= {Path(p).stem for p in ChipDir(chip_dir).paths("train")}
    # CHIP wrote debug PNGs for some chips (the task has debug on): the figure shows the same pixels.
    from PIL import Image

    compared = 0
    for ax in shown:
        png = Path(chip_dir) / "debug" / "train" / f"{ax.get_title()}.png"
        if png.exists():
            np.testing.assert_array_equal(ax.images[0].get_array(), np.asarray(Image.open(png).convert("RGB")))
            compared += 1
    assert compared >= 1
    assert any(ax.patches or ax.images[0].get_array().std() > 0 for ax in shown)
    with pytest.raises(rv.ConfigError, match="not one of"):
        rv.plot.chips(trees, split="test")


def test_rv_run_says_what_it_takes(trees):
    with pytest.raises(rv.ConfigError, match="Unknown command"):
        rv.run(trees, "chip fly")
    with pytest.raises(rv.ConfigError, match="ExperimentConfig"):
        rv.run("experiment.py")


def _write_log(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_training_curves_plot_losses_and_metrics_per_epoch(tmp_path):
    import rv.plot

    rows = [
        {
            "epoch": e,
            "step": 10 * e,
            "lr": 0.01,
            "train_loss": tl,
            "valid_loss": vl,
            "f1": f1,
            "precision_building": 0.5,
            "recall_building": 0.5,
            "f1_building": f1,
            "epoch_time_s": 3.0,
        }
        for e, tl, vl, f1 in [(1, 1.2, 1.1, 0.2), (2, 0.8, 0.9, 0.4), (3, 0.5, 0.7, 0.6)]
    ]
    _write_log(tmp_path / "log.csv", rows)
    fig = rv.plot.training_curves(tmp_path / "log.csv")
    loss_ax, metric_ax = fig.axes
    assert {line.get_label(): list(line.get_ydata()) for line in loss_ax.lines} == {
        "train_loss": [1.2, 0.8, 0.5],
        "valid_loss": [1.1, 0.9, 0.7],
    }
    assert [line.get_label() for line in metric_ax.lines] == ["f1", "f1_building"]
    assert list(metric_ax.lines[0].get_xdata()) == [1.0, 2.0, 3.0]
    assert _legend_texts(metric_ax) == ["f1", "f1_building"]


def test_training_curves_of_an_experiment_that_has_not_trained_say_so(trees):
    import rv.plot

    with pytest.raises(rv.DataError, match="log.csv does not exist"):
        rv.plot.training_curves(trees)


def test_confusion_matrix_shows_evals_picture(tmp_path):
    from PIL import Image

    import rv.plot
    from rv.evaluation.confusion_matrix_plot import render_confusion_matrix_png

    scene_report = {
        "overall": {},
        "classes": [{"class_name": "building"}, {"class_name": "background"}],
        "confusion_matrix": [[5, 1], [2, 9]],
    }
    report = {
        "warnings": [],
        "overall": {"f1": 0.8},
        "classes": [{"class_name": "tree"}],
        "confusion_matrix": [[4, 14], [54, 0]],
        "scenes": {"b": scene_report},
    }
    (tmp_path / "eval.json").write_text(json.dumps(report))
    fig = rv.plot.confusion_matrix(tmp_path / "eval.json")
    (ax,) = fig.axes
    expected = np.asarray(
        Image.open(
            io.BytesIO(render_confusion_matrix_png(np.array([[4, 14], [54, 0]]), ["tree", "none"], "Confusion matrix"))
        ).convert("RGB")
    )
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    assert tuple(fig.get_size_inches() * fig.dpi) == (expected.shape[1], expected.shape[0])  # one pixel per pixel
    one = rv.plot.confusion_matrix(report, scene_id="b")
    expected_b = np.asarray(
        Image.open(
            io.BytesIO(
                render_confusion_matrix_png(
                    np.array([[5, 1], [2, 9]]), ["building", "background"], "Confusion matrix (b)"
                )
            )
        ).convert("RGB")
    )
    np.testing.assert_array_equal(one.axes[0].images[0].get_array(), expected_b)
    with pytest.raises(rv.ConfigError, match="no scene 'c'"):
        rv.plot.confusion_matrix(report, scene_id="c")


def test_importing_rv_plot_imports_no_matplotlib():
    code = "import sys, rv, rv.plot; rv.plot.scene; print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
