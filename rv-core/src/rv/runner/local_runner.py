"""The ``local`` runner: each command as ``rv run_command <uri>`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from graphlib import TopologicalSorter

from rv.command.dag import RUN, CommandPlan, PlannedCommand
from rv.command.run_command import PLANNED_AT_ENV, command_log_uri
from rv.run_output import CRASH_LOG_LINES, RunRecord, current_run, write_crash_log
from rv.runner.runner import CommandStatusDisplay, HereRunner, RunOptions, command_failed_error


def run_command_argv(config_uri: str, tmp_dir: str | None = None) -> list[str]:
    """The argv that runs one command: the same path a remote runner uses."""
    argv = [sys.executable, "-m", "rv", "run_command", config_uri]
    if tmp_dir:
        argv[3:3] = ["--tmpdir", tmp_dir]
    return argv


class LocalRunner(HereRunner):
    """Run the graph on this machine; ``-j N`` runs independent commands in parallel."""

    def execute(self, plan: CommandPlan, todo: list[PlannedCommand], options: RunOptions) -> None:
        from rv.settings import tmp_dir

        base = options.tmp_dir or tmp_dir()
        os.makedirs(base, exist_ok=True)
        # Each command writes its own log.txt beside its outputs; this process only chooses what the
        # console shows of their output (each warning once per run) and keeps no log of its own.
        record = current_run() or RunRecord(options.verbosity)
        parallel = max(1, options.parallelism)
        status = CommandStatusDisplay(plan, todo)
        with status:
            failure = _Execution(plan, options, record, parallel, status).run()
        if failure is not None:
            pc, log_path, code = failure
            raise command_failed_error(pc, f"with exit code {code}", log_path)


class _Execution:
    """One run of the local runner: a :class:`graphlib.TopologicalSorter` over the commands to run
    hands the ready ones to a pool of ``parallel`` threads, each of which runs one command's
    subprocess and streams its output; the first failure stops new starts."""

    def __init__(
        self, plan: CommandPlan, options: RunOptions, record: RunRecord, parallel: int, status: CommandStatusDisplay
    ) -> None:
        self.plan = plan
        self.options = options
        self.record = record
        self.parallel = parallel
        self.status = status
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> tuple[PlannedCommand, str, int] | None:
        """Run every command of the plan whose status is ``run``; the first failure, if any."""
        plan = self.plan
        to_run = {i for i, pc in enumerate(plan.commands) if pc.status == RUN}
        # Skipped commands are done already: only the dependencies among commands to run count.
        sorter: TopologicalSorter[int] = TopologicalSorter(
            {i: [d for d in plan.commands[i].depends_on if d in to_run] for i in to_run}
        )
        sorter.prepare()
        failure: tuple[PlannedCommand, str, int] | None = None
        running: dict[Future, int] = {}
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="rv-command") as pool:
            while sorter.is_active():
                if failure is None:
                    # Plan order among the ready ones: the pool starts them first come, first served.
                    for i in sorted(sorter.get_ready()):
                        running[pool.submit(self._run_one, i)] = i
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=running.__getitem__):
                    i = running.pop(future)
                    if future.cancelled():
                        continue
                    code, log_path = future.result()
                    if code == 0:
                        sorter.done(i)
                    elif failure is None:
                        failure = (plan.commands[i], log_path, code)
                        self.stop.set()  # commands waiting for a free slot do not start
                        for f in running:
                            f.cancel()
        return failure

    def _run_one(self, i: int) -> tuple[int, str | None]:
        """Run command ``i`` in a subprocess; its exit code and log (-1 and ``None``: not started, the run is stopping)."""
        pc = self.plan.commands[i]
        if self.stop.is_set():
            return -1, None
        log_path = command_log_uri(pc.config.config_uri)  # the command writes it
        with self.lock:
            self.status.start(i)
        env = dict(os.environ, PYTHONUNBUFFERED="1", **{PLANNED_AT_ENV: repr(self.plan.made_at)})
        proc = subprocess.Popen(
            run_command_argv(pc.config.config_uri, self.options.tmp_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        prefix = f"[{pc.name}] "
        tail: deque[str] = deque(maxlen=CRASH_LOG_LINES)
        for line in proc.stdout:
            tail.append(line)
            with self.lock:
                if self.record.relay(line):
                    sys.stdout.write(prefix + line if self.parallel > 1 else line)
                    sys.stdout.flush()
                self.status.output(i, line)
        code = proc.wait()
        if code < 0:  # killed by a signal: the command had no chance to write its log
            write_crash_log(log_path, tail, code)
        with self.lock:
            if code == 0:
                self.status.finish(i, ok=True)
            else:
                self.status.finish(i, ok=False, log_path=log_path)
        return code, log_path
