"""Running experiments from Python: what ``rv run`` does, as a function.

::

    import rv

    experiment = MyExperiments().exp_main(root_uri="out")
    plan = rv.run(experiment)                      # every command, in this process
    plan = rv.run(experiment, "predict eval")     # some commands
    rv.run(experiment, runner="local", jobs=2)     # a subprocess per command, two at once

``rv run RUNNER experiment.py`` loads the experiments, then calls
:func:`execute_plan` on the plan it built, as :func:`run` does: the same
input checks, the same skipping of commands whose outputs exist from an
identical config (``rerun=True`` runs them again), the same progress
display, the same ``<root>/experiments/<id>.json`` records, and each warning
said once per run as ``rv: warning: <message>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rv.errors import ConfigError


def make_runner(runner: str) -> Any:
    """A new runner object for a runner key (``local``, ``inprocess``, or one a plugin registers)."""
    from rv.plugins import get_plugin_manager

    value = get_plugin_manager().rv_registry.get("runners", runner)
    if isinstance(value, str):
        from rv.registry import resolve_implementation

        value = resolve_implementation(value, f"runner {runner!r}")
    return value()


def execute_plan(plan: Any, experiments: Sequence[Any], runner: Any, options: Any, check_inputs: bool = True) -> None:
    """Check the inputs (unless ``check_inputs`` is false), run ``plan`` with ``runner`` and record
    each experiment under ``<root>/experiments/``: the part of ``rv run`` after planning."""
    from rv.runner.runner import write_experiment_configs

    if check_inputs and plan.to_run():
        from rv.command.preflight import check_access, preflight

        check_access(plan, experiments)
        preflight(plan)
    runner.run(plan, options)
    write_experiment_configs(experiments)


def _experiment_list(experiments: Any) -> list[Any]:
    from rv.experiment.experiment_config import ExperimentConfig

    items = [experiments] if isinstance(experiments, ExperimentConfig) else list(experiments)
    bad = [type(e).__name__ for e in items if not isinstance(e, ExperimentConfig)]
    if bad or not items:
        raise ConfigError(
            "rv.run takes an ExperimentConfig (what an exp_ method returns) or a list of them; "
            f"got {', '.join(bad) if bad else 'an empty list'}."
        )
    return items


def run(
    experiments: Any,
    commands: Iterable[str] | None = None,
    *,
    runner: str = "inprocess",
    rerun: bool = False,
    check_inputs: bool = True,
    jobs: int = 1,
    tmp_dir: str | None = None,
    splits: int = 1,
    verbosity: int = 0,
):
    """Run ``experiments`` (an :class:`rv.ExperimentConfig` or a list) like ``rv run RUNNER``; return the plan.

    Args:
        experiments: what ``exp_`` methods return.
        commands: the commands to run, default all: a list (``["predict", "eval"]``) or one string
            (``"predict eval"``); upper or lower case.
        runner: ``"inprocess"`` (default: every command in this process, torch imported once),
            ``"local"`` (a subprocess per command, ``jobs`` at once) or a plugin's runner.
        rerun: run commands even when their outputs exist from an identical config.
        check_inputs: check every input file before running (``rv run -x`` turns it off).
        jobs: commands run at once by the ``local`` runner.
        splits: run CHIP, PREDICT (and ANALYZE with the stats analyzer) as that many parts plus a
            merge, as ``rv run --splits`` does.
        tmp_dir: temporary directory of the run.
        verbosity: as ``rv run``: 0 says each kind of warning once, 1 (``-v``) each distinct message,
            -1 (``-q``) none (every command's ``log.txt`` holds them all).

    Returns the :class:`rv.command.dag.CommandPlan`: ``plan.to_run()`` lists
    the commands that ran, the others were up to date. A command that fails
    raises :class:`rv.RunnerError`, naming it and how to rerun it alone.
    """
    from rv import keys
    from rv.command.dag import build_plan
    from rv.runner.runner import RunOptions

    items = _experiment_list(experiments)
    names = None
    if commands is not None:
        if isinstance(commands, str):
            commands = commands.replace(",", " ").split()
        names = [str(c).upper() for c in commands]
        unknown = [c for c in names if c not in keys.ALL_COMMANDS]
        if unknown:
            raise ConfigError(f"Unknown command(s) {', '.join(unknown)}; rv runs {', '.join(keys.ALL_COMMANDS)}.")
    if tmp_dir:
        from rv.settings import set_tmp_dir

        set_tmp_dir(tmp_dir)
    runner_obj = make_runner(runner)
    suggestion = 'rv.run(experiment, "{commands}"' + ("" if runner == "inprocess" else f', runner="{runner}"') + ")"
    from rv.run_output import python_warnings_as_rvs, recording_run

    # As in `rv run`: each warning said once per run, as rv's (`rv: warning: ...`), not in Python's format.
    with recording_run(int(verbosity)), python_warnings_as_rvs():
        plan = build_plan(
            items, names, rerun=rerun, check_inputs=check_inputs, command_line=suggestion, splits=int(splits)
        )
        options = RunOptions(parallelism=int(jobs), tmp_dir=tmp_dir, verbosity=int(verbosity))
        execute_plan(plan, items, runner_obj, options, check_inputs=check_inputs)
    return plan
