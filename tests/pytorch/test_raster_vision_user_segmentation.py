"""A Raster Vision user's segmentation experiment gives the right answer, or says why not.

``raster_vision_user_experiments.py`` is written as the Raster Vision 0.8
documentation shows: classes ``{"building": (1, "red"), "background": (0,
"black")}`` with no background class id, the footprints given as a bare
GeoJSON URI. ``rv run local`` runs it end to end at a small budget, as a user
would, and the test reads what the user reads: eval.json, chips.json and what
the run prints.

- With that class map the pixels no footprint covers are background: they
  are counted in the ground truth, so "building everywhere" cannot score 1.0,
  and the model, trained 32 steps on Kampala A (24 % building), must score
  Kampala B (59 % building) better than answering one class everywhere does:
  mean F1, support-weighted F1 and mIoU above the best such answer's, each
  computed from eval.json's ground-truth counts. (Building F1 above "building
  everywhere", 0.744 on Kampala B, takes minutes of training: the slow
  ``tests/quality`` test holds the example to it.)
- With the building class alone they have no class: CHIP says what share of
  the pixels training ignores and which setting changes it, and EVAL says
  that a one-class ground truth makes its scores meaningless, in eval.json
  and in the summary at the end of the run. Never F1 1.0 in silence.
- The validation scene's label store asks for polygons too: ``rv predict`` with
  the run's model bundle on Kampala B writes the class GeoTIFF and WGS84
  building polygons over the image, the ones PREDICT wrote.
"""

import json
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parent / "raster_vision_user_experiments.py"
VALIDATION_PIXELS = 512 * 512  # Kampala B, no nodata, no AOI: every pixel is evaluated


@pytest.fixture(scope="module")
def run_user_experiment(run_rv, tmp_path_factory):
    """``run_user_experiment(method)``: ``rv run local raster_vision_user_experiments.py -m METHOD``;
    returns the experiment's root and the finished process."""

    def _run(method):
        root = tmp_path_factory.mktemp(method) / "out"
        result = run_rv("run", "local", EXPERIMENTS, "-m", method, "-a", "root_uri", root)
        return root, result

    return _run


@pytest.fixture(scope="module")
def with_background(run_user_experiment):
    return run_user_experiment("buildings")


@pytest.fixture(scope="module")
def without_background(run_user_experiment):
    return run_user_experiment("buildings_without_background")


def read_outputs(root, exp_id):
    """chips.json and eval.json of the experiment (command keys are the experiment id)."""
    chips = json.loads((root / "chip" / exp_id / "chips.json").read_text())
    report = json.loads((root / "eval" / exp_id / "eval.json").read_text())
    return chips, report


def one_class_everywhere(report):
    """The scores of answering one class at every pixel, for the class that scores best on each figure.

    With ``q`` a class's share of the ground truth, answering it everywhere
    gives it F1 ``2q/(1+q)`` and IoU ``q``, and every other class 0.
    """
    counts = [c["gt_count"] for c in report["classes"]]
    shares = [n / sum(counts) for n in counts]
    f1 = [2 * q / (1 + q) for q in shares]
    return {
        "mean f1": max(f1) / len(shares),
        "weighted f1": max(q * f for q, f in zip(shares, f1)),
        "miou": max(shares) / len(shares),
    }


def test_the_class_named_background_is_learned_and_scored(with_background):
    root, result = with_background
    chips, report = read_outputs(root, "buildings")
    # The class named background is the background: chips carry it, nothing is ignored.
    assert chips["background_class_id"] == 0
    assert chips["warnings"] == []
    assert [t["unlabelled"] for t in chips["unlabelled_pixels"]] == [0, 0]
    # The ground truth counts background pixels, every validation pixel has a class.
    counts = {c["class_name"]: c["gt_count"] for c in report["classes"]}
    assert counts["background"] > 0 and counts["building"] > 0
    assert counts["background"] + counts["building"] == VALIDATION_PIXELS
    building = next(c for c in report["classes"] if c["class_name"] == "building")
    assert building["f1"] < 1.0
    assert report["warnings"] == []
    # The model learned both classes: it scores better than answering one class everywhere.
    assert all(c["pred_count"] > 0 for c in report["classes"]), report["classes"]
    baseline = one_class_everywhere(report)
    measured = {
        "mean f1": sum(c["f1"] for c in report["classes"]) / len(report["classes"]),
        "weighted f1": report["overall"]["f1"],
        "miou": report["overall"]["miou"],
    }
    assert all(measured[k] > baseline[k] for k in baseline), (measured, baseline)
    # The end of the run shows the scores, with no warning.
    assert "rv: EVAL buildings (experiment buildings)" in result.stderr
    assert f"building: f1 {building['f1']:.3f}" in result.stderr
    output = result.stdout + result.stderr
    assert "of its chip pixels inside the AOI" not in output and "The ground truth holds" not in output


def test_without_a_background_class_the_run_says_why_its_score_means_nothing(without_background):
    root, result = without_background
    chips, report = read_outputs(root, "buildings-no-background")
    output = result.stdout + result.stderr

    # CHIP, before training: the share of pixels ignored and the settings that make them background.
    assert chips["background_class_id"] is None
    train = next(t for t in chips["unlabelled_pixels"] if t["split"] == "train")
    assert 0 < train["unlabelled"] < train["pixels"]
    chip_warning = next(w for w in chips["warnings"] if w.startswith("Scene 'train_scene' (train): "))
    share = f"{train['unlabelled'] / train['pixels']:.1%} of its chip pixels inside the AOI"
    assert share in chip_warning and "have no class" in chip_warning
    assert "with_background_class_id(id)" in chip_warning and "with_rasterizer_options" in chip_warning
    assert f"rv: warning: {chip_warning}" in output  # on the console (and in CHIP's log)

    # EVAL: building is the only class of the ground truth; eval.json, the log and the summary say so.
    (building,) = report["classes"]
    assert 0 < building["gt_count"] < VALIDATION_PIXELS
    assert report["overall"]["unlabelled_count"] == VALIDATION_PIXELS - building["gt_count"]
    (eval_warning,) = report["warnings"]
    assert eval_warning.startswith(
        f"The ground truth holds a single class, 'building' ({building['gt_count']:,} pixels)"
    )
    assert "scores F1 1.0" in eval_warning and "background" in eval_warning
    assert f"rv: warning: {eval_warning}" in output
    summary = result.stderr[result.stderr.index("rv: EVAL buildings-no-background") :]
    assert f"warning: {eval_warning}" in summary


def polygons_by_class(path):
    """{class name: [shapely geometry, ...]} of a GeoJSON of class polygons, and the document itself."""
    import shapely.geometry

    doc = json.loads(Path(path).read_text())
    by_class = {}
    for feature in doc["features"]:
        props = feature["properties"]
        by_class.setdefault(props["class_name"], []).append(
            (props["class_id"], shapely.geometry.shape(feature["geometry"]))
        )
    return doc, by_class


def test_rv_predict_with_the_bundle_writes_the_polygons_predict_wrote(with_background, run_rv, data_dir, tmp_path):
    """The validation scene's label store asks for polygons; the model bundle remembers it, so ``rv predict``
    on the validation image writes the class GeoTIFF and the building polygons PREDICT wrote."""
    import numpy as np
    import pyproj
    import rasterio
    import shapely

    root, _ = with_background
    image = data_dir / "buildings" / "kampala_oam_b.tif"
    out = tmp_path / "kampala_b.tif"
    result = run_rv("predict", root / "bundle" / "buildings" / "model-bundle.zip", image, out)
    assert f"rv: wrote predictions to {out}" in " ".join(result.stderr.split())  # the console may wrap it
    polygons_path = tmp_path / "kampala_b-polygons.geojson"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kampala_b-polygons.geojson", "kampala_b.tif"]

    # The class GeoTIFF lies on the image's grid, holds the task's class ids, and is PREDICT's.
    with rasterio.open(out) as written, rasterio.open(image) as src:
        assert (written.crs, written.transform, written.shape) == (src.crs, src.transform, src.shape)
        classes = written.read(1)
        bounds, image_crs, pixel_area = src.bounds, src.crs, abs(src.transform.a * src.transform.e)
    with rasterio.open(root / "predict" / "buildings" / "val_scene.tif") as by_predict:
        assert np.mean(classes != by_predict.read(1)) < 0.001
    assert set(np.unique(classes)) == {0, 1}

    # The polygons are GeoJSON as a GIS reads it (WGS84 longitude/latitude, no crs member), of the
    # experiment's classes, building among them, and lie over the image.
    doc, by_class = polygons_by_class(polygons_path)
    assert "crs" not in doc
    assert set(by_class) <= {"building", "background"} and by_class.get("building")
    assert {class_id for class_id, _ in by_class["building"]} == {1}
    to_wgs84 = pyproj.Transformer.from_crs(image_crs, "EPSG:4326", always_xy=True)
    footprint = shapely.box(*to_wgs84.transform_bounds(*bounds))
    buildings = shapely.union_all([g for _, g in by_class["building"]])
    assert footprint.buffer(1e-7).contains(buildings), (footprint.bounds, buildings.bounds)
    # Back in the image's CRS the building polygons cover the building pixels of the class GeoTIFF.
    to_image = pyproj.Transformer.from_crs("EPSG:4326", image_crs, always_xy=True)
    in_image_crs = shapely.transform(buildings, lambda xy: np.column_stack(to_image.transform(xy[:, 0], xy[:, 1])))
    assert in_image_crs.area / pixel_area == pytest.approx(int((classes == 1).sum()), rel=0.01)

    # The same polygons as PREDICT wrote for the validation scene: as many per class, the same area.
    _, by_predict = polygons_by_class(root / "predict" / "buildings" / "val_scene-polygons.geojson")
    assert {k: len(v) for k, v in by_class.items()} == {k: len(v) for k, v in by_predict.items()}
    for name, features in by_class.items():
        got = shapely.union_all([g for _, g in features])
        want = shapely.union_all([g for _, g in by_predict[name]])
        assert got.area == pytest.approx(want.area, rel=0.001), name
        assert shapely.symmetric_difference(got, want).area <= 0.001 * want.area, name
