"""The ``slurm`` runner: each command of the plan becomes an sbatch job.

``rv run slurm experiment.py`` plans the command graph as usual, then this
runner:

1. turns every command to run into a :class:`~rv_slurm.job_script.SlurmJob`:
   a job script named after the experiment and the command that runs
   ``python -m rv run_command <command-config URI>`` (the Python of
   ``rv run``, or ``[SLURM] python``) after the ``[SLURM] setup`` lines, with
   GPUs (``--gres=gpu:N``) and the GPU partition for TRAIN and PREDICT and
   CPUs only for the rest, and the partition, account, QoS, time limit,
   memory and extra ``#SBATCH`` lines of the ``[SLURM]`` settings;
2. reads ``<command dir>/slurm-job.json`` of each command: when it names a
   job of the same command config that is still queued or running
   (``squeue``/``sacct``), the command is not submitted again and its
   dependants wait for that job;
3. writes the command configs and submits the jobs in topological order,
   each with ``--dependency=afterok:<parent job ids>`` and
   ``--kill-on-invalid-dep=yes`` (a failed job cancels its dependants),
   records each job id in its ``slurm-job.json``, and prints how to watch
   them;
4. with ``[SLURM] wait = true`` (or ``RV_SLURM_WAIT=1``) follows the jobs
   until they end, one status line per command, and names a failed job with
   its log.

``-n`` (:meth:`SlurmRunner.dry_run`) prints the dependency graph and every
job script inside the sbatch call that would submit it; nothing is written
or submitted.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence

from rv.command.dag import CommandPlan
from rv.errors import RunnerError
from rv.runner.runner import ClusterRunner, RunOptions, command_failed_error
from rv_slurm import slurm_queue
from rv_slurm.job_script import SlurmJob, dependency_option, dry_run_text, plan_slurm_jobs
from rv_slurm.slurm_settings import SlurmSettings


class SlurmRunner(ClusterRunner):
    """Run the command graph as Slurm jobs (``rv run slurm``); see the module docstring.

    ``settings`` replaces the ``[SLURM]`` settings (default: read on first use).
    After a run that waited and saw every job complete, :attr:`runs_here` is
    true, so ``rv run`` reports the commands as run and prints the scores.
    """

    runs_here = False
    scheduler = "Slurm"
    settings_class = SlurmSettings

    def jobs(self, plan: CommandPlan) -> list[SlurmJob]:
        """The jobs this runner would submit for ``plan`` (see :func:`rv_slurm.job_script.plan_slurm_jobs`)."""
        return plan_slurm_jobs(plan, self.settings)

    def describe_jobs(self, jobs: list[SlurmJob]) -> str:
        """The dependency graph and the job scripts."""
        return dry_run_text(jobs)

    def submit(self, plan: CommandPlan, options: RunOptions) -> list[str]:
        """Submit one job per command to run (reusing queued or running ones); return the job ids.

        Raises:
            RunnerError: sbatch refused a job (those submitted before it are
                cancelled), a command's config changed while its job is queued
                or running, or (when waiting) a job failed.
        """
        jobs = self.jobs(plan)
        active = self._active_jobs(jobs)
        job_ids = self._submit(plan, jobs, active)
        self._print_how_to_watch(jobs, job_ids)
        if self.settings.wait:
            self.follow(plan, jobs, job_ids)
            self.runs_here = True
        return [job_ids[job.index] for job in jobs]

    # -- reruns ----------------------------------------------------------------

    def _active_jobs(self, jobs: Sequence[SlurmJob]) -> dict[int, dict]:
        """``{plan index: record}`` of the commands whose recorded job is still queued or running."""
        records = {}
        for job in jobs:
            record = read_job_record(job.record_uri)
            if record is not None:
                records[job.index] = record
        if not records:
            return {}
        states = slurm_queue.job_states(r["job_id"] for r in records.values())
        active = {}
        for job in jobs:
            record = records.get(job.index)
            if record is None or not states[record["job_id"]].active:
                continue
            state = states[record["job_id"]].state
            if record.get("hash") != job.config_hash():
                raise RunnerError(
                    f"{job.description} changed since it was submitted as Slurm job {record['job_id']}, which is "
                    f"still {state} (recorded in {job.record_uri}). Cancel it first (`scancel {record['job_id']}`) "
                    "and run again, or wait until it ends."
                )
            active[job.index] = dict(record, state=state)
        return active

    # -- submitting --------------------------------------------------------------

    def _submit(self, plan: CommandPlan, jobs: Sequence[SlurmJob], active: Mapping[int, dict]) -> dict[int, str]:
        from rv import file_utils
        from rv.command.run_command import command_config_json

        job_ids: dict[int, str] = {}
        submitted: list[SlurmJob] = []
        for job in jobs:
            if job.index in active:
                record = active[job.index]
                job_ids[job.index] = record["job_id"]
                print(
                    f"rv: {job.description} is already Slurm job {record['job_id']} ({record['state']}); "
                    "not submitted again",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            for planned in job.commands():
                file_utils.write_text(planned.config.config_uri, command_config_json(planned.config))
            os.makedirs(os.path.dirname(job.log_path), exist_ok=True)  # sbatch does not make the log's folder
            parents = [job_ids[i] for i in job.depends_on]
            try:
                job_id = slurm_queue.submit(
                    job.script, dependency_option(parents), what=f"submit {job.description} as job {job.name}"
                )
            except RunnerError as exc:
                slurm_queue.cancel(job_ids[j.index] for j in submitted)
                cancelled = ", ".join(f"{j.name} ({job_ids[j.index]})" for j in submitted)
                raise RunnerError(
                    f"{exc} "
                    + (
                        f"The jobs submitted before it were cancelled: {cancelled}. "
                        if submitted
                        else "No job was submitted. "
                    )
                    + "Fix the problem and run the same command again (finished commands are not submitted again)."
                ) from exc
            job_ids[job.index] = job_id
            submitted.append(job)
            write_job_record(job, job_id, parents)
            after = ", ".join(parents) or "-"
            print(
                f"rv: submitted {job.description} as Slurm job {job_id} ({job.name}, after: {after}); "
                f"log: {job.log_for(job_id)}",
                file=sys.stderr,
                flush=True,
            )
        return job_ids

    def _print_how_to_watch(self, jobs: Sequence[SlurmJob], job_ids: Mapping[int, str]) -> None:
        ids = ",".join(job_ids[job.index] for job in jobs)
        print(
            f"rv: Slurm jobs {ids}. Watch them with `squeue -u {_user()}` (or `squeue -j {ids}`); "
            f"when they have ended, `sacct -j {ids}`. Run the same `rv run slurm ...` again to submit what failed "
            "or was cancelled: finished commands and queued or running jobs are not submitted again.",
            file=sys.stderr,
            flush=True,
        )

    # -- waiting ---------------------------------------------------------------

    def follow(self, plan: CommandPlan, jobs: Sequence[SlurmJob], job_ids: Mapping[int, str]) -> None:
        """Poll the jobs until every one has ended; raise naming the first failed job and its log.

        A job that ended without its log having been made never started (its
        parent failed and Slurm cancelled it, or it was cancelled while
        queued): it is reported as not run.

        Raises:
            RunnerError: a job ended in any state but ``COMPLETED``.
        """
        from rv.runner.runner import CommandStatusDisplay

        ended: dict[int, slurm_queue.JobState] = {}
        started: set[int] = set()
        with CommandStatusDisplay(plan, [job.planned for job in jobs]) as display:
            while True:
                states = slurm_queue.job_states(job_ids[job.index] for job in jobs if job.index not in ended)
                for job in jobs:
                    if job.index in ended:
                        continue
                    state = _settled(job, states[job_ids[job.index]])
                    if (
                        job.index not in started
                        and (state.state == "RUNNING" or not state.active)
                        and os.path.exists(job.log_for(job_ids[job.index]))
                    ):
                        display.start(job.index)
                        started.add(job.index)
                    if not state.active:
                        ended[job.index] = state
                        if job.index in started:
                            display.finish(
                                job.index,
                                ok=state.completed,
                                log_path=None if state.completed else job.log_for(job_ids[job.index]),
                            )
                if len(ended) == len(jobs):
                    break
                time.sleep(self.settings.poll_seconds)
        failed = [job for job in jobs if job.index in started and not ended[job.index].completed]
        not_run = [job for job in jobs if job.index not in started]
        if not failed and not not_run:
            return
        skipped = "; ".join(
            f"{job.description} (job {job_ids[job.index]}, {ended[job.index].state})" for job in not_run
        )
        if not failed:
            raise RunnerError(
                f"Slurm jobs ended without running: {skipped}. Run the same `rv run slurm ...` again to submit them."
            )
        first = failed[0]
        job_id = job_ids[first.index]
        error = command_failed_error(
            first.planned,
            f"as Slurm job {job_id} ({first.name}), which ended {ended[first.index].state}",
            first.log_for(job_id),
        )
        more = "; ".join(
            f"{job.description} (job {job_ids[job.index]}, {ended[job.index].state}, log "
            f"{job.log_for(job_ids[job.index])})"
            for job in failed[1:]
        )
        raise RunnerError(
            str(error)
            + (f" Also failed: {more}." if more else "")
            + (f" Not run: {skipped}." if skipped else "")
            + " Fix it and run the same `rv run slurm ...` again: finished commands are not submitted again."
        )


def _settled(job: SlurmJob, state: slurm_queue.JobState) -> slurm_queue.JobState:
    """``state``, or for a job Slurm no longer knows, what its stamp says (``COMPLETED`` or ``ENDED``)."""
    if state.state != slurm_queue.UNKNOWN:
        return state
    from rv.command.dag import read_stamp, stamp_is_current

    ok = all(stamp_is_current(pc.config, read_stamp(pc.config.stamp_uri)) for pc in job.commands())
    return slurm_queue.JobState(state.job_id, slurm_queue.COMPLETED if ok else "ENDED")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container
        return "$USER"


def read_job_record(uri: str) -> dict | None:
    """The record at ``uri`` (``<command dir>/slurm-job.json``), or ``None`` when absent or unreadable."""
    from rv import file_utils

    try:
        if not file_utils.exists(uri):
            return None
        record = json.loads(file_utils.read_text(uri))
    except Exception:
        return None
    return record if isinstance(record, dict) and str(record.get("job_id", "")).isdigit() else None


def write_job_record(job: SlurmJob, job_id: str, parent_job_ids: Sequence[str]) -> None:
    """Record the job of a command beside its stamp, so a rerun finds it."""
    from rv import file_utils

    file_utils.write_text(
        job.record_uri,
        json.dumps(
            {
                "job_id": job_id,
                "job_name": job.name,
                "command": job.planned.config.command_type,
                "key": job.planned.config.key,
                "hash": job.config_hash(),
                "log": job.log_for(job_id),
                "after": list(parent_job_ids),
                "submitted_at": time.time(),
            },
            indent=2,
        ),
    )
