"""Object detection with sliding windows and chip classification, as a Raster Vision 0.8 user writes them.

Both run end to end (``rv run local``, a tiny budget) on label files that carry
no class property: the NEON tree boxes rewritten with OSM-style properties and
no class, and the Kampala footprints as they come. What a user checks: every
label read as the one class, sliding windows overlapping by half, eval.json
counting the ground truth, and scores that are not a perfect 1.0; and ``rv
predict`` with the detection bundle writing the boxes PREDICT wrote.
"""

import json
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent / "raster_vision_user_experiments.py"
TREES_SCORE_THRESH = 0.3


@pytest.fixture(scope="module")
def osm_style_trees(data_dir, tmp_path_factory):
    """The 61 NEON tree boxes with properties as an OSM export has them, and no class property."""
    doc = json.loads((data_dir / "trees" / "neon_osbs_029_trees.geojson").read_text())
    for i, feature in enumerate(doc["features"]):
        feature["properties"] = {"natural": "tree", "osm_id": 9000 + i, "source": "survey", "leaf_type": "needleleaved"}
    path = tmp_path_factory.mktemp("labels") / "trees_osm.geojson"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def trees_run(run_rv, osm_style_trees, tmp_path_factory):
    root = tmp_path_factory.mktemp("trees") / "out"
    # Two steps leave the detector's scores below the documented 0.5: a lower threshold keeps its boxes, so
    # that there are boxes for PREDICT and the bundle to agree on.
    args = {"root_uri": root, "label_uri": osm_style_trees, "score_thresh": TREES_SCORE_THRESH}
    result = run_rv("run", "local", EXPERIMENTS, "-m", "trees", *(a for k, v in args.items() for a in ("-a", k, v)))
    return root, result


@pytest.fixture(scope="module")
def cells_run(run_rv, tmp_path_factory):
    root = tmp_path_factory.mktemp("cells") / "out"
    return root, run_rv("run", "local", EXPERIMENTS, "-m", "building_cells", "-a", "root_uri", root)


def test_detection_with_sliding_windows_reads_classless_boxes_as_trees(trees_run):
    root, result = trees_run
    output = result.stdout + result.stderr
    # Every box is the one class: said once per file read, never an error.
    assert "61 of 61 features" in output and "'tree'" in output
    chips = json.loads((root / "chip" / "trees" / "chips.json").read_text())
    # 400 x 400 pixels, 100-pixel windows half a chip apart: 7 x 7 positions (4 x 4 without overlap).
    assert chips["counts"]["train"] > 16, chips["counts"]
    report = json.loads((root / "eval" / "trees" / "eval.json").read_text())
    (tree,) = report["classes"]
    assert tree["class_name"] == "tree" and tree["gt_count"] >= 55  # the boxes inside the scene
    assert tree["f1"] < 1.0
    predictions = json.loads((root / "predict" / "trees" / "val_scene.geojson").read_text())
    assert predictions["type"] == "FeatureCollection"


def test_chip_classification_counts_both_classes_and_scores_below_one(cells_run):
    root, result = cells_run
    assert result.returncode == 0, result.stderr
    report = json.loads((root / "eval" / "building-cells" / "eval.json").read_text())
    counts = {c["class_name"]: c["gt_count"] for c in report["classes"]}
    # Kampala A, 1536 x 1024 pixels in 256-pixel cells: 24 cells, with and without buildings (footprints
    # with no class property are buildings; cells no footprint touches are the background).
    assert counts["building"] > 0 and counts["background"] > 0
    assert counts["building"] + counts["background"] == 24
    assert report["warnings"] == []
    assert report["overall"]["f1"] < 1.0


def test_rv_predict_with_the_detection_bundle_writes_the_boxes_predict_wrote(trees_run, run_rv, data_dir, tmp_path):
    """The model bundle predicts with the experiment's options: the boxes PREDICT wrote, as GeoJSON."""
    import pyproj
    import rasterio
    import shapely
    import shapely.geometry

    root, _ = trees_run
    image = data_dir / "trees" / "neon_osbs_029.tif"
    out = tmp_path / "osbs_trees.geojson"
    run_rv("predict", root / "bundle" / "trees" / "model-bundle.zip", image, out)
    written = json.loads(out.read_text())
    assert written["type"] == "FeatureCollection" and "crs" not in written  # RFC 7946: WGS84
    boxes = written["features"]
    by_predict = json.loads((root / "predict" / "trees" / "val_scene.geojson").read_text())["features"]
    assert by_predict, "PREDICT wrote no box: lower score_thresh in trees_run so that there is something to compare"
    # As many boxes as PREDICT wrote for the same image (the validation scene), covering the same ground.
    assert abs(len(boxes) - len(by_predict)) <= 0.01 * len(by_predict), (len(boxes), len(by_predict))
    covered, expected = (
        shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in fs]) for fs in (boxes, by_predict)
    )
    assert covered.area == pytest.approx(expected.area, rel=0.01)
    # Each a tree scoring at least the experiment's score_thresh, in WGS84 longitude/latitude over the image.
    with rasterio.open(image) as src:
        to_wgs84 = pyproj.Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True)
        footprint = shapely.box(*to_wgs84.transform_bounds(*src.bounds))
    assert all(
        f["properties"]["class_name"] == "tree" and f["properties"]["score"] >= TREES_SCORE_THRESH for f in boxes
    )
    assert footprint.buffer(1e-7).contains(covered), (footprint.bounds, covered.bounds)
