"""Fixtures of the S3 and AWS Batch tests: a moto server, a scene on S3, an experiment file, ``rv`` in a subprocess.

Every test here runs against moto's server on 127.0.0.1 (``rv_aws.testing``):
nothing leaves the machine. The experiment is the land-cover segmentation of
the Sentinel-2 tile in ``examples/data/landcover``, with the tile and its
label raster uploaded to a fresh bucket. The backend is MAJORITY_CLASS_BASELINE
(:mod:`rv.testing.baseline`), a torch-free backend loaded as a legacy plugin
*module* (``PLUGINS_MODULES``), as if installed in the job's image: the whole
pipeline runs in seconds, and a Batch job must carry the legacy plugin to load
the same backend key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rv.testing import clean_rv_environment, use_baseline_backend
from rv.testing.baseline import LANDCOVER_EXPERIMENT
from rv_aws.testing import aws_batch_environment, moto_server, s3_bucket  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "examples" / "data"
LANDCOVER = DATA_DIR / "landcover"
IMAGE = LANDCOVER / "s2_aberystwyth_tile4.tif"
LABELS = LANDCOVER / "s2_aberystwyth_tile4_labels.tif"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    """rv as on a fresh machine (:func:`rv.testing.clean_rv_environment`, ``AWS_BATCH_*`` removed too)
    with MAJORITY_CLASS_BASELINE loaded by every ``rv`` process (:func:`rv.testing.use_baseline_backend`).

    ``TMPDIR`` is a folder of ``tmp_path``, so subprocesses (``rv run``, the
    local runner's ``rv run_command``, a simulated Batch job) leave nothing behind.
    """
    with clean_rv_environment(tmp_path, monkeypatch, also_remove=("AWS_BATCH_",), tmpdir=True):
        use_baseline_backend(monkeypatch)
        yield


@pytest.fixture
def experiment_file(tmp_path) -> Path:
    """The land-cover experiment file."""
    path = tmp_path / "landcover.py"
    path.write_text(LANDCOVER_EXPERIMENT, encoding="utf-8")
    return path


@pytest.fixture
def scene_on_s3(moto_server, s3_bucket):
    """The land-cover tile and its label raster uploaded to a fresh bucket: ``(bucket, image_uri, labels_uri)``."""
    s3 = moto_server.client()
    for path in (IMAGE, LABELS):
        s3.upload_file(str(path), s3_bucket, f"scenes/{path.name}")
    return s3_bucket, f"s3://{s3_bucket}/scenes/{IMAGE.name}", f"s3://{s3_bucket}/scenes/{LABELS.name}"


@pytest.fixture
def run_rv(tmp_path):
    """``run_rv(*args, env=None)``: run the ``rv`` command in a subprocess, as a user would; returns the result."""

    def _run(*args, env=None, timeout=300):
        environ = dict(os.environ)
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "rv", *map(str, args)],
            capture_output=True,
            text=True,
            env=environ,
            cwd=os.getcwd(),
            timeout=timeout,
        )

    return _run


@pytest.fixture
def legacy_plugin_file(tmp_path):
    """A legacy plugin file (``register_plugin``) that registers a runner key; it only has to load."""
    path = tmp_path / "extra_plugin.py"
    path.write_text(
        "def register_plugin(plugin_registry):\n"
        "    plugin_registry.register_experiment_runner('extra_runner', 'rv.runner.local_runner:LocalRunner')\n",
        encoding="utf-8",
    )
    return path
