"""The ``aws_batch`` runner: each command of the plan becomes an AWS Batch job.

``rv run aws_batch experiment.py -a root_uri s3://bucket/out`` plans the
command graph as usual, then this runner:

1. turns every command to run into a :class:`BatchJob`: a job named after
   the experiment and the command, in the GPU queue and job definition for
   TRAIN and PREDICT and in the CPU ones for the rest, whose container
   command is ``["run_command", "<command-config URI>"]`` (the rv images'
   entrypoint is ``rv``, see ``rv-aws/docker``), with ``dependsOn`` naming
   the jobs of its parents in the graph, ``retryStrategy.attempts`` from the
   settings, and the environment that makes the job load the plugins the
   command needs;
2. checks, before anything is written or submitted, that the command
   configs go to a remote root (a Batch job cannot read this machine's
   disk), that legacy plugin files are remote too, that the AWS
   credentials, buckets and permissions work (the ``check_access`` hook:
   write under each output root, read each input), and that the queues and
   job definitions exist;
3. writes every command config (:func:`rv.runner.runner.write_command_configs`)
   and submits the jobs in topological order, printing each job id.

``-n`` (:meth:`AwsBatchRunner.dry_run`) prints the job graph and submits
nothing. Settings come from the ``[AWS_BATCH]`` section of rv's settings
(:class:`BatchSettings`). boto3 is imported only when jobs are submitted.

One concept, one module (over 500 lines): turning a command plan into AWS
Batch jobs — settings, job planning, the checks before submission and the
runner that submits; the settings and job classes exist only for the runner.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rv import keys
from rv.command.dag import CommandPlan, PlannedCommand
from rv.errors import ConfigError, FileSystemError, RunnerError
from rv.runner.runner import ClusterRunner, RunOptions, write_command_configs

SECTION = "AWS_BATCH"
#: commands that run on the GPU queue and job definition; the others go to the CPU ones
GPU_COMMANDS = frozenset({keys.TRAIN, keys.PREDICT})
#: what the job's container runs after the image's entrypoint ``rv`` (rv-aws/docker)
RUN_COMMAND = "run_command"
#: what AWS Batch sets in each task of an array job: the task's index (0 .. size - 1)
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"
#: AWS Batch limits: job names, parents per job, attempts
MAX_JOB_NAME_LENGTH = 128
MAX_DEPENDENCIES = 20
MAX_ATTEMPTS = 10

# Environment of every job (see plugin_environment).
REQUIRED_PLUGINS_VARIABLE = "RV_REQUIRED_PLUGINS"
LOAD_PLUGINS_VARIABLE = "RV_LOAD_PLUGINS"
LEGACY_FILES_VARIABLE = "PLUGINS_FILES"  # rv.settings.env_name("PLUGINS", "files")
LEGACY_MODULES_VARIABLE = "PLUGINS_MODULES"  # rv.settings.env_name("PLUGINS", "modules")
_LEGACY_FILE_SOURCE = "legacy file "
_LEGACY_MODULE_SOURCE = "legacy module "

_OPTIONS_HELP = {
    "job_queue": "the job queue of TRAIN and PREDICT (and of every command when cpu_job_queue is unset)",
    "job_definition": "the job definition of TRAIN and PREDICT (and of every command when cpu_job_definition is unset)",
}


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSettings:
    """The ``[AWS_BATCH]`` settings: where each command's job runs, and how often it is tried.

    Attributes:
        job_queue: queue of TRAIN and PREDICT (GPU).
        job_definition: job definition of TRAIN and PREDICT (``name``,
            ``name:revision`` or an ARN).
        cpu_job_queue: queue of ANALYZE, CHIP, EVAL and BUNDLE.
        cpu_job_definition: their job definition.
        attempts: tries per job (Batch ``retryStrategy.attempts``, 1–10).
    """

    job_queue: str
    job_definition: str
    cpu_job_queue: str
    cpu_job_definition: str
    attempts: int = 1

    @classmethod
    def from_settings(cls, settings=None) -> BatchSettings:
        """Read the section from rv's settings (environment ``AWS_BATCH_*``, ``.env``, profile file).

        ``cpu_job_queue`` and ``cpu_job_definition`` default to the GPU
        ones; ``attempts`` to 1.

        Raises:
            ConfigError: ``job_queue`` or ``job_definition`` is unset, or
                ``attempts`` is not a whole number from 1 to 10.
        """
        from rv.settings import env_name, get_settings

        settings = settings if settings is not None else get_settings()
        values = {
            name: (settings.get(SECTION, name) or "").strip()
            for name in ("job_queue", "job_definition", "cpu_job_queue", "cpu_job_definition", "attempts")
        }
        missing = [name for name in ("job_queue", "job_definition") if not values[name]]
        if missing:
            where = settings.config_path or settings.config_dir / settings.profile
            lines = "; ".join(f"{name} ({_OPTIONS_HELP[name]})" for name in missing)
            example = " ".join(f"{env_name(SECTION, name)}=..." for name in missing)
            raise ConfigError(
                f"The aws_batch runner needs the [AWS_BATCH] option(s) {lines}, which are not set. "
                f"Set them in the rv profile file {where} under [{SECTION}] (e.g. `job_queue = rv-gpu-queue`), "
                f"or as environment variables (or .env lines): {example}. See docs/aws.md for the AWS setup."
            )
        attempts_text = values["attempts"] or "1"
        try:
            attempts = int(attempts_text)
        except ValueError:
            attempts = 0
        if not 1 <= attempts <= MAX_ATTEMPTS:
            raise ConfigError(
                f"[{SECTION}] attempts is {attempts_text!r} (from {settings.origin(SECTION, 'attempts')}), "
                f"but AWS Batch tries a job 1 to {MAX_ATTEMPTS} times: set a whole number in that range."
            )
        return cls(
            job_queue=values["job_queue"],
            job_definition=values["job_definition"],
            cpu_job_queue=values["cpu_job_queue"] or values["job_queue"],
            cpu_job_definition=values["cpu_job_definition"] or values["job_definition"],
            attempts=attempts,
        )

    def queue_and_definition(self, command_type: str) -> tuple[str, str]:
        """The job queue and job definition of a command type (GPU for TRAIN and PREDICT)."""
        if command_type in GPU_COMMANDS:
            return self.job_queue, self.job_definition
        return self.cpu_job_queue, self.cpu_job_definition


# ---------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchJob:
    """One command of the plan as the AWS Batch job that runs it.

    Attributes:
        index: the command's index in the plan.
        name: the job name (``[A-Za-z0-9_-]``, at most 128 characters).
        queue: the job queue.
        definition: the job definition.
        command: the container command, ``["run_command", <command-config URI>]``.
        depends_on: plan indices of the parent commands submitted in the same run.
        environment: the container environment overrides (see :func:`plugin_environment`).
        attempts: ``retryStrategy.attempts``.
        planned: the planned command (an array job's first part).
        array_size: an array job's ``arrayProperties.size`` (the parts of one split command, ``rv run
            --splits``: task ``i`` reads ``AWS_BATCH_JOB_ARRAY_INDEX``), else 0.
    """

    index: int
    name: str
    queue: str
    definition: str
    command: list[str]
    depends_on: list[int]
    environment: dict[str, str]
    attempts: int
    planned: PlannedCommand = field(repr=False, compare=False)
    array_size: int = 0
    #: an array job's :func:`rv.command.split.parts_description`
    parts_text: str = ""

    @property
    def description(self) -> str:
        """What the job runs: ``CHIP key``, or ``CHIP key, parts 1-2 of 2`` for an array job."""
        if not self.parts_text:
            return self.planned.name
        return self.parts_text

    def submit_job_request(self, parent_job_ids: Mapping[int, str]) -> dict:
        """The keyword arguments of boto3's ``batch.submit_job`` for this job.

        ``parent_job_ids`` maps the plan index of each parent to its job id.
        """
        request = {
            "jobName": self.name,
            "jobQueue": self.queue,
            "jobDefinition": self.definition,
            "dependsOn": [{"jobId": parent_job_ids[i]} for i in self.depends_on],
            "containerOverrides": {
                "command": list(self.command),
                "environment": [{"name": k, "value": v} for k, v in sorted(self.environment.items())],
            },
            "retryStrategy": {"attempts": self.attempts},
        }
        if self.array_size:
            request["arrayProperties"] = {"size": self.array_size}
        return request


def job_name(planned: PlannedCommand) -> str:
    """The Batch job name of a command: ``<experiment id>-<command>[-<key>]``
    (:func:`rv.runner.runner.cluster_job_name` with Batch's characters and its 128-character limit)."""
    from rv.runner.runner import cluster_job_name

    return cluster_job_name(planned, "A-Za-z0-9_-", MAX_JOB_NAME_LENGTH)


def _is_local(uri: str) -> bool:
    from rv.file_utils import is_local

    return is_local(uri)


def legacy_plugins(pm) -> tuple[list[str], list[str]]:
    """The legacy ``[PLUGINS]`` files and modules loaded by ``pm``: ``(files, modules)``.

    Raises:
        ConfigError: a legacy plugin file is on this machine's disk, where a
            Batch job cannot read it.
    """
    files: list[str] = []
    modules: list[str] = []
    for info in pm.rv_plugins.values():
        if info.status != "ok":
            continue
        if info.source.startswith(_LEGACY_FILE_SOURCE):
            files.append(info.source[len(_LEGACY_FILE_SOURCE) :])
        elif info.source.startswith(_LEGACY_MODULE_SOURCE):
            modules.append(info.source[len(_LEGACY_MODULE_SOURCE) :])
    local = [f for f in files if _is_local(f)]
    if local:
        names = ", ".join(local)
        raise ConfigError(
            f"The legacy plugin file(s) {names} (from [PLUGINS] files / PLUGINS_FILES) are on this machine, "
            "where AWS Batch jobs cannot read them, and the jobs must load the same plugins. Put each file on "
            f"S3 (e.g. `aws s3 cp {local[0]} s3://my-bucket/plugins/`) and name its s3:// URI in [PLUGINS] files, "
            "or package the plugin as a distribution installed in the job's image."
        )
    return files, modules


def plugin_environment(
    planned: PlannedCommand, pm, legacy: tuple[list[str], list[str]] | None = None
) -> dict[str, str]:
    """The environment a job needs to load the plugins of its command.

    - ``RV_REQUIRED_PLUGINS``: the distributions (``name==version``, comma
      separated) the command config needs, as its saved file lists them
      (``rv.serialization.required_plugins``); ``rv run_command`` checks
      the same list against the image's plugins.
    - ``RV_LOAD_PLUGINS`` empty: the job loads every plugin installed in the
      image (an empty value counts as unset), so a restriction in the job
      definition cannot leave out rv-aws (the ``s3://`` file system) or a
      required distribution.
    - ``PLUGINS_FILES`` / ``PLUGINS_MODULES`` (JSON lists): the legacy
      ``[PLUGINS] files`` (as URIs) and ``modules`` loaded here, in the
      environment form rv's settings read.
    """
    from rv.serialization import required_plugins

    files, modules = legacy if legacy is not None else legacy_plugins(pm)
    required = required_plugins(planned.config, pm)
    return {
        REQUIRED_PLUGINS_VARIABLE: ",".join(
            f"{p['distribution']}=={p['version']}" if p["version"] else p["distribution"] for p in required
        ),
        LOAD_PLUGINS_VARIABLE: "",
        LEGACY_FILES_VARIABLE: json.dumps(files),
        LEGACY_MODULES_VARIABLE: json.dumps(modules),
    }


def plan_batch_jobs(plan: CommandPlan, settings: BatchSettings, pm=None) -> list[BatchJob]:
    """The Batch jobs of the commands of ``plan`` that run, in the plan's (topological) order.

    Raises:
        ConfigError: a command config would be written to a local path
            (give the experiments an ``s3://`` root_uri), a legacy plugin file
            is local, or a command has more parents than Batch allows.
    """
    if pm is None:
        from rv.plugins import get_plugin_manager

        pm = get_plugin_manager()
    to_run = {i for i, pc in enumerate(plan.commands) if pc.status == "run"}
    local = [
        plan.commands[i].config.config_uri for i in sorted(to_run) if _is_local(plan.commands[i].config.config_uri)
    ]
    if local:
        raise ConfigError(
            f"The aws_batch runner cannot run commands whose configs are on this machine ({local[0]}"
            f"{f' and {len(local) - 1} more' if len(local) > 1 else ''}): Batch jobs read their "
            "command-config.json and write their outputs where every job can reach them. Use an s3:// "
            "root_uri, e.g. `rv run aws_batch experiment.py -a root_uri s3://my-bucket/out`."
        )
    from rv.command.split import array_run_command_args, cluster_jobs, parts_description

    legacy = legacy_plugins(pm)
    jobs = []
    for group, parents in cluster_jobs(plan):
        i = group[0]
        pc = plan.commands[i]
        if len(parents) > MAX_DEPENDENCIES:
            raise ConfigError(
                f"{pc.name} depends on {len(parents)} commands, but an AWS Batch job may depend on at most "
                f"{MAX_DEPENDENCIES} jobs. Run the commands it depends on first (e.g. `rv run aws_batch ... chip`), "
                "then the rest."
            )
        queue, definition = settings.queue_and_definition(pc.config.command_type)
        if len(group) > 1:  # the parts of a split command: one array job, task i reads AWS_BATCH_JOB_ARRAY_INDEX
            name = f"{job_name(pc)[: MAX_JOB_NAME_LENGTH - 6]}-parts"
            command = [RUN_COMMAND, *array_run_command_args(plan, group, ARRAY_INDEX_VARIABLE, map_parts=True)]
        else:
            name, command = job_name(pc), [RUN_COMMAND, pc.config.config_uri]
        jobs.append(
            BatchJob(
                index=i,
                name=name,
                queue=queue,
                definition=definition,
                command=command,
                depends_on=parents,
                environment=plugin_environment(pc, pm, legacy),
                attempts=settings.attempts,
                planned=pc,
                array_size=len(group) if len(group) > 1 else 0,
                parts_text=parts_description([plan.commands[k].config for k in group]) if len(group) > 1 else "",
            )
        )
    return jobs


def job_graph_text(jobs: Sequence[BatchJob]) -> str:
    """The ``-n`` listing: each job's name, queue, definition, command and the jobs it depends on."""
    names = {job.index: job.name for job in jobs}
    lines = [f"AWS Batch jobs ({len(jobs)}), not submitted (-n):"]
    for job in jobs:
        lines.append(f"{job.index}: {job.name}  ({job.description})")
        lines.append(f"   queue: {job.queue}  definition: {job.definition}  attempts: {job.attempts}")
        if job.array_size:
            lines.append(f"   array job: {job.array_size} tasks ({ARRAY_INDEX_VARIABLE} = 0 .. {job.array_size - 1})")
        lines.append(f"   command: {json.dumps(job.command)}  (after the image's entrypoint rv)")
        depends = ", ".join(f"{i}: {names[i]}" for i in job.depends_on) or "-"
        lines.append(f"   depends on: {depends}")
        lines.append(f"   plugins: {job.environment[REQUIRED_PLUGINS_VARIABLE] or '-'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Checks before submitting
# ---------------------------------------------------------------------------


def _command_root(command_uri: str) -> str:
    """``<root>`` of ``<root>/<command>/<key>``."""
    return posixpath.dirname(posixpath.dirname(command_uri.rstrip("/")))


def access_uris(plan: CommandPlan, legacy_files: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """What the run writes and reads, for the ``check_access`` hook: ``(write prefixes, read URIs)``.

    Written: the root of every command directory to run, and the directory
    of any output outside those roots. Read: the inputs no command of the
    run produces (imagery, labels, outputs of skipped commands) and the
    legacy plugin files.
    """
    to_run = plan.to_run()
    roots: list[str] = []
    for pc in to_run:
        root = _command_root(pc.config.command_uri)
        if root not in roots:
            roots.append(root)
    writes = list(roots)
    produced: set[str] = set()
    for pc in to_run:
        for out in pc.config.outputs():
            produced.add(out)
            if not any(out.startswith(r.rstrip("/") + "/") for r in roots):
                parent = posixpath.dirname(out)
                if parent not in writes:
                    writes.append(parent)
    reads: list[str] = []
    for pc in to_run:
        for uri in pc.config.inputs():
            if uri not in produced and uri not in reads:
                reads.append(uri)
    reads.extend(f for f in legacy_files if f not in reads)
    return writes, reads


def _batch_client():
    """A boto3 Batch client with rv's AWS settings (``AWS_ENDPOINT_URL(_BATCH)`` is read by botocore)."""
    import botocore.exceptions
    from botocore.config import Config

    from rv_aws.s3 import S3Settings

    session = S3Settings.from_environment().boto3_session()
    if session.get_credentials() is None:
        raise FileSystemError(
            "No AWS credentials were found, so rv cannot submit AWS Batch jobs. Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (after `aws configure` or `aws sso login`)."
        )
    try:
        return session.client("batch", config=Config(retries={"max_attempts": 3, "mode": "standard"}))
    except botocore.exceptions.NoRegionError as exc:
        raise ConfigError(
            "No AWS region is set, so rv does not know where the AWS Batch queues are. Set AWS_REGION "
            "(or AWS_DEFAULT_REGION, or the region of the AWS_PROFILE) to the region of the job queues."
        ) from exc


def _client_error(exc) -> tuple[str, str]:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", exc))


def check_batch_resources(client, jobs: Sequence[BatchJob], settings: BatchSettings) -> None:
    """Check that every queue exists and is enabled and every job definition is active.

    Raises:
        ConfigError: one paragraph per missing queue or job definition,
            naming the setting to fix.
    """
    import botocore.exceptions

    option_of = {
        settings.job_queue: "job_queue",
        settings.cpu_job_queue: "cpu_job_queue" if settings.cpu_job_queue != settings.job_queue else "job_queue",
        settings.job_definition: "job_definition",
        settings.cpu_job_definition: (
            "cpu_job_definition" if settings.cpu_job_definition != settings.job_definition else "job_definition"
        ),
    }
    region = client.meta.region_name
    queues = sorted({job.queue for job in jobs})
    definitions = sorted({job.definition for job in jobs})
    problems = []
    try:
        found = {q["jobQueueName"]: q for q in client.describe_job_queues(jobQueues=queues).get("jobQueues", [])}
        found.update({q["jobQueueArn"]: q for q in found.values()})
        for queue in queues:
            info = found.get(queue)
            if info is None:
                problems.append(
                    f"The AWS Batch job queue {queue!r} ([{SECTION}] {option_of.get(queue, 'job_queue')}) does not "
                    f"exist in region {region}. Create it (see docs/aws.md), or fix the setting or AWS_REGION."
                )
            elif info.get("state") != "ENABLED":
                problems.append(
                    f"The AWS Batch job queue {queue!r} is {info.get('state')}: it accepts no jobs. Enable it "
                    f"(`aws batch update-job-queue --job-queue {queue} --state ENABLED`)."
                )
        for definition in definitions:
            if definition.startswith("arn:"):
                found_definitions = client.describe_job_definitions(jobDefinitions=[definition])["jobDefinitions"]
            else:  # name, or name:revision (asked by name, which every Batch API version answers)
                name, _, revision = definition.partition(":")
                pages = client.get_paginator("describe_job_definitions").paginate(
                    jobDefinitionName=name, status="ACTIVE"
                )
                found_definitions = [
                    d
                    for page in pages
                    for d in page.get("jobDefinitions", [])
                    if not revision or str(d.get("revision")) == revision
                ]
            active = [d for d in found_definitions if d.get("status", "ACTIVE") == "ACTIVE"]
            if not active:
                problems.append(
                    f"The AWS Batch job definition {definition!r} ([{SECTION}] "
                    f"{option_of.get(definition, 'job_definition')}) does not exist or is inactive in region "
                    f"{region}. Register it (`aws batch register-job-definition`, see docs/aws.md), or fix the setting."
                )
    except botocore.exceptions.ClientError as exc:
        code, message = _client_error(exc)
        raise RunnerError(
            f"AWS Batch refused to describe the job queues or definitions {queues + definitions} in region "
            f"{region} ({code}: {message}). The user running rv needs batch:DescribeJobQueues and "
            "batch:DescribeJobDefinitions (see docs/aws.md)."
        ) from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise FileSystemError(
            "No AWS credentials were found, so rv cannot submit AWS Batch jobs. Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE."
        ) from exc
    if problems:
        raise ConfigError("\n\n".join(problems))


# ---------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------


class AwsBatchRunner(ClusterRunner):
    """Run the command graph as AWS Batch jobs (``rv run aws_batch``).

    See the module docstring for what it checks, writes and submits.
    ``settings`` replaces the ``[AWS_BATCH]`` settings and ``client`` the
    boto3 Batch client (both default to what the environment gives).
    """

    scheduler = "AWS Batch"
    settings_class = BatchSettings

    def __init__(self, settings: BatchSettings | None = None, client=None) -> None:
        super().__init__(settings)
        self._client = client

    def jobs(self, plan: CommandPlan) -> list[BatchJob]:
        """The jobs this runner would submit for ``plan`` (see :func:`plan_batch_jobs`)."""
        return plan_batch_jobs(plan, self.settings)

    def describe_jobs(self, jobs: list[BatchJob]) -> str:
        """The job graph: name, queue, definition, command and parents of each job."""
        return job_graph_text(jobs)

    def submit(self, plan: CommandPlan, options: RunOptions) -> list[str]:
        """Check, write the command configs, submit one job per command to run; return the job ids."""
        from rv.plugins import get_plugin_manager

        pm = get_plugin_manager()
        jobs = plan_batch_jobs(plan, self.settings, pm)
        files, _ = legacy_plugins(pm)
        writes, reads = access_uris(plan, files)
        # Every plugin checks the URIs of its schemes (rv-aws: s3://) before anything is written.
        pm.hook.check_access(uris=writes, mode="w")
        pm.hook.check_access(uris=reads, mode="r")
        client = self._client if self._client is not None else _batch_client()
        check_batch_resources(client, jobs, self.settings)
        write_command_configs(plan)
        return self._submit(client, jobs)

    def _submit(self, client, jobs: Sequence[BatchJob]) -> list[str]:
        import botocore.exceptions

        job_ids: dict[int, str] = {}
        for job in jobs:
            try:
                response = client.submit_job(**job.submit_job_request(job_ids))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                code, message = _client_error(exc)
                self._abandon(client, jobs, job_ids, f"rv: submitting {job.name} failed")
                submitted = ", ".join(f"{jobs_by_index(jobs)[i].name} ({jid})" for i, jid in job_ids.items())
                raise RunnerError(
                    f"AWS Batch refused job {job.name} ({job.description}) on queue {job.queue} with job "
                    f"definition {job.definition}: {code or type(exc).__name__}: {message}. "
                    + (
                        f"The jobs submitted before it were terminated: {submitted}. "
                        if job_ids
                        else "No job was submitted. "
                    )
                    + "Fix the problem and run the same command again (finished commands are skipped)."
                ) from exc
            job_ids[job.index] = response["jobId"]
            parents = ", ".join(job_ids[i] for i in job.depends_on) or "-"
            print(
                f"rv: submitted {job.description} as AWS Batch {'array ' if job.array_size else ''}job {job.name} "
                f"(id {response['jobId']}, queue {job.queue}, depends on {parents})",
                flush=True,
            )
        return [job_ids[job.index] for job in jobs]

    @staticmethod
    def _abandon(client, jobs, job_ids: Mapping[int, str], reason: str) -> None:
        """Terminate the jobs of a run that could not be submitted whole (best effort)."""
        for job_id in job_ids.values():
            try:
                client.terminate_job(jobId=job_id, reason=reason)
            except Exception:  # the error that stopped the run is the one to report
                pass


def jobs_by_index(jobs: Sequence[BatchJob]) -> dict[int, BatchJob]:
    """``{plan index: job}``."""
    return {job.index: job for job in jobs}
