"""Kill a run anywhere, run it again: it finishes, and the results equal an uninterrupted run's.

The land-cover experiment with the torch-free baseline backend runs
ANALYZE → CHIP → TRAIN → PREDICT → EVAL → BUNDLE on a local root. One run goes
uninterrupted (the reference, and the measure of how long a run takes). Then,
on a second root, a run is killed (SIGKILL to the whole process group: the
``rv run`` process and its ``rv run_command`` children) at eight seeded random
moments, each kill followed by another run; after each kill every command that
looks done (its stamp is there) must have all its outputs whole. A last run
finishes, and eval.json, stats.json and the predictions equal the reference.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent
IMAGE = HERE.parents[1] / "examples" / "data" / "landcover" / "s2_aberystwyth_tile4.tif"
LABELS = IMAGE.with_name("s2_aberystwyth_tile4_labels.tif")
KILLS = 8


def _argv(experiment_file, root):
    return [sys.executable, "-m", "rv", "run", "local", str(experiment_file), "-a", "root_uri", str(root),
            "-a", "image_uri", str(IMAGE), "-a", "labels_uri", str(LABELS)]


def _whole(path: Path) -> None:
    """Raise if ``path`` is not a whole file of its kind."""
    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".tif":
        with rasterio.open(path) as ds:
            ds.read()
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None
    elif path.suffix == ".npz":
        with np.load(path) as npz:
            for k in npz.files:
                npz[k]


def _check_done_commands_are_whole(root: Path) -> int:
    done = 0
    for stamp in root.rglob("command-stamp.json"):
        for out in json.loads(stamp.read_text())["outputs"]:
            path = Path(out)
            assert path.exists(), f"{stamp} says done but {out} is missing"
            for f in ([path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]):
                _whole(f)
        done += 1
    # Atomic writes leave no partial file under its final name; their temporaries are hidden and ignored.
    return done


def _results(root: Path):
    eval_json = json.loads((root / "eval" / "landcover" / "eval.json").read_text())
    eval_json.pop("created_at", None)
    stats = json.loads((root / "analyze" / "landcover" / "stats.json").read_text())
    with rasterio.open(root / "predict" / "landcover" / "tile4-valid.tif") as ds:
        prediction = ds.read()
    return eval_json, stats, prediction


def test_a_run_killed_eight_times_then_rerun_equals_an_uninterrupted_run(experiment_file, tmp_path):
    reference = tmp_path / "reference"
    start = time.monotonic()
    result = subprocess.run(_argv(experiment_file, reference), capture_output=True, text=True, timeout=600)
    duration = time.monotonic() - start
    assert result.returncode == 0, result.stderr

    root = tmp_path / "killed"
    rng = random.Random(20261207)
    progress = []
    for _ in range(KILLS):
        proc = subprocess.Popen(_argv(experiment_file, root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.2, duration))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        time.sleep(0.2)  # let killed children go
        progress.append(_check_done_commands_are_whole(root))

    final = subprocess.run(_argv(experiment_file, root), capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    assert _check_done_commands_are_whole(root) == 6
    assert not list(root.rglob("command-lock.json")), "a lock outlived the runs"

    ref_eval, ref_stats, ref_pred = _results(reference)
    got_eval, got_stats, got_pred = _results(root)
    assert got_eval == ref_eval
    assert got_stats == ref_stats
    np.testing.assert_array_equal(got_pred, ref_pred)
    assert progress == sorted(progress), f"done commands went backwards across kills: {progress}"
