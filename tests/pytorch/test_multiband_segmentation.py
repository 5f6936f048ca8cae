"""10-band Sentinel-2 land cover end to end: uint16 bands normalised by the backend, a model that learns.

Landcover tile 4 (251 x 251 px, EPSG:27700) with its class raster (forest,
grass, urban, water) is split by two AOIs: rows 0-150 train, rows 150-251
are held out for prediction and evaluation. On the held-out pixels the model
must beat the majority-class answer (urban, about half of them).
"""

import json

import numpy as np
import pytest
import rasterio
import shapely

pytestmark = pytest.mark.slow

SPLIT_ROW = 150


@pytest.fixture(scope="module")
def s2_run(run_experiment, helpers, data_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("s2")
    image = data_dir / "landcover" / "s2_aberystwyth_tile4.tif"
    helpers.write_aoi(base / "top.geojson", shapely.box(0, 0, 251, SPLIT_ROW), image)
    helpers.write_aoi(base / "bottom.geojson", shapely.box(0, SPLIT_ROW, 251, 251), image)
    root = base / "out"
    run_experiment("landcover_multiband", root, aoi_dir=base)
    return root, image


def test_a_ten_band_model_beats_the_majority_class_on_held_out_pixels(s2_run):
    root, image = s2_run
    spec = json.loads((root / "train" / "landcover-s2" / "model-config.json").read_text())
    assert (spec["num_channels"], spec["dtype"]) == (10, "uint16")
    assert len(spec["normalizer"]["mean"]) == 10 and min(spec["normalizer"]["std"]) > 1  # reflectance units

    with rasterio.open(root / "predict" / "landcover-s2" / "tile4_bottom.tif") as out, rasterio.open(image) as src:
        assert out.crs == src.crs and out.transform == src.transform
        predicted = out.read(1)
    with rasterio.open(image.with_name("s2_aberystwyth_tile4_labels.tif")) as labels_file:
        truth = labels_file.read(1)
    held_out = np.zeros(truth.shape, bool)
    held_out[SPLIT_ROW:] = True
    # Nothing is predicted where the model was trained; every held-out pixel is.
    assert (predicted[~held_out] == 255).all()
    assert set(np.unique(predicted[held_out])) <= {1, 2, 3, 4}

    values, counts = np.unique(truth[held_out], return_counts=True)
    majority_share = counts.max() / counts.sum()
    accuracy = float((predicted[held_out] == truth[held_out]).mean())
    print(f"held-out accuracy {accuracy:.3f}, majority class {values[counts.argmax()]} {majority_share:.3f}")
    assert accuracy >= majority_share + 0.10
    # More than one class is predicted, and water (the sea) is found where it is.
    water = truth[held_out] == 4
    assert (predicted[held_out][water] == 4).mean() > 0.8

    # EVAL agrees: every held-out pixel counted, recall weighted by class (= pixel accuracy) as computed here.
    overall = json.loads((root / "eval" / "landcover-s2" / "eval.json").read_text())["overall"]
    assert overall["gt_count"] == int(held_out.sum()) and overall["no_prediction_count"] == 0
    assert overall["recall"] == pytest.approx(accuracy, abs=1e-6)
