"""The input check that runs before the first command: bad input fails fast.

Every scene a CHIP, PREDICT or EVAL command will read is built once as an
entity — the raster opened (file exists, is a raster, bands and CRS known),
the labels read and placed on the scene (valid JSON, classes known, some
label on the scene), the AOIs read (inside the scene) — so that a mistake
in the data is reported in one paragraph before minutes of work start.
Raster pixels are not read; label files are.
"""

from __future__ import annotations

import json
import tempfile

from rv.errors import DataError, RVError


def preflight(plan) -> None:
    """Build every scene the plan reads; raise the first data error with its command named."""
    import attrs

    from rv.settings import tmp_dir

    seen: set[str] = set()
    # outputs written during this run (e.g. ANALYZE's stats.json) do not exist yet
    pending = {u for pc in plan.to_run() for u in pc.config.outputs()}

    def without_pending_inputs(scene_config):
        rs = scene_config.raster_source
        kept = tuple(t for t in rs.transformers if getattr(t, "stats_uri", None) not in pending)
        if len(kept) == len(rs.transformers):
            return scene_config
        return attrs.evolve(scene_config, raster_source=attrs.evolve(rs, transformers=kept))

    with tempfile.TemporaryDirectory(prefix="rv-preflight-", dir=tmp_dir()) as tmp:
        for pc in plan.to_run():
            cfg = pc.config
            task = getattr(cfg, "task", None)
            groups = []
            if cfg.command_type == "CHIP":
                groups = [(s, True) for s in cfg.train_scenes + cfg.validation_scenes]
            elif cfg.command_type == "EVAL":
                groups = [(s, True) for s in cfg.scenes]
            elif cfg.command_type == "PREDICT":
                groups = [(s, False) for s in cfg.scenes]
            for scene_config, with_labels in groups:
                from rv.serialization import unstructure

                ident = json.dumps([unstructure(scene_config), with_labels], sort_keys=True)
                if ident in seen:
                    continue
                seen.add(ident)
                try:
                    scene = without_pending_inputs(scene_config).create(task, tmp, with_labels=with_labels)
                    if with_labels and scene.label_source is not None and hasattr(scene.label_source, "get_labels"):
                        # object labels are cheap to read whole; raster labels are checked by opening them
                        if cfg.command_type != "EVAL" or task.key != "SEMANTIC_SEGMENTATION":
                            if task.key != "SEMANTIC_SEGMENTATION":
                                scene.label_source.get_labels()
                except RVError as e:
                    raise type(e)(
                        f"Input check failed for scene {scene_config.id!r} of {cfg.command_type} {cfg.key} "
                        f"(experiment {', '.join(pc.experiment_ids)}): {e} (pass -x to skip the input check)."
                    ) from e
                except Exception as e:  # noqa: BLE001
                    raise DataError(
                        f"Input check failed for scene {scene_config.id!r} of {cfg.command_type} {cfg.key}: "
                        f"{type(e).__name__}: {e}"
                    ) from e


def check_access(plan, experiments) -> None:
    """Ask the file-system plugins whether inputs can be read and output roots written."""
    from rv.plugins import get_plugin_manager

    produced = {u for pc in plan.commands for u in pc.config.outputs()}
    inputs = sorted({u for pc in plan.to_run() for u in pc.config.inputs() if u not in produced})
    roots = sorted({e.root_uri for e in experiments})
    hook = get_plugin_manager().hook.check_access
    if inputs:
        hook(uris=inputs, mode="r")
    hook(uris=roots, mode="w")
