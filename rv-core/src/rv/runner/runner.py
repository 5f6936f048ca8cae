"""The Runner base class."""

from __future__ import annotations

from abc import ABC, abstractmethod

import attrs

from rv.command.dag import CommandPlan


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
    ``rv run_command <uri>`` for each command somewhere, respecting
    ``depends_on``.
    """

    @abstractmethod
    def run(self, plan: CommandPlan, options: RunOptions) -> None:
        """Run the commands of ``plan`` whose status is ``run``."""


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
