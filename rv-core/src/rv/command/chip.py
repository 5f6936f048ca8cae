"""CHIP: read windows (inside the AOI), attach labels, write training chips.

Scenes are chipped in parallel, one process per scene (up to the worker
count: ``[RV] chip_workers``, default the CPU count). When there are fewer
scenes than workers, each scene's windows are split among several processes
instead: every process builds the scene, computes the same window list from
the scene's seed (:meth:`rv.task.task.Task.get_chip_windows`) and chips one
contiguous part of it, so the chips are exactly those one process would
write. Each process writes into its own staging directory; the parent moves
the chips into place, renumbering them so that a scene's chips are named
``<scene>-0 .. <scene>-(n-1)`` in window order as a single process names
them, and writes ``chips.json`` last, so an interrupted run never looks
finished.

Segmentation labels that leave pixels inside the AOI without a class while
the task has no background class are said out loud before TRAIN: a warning
per scene (the share of its chip pixels ignored, and the settings that make
them background) in the log and on the console, and in ``chips.json``
(``warnings``, and ``unlabelled_pixels`` per scene). The share is counted on
the chips as they are written, never by reading the scene again.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from fractions import Fraction
from typing import Any

import numpy as np

from rv import file_utils
from rv.errors import ConfigError, DataError
from rv.run_output import say_warning


def chip_workers() -> int:
    """Processes CHIP uses: ``[RV] chip_workers`` (``RV_CHIP_WORKERS``), default the CPU count."""
    from rv.settings import get_settings

    value = get_settings().get("RV", "chip_workers")
    if value is None or not str(value).strip():
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(
            f"The setting chip_workers ([RV] section, or RV_CHIP_WORKERS) is {value!r}; it must be a whole "
            "number of processes >= 1. Fix or unset it (the default is the CPU count)."
        )
    return n


def _chip_one_scene(
    task_config,
    scene_config,
    augmentor_configs,
    split: str,
    out_dir: str,
    seed: int,
    tmp_dir: str,
    shard: tuple[int, int] = (0, 1),
) -> dict:
    """Chip part ``shard`` = (k, n) of one scene's windows into ``out_dir`` (a chip directory of its own)."""
    import rasterio

    from rv.chips import ChipWriter, _safe_name

    task = task_config.create()
    scene = scene_config.create(task_config, tmp_dir, with_labels=True)
    augmentors = [a.create() for a in augmentor_configs]
    index = shard[0]
    if index:
        # Every part makes its augmentors from the same config, hence the same seed; without this
        # the parts of a scene would blank out the same squares of their negative chips.
        for k, augmentor in enumerate(augmentors):
            if isinstance(getattr(augmentor, "rng", None), np.random.Generator):
                augmentor.rng = np.random.default_rng([seed, index, k])
    # The window sampling must see the same generator state in every part of the scene.
    rng = np.random.default_rng(seed)
    debug_rng = np.random.default_rng([seed, index, 1_000_003])
    writer = ChipWriter(out_dir, task_config.key, task_config.class_map, task_config.chip_size, debug=False)
    debug_prob = getattr(task_config.chip_options, "debug_chip_probability", 0.25) if task_config.debug else 0.0

    def write(split_, scene_id, image, mask, labels, window):
        rel = writer.write(split_, scene_id, image, mask, **labels)
        if debug_prob and debug_rng.random() < debug_prob:
            name = os.path.splitext(os.path.basename(rel))[0]
            writer.write_debug_png(split_, name, image, mask, **labels)

    # One GDAL environment for the whole loop: rasterio functions called per window
    # (rasterize) otherwise set one up and tear it down at every call.
    with rasterio.Env():
        count = task.chip_scene(scene, split, write, augmentors, rng, shard=shard)
    result = {
        "scene": scene_config.id,
        "name": _safe_name(scene_config.id),
        "split": split,
        "shard": index,
        "count": count,
        "dir": out_dir,
    }
    if count:
        result["manifest"] = writer.close()
        result["pixel_tally"] = writer.pixel_tally()
    return result


def unlabelled_pixel_warnings(task_config, tallies: list[dict]) -> list[str]:
    """One sentence per scene whose segmentation chips hold pixels without a class while the task
    has no background class (else those pixels are meant to be ignored, e.g. label nodata).

    ``tallies`` are :meth:`rv.chips.ChipWriter.pixel_tally` rows, one per scene and split.
    """
    class_map = task_config.class_map
    if class_map.background_class_id is not None:
        return []
    names = ", ".join(repr(n) for n in class_map.names)
    out = []
    for t in tallies:
        if not t["pixels"] or not t["unlabelled"]:
            continue
        share = t["unlabelled"] / t["pixels"]
        out.append(
            f"Scene {t['scene']!r} ({t['split']}): {share:.1%} of its chip pixels inside the AOI "
            f"({t['unlabelled']:,} of {t['pixels']:,}) have no class: no label covers them and the task has "
            f"no background class, so training ignores them and the model only learns {names}. If they are "
            "background, add a class named 'background' to with_classes(...) or set "
            "with_background_class_id(id) on the task (for GeoJSON labels, "
            "with_rasterizer_options(background_class_id=id) on the GEOJSON_SOURCE also does it)."
        )
    return out


def _move_chips(src_dir: str, staging: str, name: str, offset: int) -> None:
    """Move the chips (and debug PNGs) of ``src_dir`` into ``staging``, adding ``offset`` to the numbers
    of files named ``<name>-<n>``: the parts of a scene continue each other's numbering."""
    prefix = name + "-"
    for sub in ("train", "valid", "debug"):
        src = os.path.join(src_dir, sub)
        if not os.path.isdir(src):
            continue
        for root, _, files in os.walk(src):
            if not files:
                continue
            rel = os.path.relpath(root, src_dir)
            os.makedirs(os.path.join(staging, rel), exist_ok=True)
            for f in files:
                stem, ext = os.path.splitext(f)
                number = stem[len(prefix) :]
                if offset and stem.startswith(prefix) and number.isdigit():
                    f_out = f"{prefix}{int(number) + offset}{ext}"
                else:
                    f_out = f
                os.replace(os.path.join(root, f), os.path.join(staging, rel, f_out))


def _publish(staging: str, out: str) -> None:
    """Put the staged ``train/``, ``valid/`` and ``debug/`` at ``out``: renamed into place when ``out``
    is local (no copy of every chip), else uploaded."""
    if not file_utils.is_local(out):
        file_utils.sync_to_dir(staging, out)
        return
    from rv.chips import _local

    dest = _local(out)
    os.makedirs(dest, exist_ok=True)
    for sub in sorted(os.listdir(staging)):
        src = os.path.join(staging, sub)
        try:
            # The old output was deleted: one rename moves the whole directory.
            os.replace(src, os.path.join(dest, sub))
        except OSError:  # another file system, or the target is not empty
            file_utils.sync_to_dir(src, file_utils.join(out, sub))


def _scene_list(config) -> list[tuple[Any, str]]:
    return [(s, "train") for s in config.train_scenes] + [(s, "valid") for s in config.validation_scenes]


def _chip_units(config, units: list[tuple[int, int, int]], tmp_dir: str, workers: int | None = None) -> list[dict]:
    """Chip ``units`` = ``(scene index, shard, shards)`` of ``config``'s scenes, in parallel; the results in
    window order. Fewer units than workers: each unit is cut into finer shards of its windows."""
    from rv.progress import progress

    scenes = _scene_list(config)
    workers = workers or chip_workers()
    sub = 1 if not units or len(units) >= workers else -(-workers // len(units))
    args = [
        (
            config.task,
            scenes[i][0],
            config.augmentors,
            scenes[i][1],
            os.path.join(tmp_dir, f"scene-{i}-{k * sub + j}-{n * sub}"),
            1000 + i,
            tmp_dir,
            (k * sub + j, n * sub),
        )
        for i, k, n in units
        for j in range(sub)
    ]
    pool_size = max(1, min(len(args), workers))
    shards = max((n * sub for _, _, n in units), default=1)
    description = "CHIP scenes" if shards == 1 else f"CHIP scenes ({shards} parts each)"
    results: list[dict[str, Any]] = []
    if pool_size == 1:
        for a in progress(args, total=len(args), description=description):
            results.append(_chip_one_scene(*a))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=pool_size, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(_chip_one_scene, *a) for a in args]
            for fut in progress(as_completed(futures), total=len(futures), description=description):
                results.append(fut.result())
    places = {a[4]: [i, k * sub + j, n * sub] for a, (i, k, n, j) in zip(args, _sub_units(units, sub))}
    for r in results:
        r["order"] = places[r["dir"]]
    return sorted(results, key=_window_order)


def _sub_units(units: list[tuple[int, int, int]], sub: int) -> list[tuple[int, int, int, int]]:
    return [(i, k, n, j) for i, k, n in units for j in range(sub)]


def _window_order(result: dict) -> tuple[int, Fraction]:
    """Where a result's chips come in the unsplit run: its scene, then its shard's place in the windows."""
    scene, shard, shards = result["order"]
    return scene, Fraction(shard, shards)


def run_chip(config, tmp_dir: str, workers: int | None = None) -> None:
    """Run CHIP for ``config`` (a ``ChipCommandConfig``) with ``workers`` processes (default :func:`chip_workers`).

    A part of a split CHIP (``config.part``) chips its share of the windows into its own directory; the
    merge (``config.parts > 1``) gathers the parts' chips into the one output an unsplit CHIP writes.
    """
    if config.part is not None:
        _run_chip_part(config, tmp_dir, workers)
        return
    if config.parts > 1:
        results, used = _gather_parts(config, tmp_dir)
    else:
        results = _chip_units(config, [(i, 0, 1) for i in range(len(_scene_list(config)))], tmp_dir, workers)
    _write_chips(config, results, tmp_dir)
    if config.parts > 1:
        from rv.command.split import remove_part_outputs

        remove_part_outputs(used)


#: what a part of a split CHIP writes last, listing its chip folders (see :func:`_run_chip_part`)
PART_NAME = "part.json"


def _run_chip_part(config, tmp_dir: str, workers: int | None) -> None:
    """Chip this part's share (:func:`rv.command.split.chip_units`) into ``<part dir>/r<n>/``, one folder per
    scene shard, then write ``part.json`` (each folder's scene, place in the windows, count, manifest)."""
    from rv.command.split import chip_units

    units = chip_units(len(_scene_list(config)), config.parts)[config.part]
    results = _chip_units(config, units, tmp_dir, workers)
    out = config.command_uri
    part_json = file_utils.join(out, PART_NAME)
    if file_utils.exists(part_json):
        file_utils.delete(part_json)
    listed = []
    for n, r in enumerate(results):
        row = {k: v for k, v in r.items() if k != "dir"}
        if r["count"]:
            row["folder"] = f"r{n}"
            if file_utils.exists(file_utils.join(out, row["folder"])):  # from an earlier try of this part
                file_utils.delete(file_utils.join(out, row["folder"]), recursive=True)
            _publish(r["dir"], file_utils.join(out, row["folder"]))
        shutil.rmtree(r["dir"], ignore_errors=True)
        listed.append(row)
    file_utils.write_text(part_json, json.dumps({"results": listed}, indent=2, default=_plain))
    total = sum(r["count"] for r in results)
    print(f"rv: {config.display_name}: wrote {total} chips of {len(units)} scene part(s) to {out}", flush=True)


def _plain(value: Any) -> Any:
    """numpy numbers in JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _gather_parts(config, tmp_dir: str) -> tuple[list[dict], list[str]]:
    """The results of every part of a split CHIP, their chips copied (hard-linked on local disk) or
    downloaded into ``tmp_dir``, in window order; and the URIs the parts wrote for the merge."""
    from rv.command.split import part_uri

    results = []
    used = []
    for k in range(config.parts):
        part = part_uri(config.command_uri, k)
        uri = file_utils.join(part, PART_NAME)
        try:
            listed = json.loads(file_utils.read_text(uri))["results"]
        except Exception as e:
            raise DataError(
                f"{config.display_name}: part {k + 1} of {config.parts} left no readable {uri} ({e}); run the "
                "same rv run again (it reruns the parts that did not finish)."
            ) from e
        used.append(uri)
        for n, row in enumerate(listed):
            local = os.path.join(tmp_dir, f"part-{k}-{n}")
            if row.get("folder"):
                src = file_utils.join(part, row["folder"])
                used.append(src)
                if file_utils.is_local(src):
                    from rv.chips import _local

                    # Links, not moves: the parts stay whole until the merged output is in place.
                    shutil.copytree(_local(src), local, copy_function=_link_or_copy)
                else:
                    file_utils.sync_from_dir(src, local)
            results.append({**row, "dir": local})
    return sorted(results, key=_window_order), used


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_chips(config, results: list[dict], tmp_dir: str) -> None:
    """Renumber the results' chips into one output and write ``chips.json`` last."""
    from rv.chips import FORMAT_VERSION, MANIFEST_NAME

    staging = os.path.join(tmp_dir, "chips")
    os.makedirs(staging, exist_ok=True)
    counts = {"train": 0, "valid": 0}
    per_scene: dict[tuple[str, str], int] = {}
    next_number: dict[tuple[str, str], int] = {}
    manifest: dict[str, Any] | None = None
    for r in results:
        key = (r["split"], r["name"])
        per_scene[(r["scene"], r["split"])] = per_scene.get((r["scene"], r["split"]), 0) + r["count"]
        if not r["count"]:
            shutil.rmtree(r["dir"], ignore_errors=True)
            continue
        m = r["manifest"]
        if manifest is None:
            manifest = dict(m)
        elif (m["num_channels"], m["dtype"]) != (manifest["num_channels"], manifest["dtype"]):
            raise DataError(
                f"Scene {r['scene']} gives {m['num_channels']}-channel {m['dtype']} chips but other scenes give "
                f"{manifest['num_channels']}-channel {manifest['dtype']}: give every scene the same channel order "
                "and raster transformers."
            )
        # Scenes whose ids map to the same file name, and the parts of one scene, continue one numbering.
        offset = next_number.get(key, 0)
        _move_chips(r["dir"], staging, r["name"], offset)
        next_number[key] = offset + r["count"]
        counts[r["split"]] += r["count"]
        shutil.rmtree(r["dir"], ignore_errors=True)
    for (scene_id, split), count in per_scene.items():
        print(f"rv: scene {scene_id} ({split}): {count} chips", file=sys.stderr)
    # The parts of a scene each counted their own chips' pixels: sum them per scene.
    tallies: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        for t in r.get("pixel_tally", ()):
            row = tallies.setdefault((t["scene"], t["split"]), {**t, "pixels": 0, "unlabelled": 0})
            row["pixels"] += t["pixels"]
            row["unlabelled"] += t["unlabelled"]
    warnings = unlabelled_pixel_warnings(config.task, list(tallies.values()))
    for warning in warnings:
        # Before TRAIN: the run log and the console show it while there is time to fix the labels.
        say_warning(warning)
    if manifest is None or counts["train"] == 0:
        raise DataError(
            f"CHIP {config.key} produced no training chips: the training scenes gave no windows inside their AOIs "
            "with labels. Check the AOIs, the label files and the chip options."
        )
    manifest.update({"format_version": FORMAT_VERSION, "counts": counts, "warnings": warnings})
    if tallies:
        manifest["unlabelled_pixels"] = list(tallies.values())
    # chips first, the manifest last: chips.json marks the output finished
    out = config.command_uri
    manifest_uri = file_utils.join(out, MANIFEST_NAME)
    if file_utils.exists(manifest_uri):
        file_utils.delete(manifest_uri)
    for sub in ("train", "valid", "debug"):
        target = file_utils.join(out, sub)
        if file_utils.exists(target):
            file_utils.delete(target, recursive=True)
    _publish(staging, out)
    file_utils.write_text(manifest_uri, json.dumps(manifest, indent=2))
    print(f"rv: wrote {counts['train']} training and {counts['valid']} validation chips to {out}", flush=True)
