"""The four examples run end to end as a user runs them, and their outputs are what a user opens.

Each example runs once (``run_example``: ``rv run local examples/<name>.py
-a root_uri <tmp> -a num_epochs 1 -a num_steps 2`` in a subprocess, then the
same command again) and the tests read what it left under ``root_uri`` with
other libraries than rv's: ``json``, PIL, rasterio and shapely. The models
are trained for two steps, so the tests check the outputs' form, their
georeferencing and their agreement with each other and with the ground truth
computed here independently (rasterio / shapely on the example's data), never
the models' quality.

- every command ran and reported done; the second run runs nothing and
  touches no file;
- ``eval.json`` holds the task's metrics, its class rows are the class map,
  its ground-truth counts are those computed here from the example's labels
  and its prediction counts those of the predicted files;
- the pictures (debug chips, training curves, prediction overlays, confusion
  matrix) are real PNGs;
- the predicted GeoTIFFs have exactly the input scene's CRS, transform and
  size, nodata 255, class ids only, and cover exactly the validation AOI;
- the predicted GeoJSON files follow RFC 7946 (a FeatureCollection without
  ``crs``, WGS84 lon/lat inside the scene's footprint, valid geometries,
  counter-clockwise exterior rings, closed rings) and carry class ids, names
  and scores;
- ``rv predict`` with the buildings bundle writes the same classes as
  PREDICT, and ``examples/summarize.py`` reports the run.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DATA = EXAMPLES / "data"
IGNORE = 255  # rv.IGNORE_CLASS_ID: the nodata of predicted class rasters

BUILDING_CLASSES = {1: "building", 2: "background"}

# What each example is, read from examples/<name>.py: its experiment id, the commands its
# experiment has (ANALYZE with a stats analyzer), classes, scenes and AOIs. Settings that get
# tuned (chip size, thresholds) are read from the experiment as run: <root>/experiments/<id>.json.
SPECS = {
    "buildings_segmentation": {
        "id": "buildings-segmentation",
        "task": "segmentation",
        "commands": ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
        "classes": BUILDING_CLASSES,
        "train_scenes": ["kampala_a"],
        "validation": {"kampala_b": (DATA / "buildings" / "kampala_oam_b.tif", None)},
        "backend_debug": True,  # the example turns on the backend's debug: train/<id>/debug-chips.png
    },
    "buildings_chip_classification": {
        "id": "buildings-chip-classification",
        "task": "chip_classification",
        "commands": ["CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
        "classes": BUILDING_CLASSES,
        "train_scenes": ["kampala_a"],
        "validation": {"kampala_b": (DATA / "buildings" / "kampala_oam_b.tif", None)},
        "backend_debug": False,
    },
    "trees_object_detection": {
        "id": "trees-object-detection",
        "task": "object_detection",
        "commands": ["CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
        "classes": {1: "tree"},
        "train_scenes": ["osbs_029_train"],
        "validation": {
            "osbs_029_validation": (DATA / "trees" / "neon_osbs_029.tif", DATA / "trees" / "validation_aoi.geojson")
        },
        "backend_debug": False,
    },
    "landcover_multiband": {
        "id": "landcover-multiband",
        "task": "segmentation",
        "commands": ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
        "classes": {1: "forest", 2: "grass", 3: "urban", 4: "water"},
        "train_scenes": ["tile4_train"],
        "validation": {
            "tile4_validation": (
                DATA / "landcover" / "s2_aberystwyth_tile4.tif",
                DATA / "landcover" / "validation_aoi.geojson",
            )
        },
        "backend_debug": False,
    },
}
NAMES = list(SPECS)
# Metrics eval.json must report, per task (overall; and per class).
OVERALL_METRICS = {
    "segmentation": ["precision", "recall", "f1", "iou", "miou"],
    "chip_classification": ["precision", "recall", "f1"],
    "object_detection": ["precision", "recall", "f1", "ap50", "map50", "map"],
}
CLASS_METRICS = {
    "segmentation": ["precision", "recall", "f1", "iou"],
    "chip_classification": ["precision", "recall", "f1"],
    "object_detection": ["precision", "recall", "f1", "ap50", "ap"],
}


def out_dir(run, command):
    return run.root / command.lower() / SPECS[run.name]["id"]


def load_json(path):
    return json.loads(Path(path).read_text())


def eval_report(run):
    return load_json(out_dir(run, "EVAL") / "eval.json")


def experiment(run):
    """The experiment as run (``<root>/experiments/<id>.json``, the config rv saved), as plain JSON."""
    return load_json(run.root / "experiments" / f"{SPECS[run.name]['id']}.json")["config"]


def uses_stats_transformer(config):
    scenes = config["dataset"]["train_scenes"] + config["dataset"]["validation_scenes"]
    return any(t["type"] == "STATS_TRANSFORMER" for s in scenes for t in s["raster_source"].get("transformers", []))


# ----------------------------------------------------------------------------- independent geo helpers


def scene_wgs84_bounds(tif):
    """(west, south, east, north) of a raster's footprint in WGS84, by GDAL (densified edges)."""
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(tif) as ds:
        return transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)


def wgs84_to_scene(geojson_geometries, tif):
    """Shapely geometries of GeoJSON (WGS84) geometry dicts, in the raster's CRS (reprojected by GDAL)."""
    import rasterio
    import shapely.geometry
    from rasterio.warp import transform_geom

    with rasterio.open(tif) as ds:
        crs = ds.crs
    return [shapely.geometry.shape(transform_geom("EPSG:4326", crs, g)) for g in geojson_geometries]


def rasterize_wgs84(geojson_geometries, tif, all_touched=False):
    """Bool mask on the raster's grid of WGS84 GeoJSON geometries (pixel centres inside, GDAL's rule)."""
    import rasterio
    from rasterio.features import rasterize
    from rasterio.warp import transform_geom

    with rasterio.open(tif) as ds:
        shapes = [(transform_geom("EPSG:4326", ds.crs, g), 1) for g in geojson_geometries]
        if not shapes:
            return np.zeros(ds.shape, dtype=bool)
        return rasterize(
            shapes, out_shape=ds.shape, transform=ds.transform, fill=0, dtype="uint8", all_touched=all_touched
        ).astype(bool)


def aoi_geometries(aoi_path):
    return [f["geometry"] for f in load_json(aoi_path)["features"]]


def check_rfc7946(path, tif):
    """Assert that ``path`` is RFC 7946 GeoJSON of polygons on ``tif``'s footprint; return (features, shapes).

    RFC 7946: a FeatureCollection of Features (type, geometry, properties),
    no ``crs`` member (WGS84 lon/lat is implied), closed linear rings of at
    least four positions, exterior rings counter-clockwise and holes clockwise
    (section 3.1.6, the right-hand rule).
    """
    import shapely
    import shapely.geometry

    doc = load_json(path)
    assert doc.get("type") == "FeatureCollection", f"{path}: type is {doc.get('type')!r}"
    assert "crs" not in doc, f"{path} has a 'crs' member: RFC 7946 GeoJSON is WGS84 lon/lat without one"
    features = doc["features"]
    assert isinstance(features, list)
    west, south, east, north = scene_wgs84_bounds(tif)
    eps = 1e-7  # degrees (~1 cm): rounding of the reprojection
    shapes = []
    for i, feature in enumerate(features):
        where = f"{path} feature {i}"
        assert feature.get("type") == "Feature", where
        assert isinstance(feature.get("properties"), dict), where
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon"), f"{where}: {geometry['type']}"
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            for ring in rings:
                ring = np.asarray(ring, dtype=float)
                assert ring.ndim == 2 and ring.shape[1] == 2 and len(ring) >= 4, f"{where}: ring shape {ring.shape}"
                assert np.array_equal(ring[0], ring[-1]), f"{where}: ring not closed"
                lon, lat = ring[:, 0], ring[:, 1]
                assert (-180 <= lon).all() and (lon <= 180).all() and (-90 <= lat).all() and (lat <= 90).all(), where
                # inside the scene's footprint: so lon/lat are not swapped and not in the scene's CRS
                assert lon.min() >= west - eps and lon.max() <= east + eps, f"{where}: lon {lon.min()}..{lon.max()}"
                assert lat.min() >= south - eps and lat.max() <= north + eps, f"{where}: lat {lat.min()}..{lat.max()}"
        shape = shapely.geometry.shape(geometry)
        assert shapely.is_valid(shape), f"{where}: {shapely.is_valid_reason(shape)}"
        for polygon in shapely.get_parts(shape):
            assert shapely.is_ccw(polygon.exterior), f"{where}: exterior ring is clockwise (RFC 7946 3.1.6)"
            assert not any(shapely.is_ccw(r) for r in polygon.interiors), f"{where}: a hole is counter-clockwise"
        shapes.append(shape)
    return features, shapes


def check_png(path, min_size=(64, 64), size=None):
    """Assert ``path`` is a PNG that decodes, of exactly ``size`` when given (else at least ``min_size``),
    and not one flat colour."""
    from PIL import Image

    assert Path(path).is_file(), f"{path} is missing"
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is {image.format}"
        if size is not None:
            assert image.size == size, f"{path} is {image.size}, expected {size}"
        else:
            assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], f"{path} is only {image.size}"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.reshape(-1, 3).std(axis=0).max() > 1, f"{path} is a blank image"


# ----------------------------------------------------------------------------- every example


@pytest.mark.parametrize("name", NAMES)
def test_every_command_ran(run_example, name):
    """The run exits 0, runs each command of the experiment once and writes nothing to the working directory."""
    run = run_example(name)
    spec = SPECS[name]
    for command in spec["commands"]:
        assert f"[{command} {spec['id']}] done" in run.log, f"{command} did not finish:\n{run.log[-3000:]}"
    assert f"ran {len(spec['commands'])} command(s)" in run.log
    assert list(run.cwd.iterdir()) == [], f"the run wrote into its working directory: {list(run.cwd.iterdir())}"
    for command in spec["commands"]:
        stamp = load_json(out_dir(run, command) / "command-stamp.json")
        assert stamp["command"] == command and stamp["key"] == spec["id"]
        for output in stamp["outputs"]:
            assert Path(output).exists(), f"{command} lists output {output}, which does not exist"
    experiment = run.root / "experiments" / f"{spec['id']}.json"
    assert experiment.is_file(), "the experiment's config is saved under root_uri/experiments"


@pytest.mark.parametrize("name", NAMES)
def test_second_run_skips_everything(run_example, name):
    """Running the same command again finds every output from an identical config: nothing reruns or changes."""
    run = run_example(name)
    log = run.rerun.stdout + run.rerun.stderr
    ran = [line for line in log.splitlines() if line.startswith("rv: [") or line.startswith("rv: ran ")]
    assert "nothing to run" in log and "ran 0 command(s)" in log, "the second run ran:\n" + "\n".join(ran)
    changed = sorted(
        path for path in run.files_before_rerun.keys() | run.files_after_rerun.keys()
        if run.files_before_rerun.get(path) != run.files_after_rerun.get(path)
    )
    assert not changed, f"the second run changed {len(changed)} file(s) under root_uri: {changed[:10]}"
    assert run.rerun_seconds < 30, f"the second run took {run.rerun_seconds:.1f} s: it must not retrain"


@pytest.mark.parametrize("name", NAMES)
def test_eval_json_has_the_task_metrics(run_example, name):
    """eval.json: overall and per-class metrics of the task, one row per class, one scene per validation scene."""
    run = run_example(name)
    spec = SPECS[name]
    report = eval_report(run)
    assert set(report) >= {"overall", "classes", "confusion_matrix", "scenes"}
    assert set(report["scenes"]) == set(spec["validation"])
    rows = report["classes"]
    assert {r["class_id"]: r["class_name"] for r in rows} == spec["classes"]
    for key in OVERALL_METRICS[spec["task"]]:
        value = report["overall"][key]
        assert isinstance(value, float) and 0.0 <= value <= 1.0, f"overall {key} = {value!r}"
    for row in rows:
        for key in CLASS_METRICS[spec["task"]]:
            assert 0.0 <= row[key] <= 1.0, f"class {row['class_name']} {key} = {row[key]!r}"
    gt_total = sum(r["gt_count"] for r in rows)
    assert report["overall"]["gt_count"] == gt_total > 0
    matrix = np.asarray(report["confusion_matrix"])
    k = len(spec["classes"])
    if spec["task"] == "object_detection":
        # classes + a background row/column: matched, missed (false negatives) and false positives
        assert matrix.shape == (k + 1, k + 1)
        assert matrix[:k].sum() == gt_total
        assert matrix[:, :k].sum() == report["overall"]["pred_count"]
    else:
        assert matrix.shape == (k, k)  # rows: ground truth in class order; every pixel/cell was predicted
        assert matrix.sum(axis=1).tolist() == [r["gt_count"] for r in rows]
        assert matrix.sum(axis=0).tolist() == [r["pred_count"] for r in rows]
        assert report["overall"]["no_prediction_count"] == 0


@pytest.mark.parametrize("name", NAMES)
def test_model_bundle(run_example, name):
    """BUNDLE wrote a zip with the model, its config and the manifest; the training log has its rows."""
    run = run_example(name)
    bundle = out_dir(run, "BUNDLE") / "model-bundle.zip"
    assert zipfile.is_zipfile(bundle)
    with zipfile.ZipFile(bundle) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"manifest.json", "bundle-config.json", "model.safetensors", "model-config.json"} <= names
    # rv predict applies the stats transformer to new imagery with the training statistics
    assert ("stats.json" in names) == uses_stats_transformer(experiment(run))
    assert manifest["format_version"] >= 1
    log_rows = (out_dir(run, "TRAIN") / "log.csv").read_text().strip().splitlines()
    assert log_rows[0].startswith("epoch,step") and len(log_rows) == 2  # the header and the one epoch
    assert log_rows[1].split(",")[:2] == ["1", "2"]  # epoch 1 ended after the 2 steps of the budget


@pytest.mark.parametrize("name", NAMES)
def test_pictures(run_example, name):
    """Debug chips of both splits, training curves, one overlay per predicted scene and the confusion matrix."""
    run = run_example(name)
    spec = SPECS[name]
    chips = load_json(out_dir(run, "CHIP") / "chips.json")
    size = experiment(run)["task"]["chip_size"]
    assert chips["chip_size"] == size
    for split, scene_ids in (("train", spec["train_scenes"]), ("valid", list(spec["validation"]))):
        pngs = sorted((out_dir(run, "CHIP") / "debug" / split).glob("*.png"))
        assert 1 <= len(pngs) <= chips["counts"][split], f"{len(pngs)} {split} debug chips"
        for png in pngs:
            assert png.name.rsplit("-", 1)[0] in scene_ids, png.name
            check_png(png, size=(size, size))
    check_png(out_dir(run, "TRAIN") / "training_curves.png", min_size=(300, 200))
    if spec["backend_debug"]:
        check_png(out_dir(run, "TRAIN") / "debug-chips.png", min_size=(size, size))
    for scene_id in spec["validation"]:
        check_png(out_dir(run, "PREDICT") / f"{scene_id}-overlay.png", min_size=(300, 300))
    check_png(out_dir(run, "EVAL") / "confusion_matrix.png", min_size=(300, 300))


# ----------------------------------------------------------------------------- segmentation GeoTIFFs


def check_class_geotiff(pred_path, image_path, class_ids):
    """The predicted class raster on exactly the image's grid; returns its class array."""
    import rasterio

    with rasterio.open(pred_path) as pred, rasterio.open(image_path) as image:
        assert pred.crs is not None and pred.crs == image.crs, f"CRS {pred.crs} != the image's {image.crs}"
        assert pred.transform == image.transform, f"transform {pred.transform} != the image's {image.transform}"
        assert (pred.height, pred.width) == (image.height, image.width)
        assert pred.count == 1 and pred.dtypes[0] == "uint8"
        assert pred.nodata == IGNORE, f"nodata is {pred.nodata}"
        arr = pred.read(1)
    values = set(np.unique(arr).tolist())
    assert values <= set(class_ids) | {IGNORE}, f"values {sorted(values)} are not class ids {sorted(class_ids)}"
    return arr


@pytest.mark.parametrize("name", ["buildings_segmentation", "landcover_multiband"])
def test_predicted_geotiff(run_example, name):
    """Class ids on the scene's grid (CRS, transform, size), nodata exactly outside the validation AOI,
    and EVAL counted the very pixels PREDICT wrote."""
    run = run_example(name)
    spec = SPECS[name]
    report = eval_report(run)
    for scene_id, (image, aoi) in spec["validation"].items():
        arr = check_class_geotiff(out_dir(run, "PREDICT") / f"{scene_id}.tif", image, spec["classes"])
        predicted = arr != IGNORE
        if aoi is None:
            assert predicted.all(), f"{(~predicted).sum()} pixels of {scene_id} have no prediction"
        else:
            inside = rasterize_wgs84(aoi_geometries(aoi), image)
            assert np.array_equal(predicted, inside), (
                f"{scene_id}: {predicted.sum()} pixels predicted, {inside.sum()} inside the AOI, "
                f"{(predicted != inside).sum()} differ"
            )
        rows = {r["class_id"]: r for r in report["scenes"][scene_id]["classes"]}
        assert {c: int((arr == c).sum()) for c in spec["classes"]} == {c: r["pred_count"] for c, r in rows.items()}


def test_buildings_segmentation_ground_truth_counts(run_example):
    """EVAL's building pixels on Kampala B are the footprints rasterized here (GDAL, pixel centres)."""
    run = run_example("buildings_segmentation")
    image = DATA / "buildings" / "kampala_oam_b.tif"
    footprints = [f["geometry"] for f in load_json(DATA / "buildings" / "kampala_buildings.geojson")["features"]]
    building = rasterize_wgs84(footprints, image)
    rows = {r["class_id"]: r["gt_count"] for r in eval_report(run)["classes"]}
    assert rows == {1: int(building.sum()), 2: int((~building).sum())}


def test_landcover_ground_truth_counts(run_example):
    """EVAL's ground truth is the class raster inside the validation AOI."""
    import rasterio

    run = run_example("landcover_multiband")
    image = DATA / "landcover" / "s2_aberystwyth_tile4.tif"
    with rasterio.open(DATA / "landcover" / "s2_aberystwyth_tile4_labels.tif") as ds:
        labels = ds.read(1)
    inside = rasterize_wgs84(aoi_geometries(DATA / "landcover" / "validation_aoi.geojson"), image)
    rows = {r["class_id"]: r["gt_count"] for r in eval_report(run)["classes"]}
    assert rows == {c: int((labels[inside] == c).sum()) for c in (1, 2, 3, 4)}


def test_landcover_bands_normalised_with_analyze_statistics(run_example):
    """What the example promises: ANALYZE's statistics normalise the uint16 bands the model sees."""
    run = run_example("landcover_multiband")
    stats = load_json(out_dir(run, "ANALYZE") / "stats.json")
    model = load_json(out_dir(run, "TRAIN") / "model-config.json")
    assert model["dtype"] == "uint16" and model["num_channels"] == stats["num_channels"] == 4
    np.testing.assert_allclose(model["normalizer"]["mean"], stats["means"], rtol=1e-6)
    np.testing.assert_allclose(model["normalizer"]["std"], stats["stds"], rtol=1e-6)


# ----------------------------------------------------------------------------- GeoJSON outputs


def test_buildings_segmentation_polygons(run_example):
    """The vector output is RFC 7946 and outlines exactly the building pixels of the predicted GeoTIFF.

    Rasterizing the polygons back onto the scene's grid gives the GeoTIFF's
    building mask pixel for pixel (a tiny model may predict no building: then
    the file must hold no feature).
    """
    run = run_example("buildings_segmentation")
    image = DATA / "buildings" / "kampala_oam_b.tif"
    path = out_dir(run, "PREDICT") / "kampala_b-polygons.geojson"
    features, _ = check_rfc7946(path, image)
    for feature in features:
        assert feature["properties"]["class_id"] == 1 and feature["properties"]["class_name"] == "building"
    arr = check_class_geotiff(out_dir(run, "PREDICT") / "kampala_b.tif", image, BUILDING_CLASSES)
    outlined = rasterize_wgs84([f["geometry"] for f in features], image)
    assert np.array_equal(outlined, arr == 1), f"{(outlined != (arr == 1)).sum()} pixels differ"


def test_buildings_segmentation_polygons_of_ground_truth(run_example, tmp_path):
    """The example's label store, given Kampala B's ground truth, writes RFC 7946 polygons of those pixels.

    Two training steps rarely predict any building, so this feeds the store
    of the scene the example saved (vector output on, the run's own config
    under root_uri/experiments) the ground-truth labels instead: the same
    writer, with many polygons, some with holes.
    """
    import attrs
    import shapely

    from rv.serialization import config_from_json

    run = run_example("buildings_segmentation")
    image = DATA / "buildings" / "kampala_oam_b.tif"
    experiment = config_from_json((run.root / "experiments" / "buildings-segmentation.json").read_text())
    [scene_config] = experiment.dataset.validation_scenes
    assert scene_config.label_store.vector_output
    out = tmp_path / "kampala_b.tif"
    scene_config = attrs.evolve(scene_config, label_store=attrs.evolve(scene_config.label_store, uri=str(out)))
    scene = scene_config.create(experiment.task, str(tmp_path / "tmp"), with_labels=True, with_store=True)
    scene.label_store.save(scene.label_source.get_labels())

    features, shapes = check_rfc7946(tmp_path / "kampala_b-polygons.geojson", image)
    assert len(features) >= 50, f"only {len(features)} building polygons for Kampala B's footprints"
    assert any(len(p.interiors) for s in shapes for p in shapely.get_parts(s)), "no polygon with a hole was checked"
    footprints = [f["geometry"] for f in load_json(DATA / "buildings" / "kampala_buildings.geojson")["features"]]
    truth = rasterize_wgs84(footprints, image)
    outlined = rasterize_wgs84([f["geometry"] for f in features], image)
    assert np.array_equal(outlined, truth), f"{(outlined != truth).sum()} pixels differ from the footprints"


def test_trees_detections_geojson(run_example):
    """Boxes as RFC 7946 polygons in the validation AOI, with class, name and a score above score_thresh;
    EVAL counted each of them."""
    import shapely
    import shapely.geometry

    run = run_example("trees_object_detection")
    image, aoi = SPECS["trees_object_detection"]["validation"]["osbs_029_validation"]
    features, shapes = check_rfc7946(out_dir(run, "PREDICT") / "osbs_029_validation.geojson", image)
    score_thresh = experiment(run)["task"]["predict_options"]["score_thresh"]
    assert features, f"two training steps still give some boxes above the {score_thresh} score threshold"
    for feature, shape in zip(features, shapes):
        props = feature["properties"]
        assert props["class_id"] == 1 and props["class_name"] == "tree", props
        assert score_thresh <= props["score"] <= 1.0, props
        assert shape.geom_type == "Polygon" and len(shape.exterior.coords) == 5  # a box
    # boxes are axis-aligned in the scene's CRS (reprojected to WGS84 by rv, back by GDAL here: < 1 mm off)
    for box in wgs84_to_scene([f["geometry"] for f in features], image):
        assert shapely.hausdorff_distance(box, box.envelope) < 1e-3, box
    aoi_shape = shapely.union_all([shapely.geometry.shape(g) for g in aoi_geometries(aoi)])
    centroids = shapely.centroid(np.asarray(shapes, dtype=object))
    assert shapely.contains(aoi_shape, centroids).all(), "a detection's centre lies outside the validation AOI"
    report = eval_report(run)
    assert report["overall"]["pred_count"] == len(features)


def test_chip_classification_geojson(run_example):
    """One RFC 7946 cell per chip-sized cell of Kampala B, tiling the scene, each with its class and scores;
    EVAL counted them, and its ground truth is the footprints' cover computed here with the example's rule."""
    import rasterio
    import shapely

    run = run_example("buildings_chip_classification")
    config = experiment(run)
    size = config["task"]["chip_size"]
    image = DATA / "buildings" / "kampala_oam_b.tif"
    features, _ = check_rfc7946(out_dir(run, "PREDICT") / "kampala_b.geojson", image)
    with rasterio.open(image) as ds:
        transform, height, width = ds.transform, ds.height, ds.width
    cells = set()
    for feature, cell in zip(features, wgs84_to_scene([f["geometry"] for f in features], image)):
        props = feature["properties"]
        assert BUILDING_CLASSES[props["class_id"]] == props["class_name"], props
        scores = np.asarray(props["scores"])
        assert scores.shape == (2,) and abs(scores.sum() - 1) < 1e-4 and np.argmax(scores) + 1 == props["class_id"]
        xmin, ymin, xmax, ymax = cell.bounds
        col0, row0 = ~transform @ (xmin, ymax)
        col1, row1 = ~transform @ (xmax, ymin)
        pixel_box = np.round([row0, col0, row1, col1], 3) + 0.0  # + 0.0: no -0.0
        assert np.allclose(pixel_box, np.round(pixel_box)) and (pixel_box % size == 0).all(), pixel_box
        assert pixel_box[2] - pixel_box[0] == size and pixel_box[3] - pixel_box[1] == size, pixel_box
        cells.add((int(pixel_box[0]), int(pixel_box[1])))
    assert len(cells) == len(features), "two features for one cell"
    assert cells == {(r, c) for r in range(0, height, size) for c in range(0, width, size)}, "cells do not tile"
    report = eval_report(run)
    predicted = {c: sum(f["properties"]["class_id"] == c for f in features) for c in BUILDING_CLASSES}
    assert {r["class_id"]: r["pred_count"] for r in report["classes"]} == predicted

    # Ground truth by the example's rule (CHIP_CLASSIFICATION_GEOJSON): a cell is "building" when one
    # footprint's intersection with it is at least ioa_thresh of the cell's (or the footprint's) area.
    [scene] = config["dataset"]["validation_scenes"]
    rule = scene["label_source"]
    footprints = shapely.make_valid(
        np.asarray(
            wgs84_to_scene(
                [f["geometry"] for f in load_json(DATA / "buildings" / "kampala_buildings.geojson")["features"]],
                image,
            ),
            dtype=object,
        )
    )
    building_cells = 0
    for row, col in cells:
        x0, y0 = transform @ (col, row)
        x1, y1 = transform @ (col + size, row + size)
        cell = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        overlap = shapely.area(shapely.intersection(footprints, cell))
        base = cell.area if rule["use_intersection_over_cell"] else np.maximum(shapely.area(footprints), 1e-12)
        building_cells += bool((overlap / base >= rule["ioa_thresh"]).any())
    assert {r["class_id"]: r["gt_count"] for r in report["classes"]} == {
        1: building_cells, 2: len(cells) - building_cells
    }


# ----------------------------------------------------------------------------- rv predict and summarize.py


@pytest.fixture(scope="module")
def buildings_rv_predict(run_example, run_subprocess, tmp_path_factory):
    """``rv predict <bundle> examples/data/buildings/kampala_oam_b.tif <root>/rv-predict/kampala_oam_b.tif``."""
    run = run_example("buildings_segmentation")
    output = run.root / "rv-predict" / "kampala_oam_b.tif"
    bundle = out_dir(run, "BUNDLE") / "model-bundle.zip"
    result = run_subprocess(
        [sys.executable, "-m", "rv", "predict", bundle, DATA / "buildings" / "kampala_oam_b.tif", output],
        tmp_path_factory.mktemp("rv-predict-cwd"),
    )
    return run, output, result


def test_rv_predict_matches_predict(buildings_rv_predict):
    """The bundle, through the CLI, predicts the validation image exactly as PREDICT did, on the same grid."""
    run, output, _ = buildings_rv_predict
    image = DATA / "buildings" / "kampala_oam_b.tif"
    arr = check_class_geotiff(output, image, BUILDING_CLASSES)
    expected = check_class_geotiff(out_dir(run, "PREDICT") / "kampala_b.tif", image, BUILDING_CLASSES)
    assert np.array_equal(arr, expected), f"{(arr != expected).sum()} pixels differ from PREDICT's"


def test_summarize(buildings_rv_predict, run_subprocess):
    """``python examples/summarize.py ROOT`` prints the metrics and names eval.json and the outputs."""
    run, output, _ = buildings_rv_predict
    result = run_subprocess([sys.executable, EXAMPLES / "summarize.py", run.root], run.root)
    out = result.stdout
    assert str(out_dir(run, "EVAL") / "eval.json") in out
    assert "building: precision" in out and "miou" in out
    curves = next(line for line in out.splitlines() if "training curves:" in line)
    assert "training_curves.png" in curves and "debug-chips.png" not in curves, curves
    assert str(output) in out
    assert str(out_dir(run, "BUNDLE") / "model-bundle.zip") in out
