"""``rv run local ... --splits N``: CHIP, PREDICT and ANALYZE as parts plus a merge equal an unsplit run.

The experiment (``rv.testing.baseline.LANDCOVER_EXPERIMENT``) segments the
land-cover tile of ``examples/data/landcover`` as three training and two
validation scenes (the same image under five ids), statistics read from every
window, with MAJORITY_CLASS_BASELINE, the torch-free backend of
:mod:`rv.testing.baseline`, so the whole pipeline runs in seconds. ``rv`` runs
in subprocesses as a user runs it; the parts run as processes of the local
runner, two at a time (``-j 2``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from rv.testing import clean_rv_environment, use_baseline_backend
from rv.testing.baseline import LANDCOVER_EXPERIMENT

LANDCOVER = Path(__file__).resolve().parents[1] / "examples" / "data" / "landcover"


@pytest.fixture(autouse=True)
def clean_environment(tmp_path, monkeypatch):
    with clean_rv_environment(tmp_path, monkeypatch, tmpdir=True):
        use_baseline_backend(monkeypatch)
        yield


@pytest.fixture
def run_rv(tmp_path):
    experiment = tmp_path / "landcover.py"
    experiment.write_text(LANDCOVER_EXPERIMENT, encoding="utf-8")

    def _run(root: Path, *extra: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "rv", "run", "local", str(experiment), *extra]
        argv += ["-a", "root_uri", str(root), "-a", "image_uri", str(LANDCOVER / "s2_aberystwyth_tile4.tif")]
        argv += [
            "-a",
            "labels_uri",
            str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif"),
            "-a",
            "every_window_stats",
            "true",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ), timeout=600)
        assert result.returncode == 0, result.stderr
        return result

    return _run


def _chips(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "chip" / "landcover").rglob("*.npz"))


def test_a_split_run_equals_an_unsplit_run(run_rv, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    commands = ("analyze", "chip", "train", "predict", "-a", "train", "3", "-a", "valid", "2")
    run_rv(whole, *commands)

    dry = run_rv(split, *commands, "--splits", "2", "-n").stdout
    for command in ("ANALYZE", "CHIP", "PREDICT"):
        assert f"{command} landcover (part 1/2)" in dry and f"{command} landcover (part 2/2)" in dry
        assert f"{command} landcover (merges 2 parts)" in dry
    result = run_rv(split, *commands, "--splits", "2", "-j", "2")

    err = result.stderr
    for command in ("ANALYZE", "CHIP", "PREDICT"):
        for part in (1, 2):
            assert f"[{command} landcover (part {part}/2)] done" in err
    # Same statistics and chip manifest; the same chips, array for array.
    for name in ("analyze/landcover/stats.json", "chip/landcover/chips.json"):
        assert json.loads((split / name).read_text()) == json.loads((whole / name).read_text()), name
    chips = _chips(whole)
    assert len(chips) == 5 * 16 and _chips(split) == chips
    for chip in chips:
        with np.load(whole / chip) as a, np.load(split / chip) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{chip} {key}")
    # Each PREDICT part predicted one scene where the unsplit command writes it.
    for scene in ("tile4-valid-0", "tile4-valid-1"):
        with (
            rasterio.open(whole / f"predict/landcover/{scene}.tif") as a,
            rasterio.open(split / f"predict/landcover/{scene}.tif") as b,
        ):
            assert (a.crs, a.transform) == (b.crs, b.transform)
            np.testing.assert_array_equal(a.read(), b.read())
    # The merged outputs count as the unsplit commands': nothing to run, split or not.
    for extra in (["--splits", "2"], []):
        assert "nothing to run" in run_rv(split, *commands, *extra).stderr


def test_parts_cut_scenes_into_window_shards_and_finished_parts_are_skipped(run_rv, tmp_path):
    """Two scenes in three parts: each scene's windows are cut in two halves (four shards, shared by
    three parts); a part that finished earlier (here one task of a cluster's array job, run alone) is
    not run again."""
    from rv.command.dag import build_plan
    from rv.experiment.experiment_set import load_experiments
    from rv.runner.runner import write_command_configs

    whole, split = tmp_path / "whole", tmp_path / "split"
    run_rv(whole, "analyze", "chip")  # the experiment's default: one training and one validation scene
    run_rv(split, "analyze")
    args = {
        "root_uri": str(split),
        "image_uri": str(LANDCOVER / "s2_aberystwyth_tile4.tif"),
        "labels_uri": str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif"),
        "every_window_stats": "true",
    }
    plan = build_plan(load_experiments(path=str(tmp_path / "landcover.py"), args=args), ["CHIP"], splits=3)
    write_command_configs(plan)
    template = split / "chip" / "landcover" / "splits" / "{index}" / "command-config.json"
    task = subprocess.run(
        [sys.executable, "-m", "rv", "run_command", str(template), "--array-index-env", "SLURM_ARRAY_TASK_ID"],
        capture_output=True,
        text=True,
        env=dict(os.environ, SLURM_ARRAY_TASK_ID="1"),
        timeout=300,
    )
    assert task.returncode == 0, task.stderr
    assert "CHIP landcover (part 2/3): wrote 8 chips of 1 scene part(s)" in task.stdout

    planned = run_rv(split, "chip", "--splits", "3", "-n").stdout
    assert "CHIP landcover (part 2/3)  (experiments: landcover)  [skipped: this part's outputs exist" in planned
    err = run_rv(split, "chip", "--splits", "3", "-j", "2").stderr
    assert "[CHIP landcover (part 2/3)] starting" not in err
    assert all(f"[CHIP landcover (part {k}/3)] done" in err for k in (1, 3))
    assert json.loads((split / "chip/landcover/chips.json").read_text()) == json.loads(
        (whole / "chip/landcover/chips.json").read_text()
    )
    chips = _chips(whole)
    assert len(chips) == 32 and _chips(split) == chips
    for chip in chips:
        with np.load(whole / chip) as a, np.load(split / chip) as b:
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{chip} {key}")
