"""The Configure, Load Experiment and Predict dialogs, built and driven as a user would, headless (offscreen)."""

from __future__ import annotations

import numpy as np
import rasterio

DIALOGS = """
    from qgis.core import Qgis, QgsSingleBandGrayRenderer
    from qgis.PyQt.QtCore import QEventLoop, Qt, QTimer
    from qgis.PyQt.QtGui import QColor
    from rv.configure_dialog import ConfigureDialog
    from rv.dialogs import LoadExperimentDialog, PredictDialog

    project = QgsProject.instance()
    out = {}

    # Style files a user saved from QGIS: a QML for class rasters, an SLD for AOIs.
    truth = QgsRasterLayer(os.environ["PREDICTIONS"], "p")
    truth.setRenderer(QgsSingleBandGrayRenderer(truth.dataProvider(), 1))
    truth.saveNamedStyle(os.environ["QML"])
    aoi = QgsVectorLayer(os.environ["AOI"], "aoi", "ogr")
    aoi.renderer().symbol().setColor(QColor("#ff0000"))
    aoi.saveSldStyle(os.environ["SLD"])

    # Configure: a bad profile is refused in the dialog; a good one is saved.
    configure = ConfigureDialog()
    configure.profiles.setPlainText(json.dumps({"mine": {"roads": os.environ["QML"]}}))
    out["bad_profile"] = [configure.save(), configure.error.text()]
    configure.profiles.setPlainText(json.dumps({"mine": {"ground_truth": os.environ["QML"], "aoi": os.environ["SLD"]}}))
    configure.working_dir.setText(os.environ["WORK_DIR"])
    out["saved"] = configure.save()
    out["settings"] = [QgsSettings().value("rv/working_dir"), json.loads(QgsSettings().value("rv/style_profiles"))]

    # Load Experiment: a missing file is a message; the real one lists its scenes.
    load = LoadExperimentDialog()
    load.file.setFilePath(os.environ["EXPERIMENT"] + ".gone")
    out["missing"] = load.messages[-1][1] if load.messages else None
    load.file.setFilePath(os.environ["EXPERIMENT"])  # read at once
    out["scenes"] = [load.scenes.item(i).text() for i in range(load.scenes.count())]
    out["styles"] = [load.style.itemText(i) for i in range(load.style.count())]
    load.scenes.item(1).setCheckState(Qt.Unchecked)  # only the train scene
    load.kinds["predictions"].setChecked(False)
    load.style.setCurrentText("mine")
    out["load_parameters"] = load.parameters()
    loaded = load.load()
    layers = {l.name(): l for l in project.mapLayers().values()}
    out["loaded"] = [loaded["LOADED"], sorted(layers), load.result() == load.Accepted]
    out["styled"] = [layers["train-tile4-train-ground_truth"].renderer().type(),
                     layers["train-tile4-train-aoi"].renderer().symbol().color().name()]

    # Predict: runs in the background (a task), then loads the result styled by the bundle's class map.
    image = QgsRasterLayer(os.environ["IMAGE"], "tile4")
    project.addMapLayer(image)

    def wait(dialog):
        loop = QEventLoop()
        dialog.task.taskCompleted.connect(loop.quit)
        dialog.task.taskTerminated.connect(loop.quit)
        QTimer.singleShot(150000, loop.quit)
        loop.exec_()
        app.processEvents()

    predict = PredictDialog()
    predict.layer.setLayer(image)
    predict.bundle_file.setFilePath(os.environ["BUNDLE"])
    out["bundle_info"] = predict.bundle_info.text()
    predict.output.setFilePath(os.environ["OUT"])
    task = predict.start()
    out["background"] = task is not None and task.status() != task.Complete
    wait(predict)
    result_layer = project.mapLayer(predict.loaded[0])
    out["predicted"] = [predict.results, describe(result_layer), predict.messages[-1]]

    # Cancel once rv runs: the process is killed, nothing is loaded.
    canceled = PredictDialog()
    canceled.layer.setLayer(image)
    canceled.bundle_file.setFilePath(os.environ["BUNDLE"])
    canceled.output.setFilePath(os.environ["OUT_CANCELED"])
    canceled.start()
    poll = QTimer()
    poll.timeout.connect(lambda: "rv: started process" in canceled.feedback.textLog() and canceled.cancel())
    poll.start(20)
    wait(canceled)
    poll.stop()
    out["canceled"] = [canceled.loaded, canceled.messages[-1], os.path.exists(os.environ["OUT_CANCELED"])]

    # A failure inside the task (an image with other bands than the bundle's): a message naming it.
    pan = QgsRasterLayer(os.environ["PAN_IMAGE"], "pan")
    project.addMapLayer(pan)
    failing = PredictDialog()
    failing.layer.setLayer(pan)
    failing.bundle_file.setFilePath(os.environ["BUNDLE"])
    failing.output.setFilePath(os.environ["OUT_CANCELED"])
    failing.start()
    wait(failing)
    out["failed"] = [failing.loaded, failing.messages[-1]]

    # A bundle that is not there: a message, no task.
    missing = PredictDialog()
    missing.layer.setLayer(image)
    missing.bundle_file.setFilePath(os.environ["BUNDLE"] + ".gone")
    out["missing_bundle"] = [missing.start() is None, missing.messages[-1]]
    result(out)
"""


def test_dialogs_configure_load_and_predict(run_qgis, landcover_run, tmp_path, data_dir):
    out = tmp_path / "dialog" / "predictions.tif"
    got = run_qgis(
        DIALOGS,
        RV_QGIS_GUI=1,
        EXPERIMENT=landcover_run.experiment,
        PREDICTIONS=landcover_run.predictions,
        AOI=landcover_run.image.parent / "train_aoi.geojson",
        QML=tmp_path / "grey.qml",
        SLD=tmp_path / "red.sld",
        WORK_DIR=tmp_path / "work",
        IMAGE=landcover_run.image,
        BUNDLE=landcover_run.bundle,
        OUT=out,
        OUT_CANCELED=tmp_path / "dialog" / "canceled.tif",
        PAN_IMAGE=data_dir / "buildings" / "sn4_atlanta_pan.tif",
        timeout=300,
    )

    saved, error = got["bad_profile"]
    assert saved is False and "'roads' is not a layer kind" in error
    assert got["saved"] is True
    assert got["settings"] == [
        str(tmp_path / "work"),
        {"mine": {"ground_truth": str(tmp_path / "grey.qml"), "aoi": str(tmp_path / "red.sld")}},
    ]

    assert "landcover.json.gone does not exist" in got["missing"]
    assert got["scenes"] == ["train-tile4-train  (train)", "val-tile4-valid  (validation)"]
    assert got["styles"] == ["(the experiment's class map)", "mine"]
    assert got["load_parameters"] == {
        "EXPERIMENT": str(landcover_run.experiment),
        "SCENES": "tile4-train",
        "LAYERS": [0, 1, 3],
        "STYLE_PROFILE": "mine",
        "CLEAR_PROJECT": False,
    }
    assert got["loaded"] == [3, ["train-tile4-train", "train-tile4-train-aoi", "train-tile4-train-ground_truth"], True]
    assert got["styled"] == ["singlebandgray", "#ff0000"]  # the profile's QML and SLD

    assert got["bundle_info"] == (
        "SEMANTIC_SEGMENTATION: forest, grass, urban, water; reads bands 2 1 0 (0-based) of 10-band imagery"
    )
    assert got["background"] is True
    results, layer, (level, message) = got["predicted"]
    assert results["OUTPUT"] == str(out)
    assert layer["name"] == "model-bundle-predictions" and layer["renderer"] == "paletted"
    assert [c[2] for c in layer["classes"]] == ["forest", "grass", "urban", "water"]
    with rasterio.open(out) as src, rasterio.open(landcover_run.predictions) as reference:
        np.testing.assert_array_equal(src.read(), reference.read())  # the baseline predicts as in the experiment
    assert "predictions loaded" in message

    loaded, (level, message), exists = got["canceled"]
    assert loaded == [] and "canceled" in message and exists is False

    loaded, (level, message) = got["failed"]
    assert loaded == [] and "prediction failed" in message and "sn4_atlanta_pan.tif has 1 band(s)" in message

    assert got["missing_bundle"][0] is True and "model-bundle.zip.gone does not exist" in got["missing_bundle"][1][1]
