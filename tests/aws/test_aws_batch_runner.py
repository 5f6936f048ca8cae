"""``rv run aws_batch``: the experiment becomes AWS Batch jobs on moto's Batch (simple mode: nothing runs).

The tests read what was submitted from moto's request log (the SubmitJob
requests, exactly as sent) and from ``describe_jobs``, then run some of the
jobs the way a container of rv-aws/docker would (``rv`` + the job's command,
with the job's environment), to show a job has what it needs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import rv
from rv import file_utils
from rv.serialization import load_config
from rv.testing import baseline, environ_without_rv

COMMANDS = ("analyze", "chip", "train", "predict", "eval", "bundle")
#: what each command waits for: the graph of the land-cover experiment (stats feed CHIP, PREDICT, BUNDLE)
PARENTS = {
    "analyze": set(),
    "chip": {"analyze"},
    "train": {"chip"},
    "predict": {"train", "analyze"},
    "eval": {"predict"},
    "bundle": {"train", "analyze"},
}


def _args(root, image, labels):
    return ["-a", "root_uri", root, "-a", "image_uri", image, "-a", "labels_uri", labels]


def _submitted_ids(stdout: str) -> dict[str, str]:
    """``{job name: job id}`` from the runner's "rv: submitted ..." lines."""
    found = re.findall(r"^rv: submitted \S+ \S+ as AWS Batch job (\S+) \(id ([0-9a-f-]+),", stdout, re.MULTILINE)
    return dict(found)


def _container_environment(job_environment: dict[str, str]) -> dict[str, str]:
    """This machine's environment as the job's container would see it: no rv settings but the job's."""
    env = environ_without_rv(also_remove=("AWS_BATCH_",))
    env.update(job_environment)
    return env


def test_the_experiment_becomes_batch_jobs(
    moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv, monkeypatch
):
    batch_env = aws_batch_environment
    monkeypatch.setenv("AWS_BATCH_ATTEMPTS", "3")
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/batch-out"

    with moto_server.recording() as recording:
        result = run_rv("run", "aws_batch", experiment_file, *_args(root, image_uri, labels_uri))
    assert result.returncode == 0, result.stderr
    ids = _submitted_ids(result.stdout)
    names = [f"landcover-{c}" for c in COMMANDS]
    assert list(ids) == names

    # The SubmitJob requests, in the graph's order.
    requests = recording.batch_calls("submitjob")
    assert [r["jobName"] for r in requests] == names
    name_of = {ids[n]: n.removeprefix("landcover-") for n in names}
    version = rv.__version__
    for command, request in zip(COMMANDS, requests):
        gpu = command in ("train", "predict")
        assert request["jobQueue"] == (batch_env.job_queue if gpu else batch_env.cpu_job_queue)
        assert request["jobDefinition"] == (batch_env.job_definition if gpu else batch_env.cpu_job_definition)
        config_uri = f"{root}/{command}/landcover/command-config.json"
        assert request["containerOverrides"]["command"] == ["run_command", config_uri]
        assert {name_of[d["jobId"]] for d in request["dependsOn"]} == PARENTS[command]
        assert request["retryStrategy"] == {"attempts": 3}
        environment = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
        assert environment == {
            "RV_REQUIRED_PLUGINS": f"rv-core=={version}",
            "RV_LOAD_PLUGINS": "",
            "PLUGINS_FILES": "[]",
            "PLUGINS_MODULES": json.dumps([baseline.MODULE]),
        }
        # The config the job runs is on S3 and is the command it names.
        config = load_config(config_uri)
        assert config.command_type == command.upper() and config.key == "landcover"

    # What Batch holds: queues, dependencies and commands.
    described = {
        j["jobName"]: j
        for queue in (batch_env.job_queue, batch_env.cpu_job_queue)
        for j in moto_server.submitted_jobs(queue)
    }
    assert set(described) == set(names)
    for name, job in described.items():
        command = name.removeprefix("landcover-")
        assert job["jobId"] == ids[name]
        queue = batch_env.job_queue if command in ("train", "predict") else batch_env.cpu_job_queue
        assert job["jobQueue"].endswith(f":job-queue/{queue}")
        assert {name_of[d["jobId"]] for d in job["dependsOn"]} == PARENTS[command]
        assert job["container"]["command"] == ["run_command", f"{root}/{command}/landcover/command-config.json"]

    # Nothing ran here: no output exists yet, only configs.
    written = moto_server.keys(bucket, "batch-out/")
    assert all(k.endswith(("command-config.json", "experiments/landcover.json")) for k in written), written
    assert not any(k.rsplit("/", 1)[-1].startswith(".rv-write-check-") for k in written)

    # Run ANALYZE, CHIP and TRAIN as Batch would: the image's entrypoint rv, the job's command and
    # environment. TRAIN needs the baseline backend, which only PLUGINS_MODULES of the job names.
    for command in ("analyze", "chip", "train"):
        request = requests[COMMANDS.index(command)]
        job_environment = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
        job = subprocess.run(
            [sys.executable, "-m", "rv", *request["containerOverrides"]["command"]],
            env=_container_environment(job_environment),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert job.returncode == 0, f"{command}: {job.stderr}"
    assert json.loads(file_utils.read_text(f"{root}/train/landcover/model.pth"))["class_id"] == 4
    assert json.loads(file_utils.read_text(f"{root}/chip/landcover/chips.json"))["counts"] == {"train": 16, "valid": 16}

    # Submitted again, only the commands without outputs become jobs; they wait for nothing that is done.
    with moto_server.recording() as again:
        result = run_rv("run", "aws_batch", experiment_file, *_args(root, image_uri, labels_uri))
    assert result.returncode == 0, result.stderr
    second = again.batch_calls("submitjob")
    assert [r["jobName"] for r in second] == ["landcover-predict", "landcover-eval", "landcover-bundle"]
    assert [len(r["dependsOn"]) for r in second] == [0, 1, 0]


def test_dry_run_prints_the_job_graph_and_submits_nothing(
    moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv
):
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/dry"
    with moto_server.recording() as recording:
        result = run_rv("run", "aws_batch", experiment_file, *_args(root, image_uri, labels_uri), "-n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "AWS Batch jobs (6), not submitted (-n):" in out
    assert "2: landcover-train  (TRAIN landcover)" in out
    assert f"   queue: {aws_batch_environment.job_queue}  definition: {aws_batch_environment.job_definition}" in out
    assert f'   command: ["run_command", "{root}/predict/landcover/command-config.json"]' in out
    assert "   depends on: 0: landcover-analyze, 2: landcover-train" in out  # PREDICT and BUNDLE
    assert recording.batch_calls("submitjob") == []
    assert moto_server.keys(bucket, "dry/") == []


def test_a_legacy_plugin_file_on_s3_travels_as_its_uri(
    moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv, legacy_plugin_file
):
    bucket, image_uri, labels_uri = scene_on_s3
    plugin_uri = f"s3://{bucket}/plugins/extra_plugin.py"
    file_utils.upload(legacy_plugin_file, plugin_uri)
    with moto_server.recording() as recording:
        result = run_rv(
            "run",
            "aws_batch",
            experiment_file,
            "analyze",
            *_args(f"s3://{bucket}/out", image_uri, labels_uri),
            env={"PLUGINS_FILES": plugin_uri},
        )
    assert result.returncode == 0, result.stderr
    (request,) = recording.batch_calls("submitjob")
    environment = {e["name"]: e["value"] for e in request["containerOverrides"]["environment"]}
    assert json.loads(environment["PLUGINS_FILES"]) == [plugin_uri]

    # In the job, the plugin file is fetched from S3 and loaded.
    listing = subprocess.run(
        [sys.executable, "-m", "rv", "plugins", "list", "--json"],
        env=_container_environment(environment),
        capture_output=True,
        text=True,
        timeout=120,
    )
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert plugins["extra_plugin"]["status"] == "ok"
    assert plugins["extra_plugin"]["provides"] == {"runners": ["extra_runner"]}
