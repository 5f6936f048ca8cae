"""Fixtures of rv-slurm's tests: a one-node Slurm cluster on loopback and a small torch-free experiment.

The cluster is :func:`rv_slurm.testing.slurm_cluster` (munged, slurmctld and
slurmd started for the session, stopped by their pids). The experiment is the
land-cover segmentation of the Sentinel-2 tile in ``examples/data/landcover``
with MAJORITY_CLASS_BASELINE (:mod:`rv.testing.baseline`), a torch-free backend
loaded as a legacy plugin *module* (``PLUGINS_MODULES``): ANALYZE → BUNDLE runs
in seconds. The jobs get ``PLUGINS_MODULES`` through ``#SBATCH --export=ALL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rv_slurm.testing import slurm_cluster  # noqa: F401  (fixture)

from rv.testing import clean_rv_environment, use_baseline_backend
from rv.testing.baseline import LANDCOVER_EXPERIMENT

ROOT = Path(__file__).resolve().parents[2]
LANDCOVER = ROOT / "examples" / "data" / "landcover"
IMAGE = LANDCOVER / "s2_aberystwyth_tile4.tif"
LABELS = LANDCOVER / "s2_aberystwyth_tile4_labels.tif"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    """rv as on a fresh machine (:func:`rv.testing.clean_rv_environment`, ``SLURM_*`` and ``SBATCH_*``
    removed too) with MAJORITY_CLASS_BASELINE loaded by every ``rv`` process and job
    (:func:`rv.testing.use_baseline_backend`; the jobs inherit the environment).
    """
    with clean_rv_environment(tmp_path, monkeypatch, also_remove=("SLURM_", "SBATCH_"), tmpdir=True):
        use_baseline_backend(monkeypatch)
        yield


@pytest.fixture
def experiment_file(tmp_path) -> Path:
    """The land-cover experiment file."""
    path = tmp_path / "landcover.py"
    path.write_text(LANDCOVER_EXPERIMENT, encoding="utf-8")
    return path


@pytest.fixture
def experiment_args():
    """``experiment_args(root)``: the ``-a`` options of the land-cover experiment writing under ``root``."""

    def _args(root) -> list[str]:
        return ["-a", "root_uri", str(root), "-a", "image_uri", str(IMAGE), "-a", "labels_uri", str(LABELS)]

    return _args


@pytest.fixture
def run_rv():
    """``run_rv(*args, env=None)``: run the ``rv`` command in a subprocess, as a user would; returns the result."""

    def _run(*args, env=None, timeout=600):
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
