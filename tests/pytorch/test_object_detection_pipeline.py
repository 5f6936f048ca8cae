"""Tree-crown detection end to end through ``rv run local`` on the NEON scene, split by AOIs:
the left half trains, the right half is predicted and evaluated; then the bundle predicts alone.

The budget is three optimiser steps, so the score threshold is 0: the point is
where boxes land (on the scene, inside the predicted AOI, the same from the
bundle), not how good they are. Where a box lands for a known model is checked
pixel for pixel by rv-pytorch's ``test_backend_predict.py``.
"""

import json
import shutil

import numpy as np
import pytest
import shapely


@pytest.fixture(scope="module")
def det_run(run_experiment, helpers, data_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("det")
    image = data_dir / "trees" / "neon_osbs_029.tif"
    helpers.write_aoi(base / "left.geojson", shapely.box(0, 0, 200, 400), image)
    helpers.write_aoi(base / "right.geojson", shapely.box(200, 0, 400, 400), image)
    root = base / "out"
    run_experiment("trees_detection", root, aoi_dir=base)
    return root, image


def test_boxes_land_on_the_predicted_half_of_the_scene(det_run, helpers):
    root, image = det_run
    predicted = root / "predict" / "trees-od" / "osbs_right.geojson"
    doc = json.loads(predicted.read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc  # RFC 7946: WGS84 lon/lat
    boxes, props = helpers.geojson_pixel_boxes(predicted, image)
    assert len(boxes) > 0
    assert all(p["class_id"] == 0 and p["class_name"] == "Tree" and 0 <= p["score"] <= 1 for p in props)
    # On the scene, and (by their centres) inside the validation AOI only.
    assert (boxes >= -1e-6).all() and (boxes <= 400 + 1e-6).all()
    assert ((boxes[:, 1] + boxes[:, 3]) / 2 >= 200 - 1e-6).all()
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()

    report = json.loads((root / "eval" / "trees-od" / "eval.json").read_text())
    assert report["overall"]["pred_count"] == len(boxes)
    truth = json.loads((image.parent / "neon_osbs_029_trees.geojson").read_text())["features"]
    gt_boxes, _ = helpers.geojson_pixel_boxes(image.parent / "neon_osbs_029_trees.geojson", image)
    centre_right = (gt_boxes[:, 1] + gt_boxes[:, 3]) / 2 >= 200  # EVAL's rule for boxes in the AOI
    assert len(truth) == 61 and report["overall"]["gt_count"] == int(centre_right.sum())


def test_the_bundle_alone_finds_the_same_boxes(det_run, run_rv, helpers, tmp_path):
    root, image = det_run
    # Only the bundle and PREDICT's output survive: the experiment folder is moved away while predicting.
    bundle = tmp_path / "model-bundle.zip"
    shutil.copy(root / "bundle" / "trees-od" / "model-bundle.zip", bundle)
    expected_path = tmp_path / "predict-command.geojson"
    shutil.copy(root / "predict" / "trees-od" / "osbs_right.geojson", expected_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    out = fresh / "trees.geojson"
    with helpers.moved_away(root):
        assert not root.exists()
        run_rv("predict", bundle, image, out, cwd=fresh)
    from_bundle, bundle_props = helpers.geojson_pixel_boxes(out, image)
    from_predict, predict_props = helpers.geojson_pixel_boxes(expected_path, image)
    assert len(from_predict) > 0  # PREDICT found boxes, so the equality says something
    # The bundle predicts the whole scene (it has no AOI); on the right half it finds what PREDICT found,
    # with the same classes and scores.
    right = (from_bundle[:, 1] + from_bundle[:, 3]) / 2 >= 200
    assert len(from_bundle) > right.sum()

    def keyed(boxes, props):
        return sorted((tuple(np.round(b, 6)), p["class_id"], p["score"]) for b, p in zip(boxes, props))

    got = keyed(from_bundle[right], [p for p, r in zip(bundle_props, right) if r])
    want = keyed(from_predict, predict_props)
    assert len(got) == len(want)
    np.testing.assert_allclose(np.array([g[0] for g in got]), np.array([w[0] for w in want]), atol=1e-5)
    assert [g[1] for g in got] == [w[1] for w in want]
    np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want], atol=1e-6)
