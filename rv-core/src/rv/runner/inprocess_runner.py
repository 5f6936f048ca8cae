"""The ``inprocess`` runner: every command of the graph in the calling process, one after the other.

Each command runs from its ``command-config.json`` through
:func:`rv.command.run_command.run_command`, as ``rv run_command`` runs it in
the ``local`` runner's subprocess: the same loading and plugin checks, the
same lock on its outputs, the same stamp. What differs is what a process
costs: torch and the plugins are imported once for the whole run, and a
backend may keep what one command made for the next (rv-pytorch hands the
network TRAIN has just written to PREDICT instead of reading it back). That
suits quick runs, notebooks and debugging (a breakpoint in a command stops
right there). The ``local`` runner keeps a subprocess per command for
isolation (a crash, a leak or a global setting stays in its command) and
for ``-j``.
"""

from __future__ import annotations

import sys
import traceback

from rv.command.dag import CommandPlan, PlannedCommand
from rv.errors import RVError
from rv.runner.runner import CommandStatusDisplay, HereRunner, RunOptions, command_failed_error


class InProcessRunner(HereRunner):
    """Run the graph in this process, one command after another (torch imported once, TRAIN's network
    handed to PREDICT); stop at the first command that fails. For quick runs, notebooks and debugging."""

    def execute(self, plan: CommandPlan, todo: list[PlannedCommand], options: RunOptions) -> None:
        from rv.command.run_command import command_log_uri, run_command

        if options.parallelism > 1:
            print(
                f"rv: the inprocess runner runs one command at a time; -j {options.parallelism} is ignored "
                f"(rv run local -j {options.parallelism} runs independent commands in parallel).",
                file=sys.stderr,
                flush=True,
            )
        index = {id(pc): i for i, pc in enumerate(plan.commands)}
        # plan.commands is in topological order: each command's dependencies come before it.
        with CommandStatusDisplay(plan, todo) as status:
            for pc in todo:
                i = index[id(pc)]
                status.start(i)
                try:
                    run_command(pc.config.config_uri, options.tmp_dir, planned_at=plan.made_at)
                except Exception as e:
                    log_path = command_log_uri(pc.config.config_uri)  # run_command wrote it, error included
                    status.finish(i, ok=False, log_path=log_path)
                    if not isinstance(e, RVError):
                        # Not one of rv's explained errors: the traceback is what the local
                        # runner's log would hold, so it is shown before the run stops.
                        traceback.print_exc(file=sys.stderr)
                    cause = str(e) if isinstance(e, RVError) else f"{type(e).__name__}: {e}"
                    raise command_failed_error(pc, f"in this process: {cause.rstrip().rstrip('.')}", log_path) from e
                status.finish(i, ok=True)
