"""The Runner base class and what the runners that run commands on this machine share."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import attrs

from rv.command.dag import CommandPlan, PlannedCommand
from rv.errors import RunnerError


@attrs.define
class RunOptions:
    """Options of ``rv run`` that runners honour."""

    parallelism: int = 1
    tmp_dir: str | None = None
    dry_run: bool = False
    verbosity: int = 0


class Runner(ABC):
    """Executes a :class:`~rv.command.dag.CommandPlan`.

    Every runner first writes each command config to its
    ``command-config.json`` (see :func:`write_command_configs`), then runs
    each command from that file, respecting ``depends_on``: ``rv run_command
    <uri>`` somewhere (a subprocess, a Batch job), or
    :func:`rv.command.run_command.run_command` in this process.
    """

    #: True when :meth:`run` returns with every command finished (``local``,
    #: ``inprocess``), so ``rv run`` reports them run and prints the EVAL
    #: scores; False when it only submits them (``aws_batch``).
    runs_here: ClassVar[bool] = False

    @abstractmethod
    def run(self, plan: CommandPlan, options: RunOptions) -> None:
        """Run the commands of ``plan`` whose status is ``run``."""


class HereRunner(Runner):
    """A runner that runs the commands on this machine (``local``, ``inprocess``): it writes the command
    configs of the commands to run, then hands those commands to :meth:`execute`."""

    runs_here = True

    def run(self, plan: CommandPlan, options: RunOptions) -> None:
        todo = plan.to_run()
        if not todo:
            say_nothing_to_run()
            return
        write_command_configs(plan)
        self.execute(plan, todo, options)

    @abstractmethod
    def execute(self, plan: CommandPlan, todo: list[PlannedCommand], options: RunOptions) -> None:
        """Run ``todo`` (the commands of ``plan`` to run, dependencies first); raise on a failure."""


class ClusterRunner(Runner):
    """A runner that submits each command to run as a job of a cluster's scheduler (``aws_batch``,
    ``slurm``) and returns the job ids.

    A subclass names its scheduler and settings class (read with ``from_settings()`` on first use unless
    given), plans the jobs (:meth:`jobs`), describes them for ``-n`` (:meth:`describe_jobs`) and checks,
    writes and submits them (:meth:`submit`).
    """

    #: the scheduler's name in messages ("AWS Batch", "Slurm")
    scheduler: ClassVar[str]
    #: the settings' class; ``settings_class.from_settings()`` reads rv's settings
    settings_class: ClassVar[Any]

    def __init__(self, settings: Any = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> Any:
        """The scheduler's settings (read on first use)."""
        if self._settings is None:
            self._settings = self.settings_class.from_settings()
        return self._settings

    @abstractmethod
    def jobs(self, plan: CommandPlan) -> list[Any]:
        """The jobs this runner would submit for ``plan``."""

    @abstractmethod
    def describe_jobs(self, jobs: list[Any]) -> str:
        """What ``-n`` prints of ``jobs``."""

    @abstractmethod
    def submit(self, plan: CommandPlan, options: RunOptions) -> list[str]:
        """Check, write the command configs and submit the jobs of the commands to run; return the job ids."""

    def dry_run(self, plan: CommandPlan, options: RunOptions) -> None:
        """Print the jobs; write and submit nothing."""
        if not plan.to_run():
            print(f"{self.scheduler} jobs: none (every command's outputs exist from an identical config).")
            return
        print(self.describe_jobs(self.jobs(plan)))

    def run(self, plan: CommandPlan, options: RunOptions) -> list[str]:  # type: ignore[override]
        """Submit one job per command to run (nothing with ``-n``); return the job ids."""
        if options.dry_run:
            self.dry_run(plan, options)
            return []
        if not plan.to_run():
            print(
                "rv: nothing to submit: every command's outputs exist from an identical config (use -r to rerun).",
                file=sys.stderr,
            )
            return []
        return self.submit(plan, options)


def write_command_configs(plan: CommandPlan) -> list[str]:
    """Write every command to run to ``<command_uri>/command-config.json``.

    Its ``plugins`` include the distribution of the command's implementation
    (:func:`rv.command.run_command.command_config_json`).
    """
    from rv import file_utils
    from rv.command.run_command import command_config_json

    uris = []
    for pc in plan.to_run():
        file_utils.write_text(pc.config.config_uri, command_config_json(pc.config))
        uris.append(pc.config.config_uri)
    return uris


def write_experiment_configs(experiments) -> None:
    """Write each experiment to ``<root>/experiments/<id>.json``."""
    from rv import file_utils
    from rv.serialization import config_to_json

    for exp in experiments:
        file_utils.write_text(f"{exp.root_uri.rstrip('/')}/experiments/{exp.id}.json", config_to_json(exp.resolved()))


def say_nothing_to_run() -> None:
    """What a runner prints when every command of the plan is up to date."""
    print(
        "rv: nothing to run: every command's outputs exist from an identical config (use -r to rerun).", file=sys.stderr
    )


def command_failed_error(pc: PlannedCommand, how: str, log_path: Path | str | None = None) -> RunnerError:
    """The error that stops a run when ``pc`` failed ``how`` (``"with exit code 1"``, ``"in this process: ..."``).

    It names the command, its experiments, where its output was logged (when
    it was), its config and the command that reruns it alone.
    """
    uri = pc.config.config_uri
    where = f"Its log is {log_path}; its config is" if log_path else "Its config is"
    return RunnerError(
        f"{pc.config.command_type} {pc.config.key} (experiment {', '.join(pc.experiment_ids)}) failed {how}. "
        f"{where} {uri} (rerun it alone with: rv run_command {uri}). Commands after it were not run."
    )


class CommandStatusDisplay:
    """One line per command: a rich row (spinner, status, elapsed time) on a terminal, plain lines otherwise.

    Bars follow :func:`rv.progress.display_mode` (a terminal, or
    ``RV_PROGRESS=1``). Without them — CI logs, a batch job, tests — each
    command gets a ``rv: [CHIP key] starting`` and a ``... done (12.3 s)``
    (or ``failed``) line on stderr, between its streamed output.
    """

    def __init__(self, plan: CommandPlan, todo: list[PlannedCommand]) -> None:
        from rv.progress import display_mode

        self.plan = plan
        self.todo = todo
        self.bars = display_mode() == "bars"
        self.started: dict[int, float] = {}
        self.rows: dict[int, int] = {}
        self.width = 0
        self.progress: Any = None

    def __enter__(self) -> CommandStatusDisplay:
        if self.bars:
            from rv.progress import Progress

            self.progress = Progress().__enter__()
            index = {id(pc): i for i, pc in enumerate(self.plan.commands)}
            self.width = max(len(pc.name) for pc in self.todo)
            for pc in self.todo:  # every command to run has its row from the start: waiting, running, done
                self.rows[index[id(pc)]] = self.progress.add_task(f"{pc.name:<{self.width}}  waiting", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            for i in self.rows:
                if i not in self.started:  # an earlier command failed (or the run was interrupted)
                    self._describe(i, "not run")
            self.progress.__exit__(*exc)

    def _describe(self, i: int, state: str) -> None:
        if self.progress is not None:
            self.progress.update(self.rows[i], description=f"{self.plan.commands[i].name:<{self.width}}  {state}")

    def start(self, i: int) -> None:
        self.started[i] = time.monotonic()
        if self.progress is not None:
            self._describe(i, "running")
        else:
            print(f"rv: [{self.plan.commands[i].name}] starting", file=sys.stderr, flush=True)

    def output(self, i: int, line: str) -> None:
        """The command's latest output line, shown in its row (bars only)."""
        text = line.strip()
        if self.progress is not None and text:
            self._describe(i, "running: " + (text if len(text) <= 60 else text[:59] + "…"))

    def finish(self, i: int, ok: bool, log_path: str | Path | None = None) -> None:
        seconds = time.monotonic() - self.started.get(i, time.monotonic())
        state = (
            f"done ({seconds:.1f} s)"
            if ok
            else f"failed after {seconds:.1f} s" + (f" (log: {log_path})" if log_path else "")
        )
        if self.progress is not None:
            self._describe(i, state)
            self.progress.update(self.rows[i], total=1, completed=1)
        else:
            print(f"rv: [{self.plan.commands[i].name}] {state}", file=sys.stderr, flush=True)


def cluster_job_name(planned: PlannedCommand, allowed: str = "A-Za-z0-9_-", max_length: int = 128) -> str:
    """A scheduler's job name for a command: ``<experiment id>-<command>[-<key>]``.

    The key is added when it differs from the experiment id (a CHIP shared
    by several experiments under its own key). Characters outside
    ``allowed`` (a regex character class body) become ``-``; a name over
    ``max_length`` is cut and ends with a hash of the whole, so different
    commands keep different names. Runners of clusters (AWS Batch, Slurm)
    name their jobs with it, each with its scheduler's rules.
    """
    config = planned.config
    experiment = planned.experiment_ids[0] if planned.experiment_ids else config.experiment_id
    parts = [p for p in (experiment, config.command_type.lower()) if p]
    if config.key and config.key != experiment:
        parts.append(config.key)
    full = "-".join(parts)
    edges = "-_" + ("." if "." in allowed else "")
    name = re.sub(rf"[^{allowed}]+", "-", full).strip(edges)
    if not name[:1].isalnum():
        name = f"rv-{name}".rstrip("-")
    if len(name) > max_length:
        digest = hashlib.sha1(full.encode()).hexdigest()[:8]
        name = f"{name[: max_length - 9].rstrip(edges)}-{digest}"
    return name
