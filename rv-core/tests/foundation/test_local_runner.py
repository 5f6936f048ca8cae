"""The ``local`` runner: each command as ``rv run_command <uri>`` in a subprocess.

The failure path needs no implemented command: a TRAIN whose backend the
subprocess cannot load (FAKE_BACKEND is registered in this process only)
fails there, and the run must stop naming the command and its log. The
success path runs the real ANALYZE on the landcover tile.
"""

import json
from pathlib import Path

import pytest

from rv.command.dag import build_plan
from rv.errors import RunnerError
from rv.experiment.experiment_set import load_experiments
from rv.runner.local_runner import LocalRunner, run_command_argv
from rv.runner.runner import RunOptions


def test_run_command_argv_is_the_remote_path(tmp_path):
    argv = run_command_argv("s3://bucket/out/chip/a/command-config.json", str(tmp_path))
    assert argv[1:] == ["-m", "rv", "--tmpdir", str(tmp_path), "run_command", "s3://bucket/out/chip/a/command-config.json"]


def test_a_failing_command_stops_the_run_naming_the_command_and_its_log(
    fake_backend, experiment_file, root_uri, tmp_path, capfd
):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri}, filters=["short"])
    plan = build_plan(experiments, ["TRAIN", "BUNDLE"], check_inputs=False)
    assert [pc.name for pc in plan.commands] == ["TRAIN short", "BUNDLE short"]

    with pytest.raises(RunnerError) as e:
        LocalRunner().run(plan, RunOptions(tmp_dir=str(tmp_path / "tmp")))
    msg = str(e.value)
    assert "TRAIN short (experiment short) failed with exit code 1" in msg
    assert f"rv run_command {root_uri}/train/short/command-config.json" in msg
    assert "Commands after it were not run." in msg

    # The log stays beside the command's outputs (no temporary folder of logs) and holds the
    # subprocess's own explanation: the backend key it could not find.
    log = Path(msg.split("Its log is ", 1)[1].split(";", 1)[0])
    assert log == Path(root_uri) / "train/short/log.txt" and log.is_file()
    text = log.read_text()
    assert "Unknown backend key 'FAKE_BACKEND'" in text
    assert not list((tmp_path / "tmp").glob("rv-logs-*"))
    # The output was streamed as well as logged.
    out, err = capfd.readouterr()
    assert "Unknown backend key 'FAKE_BACKEND'" in out
    assert "[TRAIN short] starting" in err
    assert "[BUNDLE short] starting" not in err

    # The config the runner wrote is the one the subprocess read; nothing is stamped.
    assert (Path(root_uri) / "train/short/command-config.json").is_file()
    assert not (Path(root_uri) / "train/short/command-stamp.json").exists()
    assert not (Path(root_uri) / "bundle/short/command-stamp.json").exists()


def test_nothing_to_run_runs_nothing(fake_backend, experiment_file, root_uri, tmp_path, capfd):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri}, filters=["short"])
    plan = build_plan(experiments, ["TRAIN"], check_inputs=False)
    for pc in plan.commands:
        pc.status = "skip"
    LocalRunner().run(plan, RunOptions(tmp_dir=str(tmp_path)))
    assert "nothing to run" in capfd.readouterr().err
    assert not Path(root_uri).exists()


def test_analyze_runs_in_subprocesses_in_parallel_and_is_then_skipped(
    legacy_fake_backend, experiment_file, root_uri, tmp_path, capfd
):
    # The legacy plugin file (PLUGINS_FILES) gives the subprocesses FAKE_BACKEND too.
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    plan = build_plan(experiments, ["ANALYZE"])
    assert [pc.name for pc in plan.commands] == ["ANALYZE short", "ANALYZE long"]

    LocalRunner().run(plan, RunOptions(parallelism=2, tmp_dir=str(tmp_path / "tmp")))
    err = capfd.readouterr().err
    assert "[ANALYZE short] done" in err and "[ANALYZE long] done" in err

    stats = {}
    for key in ("short", "long"):
        stats[key] = json.loads((Path(root_uri) / "analyze" / key / "stats.json").read_text())
        stamp = json.loads((Path(root_uri) / "analyze" / key / "command-stamp.json").read_text())
        assert stamp["command"] == "ANALYZE" and stamp["key"] == key
    # The Sentinel-2 tile has 10 bands; both experiments analyzed the same scenes with the same seed.
    short = stats["short"]
    assert short["num_channels"] == 10 and short["count"] > 0
    assert all(lo <= m <= hi for lo, m, hi in zip(short["mins"], short["means"], short["maxs"]))
    assert stats["long"] == short

    again = build_plan(experiments, ["ANALYZE"])
    assert [pc.status for pc in again.commands] == ["skip", "skip"]
