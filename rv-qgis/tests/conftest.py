"""Fixtures of the QGIS plugin's tests: a real experiment and bundle, the plugin installed, QGIS's Python in a subprocess.

QGIS (Debian's ``python3-qgis qgis-providers qgis``) runs headless
(``QT_QPA_PLATFORM=offscreen``) in its own Python, ``/usr/bin/python3``, never
the project's venv: each test hands a script to that Python, which starts
QGIS, loads the plugin from the profile ``rv qgis install`` wrote, and prints
one ``RESULT {json}`` line. The plugin runs ``rv`` of the project's venv.

The experiment is the land-cover segmentation of ``examples/data/landcover``
(``rv.testing.baseline.LANDCOVER_EXPERIMENT``, with an AOI on the training
scene and polygons of the validation predictions) with the torch-free
MAJORITY_CLASS_BASELINE backend (``baseline_backend.py``, a legacy plugin
module on ``PYTHONPATH``): ``rv run inprocess`` runs ANALYZE → BUNDLE
in seconds and leaves a real experiment JSON, predictions, polygons
and a model bundle. The tree crowns of ``examples/data/trees`` give a detection and a chip
classification experiment (``trees_experiments.py``) with its sibling for boxes and cells.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LANDCOVER = ROOT / "examples" / "data" / "landcover"
TREES = ROOT / "examples" / "data" / "trees"
QGIS_PYTHON = "/usr/bin/python3"
QGIS_APT = "apt-get install -y python3-qgis qgis-providers qgis"
RV = str(Path(sys.executable).with_name("rv"))

#: what every QGIS script starts with: QGIS headless, Processing, the installed plugin, rv configured
HARNESS = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, "/usr/share/qgis/python/plugins")
    sys.path.insert(0, os.environ["RV_QGIS_PLUGINS_DIR"])
    from qgis.core import (QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                           QgsProject, QgsRasterLayer, QgsSettings, QgsVectorLayer)
    app = QgsApplication([], os.environ.get("RV_QGIS_GUI") == "1")  # widgets need the GUI (offscreen)
    app.initQgis()
    from processing.core.Processing import Processing
    Processing.initialize()
    import processing
    import rv as rv_qgis_plugin  # the plugin folder, as QGIS imports it
    plugin = rv_qgis_plugin.classFactory(None)
    plugin.initProcessing()
    QgsSettings().setValue("rv/executable", os.environ.get("RV_QGIS_EXECUTABLE", ""))


    def result(value):
        print("RESULT " + json.dumps(value), flush=True)


    def describe(layer):
        \"\"\"What a user sees of a layer: name, kind, CRS, renderer and its classes.\"\"\"
        info = {"name": layer.name(), "crs": layer.crs().authid(), "renderer": layer.renderer().type()}
        renderer = layer.renderer()
        if renderer.type() == "paletted":
            info["classes"] = [[c.value, c.color.name(), c.label] for c in renderer.classes()]
        elif renderer.type() == "categorizedSymbol":
            info["field"] = renderer.classAttribute()
            info["classes"] = [[c.value(), c.symbol().color().name(), c.label()] for c in renderer.categories()]
        elif renderer.type() == "multibandcolor":
            info["bands"] = [renderer.redBand(), renderer.greenBand(), renderer.blueBand()]
        return info
    """
)


#: what every QGIS script ends with. PyQt's teardown of QGIS objects at interpreter exit crashes now and then
#: (a segmentation fault after the script's work is done and printed); the script leaves without it.
EPILOGUE = textwrap.dedent(
    """

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
    """
)


@pytest.fixture(scope="session")
def qgis_python() -> str:
    """QGIS's Python; the tests skip, naming the apt command, only when QGIS is not installed."""
    probe = (
        subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True)
        if os.path.exists(QGIS_PYTHON)
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip(f"QGIS's Python bindings are not installed (optional capability): {QGIS_APT}")
    return QGIS_PYTHON


@pytest.fixture(scope="session")
def rv_env(tmp_path_factory) -> dict:
    """The environment ``rv`` runs in: the baseline backend's module on ``PYTHONPATH``, no developer settings."""
    base = tmp_path_factory.mktemp("rv-env")
    site = base / "site"
    site.mkdir()
    shutil.copy(HERE / "baseline_backend.py", site / "rv_qgis_test_baseline.py")
    (base / "config").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RV_", "PLUGINS_", "QGIS_"))}
    env.update(
        PYTHONPATH=str(site),
        PLUGINS_MODULES="rv_qgis_test_baseline",
        RV_CONFIG_DIR=str(base / "config"),
        RV_PROGRESS="0",
    )
    return env


def _run_experiment(base: Path, experiment: Path, commands: tuple[str, ...], env: dict, timeout: float, **args):
    """``rv run inprocess`` (one process for all commands: seconds, not a minute, on a busy machine) of the
    ``experiment`` file with ``-a NAME VALUE`` for each of ``args``, in ``base``; asserts that it succeeds."""
    options = [str(item) for name, value in args.items() for item in ("-a", name, value)]
    run = subprocess.run(
        [RV, "run", "inprocess", str(experiment), *commands, *options],
        capture_output=True,
        text=True,
        env=env,
        cwd=base,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="session")
def landcover_run(tmp_path_factory, rv_env) -> SimpleNamespace:
    """A finished run of the land-cover experiment: ``root``, ``experiment`` (its JSON), ``bundle``, ``image``."""
    from rv.testing.baseline import LANDCOVER_EXPERIMENT

    base = tmp_path_factory.mktemp("landcover")
    root = base / "root"
    image = LANDCOVER / "s2_aberystwyth_tile4.tif"
    experiment = base / "landcover.py"
    experiment.write_text(LANDCOVER_EXPERIMENT, encoding="utf-8")
    _run_experiment(
        base,
        experiment,
        ("ANALYZE", "CHIP", "TRAIN", "PREDICT", "BUNDLE"),  # no EVAL: nothing here reads it
        rv_env,
        300,
        root_uri=root,
        image_uri=image,
        labels_uri=LANDCOVER / "s2_aberystwyth_tile4_labels.tif",
        aoi_uri=LANDCOVER / "train_aoi.geojson",
        vector_output="true",
    )
    return SimpleNamespace(
        root=root,
        experiment=root / "experiments" / "landcover.json",
        bundle=root / "bundle" / "landcover" / "model-bundle.zip",
        image=image,
        predictions=root / "predict" / "landcover" / "tile4-valid.tif",
    )


@pytest.fixture(scope="session")
def trees_run(tmp_path_factory, rv_env) -> SimpleNamespace:
    """A finished run of ``trees_experiments.py``: object detection (``detection``) and chip classification
    (``cells``), each a namespace of ``experiment``, ``bundle`` and ``predictions``; and ``image``."""
    base = tmp_path_factory.mktemp("trees")
    root = base / "root"
    _run_experiment(
        base,
        HERE / "trees_experiments.py",
        ("CHIP", "TRAIN", "PREDICT", "BUNDLE"),
        rv_env,
        400,
        root_uri=root,
        image_uri=TREES / "neon_osbs_029.tif",
        labels_uri=TREES / "neon_osbs_029_trees.geojson",
        train_aoi_uri=TREES / "train_aoi.geojson",
        valid_aoi_uri=TREES / "validation_aoi.geojson",
    )

    def outputs(key):
        return SimpleNamespace(
            experiment=root / "experiments" / f"{key}.json",
            bundle=root / "bundle" / key / "model-bundle.zip",
            predictions=root / "predict" / key / "osbs-valid.geojson",
        )

    return SimpleNamespace(
        root=root, image=TREES / "neon_osbs_029.tif", detection=outputs("trees-detection"), cells=outputs("trees-cells")
    )


@pytest.fixture(scope="session")
def qgis_profile(tmp_path_factory) -> Path:
    """A QGIS settings folder (``QGIS_CUSTOM_CONFIG_PATH``) whose default profile has the plugin, by ``rv qgis install``."""
    config = tmp_path_factory.mktemp("qgis-config")
    profile = config / "profiles" / "default"
    run = subprocess.run([RV, "qgis", "install", "--profile", str(profile)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return config


@pytest.fixture
def run_qgis(qgis_python, qgis_profile, rv_env, tmp_path):
    """``run_qgis(script, **env)``: run ``script`` after :data:`HARNESS` in QGIS's Python; return its RESULT value."""

    def _run(script: str, timeout: float = 180, **env) -> object:
        path = tmp_path / "qgis_script.py"
        path.write_text(HARNESS + textwrap.dedent(script) + EPILOGUE, encoding="utf-8")
        environ = dict(rv_env)
        environ.update(
            QT_QPA_PLATFORM="offscreen",
            HOME=str(tmp_path),
            XDG_RUNTIME_DIR=str(tmp_path),
            GDAL_PAM_ENABLED="NO",  # no .aux.xml statistics written beside the repository's sample rasters
            QGIS_CUSTOM_CONFIG_PATH=str(qgis_profile),
            RV_QGIS_PLUGINS_DIR=str(qgis_profile / "profiles" / "default" / "python" / "plugins"),
            RV_QGIS_EXECUTABLE=RV,
        )
        environ.update({k: str(v) for k, v in env.items()})
        done = subprocess.run(
            [qgis_python, str(path)], capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=timeout
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        assert done.returncode == 0 and lines, f"QGIS script failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return json.loads(lines[-1][len("RESULT ") :])

    return _run
