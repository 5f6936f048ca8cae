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
    result = run_experiment("buildings_segmentation", root, lr=0.01)
    return root, result


def test_the_pipeline_writes_a_georeferenced_prediction_an_evaluation_and_a_bundle(seg_run, data_dir):
    root, result = seg_run
    # Every command ran and stamped its output.
    for command in ("analyze", "chip", "train", "predict", "eval", "bundle"):
        assert (root / command / "buildings-seg" / "command-stamp.json").is_file(), command
    train_dir = root / "train" / "buildings-seg"
    for name in ("model.pth", "model-config.json", "last.pth", "log.csv", "training_curves.png"):
        assert (train_dir / name).is_file(), name
    spec = json.loads((train_dir / "model-config.json").read_text())
    assert (spec["num_channels"], spec["dtype"], spec["chip_size"], spec["encoder"]) == (3, "uint8", 64, "resnet18")
    log = (train_dir / "log.csv").read_text().splitlines()
    assert len(log) == 2 and "mIoU" in log[0]  # one epoch of 4 steps, validated

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
    assert {"manifest.json", "bundle-config.json", "stats.json", "model.pth", "model-config.json"} <= names
    assert (manifest["num_channels"], manifest["dtype"], manifest["backend"]) == (3, "uint8",
                                                                                 "PYTORCH_SEMANTIC_SEGMENTATION")
    assert manifest["transformers"] == ["STATS_TRANSFORMER"]


def test_the_bundle_alone_predicts_what_predict_wrote(seg_run, run_rv, data_dir, tmp_path):
    root, _ = seg_run
    # Only the bundle survives: the experiment's files are moved away before predicting.
    bundle = tmp_path / "model-bundle.zip"
    shutil.copy(root / "bundle" / "buildings-seg" / "model-bundle.zip", bundle)
    expected_path = tmp_path / "predict-command.tif"
    shutil.copy(root / "predict" / "buildings-seg" / "kampala_b.tif", expected_path)
    moved = root.with_name("moved-away")
    root.rename(moved)
    try:
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        out = fresh / "kampala_b_from_bundle.tif"
        run_rv("predict", bundle, data_dir / "buildings" / "kampala_oam_b.tif", out, cwd=fresh)
    finally:
        moved.rename(root)
    with rasterio.open(out) as a, rasterio.open(expected_path) as b:
        assert a.crs == b.crs and a.transform == b.transform
        expected = b.read()
        np.testing.assert_array_equal(a.read(), expected)
    # Both classes are predicted somewhere, so the equality says something.
    assert set(np.unique(expected)) == {0, 1}


def test_a_segmentation_bundle_predicts_with_only_rv_core_rv_cli_and_rv_pytorch_loaded(seg_run, run_rv, data_dir,
                                                                                      tmp_path):
    """The experiment read its labels through rv-geojson; the bundle must not need it to predict."""
    root, _ = seg_run
    bundle = root / "bundle" / "buildings-seg" / "model-bundle.zip"
    with zipfile.ZipFile(bundle) as zf:
        saved = json.loads(zf.read("bundle-config.json"))
    assert {p["distribution"] for p in saved["plugins"]} == {"rv-core", "rv-pytorch"}
    scene = saved["config"]["scene"]
    assert scene.get("label_source") is None and scene.get("label_store") is None and not scene.get("aoi_uris")
    out = tmp_path / "only-pytorch.tif"
    env = {"RV_DISABLE_PLUGIN_AUTOLOAD": "1", "RV_LOAD_PLUGINS": "rv_cli,rv_pytorch", "RV_STRICT_PLUGINS": "1"}
    run_rv("predict", bundle, data_dir / "buildings" / "kampala_oam_b.tif", out, env=env)
    with rasterio.open(out) as a, rasterio.open(root / "predict" / "buildings-seg" / "kampala_b.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_bundle_refuses_an_image_of_another_band_count_and_says_what_it_expects(seg_run, run_rv, data_dir,
                                                                                  tmp_path):
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
