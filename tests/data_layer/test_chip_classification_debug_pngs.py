"""CHIP of chip classification with debug on: every debug PNG shows its chip's label.

Through the real command path (the plan, ``command-config.json``,
``run_command``) on Kampala B: each PNG is the chip's image with a border in
its class's color and the class name written on a black tag in that color;
the rest of the chip is the image untouched.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import rv

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

BUILDING, BACKGROUND = 1, 2
COLORS = {BUILDING: (255, 0, 0), BACKGROUND: (0, 0, 255)}  # red, blue
CELL = 64
BORDER = 4  # the outline's width


def test_chip_classification_debug_pngs_show_the_label(rv_env, helpers, data_dir, tmp_path):
    buildings = data_dir / "buildings"
    task = (
        rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
        .with_classes({"building": (BUILDING, "red"), "background": (BACKGROUND, "blue")})
        .with_background_class_id(BACKGROUND)
        .with_chip_size(CELL)
        .with_chip_options(debug_chip_probability=1.0)
        .with_debug()
        .build()
    )
    labels = (
        rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
        .with_uri(str(buildings / "kampala_buildings.geojson"))
        .with_default_class_id(BUILDING)
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_label_source(labels)
    scenes = scenes.with_raster_source(str(buildings / "kampala_oam_b.tif"))
    experiment = helpers.build_experiment(
        "kampala-cc-debug", task, [scenes.with_id("b-train")], [scenes.with_id("b-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, commands=["CHIP"])

    manifest, chips, names = helpers.read_chips(experiment)
    chip_dir = tmp_path / "out" / "chip" / experiment.resolved().chip_key
    seen = set()
    text_width = {BUILDING: set(), BACKGROUND: set()}
    for split in ("train", "valid"):
        pngs = sorted(p.stem for p in (chip_dir / "debug" / split).glob("*.png"))
        assert pngs == sorted(names[split]) and len(pngs) == 64  # probability 1: one PNG per chip
        for name, chip in zip(names[split], chips[split]):
            class_id = int(chip["class_id"])
            color = COLORS[class_id]
            png = np.asarray(Image.open(chip_dir / "debug" / split / f"{name}.png").convert("RGB"))
            assert png.shape == (CELL, CELL, 3)
            # The border, all around, in the class's color.
            ring = np.ones((CELL, CELL), bool)
            ring[BORDER:-BORDER, BORDER:-BORDER] = False
            assert (png[ring] == color).all(), f"{split}/{name}: border not in the color of class {class_id}"
            # The class name: a black tag at the top left with (anti-aliased) text in the class's color.
            tag = png[BORDER + 2 : BORDER + 18, BORDER : CELL - BORDER].astype(int)
            on = np.array(color) > 0
            text = (tag[..., ~on] == 0).all(axis=-1) & (tag[..., on] >= 128).all(axis=-1)
            assert (tag == 0).all(axis=-1).sum() > 50 and text.sum() > 15, f"{split}/{name}: no class name"
            text_width[class_id].add(int(np.ptp(np.flatnonzero(text.any(axis=0)))))
            # Below the tag, the image itself.
            np.testing.assert_array_equal(png[24:-BORDER, BORDER:-BORDER], chip["image"][24:-BORDER, BORDER:-BORDER])
            seen.add(class_id)
    assert seen == {BUILDING, BACKGROUND}
    # The names differ: "background" is written wider than "building", the same on every chip.
    assert len(text_width[BUILDING]) == len(text_width[BACKGROUND]) == 1
    assert text_width[BACKGROUND].pop() > text_width[BUILDING].pop()
