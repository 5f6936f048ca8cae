"""``rv run inprocess``: the whole graph in the calling process gives what ``rv run local`` gives.

The land-cover experiment of ``conftest.py`` with its torch-free
MAJORITY_CLASS_BASELINE backend runs on two local roots, once with the
``local`` runner (a subprocess per command) and once with ``inprocess``
(here, in the test's own process, with starting a subprocess made an
error). Every output a user looks at must be the same: the statistics, the
chip manifest, the predictions, the evaluation and the bundle. A second
``inprocess`` run finds every stamp current and runs nothing; a command
that fails stops the run naming the command, its experiment and the error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent
IMAGE = HERE.parents[1] / "examples" / "data" / "landcover" / "s2_aberystwyth_tile4.tif"
LABELS = IMAGE.with_name("s2_aberystwyth_tile4_labels.tif")
COMMANDS = ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"]


def _args(runner, experiment_file, root):
    return ["run", runner, str(experiment_file), "-a", "root_uri", root, "-a", "image_uri", str(IMAGE),
            "-a", "labels_uri", str(LABELS)]


def _run_local(experiment_file, root):
    result = subprocess.run([sys.executable, "-m", "rv", *_args("local", experiment_file, root)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def _run_inprocess_here(experiment_file, root, monkeypatch, capfd):
    """``rv run inprocess`` in this process; any subprocess it starts fails the test."""
    from rv_cli.main import main

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"the inprocess runner started a subprocess: {args}")

    with monkeypatch.context() as m:
        m.setattr(subprocess, "Popen", no_subprocess)
        code = main(_args("inprocess", experiment_file, root))
    out, err = capfd.readouterr()
    assert code == 0, out + err
    return err


def _outputs(root):
    """What a user compares between two runs: stats, chip manifest, eval, predictions, bundle contents."""
    r = Path(root)
    stats = json.loads((r / "analyze/landcover/stats.json").read_text())
    chips = json.loads((r / "chip/landcover/chips.json").read_text())
    evaluation = json.loads((r / "eval/landcover/eval.json").read_text())
    evaluation.pop("created_at", None)
    with rasterio.open(r / "predict/landcover/tile4-valid.tif") as ds:
        prediction = ds.read()
    with zipfile.ZipFile(r / "bundle/landcover/model-bundle.zip") as z:
        # The bundle's config names its experiment root: the same files up to that root.
        bundle = {name: z.read(name).replace(root.encode(), b"<root>") for name in z.namelist()}
    chip_files = sorted(p.relative_to(r).as_posix() for p in (r / "chip/landcover").rglob("*.npz"))
    return stats, chips, evaluation, prediction, bundle, chip_files


def test_inprocess_gives_the_outputs_of_local_and_a_second_run_runs_nothing(
    experiment_file, tmp_path, monkeypatch, capfd
):
    local_root, inprocess_root = str(tmp_path / "local"), str(tmp_path / "inprocess")
    _run_local(experiment_file, local_root)
    err = _run_inprocess_here(experiment_file, inprocess_root, monkeypatch, capfd)
    for command in COMMANDS:
        assert f"[{command} landcover] done" in err
        # Each command's log.txt beside its outputs, as the local runner's subprocesses leave it.
        for root in (local_root, inprocess_root):
            log = (Path(root) / command.lower() / "landcover" / "log.txt").read_text()
            assert log.count(f"rv: running {command} landcover") == 1, log
    assert "rv: ran 6 command(s)" in err
    assert "rv: EVAL landcover (experiment landcover)" in err  # the scores, as after a local run

    local, inprocess = _outputs(local_root), _outputs(inprocess_root)
    stats, chips, evaluation, prediction, bundle, chip_files = inprocess
    assert stats == local[0] and stats["num_channels"] == 3
    assert chips == local[1] and chips["counts"] == {"train": 16, "valid": 16}
    assert evaluation == local[2] and evaluation["overall"]["f1"] > 0
    np.testing.assert_array_equal(prediction, local[3])
    assert set(np.unique(prediction)) <= {1, 2, 3, 4}
    assert bundle == local[4] and {"manifest.json", "bundle-config.json", "model.pth"} <= set(bundle)
    assert chip_files == local[5] and len(chip_files) == 32
    for command in ("analyze", "chip", "train", "predict", "eval", "bundle"):
        assert (Path(inprocess_root) / command / "landcover" / "command-stamp.json").is_file(), command
    assert not list(Path(inprocess_root).rglob("command-lock.json")), "a lock outlived the run"

    # Every stamp is current: the second run runs nothing.
    stamps = {p: p.read_bytes() for p in Path(inprocess_root).rglob("command-stamp.json")}
    err = _run_inprocess_here(experiment_file, inprocess_root, monkeypatch, capfd)
    assert "nothing to run" in err and "rv: ran 0 command(s)" in err
    assert "rv: running" not in err
    assert {p: p.read_bytes() for p in stamps} == stamps


def test_a_failing_command_stops_the_inprocess_run_naming_the_command_and_the_error(experiment_file, tmp_path):
    root = str(tmp_path / "out")
    argv = [sys.executable, "-m", "rv", *_args("inprocess", experiment_file, root)]
    first = subprocess.run(argv + ["analyze", "chip"], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    # A training chip is damaged after CHIP (a disk error, a bad copy): CHIP's stamp stands, TRAIN fails.
    damaged = Path(root) / "chip/landcover/train/tile4-train-0.npz"
    damaged.write_bytes(b"not a chip")

    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    err = " ".join(result.stderr.split())  # the error may be wrapped to the terminal's width
    config_uri = f"{root}/train/landcover/command-config.json"
    assert "rv: error: TRAIN landcover (experiment landcover) failed in this process: Cannot read the chip" in err
    assert "tile4-train-0.npz" in err and "Rerun CHIP to rewrite it" in err  # rv's own explanation
    assert f"rv run_command {config_uri}" in err and "Commands after it were not run." in err
    assert "Traceback" not in err  # one of rv's explained errors: the message says it all
    log = Path(root) / "train/landcover/log.txt"
    assert f"Its log is {log};" in err and "rv: error: Cannot read the chip" in log.read_text()
    assert "[TRAIN landcover] failed after" in err and "[PREDICT landcover] starting" not in err
    assert not (Path(root) / "train/landcover/command-stamp.json").exists()
    assert not (Path(root) / "predict/landcover/command-stamp.json").exists()
    assert not (Path(root) / "predict/landcover/tile4-valid.tif").exists()
    assert not list(Path(root).rglob("command-lock.json")), "the failed command's lock outlived it"


def test_an_unexpected_exception_in_a_command_shows_its_traceback_then_stops_the_run(
    experiment_file, tmp_path, monkeypatch, capfd
):
    """A bug (not one of rv's explained errors) in a command: its traceback, as the local runner's log holds it."""
    from rv.command import analyze
    from rv_cli.main import main

    def broken(config, tmp_dir):
        raise RuntimeError("the statistics overflowed")

    monkeypatch.setattr(analyze, "run_analyze", broken)
    root = str(tmp_path / "out")
    code = main(_args("inprocess", experiment_file, root) + ["analyze", "chip"])
    err = capfd.readouterr().err
    assert code == 1
    assert "Traceback" in err and 'raise RuntimeError("the statistics overflowed")' in err
    flat = " ".join(err.split())
    assert ("ANALYZE landcover (experiment landcover) failed in this process: RuntimeError: the statistics "
            "overflowed") in flat
    assert "[CHIP landcover] starting" not in flat
    assert 'raise RuntimeError("the statistics overflowed")' in (Path(root) / "analyze/landcover/log.txt").read_text()
    assert not (Path(root) / "analyze/landcover/command-stamp.json").exists()
