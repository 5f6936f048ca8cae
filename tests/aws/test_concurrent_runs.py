"""Two ``rv run local`` processes on one experiment root at once, on local disk and on S3.

Each command holds a lock on its outputs while it runs (rv.command.lock): the
second process waits for work the first is doing and does not do it again, so
every command runs exactly once across both processes and the outputs equal
those of one run alone.
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

from rv import file_utils

HERE = Path(__file__).resolve().parent
IMAGE = HERE.parents[1] / "examples" / "data" / "landcover" / "s2_aberystwyth_tile4.tif"
LABELS = IMAGE.with_name("s2_aberystwyth_tile4_labels.tif")
COMMANDS = ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"]


def _start(experiment_file, root, image, labels):
    argv = [sys.executable, "-m", "rv", "run", "-v", "local", str(experiment_file), "-a", "root_uri", root,
            "-a", "image_uri", image, "-a", "labels_uri", labels]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=os.getcwd(),
                            env=dict(os.environ))


def _run_twice_at_once(experiment_file, root, image, labels):
    procs = [_start(experiment_file, root, image, labels) for _ in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(outputs)
    return "\n".join(outputs)


def _results(root):
    eval_json = json.loads(file_utils.read_text(f"{root}/eval/landcover/eval.json"))
    stats = json.loads(file_utils.read_text(f"{root}/analyze/landcover/stats.json"))
    chips = json.loads(file_utils.read_text(f"{root}/chip/landcover/chips.json"))
    preds = {}
    for scene in ("tile4-valid",):
        uri = f"{root}/predict/landcover/{scene}.tif"
        with rasterio.open(file_utils.gdal_path(uri)) as ds:
            preds[scene] = ds.read()
    eval_json.pop("created_at", None)
    return eval_json, stats, chips, preds


def _assert_each_command_ran_once(log):
    for command in COMMANDS:
        ran = log.count(f"rv: running {command} landcover")
        assert ran == 1, f"{command} ran {ran} times across the two runs:\n{log}"


def _assert_same(a, b):
    assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2]
    for scene in a[3]:
        np.testing.assert_array_equal(a[3][scene], b[3][scene])


def test_two_runs_on_one_local_root_run_each_command_once(experiment_file, tmp_path):
    root = str(tmp_path / "out")
    log = _run_twice_at_once(experiment_file, root, str(IMAGE), str(LABELS))
    _assert_each_command_ran_once(log)
    assert not list(Path(root).rglob("command-lock.json")), "a lock outlived the runs"

    alone = str(tmp_path / "alone")
    result = subprocess.run([sys.executable, "-m", "rv", "run", "local", str(experiment_file), "-a", "root_uri",
                             alone, "-a", "image_uri", str(IMAGE), "-a", "labels_uri", str(LABELS)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    _assert_same(_results(root), _results(alone))


def test_two_runs_on_one_s3_root_run_each_command_once(moto_server, scene_on_s3, experiment_file):
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/out"
    log = _run_twice_at_once(experiment_file, root, image_uri, labels_uri)
    _assert_each_command_ran_once(log)
    assert not [k for k in moto_server.keys(bucket, "out/") if k.endswith("command-lock.json")]
    eval_json = json.loads(file_utils.read_text(f"{root}/eval/landcover/eval.json"))
    assert eval_json  # written once, whole


@pytest.fixture(autouse=True)
def _rv_aws_loaded():
    """The test process reads s3:// through rv-aws, found through its entry point."""
    from rv.plugins import make_plugin_manager, set_plugin_manager

    set_plugin_manager(make_plugin_manager())
    yield
    set_plugin_manager(None)
