"""CHIP splits a scene's windows among processes: the chips are exactly those of a single process.

The real command path (``run_chip`` on a ``ChipCommandConfig`` built from
the builders) runs once with one worker and again with several, on Kampala
A (training) and B (validation) with the building footprints rasterized
from GeoJSON: the chip files must have the same names and the same arrays,
and the windows must be the ones the task chose, in read order.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import rv

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

CLASSES = {"building": (1, "red"), "background": (2, "lightgray")}


def segmentation_chip_config(data_dir, out_uri, scene_ids=("kampala-a",), validation=True, chips=24, debug=False):
    """A CHIP command config for random 64² chips of Kampala, labels from the GeoJSON footprints."""
    from rv.command.command_config import ChipCommandConfig

    buildings = data_dir / "buildings"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(CLASSES)
        .with_background_class_id(2)
        .with_chip_size(64)
        .with_chip_options(window_method="random_sample", chips_per_scene=chips)
        .with_debug(debug)
        .build()
    )
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
        .with_uri(str(buildings / "kampala_buildings.geojson"))
        .with_default_class_id(1)
    )

    def scene(scene_id, tif):
        raster = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(str(buildings / tif))
        return (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_id(scene_id)
            .with_raster_source(raster)
            .with_label_source(labels)
            .build()
        )

    train = tuple(scene(s, "kampala_oam_a.tif") for s in scene_ids)
    valid = (scene("kampala-b", "kampala_oam_b.tif"),) if validation else ()
    return ChipCommandConfig(
        key="parallel", command_uri=str(out_uri), task=task, train_scenes=train, validation_scenes=valid
    )


def run(config, tmp_path, name, workers):
    from rv.command.chip import run_chip

    tmp = tmp_path / f"tmp-{name}"
    tmp.mkdir()
    run_chip(config, str(tmp), workers=workers)
    return config.command_uri


def chip_files(chip_dir):
    """``{relative path: {array name: array}}`` of every chip, and the relative paths of debug PNGs."""
    chips, debug = {}, []
    for root, _, files in os.walk(chip_dir):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), chip_dir)
            if f.endswith(".npz"):
                with np.load(os.path.join(root, f)) as npz:
                    chips[rel] = {k: npz[k] for k in npz.files}
            elif f.endswith(".png"):
                debug.append(rel)
    return chips, sorted(debug)


def test_split_scene_chips_equal_a_single_process(rv_env, data_dir, tmp_path):
    serial = run(segmentation_chip_config(data_dir, tmp_path / "serial"), tmp_path, "serial", workers=1)
    # 4 workers, 2 scenes: each scene's windows are shared by 2 processes.
    split = run(segmentation_chip_config(data_dir, tmp_path / "split"), tmp_path, "split", workers=4)

    chips_1, _ = chip_files(serial)
    chips_n, _ = chip_files(split)
    assert sorted(chips_1) == sorted(chips_n)
    # A single process numbers each scene's chips 0..n-1 in window order; so do the parts together.
    assert sorted(chips_1) == sorted(
        [f"train/kampala-a-{i}.npz" for i in range(24)] + [f"valid/kampala-b-{i}.npz" for i in range(24)]
    )
    for rel, arrays in chips_1.items():
        assert arrays.keys() == chips_n[rel].keys()
        for k in arrays:
            np.testing.assert_array_equal(arrays[k], chips_n[rel][k], err_msg=f"{rel}: {k}")
    from rv.chips import read_chip_manifest

    assert read_chip_manifest(serial).raw == read_chip_manifest(split).raw
    assert read_chip_manifest(split).counts == {"train": 24, "valid": 24}


def test_chips_are_the_task_windows_in_read_order(rv_env, data_dir, tmp_path):
    """Chip n of a split run is the n-th window of ``Task.get_chip_windows`` (the seed of scene 0 is 1000)."""
    config = segmentation_chip_config(data_dir, tmp_path / "out", validation=False)
    out = run(config, tmp_path, "one", workers=3)
    scene_config = config.train_scenes[0]
    task = config.task.create()
    scene = scene_config.create(config.task, str(tmp_path), with_labels=True)
    windows = task.get_chip_windows(scene, np.random.default_rng(1000))
    assert len(windows) == 24
    # Read order: GeoTIFFSource.read_order of the same windows (Kampala A is tiled: strips, then rows).
    assert windows == scene.raster_source.read_order(windows)
    for n, window in enumerate(windows):
        with np.load(os.path.join(out, "train", f"kampala-a-{n}.npz")) as npz:
            np.testing.assert_array_equal(npz["image"], scene.raster_source.get_chip(window))
            np.testing.assert_array_equal(npz["labels"], scene.label_source.get_label_arr(window))


def test_scene_ids_sharing_a_file_name_never_overwrite_each_other(rv_env, data_dir, tmp_path):
    """``kampala a`` and ``kampala_a`` both become ``kampala_a-<n>.npz``: the numbering continues."""
    config = segmentation_chip_config(
        data_dir, tmp_path / "out", scene_ids=("kampala a", "kampala_a"), validation=False, chips=10
    )
    out = run(config, tmp_path, "same-name", workers=2)
    chips, _ = chip_files(out)
    assert sorted(chips) == sorted(f"train/kampala_a-{i}.npz" for i in range(20))
    from rv.chips import read_chip_manifest

    manifest = read_chip_manifest(out)
    assert manifest.counts == {"train": 20, "valid": 0}


def test_debug_images_follow_their_chips(rv_env, data_dir, tmp_path):
    config = segmentation_chip_config(data_dir, tmp_path / "out", validation=False, chips=40, debug=True)
    out = run(config, tmp_path, "debug", workers=2)
    chips, debug = chip_files(out)
    assert len(chips) == 40 and debug  # debug_chip_probability 0.25 of 40 chips
    chip_names = {os.path.splitext(os.path.basename(p))[0] for p in chips}
    assert all(os.path.dirname(d) == os.path.join("debug", "train") for d in debug)
    # Every debug PNG is named after a chip of the same split (renumbered with it) and shows that chip.
    from PIL import Image

    from rv.chips import render_debug_image

    for d in debug:
        name = os.path.splitext(os.path.basename(d))[0]
        assert name in chip_names
        chip = chips[os.path.join("train", name + ".npz")]
        expected = render_debug_image(chip["image"], chip["mask"], config.task.class_map, labels=chip["labels"])
        np.testing.assert_array_equal(np.asarray(Image.open(os.path.join(out, d)).convert("RGB")), np.asarray(expected))


def test_chip_workers_setting(monkeypatch):
    from rv.command.chip import chip_workers
    from rv.errors import ConfigError

    assert chip_workers() == (os.cpu_count() or 1)
    monkeypatch.setenv("RV_CHIP_WORKERS", "3")
    assert chip_workers() == 3
    monkeypatch.setenv("RV_CHIP_WORKERS", "zero")
    with pytest.raises(ConfigError, match="chip_workers .* 'zero'"):
        chip_workers()


def test_split_scene_parts_augment_independently(rv_env, data_dir, tmp_path):
    """With a nodata augmentor, the first part of a split scene equals the single process; the second
    part's augmentor draws its own squares (made from the same config, it would repeat the first's)."""
    import attrs

    from rv.augmentor.nodata_augmentor_config import NodataAugmentorConfig

    def config(name):
        base = segmentation_chip_config(data_dir, tmp_path / name, validation=False, chips=60)
        return attrs.evolve(base, augmentors=(NodataAugmentorConfig(aug_prob=1.0, seed=4),))

    serial, _ = chip_files(run(config("serial"), tmp_path, "serial", workers=1))
    split, _ = chip_files(run(config("split"), tmp_path, "split", workers=2))
    assert sorted(serial) == sorted(split) == sorted(f"train/kampala-a-{i}.npz" for i in range(60))

    def negative(chip):
        return not (chip["labels"] == 1).any()

    squares = {}
    for part, numbers in ((0, range(30)), (1, range(30, 60))):
        squares[part] = []
        for n in numbers:
            rel = f"train/kampala-a-{n}.npz"
            a, b = serial[rel], split[rel]
            np.testing.assert_array_equal(a["labels"], b["labels"])
            if not negative(b) or part == 0:
                # Positive chips are never augmented; part 0 replays the single process exactly.
                for k in ("image", "mask"):
                    np.testing.assert_array_equal(a[k], b[k], err_msg=f"{rel}: {k}")
            if negative(b) and b["mask"].any():
                rows, cols = np.nonzero(b["mask"])
                box = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
                assert b["mask"].sum() == (box[2] - box[0]) * (box[3] - box[1])  # one square of nodata
                assert (b["image"][b["mask"]] == 0).all()
                squares[part].append(box)
    assert len(squares[0]) >= 3 and len(squares[1]) >= 3, squares
    assert squares[1][:3] != squares[0][:3]
