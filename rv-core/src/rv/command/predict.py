"""PREDICT: slide a window over each scene and write georeferenced labels."""

from __future__ import annotations

import sys


def run_predict(config, tmp_dir: str) -> None:
    backend = config.backend.create(config.task, tmp_dir)
    backend.load_model(config.backend.model_output_uri(), tmp_dir)
    for scene_config in config.scenes:
        scene = scene_config.create(config.task, tmp_dir, with_labels=False, with_store=True)
        print(f"rv: predicting scene {scene.id}", file=sys.stderr, flush=True)
        backend.predict_scene(scene, tmp_dir)
        _write_overlay(config, scene_config, tmp_dir)


def _write_overlay(config, scene_config, tmp_dir: str) -> None:
    """A PNG a person looks at: image, predicted outlines, ground-truth outlines.

    Written to the task's ``predict_debug_uri`` when set, else next to the predictions.
    """
    try:
        from rv.prediction_overlay import write_prediction_overlay
    except ImportError:  # pragma: no cover
        return
    out_dir = config.task.predict_debug_uri or config.command_uri
    write_prediction_overlay(config.task, scene_config, out_dir, tmp_dir)
