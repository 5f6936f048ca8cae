"""``rv:predict`` in real QGIS: the same raster as ``rv predict``, styled by class; cancel; bad inputs as messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio

RV = str(Path(sys.executable).with_name("rv"))

CLASSES = [[1, "#006400", "forest"], [2, "#90ee90", "grass"], [3, "#808080", "urban"], [4, "#0000ff", "water"]]


def run_rv_predict(bundle, image, out, rv_env):
    """The reference: ``rv predict`` run by hand, writing ``out``."""
    done = subprocess.run(
        [RV, "predict", str(bundle), str(image), str(out)], capture_output=True, text=True, env=rv_env, timeout=120
    )
    assert done.returncode == 0, done.stderr


def read(path):
    with rasterio.open(path) as src:
        return src.read(), src.crs, src.transform


def rv_predict(landcover_run, rv_env, out):
    """The land-cover predictions of ``rv predict`` run by hand: ``(array, crs, transform)``."""
    run_rv_predict(landcover_run.bundle, landcover_run.image, out, rv_env)
    return read(out)


PREDICT = """
    layer = QgsRasterLayer(os.environ["IMAGE"], "tile4")
    QgsProject.instance().addMapLayer(layer)
    out = processing.run("rv:predict", {"INPUT": layer.id(), "BUNDLE": os.environ["BUNDLE"], "OUTPUT": os.environ["OUT"],
                                        "OUTPUT_VECTOR": os.environ["OUT_VECTOR"], "UPDATE_STATS": False,
                                        "CHANNEL_ORDER": ""})
    # Opened afresh, as a user would: QGIS applies the style saved beside the file.
    raster = QgsRasterLayer(out["OUTPUT"], "predictions")
    polygons = QgsVectorLayer(out["OUTPUT_VECTOR"], "polygons", "ogr")
    result({"out": out, "raster": describe(raster), "polygons": describe(polygons),
            "features": polygons.featureCount()})
"""


def test_predict_through_processing_matches_rv_predict(run_qgis, landcover_run, rv_env, tmp_path):
    out, out_vector = tmp_path / "qgis" / "predictions.tif", tmp_path / "qgis" / "polygons.gpkg"
    got = run_qgis(PREDICT, IMAGE=landcover_run.image, BUNDLE=landcover_run.bundle, OUT=out, OUT_VECTOR=out_vector)

    assert got["out"] == {"OUTPUT": str(out), "OUTPUT_VECTOR": str(out_vector)}
    expected, crs, transform = rv_predict(landcover_run, rv_env, tmp_path / "cli.tif")
    actual, actual_crs, actual_transform = read(out)
    np.testing.assert_array_equal(actual, expected)
    assert (actual_crs, actual_transform) == (crs, transform)
    assert got["raster"]["renderer"] == "paletted" and got["raster"]["classes"] == CLASSES
    assert got["polygons"]["renderer"] == "categorizedSymbol"
    assert [[int(v), color, name] for v, color, name in got["polygons"]["classes"]] == CLASSES
    assert got["features"] >= 1


PREDICT_VECTORS = """
    def features(path):
        layer = QgsVectorLayer(path, "predictions", "ogr")
        rows = []
        for f in layer.getFeatures():
            box = f.geometry().boundingBox()
            rows.append([f["class_id"], [box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()]])
        return {"crs": layer.crs().authid(), "features": sorted(rows), "style": describe(layer)}

    got = {}
    for name, params in {
        "boxes": {"BUNDLE": os.environ["DETECTION_BUNDLE"], "OUTPUT_VECTOR": os.environ["BOXES"]},  # a GeoPackage
        "cells": {"BUNDLE": os.environ["CELLS_BUNDLE"]},  # no OUTPUT_VECTOR: GeoJSON beside OUTPUT
    }.items():
        out = processing.run("rv:predict", dict({"INPUT": os.environ["IMAGE"], "OUTPUT": os.environ["OUT"]}, **params))
        got[name] = dict(features(out["OUTPUT_VECTOR"]), out=out)
    # As the Processing dialog runs it: the outputs are loaded into the project, the cells in place of OUTPUT.
    processing.runAndLoadResults("rv:predict", {"INPUT": os.environ["IMAGE"], "BUNDLE": os.environ["CELLS_BUNDLE"],
                                                "OUTPUT": os.environ["OUT"].replace(".tif", "-loaded.tif")})
    got["loaded"] = [describe(layer) for layer in QgsProject.instance().mapLayers().values()]
    result(got)
"""


def geojson_features(path):
    """``[class_id, [xmin, ymin, xmax, ymax]]`` of each feature of a GeoJSON file rv wrote, sorted."""
    import json

    rows = []
    for feature in json.loads(Path(path).read_text(encoding="utf-8"))["features"]:
        xs, ys = zip(*feature["geometry"]["coordinates"][0])
        rows.append([feature["properties"]["class_id"], [min(xs), min(ys), max(xs), max(ys)]])
    return sorted(rows)


def test_predict_with_detection_and_chip_classification_bundles_writes_styled_vectors(
    run_qgis, trees_run, rv_env, tmp_path
):
    boxes, out = tmp_path / "qgis" / "boxes.gpkg", tmp_path / "qgis" / "cells.tif"
    got = run_qgis(
        PREDICT_VECTORS,
        IMAGE=trees_run.image,
        DETECTION_BUNDLE=trees_run.detection.bundle,
        CELLS_BUNDLE=trees_run.cells.bundle,
        BOXES=boxes,
        OUT=out,
    )

    assert got["boxes"]["out"] == {"OUTPUT_VECTOR": str(boxes)}
    assert got["cells"]["out"] == {"OUTPUT_VECTOR": str(tmp_path / "qgis" / "cells.geojson")}
    assert not out.exists()  # no raster for these tasks
    [loaded] = got["loaded"]
    assert loaded["name"] == "predictions" and loaded["renderer"] == "categorizedSymbol"
    assert (tmp_path / "qgis" / "cells-loaded.geojson").is_file()
    for name, run, classes in (
        ("boxes", trees_run.detection, [[1, "#ffff00", "tree"]]),
        ("cells", trees_run.cells, [[1, "#006400", "trees"], [2, "#d2b48c", "background"]]),
    ):
        reference = tmp_path / f"cli-{name}.geojson"
        run_rv_predict(run.bundle, trees_run.image, reference, rv_env)
        expected = geojson_features(reference)
        actual = got[name]["features"]
        assert len(actual) == len(expected) > 0, name
        for (class_id, bbox), (want_id, want_bbox) in zip(actual, expected):
            assert class_id == want_id
            np.testing.assert_allclose(bbox, want_bbox, atol=1e-9)
        assert got[name]["crs"] == "EPSG:4326"
        # the style saved beside the output, which QGIS applies when it opens the file
        assert got[name]["style"]["renderer"] == "categorizedSymbol"
        assert [[int(v), color, label] for v, color, label in got[name]["style"]["classes"]] == classes


def test_qgis_process_lists_and_runs_rv_predict(qgis_python, landcover_run, rv_env, tmp_path):
    # Debian's /usr/bin/qgis_process wrapper adds an option QGIS 3.22 refuses: run the binary itself
    qgis_process = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    assert qgis_process, "qgis_process is part of the qgis package"
    # A fresh QGIS settings folder: `rv qgis install` alone makes the algorithms appear (installed, enabled,
    # this rv as the executable).
    qgis_profile = tmp_path / "qgis-config"
    installed = subprocess.run(
        [RV, "qgis", "install", "--profile", str(qgis_profile / "profiles" / "default")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stderr
    env = dict(
        rv_env,
        QT_QPA_PLATFORM="offscreen",
        GDAL_PAM_ENABLED="NO",
        QGIS_CUSTOM_CONFIG_PATH=str(qgis_profile),
        HOME=str(tmp_path),
        XDG_RUNTIME_DIR=str(tmp_path),
    )

    listed = subprocess.run([qgis_process, "list"], capture_output=True, text=True, env=env, timeout=120)
    assert "rv:load_experiment" in listed.stdout and "rv:predict" in listed.stdout, listed.stdout + listed.stderr

    out = tmp_path / "process" / "predictions.tif"
    done = subprocess.run(
        [
            qgis_process,
            "run",
            "rv:predict",
            "--",
            f"INPUT={landcover_run.image}",
            f"BUNDLE={landcover_run.bundle}",
            f"OUTPUT={out}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    expected, crs, transform = rv_predict(landcover_run, rv_env, tmp_path / "cli.tif")
    actual, actual_crs, actual_transform = read(out)
    np.testing.assert_array_equal(actual, expected)
    assert (actual_crs, actual_transform) == (crs, transform)
    assert (tmp_path / "process" / "predictions.qml").is_file()


CANCEL = """
    import time

    class CancelOnStart(QgsProcessingFeedback):
        pid = None

        def pushInfo(self, info):
            super().pushInfo(info)
            if info.startswith("rv: started process"):
                self.pid = int(info.split()[-1])
                self.cancel()

    feedback = CancelOnStart()
    started = time.monotonic()
    out = processing.run("rv:predict", {"INPUT": os.environ["IMAGE"], "BUNDLE": os.environ["BUNDLE"],
                                        "OUTPUT": os.environ["OUT"]}, feedback=feedback)
    try:
        os.kill(feedback.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    result({"out": out, "pid": feedback.pid, "alive": alive, "seconds": time.monotonic() - started,
            "exists": os.path.exists(os.environ["OUT"])})
"""


def test_cancel_kills_the_rv_process(run_qgis, landcover_run, tmp_path):
    out = tmp_path / "canceled.tif"
    got = run_qgis(CANCEL, IMAGE=landcover_run.image, BUNDLE=landcover_run.bundle, OUT=out)

    assert got["pid"] is not None
    assert got["alive"] is False
    assert got["exists"] is False
    assert got["seconds"] < 2  # rv predict alone takes longer than this to start


BAD = """
    errors = {}
    cases = {
        "missing_bundle": {"BUNDLE": os.environ["MISSING_BUNDLE"]},
        "other_bands": {"INPUT": os.environ["PAN_IMAGE"]},
        "bad_channel_order": {"CHANNEL_ORDER": "red green"},
        "missing_image": {"INPUT": os.environ["MISSING_BUNDLE"].replace("model-bundle.zip", "scene.tif")},
        "two_bands_for_three": {"CHANNEL_ORDER": "2 1"},
    }
    for name, params in cases.items():
        values = dict({"INPUT": os.environ["IMAGE"], "BUNDLE": os.environ["BUNDLE"], "OUTPUT": os.environ["OUT"]}, **params)
        try:
            processing.run("rv:predict", values)
            errors[name] = None
        except QgsProcessingException as exc:
            errors[name] = str(exc)
    for name, executable, path in (("absent_rv", "/nonexistent/bin/rv", os.environ["PATH"]),
                                   ("no_rv_on_path", "", "/usr/bin:/bin")):
        QgsSettings().setValue("rv/executable", executable)
        os.environ["PATH"] = path
        try:
            processing.run("rv:predict", {"INPUT": os.environ["IMAGE"], "BUNDLE": os.environ["BUNDLE"],
                                          "OUTPUT": os.environ["OUT"]})
            errors[name] = None
        except QgsProcessingException as exc:
            errors[name] = str(exc)
    result(errors)
"""


def test_bad_inputs_end_in_messages(run_qgis, landcover_run, tmp_path, data_dir):
    errors = run_qgis(
        BAD,
        IMAGE=landcover_run.image,
        BUNDLE=landcover_run.bundle,
        OUT=tmp_path / "out.tif",
        MISSING_BUNDLE=tmp_path / "gone" / "model-bundle.zip",
        PAN_IMAGE=data_dir / "buildings" / "sn4_atlanta_pan.tif",
    )

    assert "gone/model-bundle.zip does not exist" in errors["missing_bundle"]
    # found before rv runs: the bundle reads bands 2, 1, 0; the image has one band
    assert "sn4_atlanta_pan.tif has 1 band(s)" in errors["other_bands"]
    assert "reads bands 2, 1, 0" in errors["other_bands"] and "CHANNEL_ORDER" in errors["other_bands"]
    assert "CHANNEL_ORDER 'red green'" in errors["bad_channel_order"]
    assert "gone/scene.tif" in errors["missing_image"] and "INPUT" in errors["missing_image"]
    assert "gives 2 band(s)" in errors["two_bands_for_three"] and "takes 3" in errors["two_bands_for_three"]
    assert "/nonexistent/bin/rv" in errors["absent_rv"] and "Configure" in errors["absent_rv"]
    assert "no `rv` command on PATH" in errors["no_rv_on_path"]
    assert not os.path.exists(tmp_path / "out.tif")
