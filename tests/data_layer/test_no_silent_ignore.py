"""No silent ignore: pixels without a class are either background or said out loud, by CHIP and EVAL.

Kampala A (train) and B (validation) with the building footprints given as a
bare GeoJSON URI, as a Raster Vision user gives them (the footprints have no
class property: each is the class map's one class besides the background).
ANALYZE, CHIP and EVAL run through the real command path; EVAL compares the
ground truth with itself (there is no model), so its scores are perfect and
only the warnings tell a meaningful 1.0 from a meaningless one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.warp import transform_geom

import rv

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

CHIP_SIZE = 128


def building_pixels(tif, geojson) -> int:
    """Pixels of ``tif`` under a footprint: GDAL reprojection + rasterio rasterize, independently of rv."""
    doc = json.loads(geojson.read_text())
    with rasterio.open(tif) as ds:
        shapes = [
            (shapely.make_valid(shapely.geometry.shape(transform_geom("EPSG:4326", ds.crs, f["geometry"]))), 1)
            for f in doc["features"]
        ]
        return int(rasterize(shapes, out_shape=ds.shape, transform=ds.transform, dtype=np.uint8).sum())


def kampala_experiment(helpers, data_dir, root, classes, label_source=None):
    """The two Kampala scenes, chipped by sliding windows that cover each pixel once."""
    buildings = data_dir / "buildings"
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(classes)
        .with_chip_size(CHIP_SIZE)
        .with_chip_options(window_method="sliding", stride=CHIP_SIZE)
        .build()
    )
    labels = label_source or str(buildings / "kampala_buildings.geojson")

    def scene(scene_id, tif):
        return (
            rv.SceneConfig.builder()
            .with_task(task)
            .with_id(scene_id)
            .with_raster_source(str(buildings / tif))
            .with_label_source(labels)
        )

    return helpers.build_experiment(
        "kampala", task, [scene("kampala-a", "kampala_oam_a.tif")], [scene("kampala-b", "kampala_oam_b.tif")], root
    )


def test_without_a_background_class_chip_and_eval_say_what_is_ignored(rv_env, helpers, data_dir, tmp_path, capfd):
    experiment = kampala_experiment(helpers, data_dir, tmp_path / "out", {"building": (1, "red")})
    helpers.run_commands(experiment, tmp_path, ["CHIP", "EVAL"])
    err = capfd.readouterr().err

    # CHIP: each scene's share of chip pixels with no class, in chips.json and in the log.
    manifest, chips, _ = helpers.read_chips(experiment)
    geojson = data_dir / "buildings" / "kampala_buildings.geojson"
    tallies = {t["scene"]: t for t in manifest["unlabelled_pixels"]}
    assert len(manifest["warnings"]) == 2
    for (scene_id, split), tif in (
        (("kampala-a", "train"), "kampala_oam_a.tif"),
        (("kampala-b", "valid"), "kampala_oam_b.tif"),
    ):
        tally = tallies[scene_id]
        # Counted on the chips written (a window with no footprint at all gives no chip).
        pixels = sum(int((~c["mask"]).sum()) for c in chips[split])
        from_chips = sum(int(((c["labels"] == 255) & ~c["mask"]).sum()) for c in chips[split])
        assert (tally["split"], tally["pixels"], tally["unlabelled"]) == (split, pixels, from_chips)
        # ... and they are the chip pixels no footprint covers (each pixel lies in one chip at most).
        expected = pixels - building_pixels(data_dir / "buildings" / tif, geojson)
        assert tally["unlabelled"] == pytest.approx(expected, rel=0.01)
        (warning,) = [w for w in manifest["warnings"] if w.startswith(f"Scene {scene_id!r} ({split})")]
        assert f"{tally['unlabelled'] / pixels:.1%} of its chip pixels inside the AOI" in warning
        assert "with_rasterizer_options(background_class_id=id)" in warning and "'background'" in warning
        assert f"rv: warning: {warning}" in err

    # EVAL: building F1 1.0, which eval.json and the log say means nothing here.
    report, _ = helpers.read_eval(experiment)
    (building,) = report["classes"]
    assert building["f1"] == pytest.approx(1.0)
    (warning,) = report["warnings"]
    assert f"single class, 'building' ({building['gt_count']:,} pixels)" in warning
    assert f"{512 * 512 - building['gt_count']:,} pixels with image data inside the AOI have no class" in warning
    assert f"rv: warning: {warning}" in err


def test_a_class_named_background_labels_every_other_pixel(rv_env, helpers, data_dir, tmp_path, capfd):
    classes = {"building": (1, "red"), "Background": (0, "black")}  # no with_background_class_id
    experiment = kampala_experiment(helpers, data_dir, tmp_path / "out", classes)
    helpers.run_commands(experiment, tmp_path, ["CHIP", "EVAL"])

    manifest, chips, _ = helpers.read_chips(experiment)
    assert manifest["background_class_id"] == 0
    assert manifest["warnings"] == [] and all(t["unlabelled"] == 0 for t in manifest["unlabelled_pixels"])
    assert all(set(np.unique(c["labels"])) <= {0, 1} for c in chips["train"])
    report, _ = helpers.read_eval(experiment)
    counts = {c["class_name"]: c["gt_count"] for c in report["classes"]}
    built = building_pixels(
        data_dir / "buildings" / "kampala_oam_b.tif", data_dir / "buildings" / "kampala_buildings.geojson"
    )
    assert counts["Background"] + counts["building"] == 512 * 512
    assert counts["Background"] == pytest.approx(512 * 512 - built, rel=0.01)
    assert report["warnings"] == [] and "rv: warning" not in capfd.readouterr().err


def test_rasterizer_background_fills_what_no_polygon_covers(rv_env, helpers, data_dir, tmp_path):
    # Raster Vision's documented option: with_rasterizer_options(background_class_id), the task naming none.
    geojson = data_dir / "buildings" / "kampala_buildings.geojson"
    source = rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(str(geojson)).with_rasterizer_options(3)
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(source)
    classes = {"building": (1, "red"), "ground": (3, "black")}
    experiment = kampala_experiment(helpers, data_dir, tmp_path / "out", classes, label_source=labels)
    assert experiment.task.class_map.background_class_id is None
    helpers.run_commands(experiment, tmp_path, ["CHIP", "EVAL"])

    manifest, chips, _ = helpers.read_chips(experiment)
    assert manifest["warnings"] == []
    assert all(set(np.unique(c["labels"])) <= {1, 3} for c in chips["train"])
    report, _ = helpers.read_eval(experiment)
    counts = {c["class_name"]: c["gt_count"] for c in report["classes"]}
    built = building_pixels(data_dir / "buildings" / "kampala_oam_b.tif", geojson)
    assert counts["ground"] == pytest.approx(512 * 512 - built, rel=0.01)
    assert counts["ground"] + counts["building"] == 512 * 512 and report["warnings"] == []
