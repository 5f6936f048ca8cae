"""PREDICT: slide a window over each scene and write georeferenced labels."""

from __future__ import annotations

import sys


def run_predict(config, tmp_dir: str) -> None:
    """Predict every scene of ``config`` (a ``PredictCommandConfig``), or a split PREDICT's part of them.

    The merge of a split PREDICT (``config.parts > 1``) has nothing to write: each part wrote the
    predictions of its own scenes where the unsplit command writes them. It checks they are all there.
    """
    if config.part is None and config.parts > 1:
        _merge_parts(config)
        return
    backend = config.backend.create(config.task, tmp_dir)
    backend.load_model(config.backend.model_output_uri(), tmp_dir)
    for scene_config in config.part_scenes():
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
    out_dir = config.task.predict_debug_uri or config.output_dir
    write_prediction_overlay(config.task, scene_config, out_dir, tmp_dir)


def _merge_parts(config) -> None:
    from rv import file_utils
    from rv.errors import DataError

    missing = [u for u in config.outputs() if not file_utils.exists(u)]
    if missing:
        raise DataError(
            f"{config.display_name}: after its {config.parts} parts, these predictions are missing: "
            f"{', '.join(missing)}. Run the same rv run again (it reruns the parts that did not finish)."
        )
    print(
        f"rv: {config.display_name}: the {config.parts} parts predicted all {len(config.scenes)} scenes",
        file=sys.stderr,
        flush=True,
    )
