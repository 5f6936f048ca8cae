"""The aws_batch runner's parts: settings, job names, the job graph, Batch checks, a failed submission.

The whole runner, from ``rv run aws_batch`` on a real experiment to the jobs
moto records, is tested in tests/aws/test_aws_batch_runner.py.
"""

import json

import pytest

from rv import keys
from rv.command.command_config import (
    AnalyzeCommandConfig,
    BundleCommandConfig,
    ChipCommandConfig,
    PredictCommandConfig,
    TrainCommandConfig,
)
from rv.command.dag import CommandPlan, PlannedCommand
from rv.errors import ConfigError, RunnerError
from rv.plugins import PluginInfo, make_plugin_manager
from rv.settings import Settings
from rv_aws.batch_runner import (
    AwsBatchRunner,
    BatchSettings,
    check_batch_resources,
    job_graph_text,
    job_name,
    plan_batch_jobs,
)

ROOT = "s3://rv-bucket/out"
SETTINGS = BatchSettings("gpu-q", "gpu-def", "cpu-q", "cpu-def", attempts=2)


def _settings(tmp_path, environ=None, ini=None):
    """rv settings from ``environ`` only (and an INI profile file), nothing from this machine."""
    (tmp_path / "cwd").mkdir(exist_ok=True)
    env = {"RV_CONFIG_DIR": str(tmp_path)}
    if ini is not None:
        (tmp_path / "default").write_text(ini)
    env.update(environ or {})
    return Settings(environ=env, cwd=tmp_path / "cwd")


def _command(cls, command, key="exp-1", experiment="exp-1"):
    return cls(key=key, command_uri=f"{ROOT}/{command}/{key}", experiment_id=experiment)


@pytest.fixture
def plugin_manager():
    """rv-core alone, no legacy plugins from this machine's settings."""
    return make_plugin_manager(load_only=[], legacy=False)


@pytest.fixture
def plan():
    """ANALYZE → CHIP → TRAIN → PREDICT, TRAIN → BUNDLE, ANALYZE → BUNDLE; ANALYZE already done."""
    commands = [
        PlannedCommand(_command(AnalyzeCommandConfig, "analyze"), ["exp-1"], [], "skip"),
        PlannedCommand(_command(ChipCommandConfig, "chip", key="shared-chips"), ["exp-1", "exp-2"], [0]),
        PlannedCommand(_command(TrainCommandConfig, "train"), ["exp-1"], [1]),
        PlannedCommand(_command(PredictCommandConfig, "predict"), ["exp-1"], [2]),
        PlannedCommand(_command(BundleCommandConfig, "bundle"), ["exp-1"], [0, 2]),
    ]
    return CommandPlan(commands)


# -- settings -----------------------------------------------------------------


def test_settings_from_the_environment_with_cpu_fallbacks(tmp_path):
    settings = BatchSettings.from_settings(
        _settings(tmp_path, {"AWS_BATCH_JOB_QUEUE": "rv-gpu-queue", "AWS_BATCH_JOB_DEFINITION": "rv-gpu:3"})
    )
    assert settings == BatchSettings("rv-gpu-queue", "rv-gpu:3", "rv-gpu-queue", "rv-gpu:3", attempts=1)
    assert settings.queue_and_definition(keys.TRAIN) == ("rv-gpu-queue", "rv-gpu:3")
    assert settings.queue_and_definition(keys.CHIP) == ("rv-gpu-queue", "rv-gpu:3")


def test_settings_from_the_profile_file_environment_wins(tmp_path):
    ini = (
        "[AWS_BATCH]\njob_queue = rv-gpu-queue\njob_definition = rv-gpu\n"
        "cpu_job_queue = rv-cpu-queue\ncpu_job_definition = rv-cpu\nattempts = 3\n"
    )
    settings = BatchSettings.from_settings(_settings(tmp_path, {"AWS_BATCH_ATTEMPTS": "5"}, ini))
    assert settings == BatchSettings("rv-gpu-queue", "rv-gpu", "rv-cpu-queue", "rv-cpu", attempts=5)
    for command in (keys.TRAIN, keys.PREDICT):
        assert settings.queue_and_definition(command) == ("rv-gpu-queue", "rv-gpu")
    for command in (keys.ANALYZE, keys.CHIP, keys.EVAL, keys.BUNDLE):
        assert settings.queue_and_definition(command) == ("rv-cpu-queue", "rv-cpu")


def test_missing_settings_name_the_options_and_both_ways_to_set_them(tmp_path):
    with pytest.raises(ConfigError) as info:
        BatchSettings.from_settings(_settings(tmp_path, {"AWS_BATCH_CPU_JOB_QUEUE": "rv-cpu-queue"}))
    message = str(info.value)
    for expected in (
        "[AWS_BATCH] option(s) job_queue",
        "job_definition",
        f"{tmp_path / 'default'} under [AWS_BATCH]",
        "AWS_BATCH_JOB_QUEUE=...",
        "AWS_BATCH_JOB_DEFINITION=...",
        "docs/aws.md",
    ):
        assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("attempts", ["0", "11", "three"])
def test_attempts_outside_what_batch_allows(tmp_path, attempts):
    environ = {"AWS_BATCH_JOB_QUEUE": "q", "AWS_BATCH_JOB_DEFINITION": "d", "AWS_BATCH_ATTEMPTS": attempts}
    with pytest.raises(
        ConfigError, match=rf"attempts is '{attempts}' \(from environment \(AWS_BATCH_ATTEMPTS\)\).*1 to 10"
    ):
        BatchSettings.from_settings(_settings(tmp_path, environ))


# -- job names ----------------------------------------------------------------


def test_job_names_follow_batch_rules():
    def name(command_type_cls, command, key, experiments):
        return job_name(PlannedCommand(_command(command_type_cls, command, key, experiments[0]), experiments))

    assert name(TrainCommandConfig, "train", "exp-1", ["exp-1"]) == "exp-1-train"
    # A shared key differs from the experiment id: it is part of the name.
    assert name(ChipCommandConfig, "chip", "shared-chips", ["exp-1", "exp-2"]) == "exp-1-chip-shared-chips"
    assert name(TrainCommandConfig, "train", "run 2.b/x", ["städte v1"]) == "st-dte-v1-train-run-2-b-x"
    assert name(TrainCommandConfig, "train", "k", ["_hidden"]) == "hidden-train-k"

    long_a = name(TrainCommandConfig, "train", "k", ["a" * 200])
    long_b = name(TrainCommandConfig, "train", "k", ["a" * 199 + "b"])
    assert len(long_a) == len(long_b) == 128
    assert long_a != long_b  # the hash of the whole name keeps them apart
    for n in (long_a, long_b):
        assert n[0].isalnum() and all(c.isalnum() or c in "-_" for c in n)


# -- the job graph ------------------------------------------------------------


def test_jobs_of_a_plan(plan, plugin_manager):
    jobs = plan_batch_jobs(plan, SETTINGS, plugin_manager)
    assert [j.name for j in jobs] == [
        "exp-1-chip-shared-chips",
        "exp-1-train",
        "exp-1-predict",
        "exp-1-bundle",
    ]
    assert [j.index for j in jobs] == [1, 2, 3, 4]
    # Parents that are skipped (ANALYZE, done) are not waited for.
    assert [j.depends_on for j in jobs] == [[], [1], [2], [2]]
    assert [(j.queue, j.definition) for j in jobs] == [
        ("cpu-q", "cpu-def"),
        ("gpu-q", "gpu-def"),
        ("gpu-q", "gpu-def"),
        ("cpu-q", "cpu-def"),
    ]
    assert jobs[1].command == ["run_command", f"{ROOT}/train/exp-1/command-config.json"]
    assert all(j.attempts == 2 for j in jobs)
    assert jobs[0].environment == {
        "RV_REQUIRED_PLUGINS": "",  # no registered config inside these bare commands
        "RV_LOAD_PLUGINS": "",
        "PLUGINS_FILES": "[]",
        "PLUGINS_MODULES": "[]",
    }

    request = jobs[3].submit_job_request({1: "id-chip", 2: "id-train", 3: "id-predict"})
    assert request == {
        "jobName": "exp-1-bundle",
        "jobQueue": "cpu-q",
        "jobDefinition": "cpu-def",
        "dependsOn": [{"jobId": "id-train"}],
        "containerOverrides": {
            "command": ["run_command", f"{ROOT}/bundle/exp-1/command-config.json"],
            "environment": [
                {"name": "PLUGINS_FILES", "value": "[]"},
                {"name": "PLUGINS_MODULES", "value": "[]"},
                {"name": "RV_LOAD_PLUGINS", "value": ""},
                {"name": "RV_REQUIRED_PLUGINS", "value": ""},
            ],
        },
        "retryStrategy": {"attempts": 2},
    }


def test_required_plugins_come_from_the_config(plugin_manager):
    import rv

    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"water": (1, "blue")}).build()
    chip = ChipCommandConfig(key="k", command_uri=f"{ROOT}/chip/k", task=task)
    jobs = plan_batch_jobs(CommandPlan([PlannedCommand(chip, ["k"])]), SETTINGS, plugin_manager)
    version = plugin_manager.rv_plugins["rv"].version
    assert jobs[0].environment["RV_REQUIRED_PLUGINS"] == f"rv-core=={version}"


def test_legacy_plugins_travel_with_the_jobs(plan, plugin_manager):
    plugin_manager.rv_plugins["extra"] = PluginInfo("extra", None, None, "legacy file s3://plugins/extra.py")
    plugin_manager.rv_plugins["mine"] = PluginInfo("mine", None, None, "legacy module my_company.rv_plugin")
    plugin_manager.rv_plugins["broken"] = PluginInfo("broken", None, None, "legacy module gone", status="failed")
    env = plan_batch_jobs(plan, SETTINGS, plugin_manager)[0].environment
    assert json.loads(env["PLUGINS_FILES"]) == ["s3://plugins/extra.py"]
    assert json.loads(env["PLUGINS_MODULES"]) == ["my_company.rv_plugin"]


def test_a_local_legacy_plugin_file_is_refused(plan, plugin_manager):
    plugin_manager.rv_plugins["mine"] = PluginInfo("mine", None, None, "legacy file /home/me/my_plugin.py")
    with pytest.raises(ConfigError) as info:
        plan_batch_jobs(plan, SETTINGS, plugin_manager)
    message = str(info.value)
    assert "/home/me/my_plugin.py" in message
    assert "aws s3 cp /home/me/my_plugin.py s3://" in message
    assert "[PLUGINS] files" in message


def test_a_local_root_is_refused(plugin_manager, tmp_path):
    local = TrainCommandConfig(key="k", command_uri=str(tmp_path / "out/train/k"))
    with pytest.raises(
        ConfigError, match=r"configs are on this machine \(.*command-config.json\).*Use an s3:// root_uri"
    ):
        plan_batch_jobs(CommandPlan([PlannedCommand(local, ["k"])]), SETTINGS, plugin_manager)


def test_too_many_parents(plugin_manager):
    parents = [PlannedCommand(_command(ChipCommandConfig, "chip", key=f"c{i}"), [f"c{i}"]) for i in range(21)]
    train = PlannedCommand(_command(TrainCommandConfig, "train"), ["exp-1"], list(range(21)))
    with pytest.raises(ConfigError, match="depends on 21 commands.*at most 20"):
        plan_batch_jobs(CommandPlan([*parents, train]), SETTINGS, plugin_manager)


def test_dry_run_prints_the_job_graph(plan, plugin_manager, capsys, monkeypatch):
    from rv.plugins import use_plugin_manager
    from rv.runner.runner import RunOptions

    with use_plugin_manager(plugin_manager):
        AwsBatchRunner(settings=SETTINGS).dry_run(plan, RunOptions(dry_run=True))
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "AWS Batch jobs (4), not submitted (-n):"
    assert "2: exp-1-train  (TRAIN exp-1)" in out
    assert "   queue: gpu-q  definition: gpu-def  attempts: 2" in out
    assert f'   command: ["run_command", "{ROOT}/train/exp-1/command-config.json"]' in out
    assert "   depends on: 2: exp-1-train" in out  # PREDICT and BUNDLE
    assert out == job_graph_text(plan_batch_jobs(plan, SETTINGS, plugin_manager)) + "\n"


# -- Batch resources and submission, against moto's Batch ----------------------


def test_missing_or_disabled_queues_and_definitions(moto_server, aws_batch_environment, plan, plugin_manager):
    env = aws_batch_environment
    batch = moto_server.client("batch")
    good = BatchSettings(env.job_queue, env.job_definition, env.cpu_job_queue, env.cpu_job_definition)
    jobs = plan_batch_jobs(plan, good, plugin_manager)
    check_batch_resources(batch, jobs, good)  # all there
    revision = f"{env.job_definition}:1"
    check_batch_resources(
        batch,
        plan_batch_jobs(plan, BatchSettings(env.job_queue, revision, env.cpu_job_queue, revision), plugin_manager),
        good,
    )

    wrong_revision = f"{env.job_definition}:99"
    with pytest.raises(ConfigError, match=f"job definition '{wrong_revision}'"):
        check_batch_resources(
            batch,
            plan_batch_jobs(
                plan, BatchSettings(env.job_queue, wrong_revision, env.cpu_job_queue, revision), plugin_manager
            ),
            good,
        )

    bad = BatchSettings("rv-no-such-queue", "rv-no-such-def", env.cpu_job_queue, env.cpu_job_definition)
    with pytest.raises(ConfigError) as info:
        check_batch_resources(batch, plan_batch_jobs(plan, bad, plugin_manager), bad)
    problems = str(info.value).split("\n\n")
    assert problems == [
        "The AWS Batch job queue 'rv-no-such-queue' ([AWS_BATCH] job_queue) does not exist in region us-east-1. "
        "Create it (see docs/aws.md), or fix the setting or AWS_REGION.",
        "The AWS Batch job definition 'rv-no-such-def' ([AWS_BATCH] job_definition) does not exist or is inactive in "
        "region us-east-1. Register it (`aws batch register-job-definition`, see docs/aws.md), or fix the setting.",
    ]

    batch.update_job_queue(jobQueue=env.cpu_job_queue, state="DISABLED")
    with pytest.raises(ConfigError, match=f"job queue '{env.cpu_job_queue}' is DISABLED: it accepts no jobs"):
        check_batch_resources(batch, jobs, good)


class _RefusingClient:
    """A Batch client that refuses the n-th submission (as Batch does for a bad request)."""

    def __init__(self, client, refuse_at: int):
        self.client, self.refuse_at, self.submitted, self.terminated = client, refuse_at, 0, []

    def submit_job(self, **request):
        import botocore.exceptions

        self.submitted += 1
        if self.submitted == self.refuse_at:
            error = {"Error": {"Code": "ClientException", "Message": "Container override environment too large"}}
            raise botocore.exceptions.ClientError(error, "SubmitJob")
        return self.client.submit_job(**request)

    def terminate_job(self, jobId, reason):
        self.terminated.append(jobId)
        return self.client.terminate_job(jobId=jobId, reason=reason)


def test_a_refused_submission_terminates_the_jobs_already_submitted(
    moto_server, aws_batch_environment, plan, plugin_manager, capsys
):
    env = aws_batch_environment
    settings = BatchSettings(env.job_queue, env.job_definition, env.cpu_job_queue, env.cpu_job_definition)
    jobs = plan_batch_jobs(plan, settings, plugin_manager)
    client = _RefusingClient(moto_server.client("batch"), refuse_at=3)
    with pytest.raises(RunnerError) as info:
        AwsBatchRunner(settings, client)._submit(client, jobs)
    message = str(info.value)
    assert message.startswith(
        f"AWS Batch refused job exp-1-predict (PREDICT exp-1) on queue {env.job_queue} with job definition "
        f"{env.job_definition}: ClientException: Container override environment too large."
    )
    submitted = [line.split("(id ")[1].split(",")[0] for line in capsys.readouterr().out.splitlines()]
    assert len(submitted) == 2 and client.terminated == submitted
    assert f"exp-1-chip-shared-chips ({submitted[0]}), exp-1-train ({submitted[1]})" in message
