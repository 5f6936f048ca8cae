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
        planned: the planned command (an array job's first part).
        members: an array job's parts (plan indices of the parts of one split command); empty for a
            job that runs one command.
        array: an array job's ``--array`` value (its task ids are the parts' numbers), else ``""``.
    """

    index: int
    name: str
    options: list[str]
    argv: list[str]
    depends_on: list[int]
    log_path: str
    script: str
    planned: PlannedCommand = field(repr=False, compare=False)
    members: tuple[PlannedCommand, ...] = field(default=(), repr=False, compare=False)
    array: str = ""

    @property
    def record_uri(self) -> str:
        """``<command dir>/slurm-job.json``: the job id of the command's latest submission (an array
        job's: ``<command dir>/splits/slurm-job.json``)."""
        if self.array:
            from rv import file_utils
            from rv.command.split import SPLITS_DIR

            return file_utils.join(self.planned.config.output_dir, SPLITS_DIR, JOB_RECORD_NAME)
        return job_record_uri(self.planned)

    @property
    def description(self) -> str:
        """What the job runs: ``CHIP key``, or ``CHIP key, parts 1-2 of 2`` for an array job."""
        if not self.members:
            return self.planned.name
        from rv.command.split import parts_description

        return parts_description([pc.config for pc in self.members])

    def commands(self) -> tuple[PlannedCommand, ...]:
        """The commands the job runs: its one command, or an array job's parts."""
        return self.members or (self.planned,)

    def config_hash(self) -> str:
        """The hash recorded with the job: its command's config hash, or one over an array job's parts."""
        if not self.members:
            return self.planned.config.config_hash()
        import hashlib

        return hashlib.sha256(":".join(pc.config.config_hash() for pc in self.members).encode()).hexdigest()

    def log_for(self, job_id: str) -> str:
        """The log path of this job once submitted as ``job_id`` (an array job's: that of its first task)."""
        first = self.array.split(",")[0].split("-")[0]
        return self.log_path.replace("%j", str(job_id)).replace("%A", str(job_id)).replace("%a", first)

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


def log_path(planned: PlannedCommand, name: str, settings: SlurmSettings, array: bool = False) -> str:
    """Where the job writes its output: ``[SLURM] log_dir``, else beside the command's outputs when local.

    A job cannot write its log to an object store, so for a remote root the
    log goes to ``./rv-slurm-logs`` (under the working directory, which
    must be on a file system the compute nodes share). An array job's tasks
    each write their own (``%A_%a``: the array's job id and the task id),
    beside its parts when local.
    """
    from rv import file_utils
    from rv.command.split import SPLITS_DIR

    job = "%A_%a" if array else "%j"
    if settings.log_dir:
        folder = os.path.abspath(os.path.expanduser(settings.log_dir))
        return posixpath.join(folder, f"{name}-{job}.log")
    command_uri = planned.config.output_dir + (f"/{SPLITS_DIR}" if array else "")
    if file_utils.is_local(command_uri):
        folder = os.path.abspath(command_uri.removeprefix("file://"))
        return posixpath.join(folder, f"slurm-{job}.log")
    return posixpath.join(os.path.abspath("rv-slurm-logs"), f"{name}-{job}.log")


def render_script(
    planned: PlannedCommand,
    name: str,
    options: Sequence[str],
    argv: Sequence[str],
    log: str,
    settings: SlurmSettings,
    planned_at: float,
    description: str | None = None,
) -> str:
    """The job script: ``#SBATCH`` lines, the setup lines, then ``exec python -m rv run_command <uri>``."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --output={log}"]
    lines += [f"#SBATCH {option}" for option in options]
    lines.append(f"# rv: {description or planned.name} (experiment {', '.join(planned.experiment_ids)})")
    lines.append("set -e")
    if settings.setup:
        lines.append("# [SLURM] setup")
        lines.extend(settings.setup.splitlines())
    # Tells run_command when this run was planned: a stamp written later came from another run.
    lines.append(f"export {PLANNED_AT_ENV}={planned_at!r}")
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    return "\n".join(lines) + "\n"


def plan_slurm_jobs(plan: CommandPlan, settings: SlurmSettings) -> list[SlurmJob]:
    """The sbatch jobs of the commands of ``plan`` that run, in the plan's (topological) order.

    The parts of a split command (``rv run --splits``) to run become one array job
    (``--array=0-N-1``): task ``k`` runs part ``k``, reading ``SLURM_ARRAY_TASK_ID``.
    """
    from rv.command.split import array_run_command_args, array_spec, cluster_jobs, parts_description

    jobs = []
    for group, parents in cluster_jobs(plan):
        i = group[0]
        pc = plan.commands[i]
        gpu = pc.config.command_type in GPU_COMMANDS
        options = settings.options_for(gpu)
        if len(group) > 1:
            members = tuple(plan.commands[k] for k in group)
            array = array_spec([m.config.part for m in members])
            name = f"{job_name(pc)[: MAX_JOB_NAME_LENGTH - 6]}-parts"
            options = [*options, f"--array={array}"]
            run_args = array_run_command_args(plan, group, "SLURM_ARRAY_TASK_ID", map_parts=False)
        else:
            members, array, name = (), "", job_name(pc)
            run_args = [pc.config.config_uri]
        argv = [*settings.python_argv(), "run_command", *run_args]
        if not array:
            options, argv = srun_training(pc, settings, options, argv)
        log = log_path(pc, name, settings, array=bool(array))
        jobs.append(
            SlurmJob(
                index=i,
                name=name,
                options=options,
                argv=argv,
                depends_on=parents,
                log_path=log,
                script=render_script(
                    pc,
                    name,
                    options,
                    argv,
                    log,
                    settings,
                    plan.made_at,
                    parts_description([m.config for m in members]) if members else None,
                ),
                planned=pc,
                members=members,
                array=array,
            )
        )
    return jobs


#: what each task of an ``srun`` TRAIN sets before rv starts: torchrun's variables from Slurm's, the
#: meeting point (loopback on one node, else the job's first node) and a port derived from the job id
SRUN_LAUNCH_ENV = (
    'export RANK="$SLURM_PROCID" LOCAL_RANK="$SLURM_LOCALID" WORLD_SIZE="$SLURM_NTASKS" MASTER_ADDR=127.0.0.1; '
    'if [ "${SLURM_JOB_NUM_NODES:-1}" != 1 ]; then '
    'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"; fi; '
    'export MASTER_PORT="$((20000 + SLURM_JOB_ID % 20000))"; '
)


def training_processes(planned: PlannedCommand, settings: SlurmSettings) -> int:
    """The processes per node of a TRAIN job: its backend's ``num_processes`` (-1: the job's
    ``gpus``); 1 for every other command."""
    if planned.config.command_type != keys.TRAIN:
        return 1
    wanted = int(getattr(getattr(planned.config, "backend", None), "num_processes", 1) or 1)
    return max(settings.gpus, 1) if wanted == -1 else max(wanted, 1)


def srun_training(
    planned: PlannedCommand, settings: SlurmSettings, options: list[str], argv: list[str]
) -> tuple[list[str], list[str]]:
    """A multi-process TRAIN job runs its processes under ``srun`` (``--ntasks-per-node``, one
    per GPU), each with torchrun's variables (:data:`SRUN_LAUNCH_ENV`); process 0 writes the outputs
    and the stamp. Other jobs are left as they are."""
    processes = training_processes(planned, settings)
    if processes <= 1:
        return options, argv
    command = SRUN_LAUNCH_ENV + "exec " + " ".join(shlex.quote(a) for a in argv)
    return [*options, f"--ntasks-per-node={processes}"], ["srun", "--kill-on-bad-exit=1", "bash", "-c", command]


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
        lines.append(f"#   {job.name}  ({job.description})  after: {depends}")
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
