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
        failure: tuple[PlannedCommand, Path, int] | None = None
        parallel = max(1, options.parallelism)
        lock = threading.Lock()

        def pump(proc: subprocess.Popen, log_path: Path, prefix: str) -> None:
            with open(log_path, "w") as log:
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    with lock:
                        sys.stdout.write(prefix + line if parallel > 1 else line)
                        sys.stdout.flush()

        while pending or running:
            if failure is None:
                for i in list(pending):
                    if len(running) >= parallel:
                        break
                    pc = plan.commands[i]
                    if all(d in done for d in pc.depends_on):
                        pending.remove(i)
                        log_path = log_dir / f"{pc.config.command_type.lower()}-{pc.config.key}.log"
                        print(f"rv: [{pc.config.command_type} {pc.config.key}] starting", file=sys.stderr, flush=True)
                        env = dict(os.environ, PYTHONUNBUFFERED="1")
                        proc = subprocess.Popen(
                            run_command_argv(pc.config.config_uri, options.tmp_dir),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            text=True,
                            env=env,
                        )
                        t = threading.Thread(target=pump, args=(proc, log_path, f"[{pc.config.command_type} {pc.config.key}] "), daemon=True)
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
                    print(f"rv: [{pc.config.command_type} {pc.config.key}] done", file=sys.stderr, flush=True)
                elif failure is None:
                    failure = (pc, log_path, proc.returncode)
        if failure is not None:
            pc, log_path, code = failure
            raise RunnerError(
                f"{pc.config.command_type} {pc.config.key} (experiment {', '.join(pc.experiment_ids)}) failed "
                f"with exit code {code}. Its log is {log_path}; its config is {pc.config.config_uri} "
                f"(rerun it alone with: rv run_command {pc.config.config_uri}). Commands after it were not run."
            )
