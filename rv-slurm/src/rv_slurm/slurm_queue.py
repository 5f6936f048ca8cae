"""Slurm's commands as rv uses them: ``sbatch`` to submit, ``squeue``/``sacct`` for states, ``scancel``.

Everything goes through the command-line tools (what a login node has), with
the environment of ``rv run`` (so ``SLURM_CONF`` and the like apply).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rv.errors import RunnerError

#: states of a job that has not ended: a rerun does not resubmit its command, a waiting run keeps waiting
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "CONFIGURING",
        "COMPLETING",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SUSPENDED",
        "STAGE_OUT",
        "SIGNALING",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
COMPLETED = "COMPLETED"
#: a job no longer known to squeue or sacct (ended long ago, or accounting is off)
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class JobState:
    """A job's state as Slurm reports it (``PENDING``, ``RUNNING``, ``COMPLETED``, ``FAILED``, ...)."""

    job_id: str
    state: str
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def completed(self) -> bool:
        return self.state == COMPLETED


def _run(argv: Sequence[str], what: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=120)
    except FileNotFoundError as exc:
        raise RunnerError(
            f"The Slurm command {argv[0]!r} is not on PATH, so rv cannot {what}. Run `rv run slurm` on a login "
            "node of the cluster (where sbatch, squeue and sacct are installed), or add Slurm's bin folder to PATH."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise RunnerError(
            f"`{' '.join(argv)}` did not answer within 120 s, so rv cannot {what}. Is slurmctld reachable "
            "(`scontrol ping`)?"
        ) from exc
    if check and result.returncode != 0:
        raise RunnerError(
            f"`{' '.join(argv)}` failed (exit code {result.returncode}) when rv tried to {what}: "
            f"{(result.stderr or result.stdout).strip()}. Check the [SLURM] settings (partition, account, qos, "
            "time, mem, gpus) against `sinfo` and your allocation, and that slurmctld answers (`scontrol ping`)."
        )
    return result


def submit(script: str, options: Sequence[str] = (), what: str = "submit a job") -> str:
    """Submit ``script`` (given on stdin) with ``options`` before it; return the job id."""
    result = _run(["sbatch", "--parsable", *options], what, stdin=script)
    job_id = result.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise RunnerError(f"sbatch answered {result.stdout.strip()!r} instead of a job id when rv tried to {what}.")
    return job_id


def cancel(job_ids: Iterable[str]) -> None:
    """``scancel`` the jobs (best effort: a job that already ended is no error)."""
    ids = [str(i) for i in job_ids]
    if ids:
        _run(["scancel", *ids], "cancel jobs", check=False)


def job_states(job_ids: Iterable[str]) -> dict[str, JobState]:
    """The state of each job: from ``squeue`` while slurmctld remembers it, else from ``sacct``.

    A job neither knows (ended before ``MinJobAge``, and no accounting
    database) is :data:`UNKNOWN`. An array job (``123`` whose tasks Slurm
    lists as ``123_0``, ``123_[1-3]``) has the state of its tasks together:
    active while one is, ``COMPLETED`` when all are, else a task's failure.
    """
    ids = sorted({str(i) for i in job_ids}, key=int)
    states: dict[str, JobState] = {}
    if not ids:
        return states
    result = _run(
        ["squeue", "--noheader", "--states=all", f"--jobs={','.join(ids)}", "--format=%i|%T|%r"],
        "ask squeue for the state of the jobs",
        check=False,
    )
    if result.returncode != 0:  # one id unknown makes squeue refuse them all: ask one by one
        lines = []
        for job_id in ids:
            one = _run(
                ["squeue", "--noheader", "--states=all", f"--jobs={job_id}", "--format=%i|%T|%r"],
                "ask squeue for the state of a job",
                check=False,
            )
            lines.extend(one.stdout.splitlines() if one.returncode == 0 else [])
    else:
        lines = result.stdout.splitlines()
    tasks: dict[str, list[JobState]] = {}
    for line in lines:
        parts = line.strip().split("|")
        base = parts[0].split("_")[0]
        if len(parts) >= 2 and base in ids:
            tasks.setdefault(base, []).append(
                JobState(base, parts[1].strip(), parts[2].strip() if len(parts) > 2 else "")
            )
    states.update({job_id: _together(found) for job_id, found in tasks.items()})
    missing = [i for i in ids if i not in states]
    if missing:
        result = _run(
            [
                "sacct",
                "--noheader",
                "--parsable2",
                "--allocations",
                f"--jobs={','.join(missing)}",
                "--format=JobID,State",
            ],
            "ask sacct for the state of the jobs",
            check=False,
        )
        if result.returncode == 0:
            tasks = {}
            for line in result.stdout.splitlines():
                parts = line.strip().split("|")
                base = parts[0].split("_")[0]
                if len(parts) >= 2 and base in missing:
                    # sacct writes "CANCELLED by 0"
                    tasks.setdefault(base, []).append(JobState(base, parts[1].split()[0] if parts[1] else UNKNOWN))
            states.update({job_id: _together(found) for job_id, found in tasks.items()})
    for job_id in ids:
        states.setdefault(job_id, JobState(job_id, UNKNOWN))
    return states


def _together(tasks: Sequence[JobState]) -> JobState:
    """One state for a job's lines (one line, or an array job's tasks)."""
    active = [t for t in tasks if t.active]
    if active:
        return next((t for t in active if t.state == "RUNNING"), active[0])
    return next((t for t in tasks if not t.completed), tasks[0])
