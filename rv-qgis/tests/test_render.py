"""A loaded experiment rendered by QGIS (predictions over the image), the picture of ``docs/qgis.md``.

The test renders into its temporary folder; with ``RV_UPDATE_DOCS_IMAGES=1`` it also
copies the picture to ``docs/images/qgis-experiment.png`` (a test run never changes
tracked files otherwise).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "qgis-experiment.png"

RENDER = """
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    processing.run("rv:load_experiment", {"EXPERIMENT": os.environ["EXPERIMENT"], "SCENES": "tile4-valid",
                                          "LAYERS": [0, 1, 2]})
    project = QgsProject.instance()
    image = project.mapLayersByName("val-tile4-valid")[0]
    truth = project.mapLayersByName("val-tile4-valid-ground_truth")[0]
    polygons = project.mapLayersByName("val-tile4-valid-predictions-polygons")[0]
    truth.renderer().setOpacity(0.55)
    polygons.setOpacity(0.35)
    settings = QgsMapSettings()
    settings.setLayers([polygons, truth, image])  # top first
    settings.setDestinationCrs(image.crs())
    settings.setExtent(image.extent())
    settings.setOutputSize(QSize(480, 480))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(os.environ["PNG"], "PNG")
    result({"saved": os.path.exists(os.environ["PNG"])})
"""


def test_render_loaded_experiment_to_png(run_qgis, landcover_run, tmp_path):
    png = tmp_path / "qgis-experiment.png"
    got = run_qgis(RENDER, EXPERIMENT=landcover_run.experiment, PNG=png)

    assert got["saved"]
    picture = np.asarray(Image.open(png).convert("RGB"))
    assert picture.shape == (480, 480, 3)
    assert png.stat().st_size < 400_000  # small enough to commit
    if os.environ.get("RV_UPDATE_DOCS_IMAGES") == "1":
        shutil.copyfile(png, PICTURE)
    assert PICTURE.is_file(), f"{PICTURE} (the docs' picture) is missing: run this test with RV_UPDATE_DOCS_IMAGES=1"
    # ground truth classes and imagery show: many colours, and the land-cover greens among them
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50
