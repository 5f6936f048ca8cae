"""``rv run slurm`` on a real one-node Slurm cluster (``rv_slurm.testing.slurm_cluster``).

Each test submits the land-cover experiment (ANALYZE → CHIP → TRAIN →
PREDICT → EVAL → BUNDLE, torch-free baseline backend) through the ``rv``
command in a subprocess, with ``SLURM_CONF`` pointing at the test cluster and
the ``[SLURM]`` settings in the rv profile file, as a user would. What ran
and when comes from the cluster itself: squeue and the job completion log.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rv_slurm.testing import job_times

COMMANDS = ("analyze", "chip", "train", "predict", "eval", "bundle")
#: the graph of the land-cover experiment (stats feed CHIP, PREDICT and BUNDLE)
PARENTS = {
    "analyze": set(),
    "chip": {"analyze"},
    "train": {"chip"},
    "predict": {"train", "analyze"},
    "eval": {"predict"},
    "bundle": {"train", "analyze"},
}


@pytest.fixture
def slurm_profile(tmp_path):
    """``slurm_profile(**options)``: write the ``[SLURM]`` section of the rv profile file (RV_CONFIG_DIR/default)."""

    def _write(**options):
        lines = ["[SLURM]"]
        for name, value in options.items():
            value = str(value)
            if "\n" in value:  # INI continuation lines
                value = "\n" + "\n".join(f"    {line}" for line in value.splitlines())
            lines.append(f"{name} = {value}")
        (tmp_path / "rv-config" / "default").write_text("\n".join(lines) + "\n", encoding="utf-8")

    return _write


@pytest.fixture
def run_slurm(run_rv, experiment_file, experiment_args, slurm_cluster):
    """``run_slurm(root, *extra, env=None)``: ``rv run slurm landcover.py ...`` against the test cluster."""

    def _run(root, *extra, env=None):
        return run_rv(
            "run", "slurm", experiment_file, *experiment_args(root), *extra, env={**slurm_cluster.env, **(env or {})}
        )

    return _run


def _records(root: Path) -> dict[str, dict]:
    """``{command: slurm-job.json}`` of the commands that have one."""
    found = {}
    for command in COMMANDS:
        path = root / command / "landcover" / "slurm-job.json"
        if path.exists():
            found[command] = json.loads(path.read_text())
    return found


def _assert_same_outputs(local: Path, slurm: Path) -> None:
    for name in (
        "analyze/landcover/stats.json",
        "chip/landcover/chips.json",
        "train/landcover/model.pth",
        "eval/landcover/eval.json",
    ):
        assert json.loads((slurm / name).read_text()) == json.loads((local / name).read_text()), name
    local_chips = sorted(p.relative_to(local) for p in (local / "chip" / "landcover").rglob("*.npz"))
    slurm_chips = sorted(p.relative_to(slurm) for p in (slurm / "chip" / "landcover").rglob("*.npz"))
    assert slurm_chips == local_chips and len(local_chips) == 32
    for chip in local_chips:
        with np.load(local / chip) as a, np.load(slurm / chip) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{chip} {key}")
    with (
        rasterio.open(local / "predict/landcover/tile4-valid.tif") as a,
        rasterio.open(slurm / "predict/landcover/tile4-valid.tif") as b,
    ):
        assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
        np.testing.assert_array_equal(a.read(), b.read())
    assert (slurm / "bundle/landcover/model-bundle.zip").stat().st_size > 0


def test_the_experiment_runs_as_slurm_jobs_in_graph_order_and_equals_a_local_run(
    run_rv, run_slurm, experiment_file, experiment_args, slurm_profile, slurm_cluster, tmp_path
):
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    result = run_rv("run", "local", experiment_file, *experiment_args(local))
    assert result.returncode == 0, result.stderr
    slurm_profile(gpus=0, poll_seconds=0.5, wait="true")

    result = run_slurm(slurm)

    assert result.returncode == 0, result.stderr + result.stdout
    records = _records(slurm)
    assert sorted(records) == sorted(COMMANDS)
    ids = {command: record["job_id"] for command, record in records.items()}
    # The submitted jobs, their names and the watch hint.
    for command in COMMANDS:
        assert f"as Slurm job {ids[command]} (landcover-{command}," in result.stderr
        assert records[command]["job_name"] == f"landcover-{command}"
        assert sorted(records[command]["after"]) == sorted(ids[p] for p in PARENTS[command])
    assert "squeue -u root" in result.stderr and f"squeue -j {','.join(ids[c] for c in COMMANDS)}" in result.stderr
    # It waited: the commands ran, and rv printed the scores as after a local run.
    assert "rv: ran 6 command(s)" in result.stderr
    assert "water: f1 0.609" in result.stderr
    # Slurm ran every job, each after the jobs it depends on had ended.
    completed = slurm_cluster.completed_jobs()
    for command in COMMANDS:
        job = completed[ids[command]]
        assert (job["Name"], job["JobState"], job["ExitCode"]) == (f"landcover-{command}", "COMPLETED", "0:0")
        start, _ = job_times(job)
        for parent in PARENTS[command]:
            assert job_times(completed[ids[parent]])[1] <= start, (command, parent)
    stamps = {
        c: json.loads((slurm / c / "landcover" / "command-stamp.json").read_text())["finished_at"] for c in COMMANDS
    }
    for command in COMMANDS:
        assert all(stamps[parent] < stamps[command] for parent in PARENTS[command]), command
    # Each job's log is beside its command's outputs and shows the command running.
    for command in COMMANDS:
        log = Path(records[command]["log"])
        assert log == slurm / command / "landcover" / f"slurm-{ids[command]}.log"
        assert f"rv: running {command.upper()} landcover" in log.read_text()
        # and rv's own log.txt, which every runner's `rv run_command` leaves
        assert f"rv: running {command.upper()} landcover" in (slurm / command / "landcover" / "log.txt").read_text()
    _assert_same_outputs(local, slurm)

    # A rerun finds every command finished: nothing is submitted.
    before = slurm_cluster.job_ids()
    again = run_slurm(slurm)
    assert again.returncode == 0, again.stderr
    assert "nothing to submit" in again.stderr
    assert slurm_cluster.job_ids() == before


def test_queued_jobs_are_not_submitted_again(run_slurm, slurm_profile, slurm_cluster, tmp_path):
    root = tmp_path / "out"
    # Held jobs stay queued (PENDING) until released: what a busy cluster looks like.
    slurm_profile(gpus=0, extra_sbatch="--hold")

    first = run_slurm(root)

    assert first.returncode == 0, first.stderr
    assert "rv: submitted to slurm 6 command(s)" in first.stderr  # returned once submitted
    assert "Watch them with `squeue -u root`" in first.stderr
    ids = {command: record["job_id"] for command, record in _records(root).items()}
    states = _states(slurm_cluster, ids.values())
    assert set(states.values()) == {"PENDING"}
    try:
        before = slurm_cluster.job_ids()
        second = run_slurm(root)
        assert second.returncode == 0, second.stderr
        for command in COMMANDS:
            assert (
                f"rv: {command.upper()} landcover is already Slurm job {ids[command]} (PENDING); not submitted again"
            ) in second.stderr
        assert slurm_cluster.job_ids() == before
        assert {c: r["job_id"] for c, r in _records(root).items()} == ids
    finally:
        slurm_cluster.command("scancel", *ids.values())
    # Once cancelled, they are submitted again.
    slurm_cluster.wait_until_ended(ids.values())
    third = run_slurm(root)
    try:
        assert third.returncode == 0, third.stderr
        new_ids = {c: r["job_id"] for c, r in _records(root).items()}
        assert all(int(new_ids[c]) > int(max(ids.values(), key=int)) for c in COMMANDS)
    finally:
        slurm_cluster.command("scancel", *(r["job_id"] for r in _records(root).values()))


def _states(cluster, ids) -> dict[str, str]:
    out = cluster.command("squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", "--format=%i|%T")
    return dict(line.strip().split("|") for line in out.splitlines() if "|" in line)


def test_a_failing_command_stops_its_dependants_and_is_named(run_slurm, slurm_profile, slurm_cluster, tmp_path):
    root = tmp_path / "out"
    slurm_profile(gpus=0, poll_seconds=0.5, wait="yes")

    result = run_slurm(root, env={"RV_TEST_FAIL_TRAIN": "1"})

    assert result.returncode != 0
    ids = {command: record["job_id"] for command, record in _records(root).items()}
    train_log = root / "train" / "landcover" / f"slurm-{ids['train']}.log"
    message = " ".join(result.stderr.split())
    assert (
        f"TRAIN landcover (experiment landcover) failed as Slurm job {ids['train']} (landcover-train), "
        f"which ended FAILED. Its log is {train_log}"
    ) in message
    assert "training failed on purpose" in train_log.read_text()
    for command in ("predict", "eval", "bundle"):
        assert f"{command.upper()} landcover (job {ids[command]}, CANCELLED)" in message
    states = _states(slurm_cluster, ids.values())
    assert {c: states[ids[c]] for c in COMMANDS} == {
        "analyze": "COMPLETED",
        "chip": "COMPLETED",
        "train": "FAILED",
        "predict": "CANCELLED",
        "eval": "CANCELLED",
        "bundle": "CANCELLED",
    }
    assert (root / "chip/landcover/chips.json").exists()
    for output in (
        "train/landcover/model.pth",
        "predict/landcover/tile4-valid.tif",
        "eval/landcover/eval.json",
        "bundle/landcover/model-bundle.zip",
    ):
        assert not (root / output).exists(), output

    # Fixed, the same command submits only what did not finish.
    again = run_slurm(root)
    assert again.returncode == 0, again.stderr
    new_ids = {command: record["job_id"] for command, record in _records(root).items()}
    assert {c for c in COMMANDS if new_ids[c] != ids[c]} == {"train", "predict", "eval", "bundle"}
    assert (root / "eval/landcover/eval.json").exists()


def test_dry_run_prints_the_job_scripts_and_submits_nothing(run_slurm, slurm_profile, slurm_cluster, tmp_path):
    root = tmp_path / "out"
    slurm_profile(
        partition="cpu",
        gpu_partition="gpu",
        account="def-rv",
        qos="normal",
        time="02:00:00",
        gpu_time="1-00:00:00",
        mem="8G",
        cpus=2,
        gpus=2,
        extra_sbatch="--constraint=v100, --mail-type=FAIL",
        setup="module load gdal\nsource /opt/venv/bin/activate",
    )
    before = slurm_cluster.job_ids()

    result = run_slurm(root, "-n")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "#   landcover-predict  (PREDICT landcover)  after: landcover-analyze, landcover-train" in out
    scripts = dict(re.findall(r"^(JOB_landcover_\w+)=\$\(sbatch [^\n]*<<'EOF'\n(.*?)\nEOF\n\)", out, re.M | re.S))
    assert sorted(scripts) == sorted(f"JOB_landcover_{c}" for c in COMMANDS)
    train = scripts["JOB_landcover_train"].splitlines()
    assert train[:2] == ["#!/bin/bash", "#SBATCH --job-name=landcover-train"]
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --account=def-rv",
        "#SBATCH --qos=normal",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --mem=8G",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --export=ALL",
        "#SBATCH --constraint=v100",
        "#SBATCH --mail-type=FAIL",
        f"#SBATCH --output={root}/train/landcover/slurm-%j.log",
        "module load gdal",
        "source /opt/venv/bin/activate",
        f"exec {sys.executable} -m rv run_command {root}/train/landcover/command-config.json",
    ):
        assert line in train, line
    chip = scripts["JOB_landcover_chip"].splitlines()
    assert "#SBATCH --partition=cpu" in chip and "#SBATCH --time=02:00:00" in chip
    assert not any("--gres" in line for line in chip)
    assert (
        "JOB_landcover_predict=$(sbatch --parsable --dependency=afterok:${JOB_landcover_analyze}:"
        "${JOB_landcover_train} --kill-on-invalid-dep=yes <<'EOF'"
    ) in out
    # The listing is valid bash: pasted into a shell, it would submit the same jobs.
    shell = out[out.index("JOB_landcover_analyze=$(") :]
    assert subprocess.run(["bash", "-n"], input=shell, text=True, capture_output=True).returncode == 0
    # Nothing submitted, nothing written.
    assert slurm_cluster.job_ids() == before
    assert not root.exists() or not list(root.rglob("slurm-job.json")) and not list(root.rglob("command-config.json"))


def test_a_job_sbatch_refuses_cancels_the_jobs_submitted_before_it(run_slurm, slurm_profile, slurm_cluster, tmp_path):
    root = tmp_path / "out"
    # TRAIN asks for a GPU (the default, gpus = 1), which the test cluster does not have.
    slurm_profile(extra_sbatch="--hold")

    result = run_slurm(root)

    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    ids = {command: record["job_id"] for command, record in _records(root).items()}
    assert sorted(ids) == ["analyze", "chip"]
    assert "submit TRAIN landcover as job landcover-train" in message
    assert (
        f"The jobs submitted before it were cancelled: landcover-analyze ({ids['analyze']}), "
        f"landcover-chip ({ids['chip']})"
    ) in message
    assert set(slurm_cluster.wait_until_ended(ids.values()).values()) == {"CANCELLED"}


# -- rv run slurm --splits: ANALYZE and CHIP (one training and one validation scene) each as an array
# job of two tasks (--array=0-1, each reading SLURM_ARRAY_TASK_ID) and a merge job after it.


def test_splits_run_as_job_arrays_whose_merge_equals_an_unsplit_run(
    run_rv, run_slurm, experiment_file, experiment_args, slurm_profile, slurm_cluster, tmp_path
):
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    result = run_rv("run", "local", experiment_file, "analyze", "chip", *experiment_args(local))
    assert result.returncode == 0, result.stderr
    slurm_profile(gpus=0, poll_seconds=0.5, wait="true")

    result = run_slurm(slurm, "analyze", "chip", "--splits", "2")

    assert result.returncode == 0, result.stderr + result.stdout
    merges = _records(slurm)
    for command in ("analyze", "chip"):
        splits = slurm / command / "landcover" / "splits"
        array = json.loads((splits / "slurm-job.json").read_text())
        assert array["job_name"] == f"landcover-{command}-parts"
        assert array["job_id"] in merges[command]["after"]  # the merge job waits for the whole array
        # Slurm ran both tasks, each its own part, each with its log beside the parts.
        for task in (0, 1):
            log = (splits / f"slurm-{array['job_id']}_{task}.log").read_text()
            assert f"rv: running {command.upper()} landcover" in log
            config = json.loads((splits / str(task) / "command-config.json").read_text())["config"]
            assert (config["part"], config["parts"]) == (task, 2)
            assert json.loads((splits / str(task) / "command-stamp.json").read_text())["command"] == command.upper()
    arrays = [job["JobState"] for job in slurm_cluster.completed_jobs().values() if job["Name"].endswith("-parts")]
    assert arrays == ["COMPLETED"] * 4
    # The merged outputs are those of the unsplit run.
    for name in ("analyze/landcover/stats.json", "chip/landcover/chips.json"):
        assert json.loads((slurm / name).read_text()) == json.loads((local / name).read_text()), name
    local_chips = sorted(p.relative_to(local) for p in (local / "chip" / "landcover").rglob("*.npz"))
    slurm_chips = sorted(p.relative_to(slurm) for p in (slurm / "chip" / "landcover").rglob("*.npz"))
    assert slurm_chips == local_chips and len(local_chips) == 32  # the parts' own chips were merged away
    for chip in local_chips:
        with np.load(local / chip) as a, np.load(slurm / chip) as b:
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{chip} {key}")

    # A rerun submits nothing, split or not: the merged outputs are the unsplit command's.
    before = slurm_cluster.job_ids()
    for extra in (["--splits", "2"], []):
        again = run_slurm(slurm, "analyze", "chip", *extra)
        assert again.returncode == 0, again.stderr
        assert "nothing to submit" in again.stderr
    assert slurm_cluster.job_ids() == before
