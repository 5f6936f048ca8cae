"""Figures of an experiment for notebooks and scripts: matplotlib, one function per picture.

::

    import rv.plot

    rv.plot.scene(experiment, "kampala_a")          # the image with its ground truth
    rv.plot.chips(experiment, split="train")        # a batch of training chips with their labels
    rv.plot.training_curves(experiment)             # losses and metrics per epoch (TRAIN's log.csv)
    rv.plot.predictions(experiment, "kampala_b")    # predictions (solid) over ground truth (dashed)
    rv.plot.confusion_matrix(experiment)            # EVAL's confusion matrix

Each returns a :class:`matplotlib.figure.Figure` made without pyplot: it
shows once in Jupyter as a cell's value (after ``%matplotlib inline`` or
importing pyplot), and ``fig.savefig(path)`` writes it. They draw with the
code that writes rv's own pictures: the prediction overlays of PREDICT
(:func:`rv.prediction_overlay.overlay_figure`), CHIP's debug chips
(:func:`rv.chips.render_debug_image`), TRAIN's ``training_curves.png``
(written through :func:`training_curves`) and EVAL's
``confusion_matrix.png`` (:func:`rv.evaluation.confusion_matrix_plot.render_confusion_matrix_png`).

An ``experiment`` argument is an :class:`rv.ExperimentConfig` (as its
``exp_`` method returns it); the figures read what its commands wrote under
its root. matplotlib is imported inside the functions: importing ``rv`` or
this module stays cheap.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rv import keys
from rv.errors import ConfigError, DataError

__all__ = ["chips", "confusion_matrix", "predictions", "read_training_log", "scene", "training_curves"]


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _new_figure(width: float, height: float, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


@contextmanager
def _tmp_dir() -> Iterator[str]:
    """A temporary directory for the reads of a figure; Python warnings said meanwhile as rv's (once each)."""
    from rv.run_output import python_warnings_as_rvs
    from rv.settings import tmp_dir

    with tempfile.TemporaryDirectory(prefix="rv-plot-", dir=tmp_dir()) as d, python_warnings_as_rvs():
        yield d


def _is_experiment(value: Any) -> bool:
    from rv.experiment.experiment_config import ExperimentConfig

    return isinstance(value, ExperimentConfig)


def _resolved(experiment: Any):
    return experiment.resolved()


def _find_scene(experiment: Any, scene_id: str):
    dataset = experiment.dataset
    for scene_config in dataset.all_scenes():
        if scene_config.id == scene_id:
            return scene_config
    ids = ", ".join(s.id for s in dataset.all_scenes())
    raise ConfigError(f"Experiment {experiment.id!r} has no scene {scene_id!r}; its scenes are: {ids}.")


def _local_copy(uri: str, tmp: str) -> str:
    from rv import file_utils

    if not file_utils.exists(uri):
        raise DataError(f"{uri} does not exist: run the command that writes it first (rv run local ...).")
    return file_utils.download_if_needed(uri, tmp)


# --------------------------------------------------------------------------
# Scenes and predictions
# --------------------------------------------------------------------------


def scene(experiment: Any, scene_id: str, max_size: int = 1024):
    """A scene's image with its ground-truth labels (outlines in the class colors).

    Reads the image as stored (without its transformers) and the labels as
    CHIP reads them: no command needs to have run.
    """
    resolved = _resolved(experiment)
    scene_config = _find_scene(resolved, scene_id)
    if scene_config.label_source is None:
        raise ConfigError(f"Scene {scene_id!r} of experiment {experiment.id!r} has no labels to show.")
    from rv.prediction_overlay import overlay_figure

    with _tmp_dir() as tmp:
        return overlay_figure(resolved.task, scene_config, tmp, max_size, predictions=False, ground_truth=True)


def predictions(
    source: Any, scene_or_image: str, label_uri: str | None = None, ground_truth: bool = True, max_size: int = 1024
):
    """Predictions over the image: PREDICT's for a scene of an experiment, or a :class:`rv.Predictor`'s.

    ``predictions(experiment, scene_id)`` draws what PREDICT wrote for a
    validation or test scene (solid) over its ground truth (dashed; leave it
    out with ``ground_truth=False``). ``predictions(predictor, image_uri,
    label_uri)`` draws the predictions that ``predictor.predict(image_uri,
    label_uri)`` wrote.
    """
    from rv.prediction_overlay import overlay_figure

    if _is_experiment(source):
        resolved = _resolved(source)
        scene_config = _find_scene(resolved, scene_or_image)
        store = scene_config.label_store
        if store is None:
            raise ConfigError(
                f"Scene {scene_or_image!r} of experiment {source.id!r} is a training scene: PREDICT runs on the "
                "validation and test scenes only."
            )
        from rv import file_utils

        if not file_utils.exists(store.uri):
            raise DataError(
                f"The predictions of scene {scene_or_image!r} ({store.uri}) do not exist yet: run PREDICT first "
                "(rv.run(experiment) or rv run local ...)."
            )
        task = resolved.task
    elif hasattr(source, "scene_config") and hasattr(source, "config"):  # an rv.Predictor
        if label_uri is None:
            raise ConfigError(
                "Plotting a Predictor's predictions needs the file they were written to: "
                "rv.plot.predictions(predictor, image_uri, label_uri) after predictor.predict(image_uri, label_uri)."
            )
        scene_config = source.scene_config(scene_or_image, label_uri)
        task = source.config.task
        ground_truth = False
    else:
        raise ConfigError(
            f"rv.plot.predictions takes an ExperimentConfig or an rv.Predictor, not {type(source).__name__}."
        )
    with _tmp_dir() as tmp:
        return overlay_figure(task, scene_config, tmp, max_size, predictions=True, ground_truth=ground_truth)


# --------------------------------------------------------------------------
# Chips
# --------------------------------------------------------------------------


def chips(source: Any, split: str = "train", count: int = 16, columns: int = 4, seed: int = 0):
    """A grid of ``count`` chips of ``split`` (``train`` or ``valid``) with their labels drawn on them.

    ``source`` is an experiment (its CHIP output) or a chip directory. The
    chips are picked at random with ``seed`` and drawn as CHIP draws its
    debug chips: segmentation classes tinted in, boxes outlined with their
    class, a chip classification's class as a border and its name.
    """
    from rv.chips import ChipDir, load_chip, render_debug_image

    if _is_experiment(source):
        chip_dir = _resolved(source).command_uri(keys.CHIP)
    else:
        chip_dir = os.fspath(source)
    from rv import file_utils

    if not file_utils.is_local(chip_dir):
        raise ConfigError(f"rv.plot.chips reads a local chip directory; {chip_dir} is remote: download it first.")
    directory = ChipDir(chip_dir)
    paths = directory.paths(split)
    if not paths:
        raise DataError(f"The chip directory {chip_dir} has no {split!r} chips.")
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(paths), size=min(count, len(paths)), replace=False))
    columns = max(1, min(columns, len(picked)))
    rows = -(-len(picked) // columns)
    fig = _new_figure(2.6 * columns, 2.8 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax, index in zip(axes, picked):
        arrays = load_chip(paths[index])
        labels = {k: v for k, v in arrays.items() if k not in ("image", "mask")}
        picture = render_debug_image(arrays["image"], arrays.get("mask"), directory.class_map, **labels)
        ax.imshow(np.asarray(picture), interpolation="nearest")
        ax.set_title(Path(paths[index]).stem, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(f"{split} chips ({len(picked)} of {len(paths)})")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------


def read_training_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of TRAIN's ``log.csv`` as dicts of floats (an empty cell is NaN)."""
    with open(path, newline="") as f:
        return [
            {k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()} for row in csv.DictReader(f)
        ]


#: columns of log.csv that are not drawn as validation metrics
_NOT_METRICS = {"epoch", "step", "lr", "train_loss", "valid_loss", "epoch_time_s"}


def training_curves(source: Any):
    """Losses (left) and validation metrics (right) per epoch, from TRAIN's ``log.csv``.

    ``source`` is an experiment or the path of a ``log.csv``. TRAIN writes
    this figure as ``training_curves.png`` beside the log.
    """
    with _tmp_dir() as tmp:
        if _is_experiment(source):
            from rv import file_utils

            log_uri = file_utils.join(_resolved(source).command_uri(keys.TRAIN), "log.csv")
            rows = read_training_log(_local_copy(log_uri, tmp))
        else:
            rows = read_training_log(source)
    epochs = [r["epoch"] for r in rows]
    fig = _new_figure(11, 4)
    loss_ax, metric_ax = fig.subplots(1, 2)
    for key in ("train_loss", "valid_loss"):
        values = [r.get(key, float("nan")) for r in rows]
        if any(np.isfinite(values)):
            loss_ax.plot(epochs, values, marker="o", label=key)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_title("loss")
    loss_ax.legend()
    # Summary metrics plus per-class F1/IoU/AP; precision/recall would crowd the plot.
    metric_keys = [
        k for k in (rows[0] if rows else {}) if k not in _NOT_METRICS and not k.startswith(("precision_", "recall_"))
    ]
    drawn = 0
    for key in metric_keys:
        values = [r.get(key, float("nan")) for r in rows]
        if any(np.isfinite(values)):
            metric_ax.plot(epochs, values, marker=".", label=key)
            drawn += 1
    metric_ax.set_xlabel("epoch")
    metric_ax.set_title("validation metrics")
    metric_ax.set_ylim(0, 1)
    if drawn:
        metric_ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------


def _matrix_and_labels(report: dict[str, Any], source: str) -> tuple[np.ndarray, list[str]]:
    if "confusion_matrix" not in report:
        raise DataError(f"{source} has no confusion_matrix: it is not an eval.json written by EVAL.")
    cm = np.asarray(report["confusion_matrix"], dtype=np.int64)
    labels = [str(row.get("class_name")) for row in report.get("classes", [])]
    if cm.ndim == 2 and len(cm) == len(labels) + 1:
        from rv.evaluation.classification_metrics import ConfusionMatrixEvaluation

        labels.append(ConfusionMatrixEvaluation.none_label)
    return cm, labels


def confusion_matrix(source: Any, scene_id: str | None = None, title: str | None = None):
    """EVAL's confusion matrix (rows ground truth, columns predictions), as in ``confusion_matrix.png``.

    ``source`` is an experiment, the URI of an ``eval.json`` or its content
    (a dict). ``scene_id`` shows one scene's matrix instead of all scenes'.
    """
    from PIL import Image

    from rv.evaluation.confusion_matrix_plot import render_confusion_matrix_png

    if isinstance(source, dict):
        report, where = source, "the report"
    else:
        if _is_experiment(source):
            evaluators = _resolved(source).evaluators
            if not evaluators:
                raise ConfigError(f"Experiment {source.id!r} has no evaluator (no validation or test scenes).")
            uri = evaluators[0].output_uri
        else:
            uri = os.fspath(source)
        with _tmp_dir() as tmp:
            with open(_local_copy(uri, tmp)) as f:
                report = json.load(f)
        where = uri
    if scene_id is not None:
        scenes = report.get("scenes", {})
        if scene_id not in scenes:
            raise ConfigError(f"{where} has no scene {scene_id!r}; it has: {', '.join(scenes) or 'none'}.")
        report, where = scenes[scene_id], f"scene {scene_id} of {where}"
    cm, labels = _matrix_and_labels(report, where)
    if title is None:
        title = f"Confusion matrix ({scene_id})" if scene_id else "Confusion matrix"
    picture = np.asarray(Image.open(io.BytesIO(render_confusion_matrix_png(cm, labels, title))).convert("RGB"))
    height, width = picture.shape[:2]
    fig = _new_figure(width / 100, height / 100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(picture, interpolation="nearest")
    ax.set_axis_off()
    return fig
