"""TRAIN killed mid-run resumes from its last checkpoint when the experiment runs again.

``rv run local`` and its TRAIN subprocess are killed (SIGKILL to their
process group: a crash, no cleanup) once the first epoch's checkpoint exists;
the same command line then finishes the job. The epochs done before the kill
are not trained again: their rows of ``log.csv`` come back byte for byte,
including the measured epoch times, which a fresh run would not reproduce.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

EPOCHS = 8


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_killed_train_resumes_from_its_last_checkpoint(helpers, rv_environ, run_rv, tmp_path):
    root = tmp_path / "out"
    args = helpers.experiment_args("buildings_segmentation", root, "analyze", "chip", "train", steps=0, epochs=EPOCHS)
    train_dir = root / "train" / "buildings-seg"
    checkpoint, log = train_dir / "last.pth", train_dir / "log.csv"

    proc = subprocess.Popen([sys.executable, "-m", "rv", *args], cwd=tmp_path, env=rv_environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not (checkpoint.exists() and log.exists()) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, f"rv ended before the first checkpoint: {proc.stderr.read()[-3000:]}"
        assert checkpoint.exists(), "no checkpoint within 10 minutes"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # rv run local and its TRAIN subprocess (one session)
        proc.wait(timeout=60)
        proc.stderr.close()
    before = read_rows(log)
    assert 1 <= len(before) < EPOCHS
    assert not (train_dir / "model.safetensors").exists() and not (train_dir / "command-stamp.json").exists()

    again = run_rv(*args, cwd=tmp_path)
    assert "resuming from the checkpoint" in again.stdout + again.stderr
    after = read_rows(log)
    assert [int(r["epoch"]) for r in after] == list(range(1, EPOCHS + 1))
    assert after[: len(before)] == before  # the same rows: those epochs were not run again
    assert int(after[-1]["step"]) == EPOCHS * int(after[0]["step"])
    assert (train_dir / "model.safetensors").is_file() and (train_dir / "command-stamp.json").is_file()
