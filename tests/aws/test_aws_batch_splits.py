"""``rv run aws_batch ... --splits 3``: the parts of a split command as one AWS Batch array job.

Submitted to moto's Batch (simple mode: nothing runs), the requests are read
from moto's request log as sent; then the jobs are run the way Batch runs
them in a container of rv-aws/docker: ``rv`` + the job's command, with the
job's environment and, in each task of an array job,
``AWS_BATCH_JOB_ARRAY_INDEX``. The merged outputs on S3 equal those of an
unsplit local run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np

from rv import file_utils
from rv.testing import environ_without_rv

from .conftest import IMAGE, LABELS


def _args(root, image, labels):
    return ["-a", "root_uri", str(root), "-a", "image_uri", str(image), "-a", "labels_uri", str(labels)]


def _run_job(request: dict, index: int | None = None) -> None:
    """Run a submitted job (one task of an array job when ``index`` is given) as Batch would."""
    env = environ_without_rv(also_remove=("AWS_BATCH_",))
    env.update({e["name"]: e["value"] for e in request["containerOverrides"]["environment"]})
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    job = subprocess.run(
        [sys.executable, "-m", "rv", *request["containerOverrides"]["command"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert job.returncode == 0, f"{request['jobName']} [{index}]: {job.stderr}"


def _submitted_ids(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^rv: submitted .* as AWS Batch (?:array )?job (\S+) \(id ([0-9a-f-]+),", stdout, re.M))


def test_split_commands_become_array_jobs_whose_merge_equals_an_unsplit_run(
    moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv, tmp_path
):
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/split"
    args = [
        "run",
        "aws_batch",
        experiment_file,
        "analyze",
        "chip",
        *_args(root, image_uri, labels_uri),
        "--splits",
        "3",
    ]

    with moto_server.recording() as recording:
        result = run_rv(*args)
    assert result.returncode == 0, result.stderr
    requests = recording.batch_calls("submitjob")
    names = ["landcover-analyze-parts", "landcover-analyze", "landcover-chip-parts", "landcover-chip"]
    assert [r["jobName"] for r in requests] == names
    ids = _submitted_ids(result.stdout)
    assert list(ids) == names
    for command in ("analyze", "chip"):
        array, merge = (
            requests[names.index(f"landcover-{command}-parts")],
            requests[names.index(f"landcover-{command}")],
        )
        assert array["arrayProperties"] == {"size": 3}
        assert array["containerOverrides"]["command"] == [
            "run_command",
            f"{root}/{command}/landcover/splits/{{index}}/command-config.json",
            "--array-index-env",
            "AWS_BATCH_JOB_ARRAY_INDEX",
        ]
        assert array["jobQueue"] == merge["jobQueue"] == aws_batch_environment.cpu_job_queue
        assert "arrayProperties" not in merge
        assert merge["containerOverrides"]["command"] == [
            "run_command",
            f"{root}/{command}/landcover/command-config.json",
        ]
        # The merge waits for the whole array (and for what the command itself waits for).
        parents = {"analyze": {"landcover-analyze-parts"}, "chip": {"landcover-analyze", "landcover-chip-parts"}}
        assert {d["jobId"] for d in merge["dependsOn"]} == {ids[n] for n in parents[command]}
    assert requests[2]["dependsOn"] == [{"jobId": ids["landcover-analyze"]}]  # CHIP's parts read the stats
    # ANALYZE's three tasks and its merge run; of CHIP's, only the second task (then the run stops).
    for index in range(3):
        _run_job(requests[0], index)
    _run_job(requests[1])
    _run_job(requests[2], 1)

    # Submitted again: the finished part is skipped, the other two form an array of two whose tasks
    # 0 and 1 run parts 0 and 2.
    with moto_server.recording() as again:
        result = run_rv(*args)
    assert result.returncode == 0, result.stderr
    array, merge = again.batch_calls("submitjob")
    assert (array["jobName"], merge["jobName"]) == ("landcover-chip-parts", "landcover-chip")
    assert array["arrayProperties"] == {"size": 2}
    assert array["containerOverrides"]["command"][-2:] == ["--array-parts", "0,2"]
    for index in range(2):
        _run_job(array, index)
    _run_job(merge)

    # The merged outputs equal an unsplit local run's: statistics, chip counts, every chip.
    local = tmp_path / "local"
    unsplit = run_rv("run", "local", experiment_file, "analyze", "chip", *_args(local, IMAGE, LABELS))
    assert unsplit.returncode == 0, unsplit.stderr
    stats = json.loads(file_utils.read_text(f"{root}/analyze/landcover/stats.json"))
    assert stats == json.loads((local / "analyze/landcover/stats.json").read_text())
    manifest = json.loads(file_utils.read_text(f"{root}/chip/landcover/chips.json"))
    assert manifest == json.loads((local / "chip/landcover/chips.json").read_text())
    chips = sorted(
        p.relative_to(local / "chip/landcover").as_posix() for p in (local / "chip/landcover").rglob("*.npz")
    )
    assert len(chips) == 32
    on_s3 = sorted(
        k.removeprefix("split/chip/landcover/")
        for k in moto_server.keys(bucket, "split/chip/landcover/")
        if k.endswith(".npz") and "/splits/" not in k
    )
    assert on_s3 == chips
    downloaded = tmp_path / "from-s3"
    file_utils.sync_from_dir(f"{root}/chip/landcover", downloaded)
    for chip in chips:
        with np.load(local / "chip/landcover" / chip) as a, np.load(downloaded / chip) as b:
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{chip} {key}")
    # The parts' own chips were merged away; their configs and stamps stay.
    assert not [k for k in moto_server.keys(bucket, "split/chip/landcover/splits/") if k.endswith(".npz")]
