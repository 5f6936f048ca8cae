"""The input check that runs before the first command: bad input fails fast, all of it at once.

Every scene a CHIP, PREDICT or EVAL command will read is built once as an
entity — the raster opened (file exists, is a raster, bands and CRS known,
the channel order within its bands, its last block readable so a truncated
file is caught), the labels read and placed on the scene (valid JSON,
classes known, some label on the scene, georeferenced labels only on a
georeferenced raster), the AOIs read (inside the scene). Every scene is
checked even after a problem is found, and one error lists every problem
of the run, each in one paragraph naming the scene, the file and the fix,
before minutes of work start. Raster pixels are not read (but one block of
each local raster); label files are.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass

from rv.errors import ConfigError, DataError, RVError

#: The hint ending the input check's error.
SKIP_HINT = "Fix the input(s) above and run again (pass -x to skip the input check)."


@dataclass(frozen=True)
class InputProblem:
    """One problem the input check found: where (scene, command, file) and the message with its fix."""

    scene_id: str
    commands: tuple[str, ...]
    experiments: tuple[str, ...]
    message: str
    error_type: type = DataError

    def paragraph(self) -> str:
        return (
            f"Input check failed for scene {self.scene_id!r} of {', '.join(self.commands)} "
            f"(experiment {', '.join(self.experiments)}): {self.message}"
        )


def _describe(e: BaseException) -> tuple[str, type]:
    if isinstance(e, RVError):
        return str(e), type(e)
    return f"{type(e).__name__}: {e}", DataError


def check_scene(scene_config, task, tmp_dir: str, with_labels: bool, read_labels: bool) -> list[tuple[str, type]]:
    """Problems of one scene as ``(message, error type)`` pairs; empty when the scene is fine.

    The raster is checked first (a scene whose raster cannot be opened has
    nothing to place labels on); then the labels and the AOIs, each on its own,
    so that one bad file does not hide another.
    """
    from rv.file_utils import directory_given_as_file

    problems: list[tuple[str, type]] = [
        (m, DataError) for m in map(directory_given_as_file, scene_config.input_uris(with_labels)) if m
    ]
    if problems:
        return problems
    rs_config = scene_config.raster_source
    try:
        raster_source = rs_config.create(tmp_dir)
        extent = raster_source.extent  # opens the file: exists, is a raster
        crs_transformer = raster_source.crs_transformer
    except Exception as e:  # noqa: BLE001 - every problem is reported, none is a traceback
        problems.append(_describe(e))
        return problems
    try:
        raster_source.channel_order  # noqa: B018 - raises for an index >= the band count
    except Exception as e:  # noqa: BLE001
        problems.append(_describe(e))
    try:
        raster_source.check_complete()  # a truncated file: its last block cannot be read
    except Exception as e:  # noqa: BLE001
        problems.append(_describe(e))
    raster_problems = len(problems)
    raster_name = getattr(raster_source, "name", None) or ", ".join(rs_config.input_uris())
    georef = "" if getattr(crs_transformer, "crs", None) is not None else f" (The raster is {raster_name}.)"
    if with_labels and scene_config.label_source is not None:
        try:
            label_source = scene_config.label_source.create(task, crs_transformer, extent, tmp_dir)
            from rv.data.raster_source.raster_source import RasterSource

            inner = getattr(label_source, "raster_source", None)  # a label source read from a raster
            if isinstance(inner, RasterSource):
                inner.check_complete()
            if read_labels and hasattr(label_source, "get_labels"):
                label_source.get_labels()
        except Exception as e:  # noqa: BLE001
            message, kind = _describe(e)
            problems.append((message + georef if georef and "no CRS" in message else message, kind))
    aoi = None
    if scene_config.aoi_uris:
        try:
            aoi = scene_config.read_aoi(crs_transformer, extent)
        except Exception as e:  # noqa: BLE001
            message, kind = _describe(e)
            problems.append((message + georef if georef and "no CRS" in message else message, kind))
    try:
        # Only a raster that opened and read whole is sampled (a truncated one is reported above).
        problem = None if raster_problems else _all_nodata(raster_source, raster_name, aoi)
        if problem:
            problems.append((problem, DataError))
    except Exception as e:  # noqa: BLE001 - an unreadable raster is reported, never a traceback
        problems.append(_describe(e))
    return problems


def _all_nodata(raster_source, raster_name: str, aoi) -> str | None:
    """A message when a sparse sample of the raster (inside the AOI's bounds) holds no valid pixel."""
    from rv.core.box import Box

    bounds = None
    if aoi:
        import shapely

        xmin, ymin, xmax, ymax = shapely.total_bounds(list(aoi))
        bounds = Box(int(ymin), int(xmin), int(ymax) + 1, int(xmax) + 1)
    valid, sampled = raster_source.sampled_valid_pixels(bounds)
    if sampled == 0 or valid > 0:
        return None
    nodata = getattr(raster_source, "nodata", None)
    what = f"the nodata value {nodata:g} in every band" if isinstance(nodata, (int, float)) else "masked as nodata"
    where = "inside the scene's AOI" if aoi else "across the scene"
    return (
        f"Raster {raster_name} holds no data {where}: every one of {sampled} pixels sampled on a grid "
        f"is {what}. Check that this is the right file (an empty export or tile?), or set the raster "
        "source's nodata value if the file's is wrong."
    )


def find_problems(plan) -> list[InputProblem]:
    """Every input problem of the scenes the plan's commands read (each scene checked once)."""
    import attrs

    from rv.serialization import unstructure
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

    # one entry per scene and message: a scene read by CHIP, PREDICT and EVAL is reported once
    problems: dict[tuple[str, str], InputProblem] = {}
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
                ident = json.dumps([unstructure(scene_config), with_labels], sort_keys=True)
                if ident in seen:
                    continue
                seen.add(ident)
                # object labels are cheap to read whole; raster labels are checked by opening them
                read_labels = task is not None and task.key != "SEMANTIC_SEGMENTATION"
                found = check_scene(without_pending_inputs(scene_config), task, tmp, with_labels, read_labels)
                command = f"{cfg.command_type} {cfg.key}"
                for message, kind in found:
                    key = (scene_config.id, message)
                    old = problems.get(key)
                    if old is None:
                        problems[key] = InputProblem(
                            scene_config.id, (command,), tuple(pc.experiment_ids), message, kind
                        )
                    else:
                        problems[key] = InputProblem(
                            old.scene_id,
                            old.commands + ((command,) if command not in old.commands else ()),
                            old.experiments + tuple(e for e in pc.experiment_ids if e not in old.experiments),
                            message,
                            kind,
                        )
    return list(problems.values())


def format_problems(problems: list[InputProblem]) -> str:
    """One message listing every problem, a paragraph each, numbered when there are several."""
    if len(problems) == 1:
        return f"{problems[0].paragraph()} {SKIP_HINT}"
    paragraphs = "\n\n".join(f"{i}. {p.paragraph()}" for i, p in enumerate(problems, 1))
    return f"The input check found {len(problems)} problems; nothing was run.\n\n{paragraphs}\n\n{SKIP_HINT}"


def preflight(plan) -> None:
    """Check every scene the plan reads; raise one error listing every problem found.

    The error is a ``ConfigError`` when every problem is one, else a ``DataError``.
    """
    problems = find_problems(plan)
    if not problems:
        return
    kind = ConfigError if all(issubclass(p.error_type, ConfigError) for p in problems) else DataError
    raise kind(format_problems(problems))


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
