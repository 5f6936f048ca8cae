"""One command of the plan as the sbatch job that runs it: its name, options and script."""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from rv import keys
from rv.command.dag import CommandPlan, PlannedCommand
from rv.command.run_command import PLANNED_AT_ENV
from rv_slurm.slurm_settings import SlurmSettings

#: commands that ask for GPUs (``--gres=gpu:N``) and the GPU partition; the others for CPUs only
GPU_COMMANDS = frozenset({keys.TRAIN, keys.PREDICT})
#: the record of a command's job, beside its stamp: ``<command dir>/slurm-job.json``
JOB_RECORD_NAME = "slurm-job.json"
#: Slurm truncates longer job names in squeue's default view; rv keeps them short and unique
MAX_JOB_NAME_LENGTH = 100


@dataclass(frozen=True)
class SlurmJob:
    """One command to run as an sbatch job.

    Attributes:
        index: the command's index in the plan.
        name: the job name (``<experiment>-<command>[-<key>]``).
        options: the ``#SBATCH`` options (without the prefix), dependency excluded.
        argv: what the job runs: ``python -m rv run_command <config URI>``.
        depends_on: plan indices of the parents run in the same run.
        log_path: the job's log (stdout and stderr; ``%j`` is the job id).
        script: the whole job script.
        planned: the planned command.
    """

    index: int
    name: str
    options: list[str]
    argv: list[str]
    depends_on: list[int]
    log_path: str
    script: str
    planned: PlannedCommand = field(repr=False, compare=False)

    @property
    def record_uri(self) -> str:
        """``<command dir>/slurm-job.json``: the job id of the command's latest submission."""
        return job_record_uri(self.planned)

    def log_for(self, job_id: str) -> str:
        """The log path of this job once submitted as ``job_id``."""
        return self.log_path.replace("%j", str(job_id))

    def is_gpu(self) -> bool:
        return self.planned.config.command_type in GPU_COMMANDS


def job_record_uri(planned: PlannedCommand) -> str:
    from rv import file_utils

    return file_utils.join(planned.config.command_uri, JOB_RECORD_NAME)


def job_name(planned: PlannedCommand) -> str:
    """The job name of a command: ``<experiment id>-<command>[-<key>]``
    (:func:`rv.runner.runner.cluster_job_name`; letters, digits, ``_``, ``.`` and ``-``)."""
    from rv.runner.runner import cluster_job_name

    return cluster_job_name(planned, "A-Za-z0-9_.-", MAX_JOB_NAME_LENGTH)


def log_path(planned: PlannedCommand, name: str, settings: SlurmSettings) -> str:
    """Where the job writes its output: ``[SLURM] log_dir``, else beside the command's outputs when local.

    A job cannot write its log to an object store, so for a remote root the
    log goes to ``./rv-slurm-logs`` (under the working directory, which
    must be on a file system the compute nodes share).
    """
    from rv import file_utils

    if settings.log_dir:
        folder = os.path.abspath(os.path.expanduser(settings.log_dir))
        return posixpath.join(folder, f"{name}-%j.log")
    command_uri = planned.config.command_uri
    if file_utils.is_local(command_uri):
        folder = os.path.abspath(command_uri.removeprefix("file://"))
        return posixpath.join(folder, "slurm-%j.log")
    return posixpath.join(os.path.abspath("rv-slurm-logs"), f"{name}-%j.log")


def render_script(
    planned: PlannedCommand,
    name: str,
    options: Sequence[str],
    argv: Sequence[str],
    log: str,
    settings: SlurmSettings,
    planned_at: float,
) -> str:
    """The job script: ``#SBATCH`` lines, the setup lines, then ``exec python -m rv run_command <uri>``."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --output={log}"]
    lines += [f"#SBATCH {option}" for option in options]
    lines.append(f"# rv: {planned.name} (experiment {', '.join(planned.experiment_ids)})")
    lines.append("set -e")
    if settings.setup:
        lines.append("# [SLURM] setup")
        lines.extend(settings.setup.splitlines())
    # Tells run_command when this run was planned: a stamp written later came from another run.
    lines.append(f"export {PLANNED_AT_ENV}={planned_at!r}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    return "\n".join(lines) + "\n"


def plan_slurm_jobs(plan: CommandPlan, settings: SlurmSettings) -> list[SlurmJob]:
    """The sbatch jobs of the commands of ``plan`` that run, in the plan's (topological) order."""
    to_run = {i for i, pc in enumerate(plan.commands) if pc.status == "run"}
    jobs = []
    for i in sorted(to_run):
        pc = plan.commands[i]
        gpu = pc.config.command_type in GPU_COMMANDS
        name = job_name(pc)
        options = settings.options_for(gpu)
        argv = [*settings.python_argv(), "run_command", pc.config.config_uri]
        log = log_path(pc, name, settings)
        jobs.append(
            SlurmJob(
                index=i,
                name=name,
                options=options,
                argv=argv,
                depends_on=[d for d in pc.depends_on if d in to_run],
                log_path=log,
                script=render_script(pc, name, options, argv, log, settings, plan.made_at),
                planned=pc,
            )
        )
    return jobs


def dependency_option(parent_job_ids: Sequence[str]) -> list[str]:
    """sbatch's options for running after ``parent_job_ids`` succeeded (none without parents).

    ``--kill-on-invalid-dep=yes`` cancels the job when a parent fails, instead
    of leaving it pending forever (reason ``DependencyNeverSatisfied``).
    """
    if not parent_job_ids:
        return []
    return [f"--dependency=afterok:{':'.join(parent_job_ids)}", "--kill-on-invalid-dep=yes"]


def dry_run_text(jobs: Sequence[SlurmJob]) -> str:
    """The ``-n`` listing: the dependency graph, then every job script inside the sbatch call that submits it.

    The part after the graph is valid bash: pasted into a shell, it submits
    the same jobs with the same dependencies.
    """
    names = {job.index: job.name for job in jobs}
    lines = [f"# Slurm jobs ({len(jobs)}), not submitted (-n):"]
    for job in jobs:
        depends = ", ".join(f"{names[i]}" for i in job.depends_on) or "-"
        lines.append(f"#   {job.name}  ({job.planned.name})  after: {depends}")
    for job in jobs:
        parents = [f"${{{_shell_name(names[i])}}}" for i in job.depends_on]
        submit = ["sbatch", "--parsable", *dependency_option(parents)]
        lines.append("")
        lines.append(f"{_shell_name(job.name)}=$({' '.join(submit)} <<'EOF'")
        lines.append(job.script.rstrip("\n"))
        lines.append("EOF")
        lines.append(")")
    return "\n".join(lines)


def _shell_name(name: str) -> str:
    return "JOB_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
