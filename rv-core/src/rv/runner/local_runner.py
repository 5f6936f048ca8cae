"""The ``local`` runner: each command as ``rv run_command <uri>`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rv.command.dag import CommandPlan, PlannedCommand
from rv.command.run_command import PLANNED_AT_ENV
from rv.errors import RunnerError
from rv.runner.runner import Runner, RunOptions, write_command_configs


def run_command_argv(config_uri: str, tmp_dir: str | None = None) -> list[str]:
    """The argv that runs one command: the same path a remote runner uses."""
    argv = [sys.executable, "-m", "rv", "run_command", config_uri]
    if tmp_dir:
        argv[3:3] = ["--tmpdir", tmp_dir]
    return argv


class LocalRunner(Runner):
    """Run the graph on this machine; ``-j N`` runs independent commands in parallel."""

    def run(self, plan: CommandPlan, options: RunOptions) -> None:
        todo = plan.to_run()
        if not todo:
            print("rv: nothing to run: every command's outputs exist from an identical config (use -r to rerun).", file=sys.stderr)
            return
        write_command_configs(plan)
        from rv.settings import tmp_dir

        base = options.tmp_dir or tmp_dir()
        os.makedirs(base, exist_ok=True)
        # Logs outlive the run (the failure message points at them), so not a TemporaryDirectory.
        log_dir = Path(tempfile.mkdtemp(prefix="rv-logs-", dir=base))
        index = {id(pc): i for i, pc in enumerate(plan.commands)}
        done: set[int] = {i for i, pc in enumerate(plan.commands) if pc.status != "run"}
        running: dict[int, tuple[subprocess.Popen, threading.Thread, Path]] = {}
        pending = [index[id(pc)] for pc in todo]
        parallel = max(1, options.parallelism)
        lock = threading.Lock()
        status = _StatusDisplay(plan, todo)

        def pump(proc: subprocess.Popen, log_path: Path, i: int, prefix: str) -> None:
            with open(log_path, "w") as log:
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    with lock:
                        sys.stdout.write(prefix + line if parallel > 1 else line)
                        sys.stdout.flush()
                        status.output(i, line)

        with status:
            failure = self._loop(plan, options, pending, running, done, log_dir, parallel, pump, status)
        if failure is not None:
            pc, log_path, code = failure
            raise RunnerError(
                f"{pc.config.command_type} {pc.config.key} (experiment {', '.join(pc.experiment_ids)}) failed "
                f"with exit code {code}. Its log is {log_path}; its config is {pc.config.config_uri} "
                f"(rerun it alone with: rv run_command {pc.config.config_uri}). Commands after it were not run."
            )

    def _loop(self, plan, options, pending, running, done, log_dir, parallel, pump, status):
        """Start commands whose dependencies are done, up to ``parallel`` at once; stop at the first failure."""
        failure: tuple[PlannedCommand, Path, int] | None = None
        while pending or running:
            if failure is None:
                for i in list(pending):
                    if len(running) >= parallel:
                        break
                    pc = plan.commands[i]
                    if all(d in done for d in pc.depends_on):
                        pending.remove(i)
                        log_path = log_dir / f"{pc.config.command_type.lower()}-{pc.config.key}.log"
                        status.start(i)
                        env = dict(os.environ, PYTHONUNBUFFERED="1", **{PLANNED_AT_ENV: repr(plan.made_at)})
                        proc = subprocess.Popen(
                            run_command_argv(pc.config.config_uri, options.tmp_dir),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True,
                            env=env,
                        )
                        t = threading.Thread(target=pump, args=(proc, log_path, i, f"[{pc.name}] "), daemon=True)
                        t.start()
                        running[i] = (proc, t, log_path)
            elif not running:
                break
            finished = [i for i, (p, _, _) in running.items() if p.poll() is not None]
            if not finished:
                time.sleep(0.05)
                continue
            for i in finished:
                proc, t, log_path = running.pop(i)
                t.join()
                pc = plan.commands[i]
                if proc.returncode == 0:
                    done.add(i)
                    status.finish(i, ok=True)
                else:
                    status.finish(i, ok=False, log_path=log_path)
                    if failure is None:
                        failure = (pc, log_path, proc.returncode)
        return failure


class _StatusDisplay:
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

    def __enter__(self) -> _StatusDisplay:
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

    def finish(self, i: int, ok: bool, log_path: Path | None = None) -> None:
        seconds = time.monotonic() - self.started.get(i, time.monotonic())
        state = f"done ({seconds:.1f} s)" if ok else f"failed after {seconds:.1f} s (log: {log_path})"
        if self.progress is not None:
            self._describe(i, state)
            self.progress.update(self.rows[i], total=1, completed=1)
        else:
            print(f"rv: [{self.plan.commands[i].name}] {state}", file=sys.stderr, flush=True)
