"""Building / no-building cells end to end through ``rv run local`` on Kampala A (train) and B (validation),
then the bundle alone on B."""

import json
import shutil

import numpy as np
import pytest


@pytest.fixture(scope="module")
def cc_run(run_experiment, tmp_path_factory):
    root = tmp_path_factory.mktemp("cc") / "out"
    run_experiment("buildings_chip_classification", root)
    return root


def test_every_cell_of_the_validation_scene_gets_a_class_and_scores(cc_run, helpers, data_dir):
    image = data_dir / "buildings" / "kampala_oam_b.tif"
    predicted = cc_run / "predict" / "buildings-cc" / "kampala_b.geojson"
    cells, props = helpers.geojson_pixel_boxes(predicted, image)
    # 512 x 512 pixels in 64-pixel cells: an 8 x 8 grid from the origin, each cell once.
    expected = sorted((y, x, y + 64, x + 64) for y in range(0, 512, 64) for x in range(0, 512, 64))
    np.testing.assert_allclose(np.array(sorted(map(tuple, cells))), np.array(expected), atol=1e-6)
    for p in props:
        assert p["class_id"] in (0, 1) and p["class_name"] == ("building" if p["class_id"] else "background")
        assert len(p["scores"]) == 2 and sum(p["scores"]) == pytest.approx(1.0, abs=1e-5)
        assert p["class_id"] == int(np.argmax(p["scores"]))

    report = json.loads((cc_run / "eval" / "buildings-cc" / "eval.json").read_text())
    overall = report["overall"]
    assert overall["gt_count"] == 64 and 0.0 <= overall["f1"] <= 1.0
    assert {c["class_name"] for c in report["classes"]} == {"background", "building"}


def test_the_bundle_alone_classifies_the_cells_as_predict_did(cc_run, run_rv, helpers, data_dir, tmp_path):
    image = data_dir / "buildings" / "kampala_oam_b.tif"
    # Only the bundle and PREDICT's output survive: the experiment folder is moved away while predicting.
    bundle = tmp_path / "model-bundle.zip"
    shutil.copy(cc_run / "bundle" / "buildings-cc" / "model-bundle.zip", bundle)
    expected_path = tmp_path / "predict-command.geojson"
    shutil.copy(cc_run / "predict" / "buildings-cc" / "kampala_b.geojson", expected_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    out = fresh / "cells.geojson"
    with helpers.moved_away(cc_run):
        assert not cc_run.exists()
        run_rv("predict", bundle, image, out, cwd=fresh)

    def by_cell(path):
        cells, props = helpers.geojson_pixel_boxes(path, image)
        return {tuple(np.round(c).astype(int)): (p["class_id"], tuple(p["scores"])) for c, p in zip(cells, props)}

    from_bundle, from_predict = by_cell(out), by_cell(expected_path)
    assert len(from_predict) == 64 and from_bundle.keys() == from_predict.keys()
    for cell, (class_id, scores) in from_predict.items():
        assert from_bundle[cell][0] == class_id
        np.testing.assert_allclose(from_bundle[cell][1], scores, atol=1e-6)


def test_a_bundle_without_a_stats_transformer_refuses_another_dtype(cc_run, run_rv, data_dir, tmp_path):
    """Trained on uint8 pixels scaled by 1/255, the model cannot read uint16 reflectances: it says so."""
    bundle = cc_run / "bundle" / "buildings-cc" / "model-bundle.zip"
    s2 = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    result = run_rv("predict", bundle, s2, tmp_path / "cells.geojson", "--channel-order", "2 1 0", check=False)
    assert result.returncode != 0
    assert "uint16" in result.stderr and "trained on uint8" in result.stderr
    assert not (tmp_path / "cells.geojson").exists()


def test_train_logs_the_validation_scores_eval_json_reports_under_the_same_names(cc_run):
    """TRAIN validates on the chips of the validation scene, which are its 64 cells; PREDICT classifies the
    same cells with the trained model and EVAL scores them. So the last row of log.csv and eval.json hold
    the same scores, under the same names (a class's as ``<score>_<class name>``)."""
    from rv_pytorch.train import read_log

    last = read_log(cc_run / "train" / "buildings-cc" / "log.csv")[-1]
    report = json.loads((cc_run / "eval" / "buildings-cc" / "eval.json").read_text())
    assert report["overall"]["gt_count"] == 64
    reported = {k: v for k, v in report["overall"].items() if isinstance(v, float)}
    for row in report["classes"]:
        reported.update({f"{k}_{row['class_name']}": v for k, v in row.items() if isinstance(v, float)})
    assert {"precision", "recall", "f1", "f1_building", "recall_background"} <= set(reported)
    logged = {
        k: v for k, v in last.items() if k not in ("epoch", "step", "lr", "train_loss", "valid_loss", "epoch_time_s")
    }
    assert set(logged) == set(reported)
    for name, value in reported.items():
        assert logged[name] == pytest.approx(value, abs=1e-6), name
