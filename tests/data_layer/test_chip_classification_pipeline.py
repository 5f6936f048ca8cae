"""ANALYZE, CHIP and EVAL of chip classification on Kampala A/B, through the real command path.

Cells of 64 px take the class "building" when some footprint has at least
half its area in the cell (Raster Vision's rule with ``ioa_thresh=0.5``),
else "background". The expected class of every cell is computed here with
GDAL's ``transform_geom`` and plain shapely, independently of rv.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import transform_geom

import rv

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

BUILDING, BACKGROUND = 1, 2
CELL = 64


def expected_cell_classes(tif, geojson) -> dict[tuple[int, int], int]:
    """``(row, col)`` of each cell's top-left pixel → class, by the IoA rule on GDAL-reprojected polygons."""
    doc = json.loads(geojson.read_text())
    with rasterio.open(tif) as ds:
        inv = ~ds.transform
        height, width = ds.shape
        polygons = []
        for feature in doc["features"]:
            geom = shapely.geometry.shape(transform_geom("EPSG:4326", ds.crs, feature["geometry"]))
            geom = shapely.transform(
                shapely.make_valid(geom),
                lambda xy: np.column_stack(
                    [inv.a * xy[:, 0] + inv.b * xy[:, 1] + inv.c, inv.d * xy[:, 0] + inv.e * xy[:, 1] + inv.f]
                ),
            )
            clipped = geom.intersection(shapely.box(0, 0, width, height))  # labels are clipped to the scene
            if clipped.area > 0:
                polygons.append(clipped)
    out = {}
    for row in range(0, height, CELL):
        for col in range(0, width, CELL):
            cell = shapely.box(col, row, col + CELL, row + CELL)
            hit = any(p.intersection(cell).area / p.area >= 0.5 for p in polygons if p.intersects(cell))
            out[(row, col)] = BUILDING if hit else BACKGROUND
    return out


def test_kampala_chip_classification(rv_env, helpers, data_dir, tmp_path):
    buildings = data_dir / "buildings"
    geojson = buildings / "kampala_buildings.geojson"
    tif_a, tif_b = buildings / "kampala_oam_a.tif", buildings / "kampala_oam_b.tif"
    task = (
        rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
        .with_classes({"building": (BUILDING, "red"), "background": (BACKGROUND, "lightgray")})
        .with_background_class_id(BACKGROUND)
        .with_chip_size(CELL)
        .build()
    )
    # Footprints without a class property: every feature is a building. Cell size: the chip size.
    labels = (
        rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
        .with_uri(str(geojson))
        .with_default_class_id(BUILDING)
    )
    scenes = rv.SceneConfig.builder().with_task(task).with_label_source(labels)
    train = scenes.with_id("kampala-a").with_raster_source(str(tif_a))
    # Predictions of B in the raster's CRS (EPSG:3857) instead of WGS84.
    store = rv.LabelStoreConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_source_crs()
    valid = scenes.with_id("kampala-b").with_raster_source(str(tif_b)).with_label_store(store)
    experiment = helpers.build_experiment("kampala-cc", task, [train], [valid], tmp_path / "out", stats={})
    helpers.run_commands(experiment, tmp_path)

    with open(experiment.resolved().stats_uri()) as f:
        assert json.load(f)["num_channels"] == 3

    manifest, chips, _ = helpers.read_chips(experiment)
    assert manifest["task"] == rv.CHIP_CLASSIFICATION and manifest["background_class_id"] == BACKGROUND
    assert (manifest["num_channels"], manifest["dtype"], manifest["chip_size"]) == (3, "uint8", CELL)
    assert manifest["counts"] == {"train": (1024 // CELL) * (1536 // CELL), "valid": (512 // CELL) ** 2}
    expected = {}
    for split, tif in (("train", tif_a), ("valid", tif_b)):
        expected[split] = expected_cell_classes(tif, geojson)
        with rasterio.open(tif) as ds:
            scene_image = np.moveaxis(ds.read(), 0, -1)
        locator = helpers.ChipLocator(scene_image, CELL, CELL)
        cells = {}
        for chip in chips[split]:
            assert chip["image"].shape == (CELL, CELL, 3) and chip["image"].dtype == np.uint8
            assert chip["class_id"].shape == () and chip["class_id"].dtype == np.int64
            windows = [w for w in locator.locate(chip["image"]) if w.ymin % CELL == w.xmin % CELL == 0]
            assert len(windows) == 1
            cells[(int(windows[0].ymin), int(windows[0].xmin))] = int(chip["class_id"])
        assert cells == expected[split]  # one chip per cell, each with the class the rule gives
        assert set(cells.values()) == {BUILDING, BACKGROUND}

    # The predictions were written in EPSG:3857, with a crs member naming it.
    prediction = json.loads(open(experiment.resolved().dataset.validation_scenes[0].label_store.uri).read())
    assert prediction["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::3857"
    assert len(prediction["features"]) == 64

    report, png = helpers.read_eval(experiment)
    assert report["overall"]["f1"] == pytest.approx(1.0)
    assert report["overall"]["gt_count"] == report["overall"]["pred_count"] == 64
    by_id = {c["class_id"]: c for c in report["classes"]}
    for class_id in (BUILDING, BACKGROUND):
        count = sum(1 for v in expected["valid"].values() if v == class_id)
        assert by_id[class_id]["gt_count"] == by_id[class_id]["pred_count"] == count
        assert by_id[class_id]["f1"] == pytest.approx(1.0)
    matrix = np.array(report["confusion_matrix"])
    assert (matrix == np.diag(np.diag(matrix))).all() and matrix.sum() == 64
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cells_drawn_in_a_file_are_chipped_whole(rv_env, helpers, data_dir, tmp_path):
    """Cells given as polygons (``infer_cells=False``) with lon/lat to 7 decimals: a hundredth of a pixel off."""
    from rv_geojson.testing import scene_grid

    tif = data_dir / "buildings" / "kampala_oam_b.tif"
    ct, extent = scene_grid(tif)
    cells = [
        shapely.box(col, row, col + CELL, row + CELL) for row in range(0, 512, CELL) for col in range(0, 512, CELL)
    ]
    classes = [BUILDING if (i + i // 8) % 2 else BACKGROUND for i in range(len(cells))]  # a checkerboard
    lonlat = shapely.transform(ct.pixel_to_crs_geoms(np.array(cells), "EPSG:4326"), lambda xy: np.round(xy, 7))
    features = [
        {"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": {"class_id": c}}
        for g, c in zip(lonlat, classes)
    ]
    path = tmp_path / "cells.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    task = (
        rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
        .with_classes({"building": (BUILDING, "red"), "background": (BACKGROUND, "lightgray")})
        .with_chip_size(CELL)
        .build()
    )
    labels = rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_uri(str(path)).with_infer_cells(False)
    scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(str(tif)).with_label_source(labels)
    experiment = helpers.build_experiment(
        "kampala-cells", task, [scenes.with_id("b-train")], [scenes.with_id("b-valid")], tmp_path / "out"
    )
    helpers.run_commands(experiment, tmp_path, ["CHIP", "EVAL"])

    with rasterio.open(tif) as ds:
        locator = helpers.ChipLocator(np.moveaxis(ds.read(), 0, -1), CELL, CELL)
    _, chips, _ = helpers.read_chips(experiment)
    expected = {(int(c.bounds[1]), int(c.bounds[0])): k for c, k in zip(cells, classes)}
    for split in ("train", "valid"):
        found = {}
        for chip in chips[split]:
            (window,) = [w for w in locator.locate(chip["image"]) if w.ymin % CELL == w.xmin % CELL == 0]
            found[(int(window.ymin), int(window.xmin))] = int(chip["class_id"])
        assert found == expected
    report, _ = helpers.read_eval(experiment)
    assert report["overall"]["f1"] == pytest.approx(1.0) and report["overall"]["gt_count"] == 64
