"""Building segmentation end to end through ``rv run local``: ANALYZE → CHIP → TRAIN → PREDICT → EVAL → BUNDLE,
then ``rv predict`` with the bundle in a fresh process, on Kampala A (train) and B (validation)."""

import json
import shutil
import zipfile

import numpy as np
import pytest
import rasterio


@pytest.fixture(scope="module")
def seg_run(run_experiment, tmp_path_factory):
    root = tmp_path_factory.mktemp("seg") / "out"
    # Four steps at lr 1e-3 leave the untrained decoder predicting "building" everywhere; at 1e-2
    # (seeded, so every run is the same) both classes appear, which the bundle test needs.
    # The validation scene's label store asks for polygons and scores too: PREDICT writes them, and so
    # must the bundle.
    result = run_experiment("buildings_segmentation", root, lr=0.01, vector_output=1)
    return root, result


#: what PREDICT writes for Kampala B with the experiment's label store (vector output, scores)
PREDICTED = ("kampala_b.tif", "kampala_b-polygons.geojson", "kampala_b-scores.tif")


def assert_same_predictions(written, expected):
    """``written`` and ``expected``: {kind: path} of a class GeoTIFF, its polygons and its scores."""
    with rasterio.open(written["classes"]) as a, rasterio.open(expected["classes"]) as b:
        assert a.crs == b.crs and a.transform == b.transform
        np.testing.assert_array_equal(a.read(), b.read())
    with rasterio.open(written["scores"]) as a, rasterio.open(expected["scores"]) as b:
        assert a.count == b.count == 2 and a.transform == b.transform
        np.testing.assert_allclose(a.read(), b.read(), atol=1e-6)
    got, want = (json.loads(p.read_text())["features"] for p in (written["polygons"], expected["polygons"]))
    assert got and got == want  # the same building polygons, property for property


def test_the_pipeline_writes_a_georeferenced_prediction_an_evaluation_and_a_bundle(seg_run, data_dir):
    root, result = seg_run
    # Every command ran and stamped its output.
    for command in ("analyze", "chip", "train", "predict", "eval", "bundle"):
        assert (root / command / "buildings-seg" / "command-stamp.json").is_file(), command
    train_dir = root / "train" / "buildings-seg"
    for name in ("model.safetensors", "model-config.json", "last.pth", "log.csv", "training_curves.png"):
        assert (train_dir / name).is_file(), name
    spec = json.loads((train_dir / "model-config.json").read_text())
    assert (spec["num_channels"], spec["dtype"], spec["chip_size"], spec["encoder"]) == (3, "uint8", 64, "resnet18")
    log = (train_dir / "log.csv").read_text().splitlines()
    assert len(log) == 2 and "miou" in log[0]  # one epoch of 4 steps, validated

    # The predicted class raster lies exactly on the validation image's grid.
    image = data_dir / "buildings" / "kampala_oam_b.tif"
    predicted = root / "predict" / "buildings-seg" / "kampala_b.tif"
    with rasterio.open(predicted) as out, rasterio.open(image) as src:
        assert out.crs == src.crs and out.transform == src.transform
        assert (out.width, out.height, out.count, out.dtypes[0], out.nodata) == (512, 512, 1, "uint8", 255)
        classes = out.read(1)
    assert set(np.unique(classes)) <= {0, 1}  # every pixel predicted, with the task's class ids

    report = json.loads((root / "eval" / "buildings-seg" / "eval.json").read_text())
    text = json.dumps(report)
    assert "building" in text and "background" in text

    with zipfile.ZipFile(root / "bundle" / "buildings-seg" / "model-bundle.zip") as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert {"manifest.json", "bundle-config.json", "stats.json", "model.safetensors", "model-config.json"} <= names
    assert (manifest["num_channels"], manifest["dtype"], manifest["backend"]) == (
        3,
        "uint8",
        "PYTORCH_SEMANTIC_SEGMENTATION",
    )
    assert manifest["transformers"] == ["STATS_TRANSFORMER"]
    # The bundle records the experiment's label store (no URI: each prediction names its own).
    assert manifest["format_version"] == 3
    assert manifest["label_store"] == {
        "type": "SEMANTIC_SEGMENTATION_RASTER",
        "rgb": False,
        "write_scores": True,
        "vector_output": True,
        "vector_crs": None,
    }
    for name in PREDICTED:
        assert (root / "predict" / "buildings-seg" / name).is_file(), name


def test_the_bundle_alone_predicts_what_predict_wrote(seg_run, run_rv, data_dir, tmp_path):
    """Class GeoTIFF, building polygons and scores, as the experiment's label store asked of PREDICT."""
    root, _ = seg_run
    # Only the bundle survives: the experiment's files are moved away before predicting.
    bundle = tmp_path / "model-bundle.zip"
    shutil.copy(root / "bundle" / "buildings-seg" / "model-bundle.zip", bundle)
    saved = tmp_path / "predict-command"
    saved.mkdir()
    for name in PREDICTED:
        shutil.copy(root / "predict" / "buildings-seg" / name, saved / name)
    moved = root.with_name("moved-away")
    root.rename(moved)
    try:
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        out = fresh / "kampala_b_from_bundle.tif"
        run_rv("predict", bundle, data_dir / "buildings" / "kampala_oam_b.tif", out, cwd=fresh)
    finally:
        moved.rename(root)
    assert_same_predictions(
        {
            "classes": out,
            "polygons": fresh / "kampala_b_from_bundle-polygons.geojson",
            "scores": fresh / "kampala_b_from_bundle-scores.tif",
        },
        {"classes": saved / PREDICTED[0], "polygons": saved / PREDICTED[1], "scores": saved / PREDICTED[2]},
    )
    # Both classes are predicted somewhere, so the equality says something.
    with rasterio.open(saved / PREDICTED[0]) as b:
        assert set(np.unique(b.read())) == {0, 1}


def test_rv_predict_takes_a_folder_of_geotiffs_and_writes_one_prediction_per_image(seg_run, run_rv, data_dir, tmp_path):
    root, _ = seg_run
    images = tmp_path / "images"
    images.mkdir()
    for name in ("east.tif", "west.TIFF"):  # the same image twice, under two names
        shutil.copy(data_dir / "buildings" / "kampala_oam_b.tif", images / name)
    (images / "notes.txt").write_text("not an image")
    out = tmp_path / "predictions"
    result = run_rv("predict", root / "bundle" / "buildings-seg" / "model-bundle.zip", images, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "east-polygons.geojson",
        "east-scores.tif",
        "east.tif",
        "west-polygons.geojson",
        "west-scores.tif",
        "west.tif",
    ]
    assert result.stderr.count("wrote predictions to") == 2
    predicted = root / "predict" / "buildings-seg"
    for stem in ("east", "west"):
        assert_same_predictions(
            {
                "classes": out / f"{stem}.tif",
                "polygons": out / f"{stem}-polygons.geojson",
                "scores": out / f"{stem}-scores.tif",
            },
            {
                "classes": predicted / PREDICTED[0],
                "polygons": predicted / PREDICTED[1],
                "scores": predicted / PREDICTED[2],
            },
        )


def test_rv_predict_a_computes_the_statistics_on_the_image(seg_run, run_rv, data_dir, tmp_path):
    """``-a`` / ``--update-stats`` as in Raster Vision: the stats transformer uses the new image's statistics."""
    root, _ = seg_run
    bundle = root / "bundle" / "buildings-seg" / "model-bundle.zip"
    image = data_dir / "buildings" / "kampala_oam_b.tif"
    run_rv("predict", "-a", bundle, image, tmp_path / "own-stats.tif", "--export-config", tmp_path / "own.json")
    run_rv("predict", bundle, image, tmp_path / "bundle-stats.tif", "--export-config", tmp_path / "bundled.json")

    def stats_uri(path):
        (transformer,) = json.loads(path.read_text())["config"]["raster_source"]["transformers"]
        return transformer["stats_uri"]

    assert stats_uri(tmp_path / "own.json").endswith("image-stats.json")
    assert stats_uri(tmp_path / "bundled.json").endswith("stats.json")
    assert not stats_uri(tmp_path / "bundled.json").endswith("image-stats.json")
    # Kampala B's own statistics differ from ANALYZE's over A and B: the scaled pixels, so the scores, differ.
    with (
        rasterio.open(tmp_path / "own-stats-scores.tif") as a,
        rasterio.open(tmp_path / "bundle-stats-scores.tif") as b,
    ):
        assert not np.allclose(a.read(), b.read())


def test_a_segmentation_bundle_predicts_with_only_rv_core_rv_cli_and_rv_pytorch_loaded(
    seg_run, run_rv, data_dir, tmp_path
):
    """The experiment read its labels through rv-geojson; the bundle must not need it to predict."""
    root, _ = seg_run
    bundle = root / "bundle" / "buildings-seg" / "model-bundle.zip"
    with zipfile.ZipFile(bundle) as zf:
        saved = json.loads(zf.read("bundle-config.json"))
    assert {p["distribution"] for p in saved["plugins"]} == {"rv-core", "rv-pytorch"}
    scene = saved["config"]["scene"]
    assert scene.get("label_source") is None and not scene.get("aoi_uris")
    # The experiment's label store is rv-core's, kept without its URI.
    assert scene["label_store"]["type"] == "SEMANTIC_SEGMENTATION_RASTER" and scene["label_store"]["uri"] is None
    out = tmp_path / "only-pytorch.tif"
    env = {"RV_DISABLE_PLUGIN_AUTOLOAD": "1", "RV_LOAD_PLUGINS": "rv_cli,rv_pytorch", "RV_STRICT_PLUGINS": "1"}
    run_rv("predict", bundle, data_dir / "buildings" / "kampala_oam_b.tif", out, env=env)
    predicted = root / "predict" / "buildings-seg"
    assert_same_predictions(
        {
            "classes": out,
            "polygons": tmp_path / "only-pytorch-polygons.geojson",
            "scores": tmp_path / "only-pytorch-scores.tif",
        },
        {"classes": predicted / PREDICTED[0], "polygons": predicted / PREDICTED[1], "scores": predicted / PREDICTED[2]},
    )


def test_a_bundle_refuses_an_image_of_another_band_count_and_says_what_it_expects(seg_run, run_rv, data_dir, tmp_path):
    root, _ = seg_run
    bundle = root / "bundle" / "buildings-seg" / "model-bundle.zip"
    s2 = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    wrong_bands = run_rv("predict", bundle, s2, tmp_path / "a.tif", check=False)
    assert wrong_bands.returncode != 0
    assert "gives 10 channel(s)" in wrong_bands.stderr and "expects 3" in wrong_bands.stderr
    assert "uint8" in wrong_bands.stderr and "--channel-order" in wrong_bands.stderr
    assert not (tmp_path / "a.tif").exists()


def test_the_predictor_api_returns_the_labels_of_a_new_image(seg_run, data_dir, tmp_path):
    """``rv.Predictor`` in Python: no output file asked for, the labels come back in memory."""
    import torch

    import rv
    from rv.core.box import Box

    torch.set_num_threads(1)
    root, _ = seg_run
    predictor = rv.Predictor(str(root / "bundle" / "buildings-seg" / "model-bundle.zip"), str(tmp_path))
    predictor.load_model()
    labels = predictor.predict(str(data_dir / "buildings" / "kampala_oam_b.tif"))
    with rasterio.open(root / "predict" / "buildings-seg" / "kampala_b.tif") as written:
        np.testing.assert_array_equal(labels.get_label_arr(Box(0, 0, 512, 512)), written.read(1))
