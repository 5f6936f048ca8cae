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


def rv_predict(landcover_run, rv_env, out):
    """The reference: ``rv predict`` run by hand."""
    done = subprocess.run([RV, "predict", str(landcover_run.bundle), str(landcover_run.image), str(out)],
                          capture_output=True, text=True, env=rv_env, timeout=120)
    assert done.returncode == 0, done.stderr
    with rasterio.open(out) as src:
        return src.read(), src.crs, src.transform


def read(path):
    with rasterio.open(path) as src:
        return src.read(), src.crs, src.transform


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


def test_qgis_process_lists_and_runs_rv_predict(qgis_python, qgis_profile, landcover_run, rv_env, tmp_path):
    qgis_process = shutil.which("qgis_process.bin") or shutil.which("qgis_process")  # Debian's wrapper adds a bad option
    assert qgis_process, "qgis_process is part of the qgis package"
    ini = qgis_profile / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(f"[PythonPlugins]\nrv=true\n\n[rv]\nexecutable={RV}\n", encoding="utf-8")
    env = dict(rv_env, QT_QPA_PLATFORM="offscreen", GDAL_PAM_ENABLED="NO", QGIS_CUSTOM_CONFIG_PATH=str(qgis_profile), HOME=str(tmp_path),
               XDG_RUNTIME_DIR=str(tmp_path))

    listed = subprocess.run([qgis_process, "list"], capture_output=True, text=True, env=env, timeout=120)
    assert "rv:load_experiment" in listed.stdout and "rv:predict" in listed.stdout, listed.stdout + listed.stderr

    out = tmp_path / "process" / "predictions.tif"
    done = subprocess.run([qgis_process, "run", "rv:predict", "--", f"INPUT={landcover_run.image}",
                           f"BUNDLE={landcover_run.bundle}", f"OUTPUT={out}"],
                          capture_output=True, text=True, env=env, timeout=180)
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
    errors = run_qgis(BAD, IMAGE=landcover_run.image, BUNDLE=landcover_run.bundle, OUT=tmp_path / "out.tif",
                      MISSING_BUNDLE=tmp_path / "gone" / "model-bundle.zip",
                      PAN_IMAGE=data_dir / "buildings" / "sn4_atlanta_pan.tif")

    assert "gone/model-bundle.zip does not exist" in errors["missing_bundle"]
    # rv predict's own message comes through: the bundle reads bands 2, 1, 0; the image has one band
    assert "rv predict failed" in errors["other_bands"] and "band" in errors["other_bands"].lower()
    assert "CHANNEL_ORDER 'red green'" in errors["bad_channel_order"]
    assert "/nonexistent/bin/rv" in errors["absent_rv"] and "Configure" in errors["absent_rv"]
    assert "no `rv` command on PATH" in errors["no_rv_on_path"]
    assert not os.path.exists(tmp_path / "out.tif")
