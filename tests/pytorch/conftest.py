"""Fixtures of the end-to-end tests: the ``rv`` command in subprocesses, as a user runs it.

Every pipeline runs ``rv run local tests/pytorch/experiments.py -m <method>``
in a fresh process, with the entry points of the installed packages (rv-core,
rv-geojson, rv-pytorch, ...), no rv settings from the developer's shell and
an empty working directory. torch gets one thread per process: the tests
share two cores with other processes, where OpenMP's spinning threads make
two threads many times slower than one.

No ``from __future__ import annotations``: conftest modules of several
folders share a module name.
"""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rv.testing import environ_without_rv

HERE = Path(__file__).resolve().parent
EXPERIMENTS = HERE / "experiments.py"


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.filterwarnings("ignore::UserWarning"))


@pytest.fixture(scope="session")
def rv_environ(tmp_path_factory):
    """Environment of the ``rv`` subprocesses: no RV_ settings from the shell, one torch thread."""
    config_dir = tmp_path_factory.mktemp("rv-config")
    env = environ_without_rv()
    env.update(RV_CONFIG_DIR=str(config_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def run_rv(rv_environ, tmp_path_factory):
    """``run_rv(*args, cwd=None, check=True, timeout=900)``: ``python -m rv ARGS`` in a subprocess."""

    def _run(*args, cwd=None, check=True, timeout=900, env=None):
        cwd = cwd or tmp_path_factory.mktemp("cwd")
        argv = [sys.executable, "-m", "rv", *map(str, args)]
        result = subprocess.run(
            argv, capture_output=True, text=True, env={**rv_environ, **(env or {})}, cwd=cwd, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"rv {' '.join(map(str, args))} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
            )
        return result

    return _run


def experiment_args(method, root, *commands, **args):
    """The ``rv`` arguments running ``method`` of experiments.py (only ``commands`` when given)."""
    argv = ["run", "local", str(EXPERIMENTS), *commands, "-m", method, "-a", "root_uri", str(root)]
    for key, value in args.items():
        argv += ["-a", key, str(value)]
    return argv


@pytest.fixture(scope="session")
def run_experiment(run_rv):
    """``run_experiment(method, root, *commands, **args)``: ``rv run local experiments.py -m METHOD``."""

    def _run(method, root, *commands, check=True, **args):
        return run_rv(*experiment_args(method, root, *commands, **args), check=check)

    return _run


def write_aoi(path, pixel_polygon, tif):
    """A WGS84 GeoJSON AOI of a pixel-space shapely polygon of ``tif`` (pixel -> map with GDAL, not rv)."""
    import rasterio
    import shapely
    from rasterio.warp import transform_geom

    with rasterio.open(tif) as ds:
        t = ds.transform
        map_poly = shapely.transform(
            pixel_polygon, lambda xy: np.column_stack([t.c + t.a * xy[:, 0], t.f + t.e * xy[:, 1]])
        )
        geometry = transform_geom(ds.crs, "EPSG:4326", shapely.geometry.mapping(map_poly))
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}
    Path(path).write_text(json.dumps(doc))
    return str(path)


def geojson_pixel_boxes(path, tif):
    """``(N, 4)`` pixel ``ymin, xmin, ymax, xmax`` of the polygons of a WGS84 GeoJSON, via pyproj and the
    raster's transform (independently of rv), and the features' properties."""
    import rasterio
    from pyproj import Transformer

    doc = json.loads(Path(path).read_text())
    with rasterio.open(tif) as ds:
        to_scene = Transformer.from_crs("EPSG:4326", ds.crs, always_xy=True)
        inv = ~ds.transform
    boxes, props = [], []
    for feature in doc["features"]:
        lon, lat = np.asarray(feature["geometry"]["coordinates"][0], dtype=float).T
        xs, ys = (np.asarray(v) for v in to_scene.transform(lon, lat))
        cols, rows = inv.a * xs + inv.b * ys + inv.c, inv.d * xs + inv.e * ys + inv.f
        boxes.append((rows.min(), cols.min(), rows.max(), cols.max()))
        props.append(feature["properties"])
    return np.asarray(boxes, dtype=float).reshape(-1, 4), props


@contextlib.contextmanager
def moved_away(root):
    """Rename the experiment folder ``root`` for the duration of the block (then put it back), so what
    runs inside cannot read the experiment's files: only what was copied out of it survives."""
    root = Path(root)
    moved = root.with_name(root.name + "-moved-away")
    root.rename(moved)
    try:
        yield moved
    finally:
        moved.rename(root)


@pytest.fixture(scope="session")
def helpers():
    """Helpers for the test modules (which cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        write_aoi=write_aoi,
        geojson_pixel_boxes=geojson_pixel_boxes,
        experiment_args=experiment_args,
        moved_away=moved_away,
    )
