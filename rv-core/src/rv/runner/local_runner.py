"""The ``local`` runner: each command as ``rv run_command <uri>`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rv.command.dag import CommandPlan, PlannedCommand
from rv.command.run_command import PLANNED_AT_ENV
from rv.runner.runner import (
    CommandStatusDisplay,
    Runner,
    RunOptions,
    command_failed_error,
    say_nothing_to_run,
    write_command_configs,
)


def run_command_argv(config_uri: str, tmp_dir: str | None = None) -> list[str]:
    """The argv that runs one command: the same path a remote runner uses."""
    argv = [sys.executable, "-m", "rv", "run_command", config_uri]
    if tmp_dir:
        argv[3:3] = ["--tmpdir", tmp_dir]
    return argv


class LocalRunner(Runner):
    """Run the graph on this machine; ``-j N`` runs independent commands in parallel."""

    runs_here = True

    def run(self, plan: CommandPlan, options: RunOptions) -> None:
        todo = plan.to_run()
        if not todo:
            say_nothing_to_run()
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
        status = CommandStatusDisplay(plan, todo)

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
            raise command_failed_error(pc, f"with exit code {code}", log_path)

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
