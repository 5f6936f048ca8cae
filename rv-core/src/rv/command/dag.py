"""The command graph: dedupe, edges, order, input check and skipping.

X → Y when Y reads what X writes. Equal commands (type, inputs, outputs)
across experiments run once. A command is skipped when all its outputs exist
*and* its stamp records the hash of an identical command config; a changed
config reruns it and everything downstream.
"""

from __future__ import annotations

import json
import time
from typing import Any

import attrs

from rv.command.command_config import CommandConfig, commands_for_experiment
from rv.errors import ConfigError

RUN = "run"
SKIP = "skip"


@attrs.define
class PlannedCommand:
    """One command of the plan."""

    config: CommandConfig
    experiment_ids: list[str]
    depends_on: list[int] = attrs.field(factory=list)
    status: str = RUN
    reason: str = ""

    @property
    def name(self) -> str:
        return self.config.display_name


@attrs.define
class CommandPlan:
    """Commands in topological order with their dependencies and status."""

    commands: list[PlannedCommand]
    #: when the plan was made (``time.time()``): a stamp written later came from another run
    made_at: float = attrs.field(factory=time.time)

    def to_run(self) -> list[PlannedCommand]:
        return [c for c in self.commands if c.status == RUN]

    def __len__(self) -> int:
        return len(self.commands)


def read_stamp(uri: str) -> dict[str, Any] | None:
    """The stamp at ``uri`` (what :func:`write_stamp` wrote), or ``None`` when absent or unreadable."""
    from rv import file_utils

    try:
        if not file_utils.exists(uri):
            return None
        return json.loads(file_utils.read_text(uri))
    except Exception:
        return None


def stamp_is_current(config: CommandConfig, stamp: dict[str, Any] | None) -> bool:
    """Whether ``stamp`` records ``config`` (same hash) and every output of it exists."""
    from rv import file_utils

    return (
        stamp is not None
        and stamp.get("hash") == config.config_hash()
        and all(file_utils.exists(u) for u in config.outputs())
    )


def write_stamp(config: CommandConfig) -> None:
    """Record that ``config`` produced its outputs (written after them)."""
    from rv import file_utils

    file_utils.write_text(
        config.stamp_uri,
        json.dumps(
            {
                "command": config.command_type,
                "key": config.key,
                "hash": config.config_hash(),
                "outputs": config.outputs(),
                "finished_at": time.time(),
            },
            indent=2,
        ),
    )


def build_plan(
    experiments: list,
    commands: list[str] | None = None,
    rerun: bool = False,
    check_inputs: bool = True,
    check_outputs: bool = True,
    command_line: str | None = None,
    splits: int = 1,
) -> CommandPlan:
    """Plan the commands of ``experiments`` (ExperimentConfigs).

    ``commands`` names the command types to run (default all). When a named
    command reads what an unnamed one writes and that output does not exist,
    the error names the upstream command and how to include it;
    ``command_line`` (e.g. ``"rv run local exp.py {commands}"``) is the
    suggestion shown, ``{commands}`` replaced by the command names to give.
    ``splits`` > 1 runs CHIP, PREDICT and ANALYZE as that many parts plus a
    merge (:mod:`rv.command.split`).
    """
    from rv import file_utils

    planned: list[PlannedCommand] = []
    by_identity: dict[tuple, int] = {}
    by_output: dict[str, int] = {}
    for exp in experiments:
        for cfg in commands_for_experiment(exp, commands):
            ident = cfg.identity()
            if ident in by_identity:
                existing = planned[by_identity[ident]]
                if existing.config.config_hash() != cfg.config_hash():
                    raise ConfigError(
                        f"Experiments {', '.join(existing.experiment_ids)} and {exp.id} share the "
                        f"{cfg.command_type} key {cfg.key!r} but configure it differently, so they would "
                        f"overwrite each other's output in {cfg.command_uri}. Give one of them its own "
                        f"with_{cfg.command_type.lower()}_key(...)."
                    )
                existing.experiment_ids.append(exp.id)
                continue
            for out in cfg.outputs():
                if out in by_output:
                    other = planned[by_output[out]]
                    raise ConfigError(
                        f"{cfg.command_type} {cfg.key} (experiment {exp.id}) and {other.name} (experiment "
                        f"{', '.join(other.experiment_ids)}) both write {out}; give them different keys."
                    )
            by_identity[ident] = len(planned)
            for out in cfg.outputs():
                by_output[out] = len(planned)
            planned.append(PlannedCommand(cfg, [exp.id]))

    # edges
    for i, pc in enumerate(planned):
        deps = sorted({by_output[u] for u in pc.config.inputs() if u in by_output and by_output[u] != i})
        pc.depends_on = deps

    order = _topological_order(planned)
    index_map = {old: new for new, old in enumerate(order)}
    ordered = [planned[i] for i in order]
    for pc in ordered:
        pc.depends_on = sorted(index_map[d] for d in pc.depends_on)
    plan = CommandPlan(ordered)

    if check_inputs:
        produced = {u for pc in ordered for u in pc.config.outputs()}
        missing: dict[str, list[str]] = {}
        for pc in ordered:
            for u in pc.config.inputs():
                if u not in produced and not file_utils.exists(u):
                    missing.setdefault(u, []).append(pc.name)
        if missing and commands:
            _raise_if_upstream_not_named(experiments, commands, missing, command_line)
        if missing:
            lines = "; ".join(f"{u} (read by {', '.join(names)})" for u, names in missing.items())
            raise ConfigError(
                f"Ensuring input files exist: {len(missing)} input(s) are missing and no command produces them: "
                f"{lines}. Fix the paths in the experiment, or pass -x to skip this check."
            )

    # skipping
    stamps: dict[int, dict[str, Any] | None] = {}
    for i, pc in enumerate(ordered):
        if rerun:
            pc.status, pc.reason = RUN, "--rerun"
            continue
        upstream = [ordered[d] for d in pc.depends_on if ordered[d].status == RUN]
        if upstream:
            pc.status, pc.reason = RUN, f"upstream {upstream[0].name} runs"
            continue
        if not check_outputs:
            continue
        stamp = stamps[i] = read_stamp(pc.config.stamp_uri)
        outputs = pc.config.outputs()
        newer = _upstream_finished_later(stamp, [(ordered[d], stamps.get(d)) for d in pc.depends_on])
        if stamp is None:
            pc.status, pc.reason = RUN, "no output yet"
        elif stamp.get("hash") != pc.config.config_hash():
            pc.status, pc.reason = RUN, "config changed since its outputs were written"
        elif newer is not None:
            # An earlier run remade the upstream output (say CHIP after a new scene) and was
            # stopped before this command ran again: its outputs come from the old inputs.
            pc.status, pc.reason = RUN, f"upstream {newer} finished after its outputs were written"
        elif not all(file_utils.exists(u) for u in outputs):
            pc.status, pc.reason = RUN, "an output is missing"
        else:
            pc.status, pc.reason = SKIP, "outputs exist from an identical config"
    if splits > 1:
        from rv.command.split import split_plan

        return split_plan(plan, splits, rerun=rerun)
    return plan


def _raise_if_upstream_not_named(experiments, commands, missing: dict[str, list[str]], command_line) -> None:
    """A named command reads a missing file that a command *not named* would write: say which, and how to include it."""
    from rv.keys import ALL_COMMANDS

    writers: dict[str, CommandConfig] = {}
    for exp in experiments:
        for cfg in commands_for_experiment(exp):
            for u in cfg.outputs():
                writers.setdefault(u, cfg)
    upstream = {u: writers[u] for u in missing if u in writers}
    if not upstream:
        return
    named = [c.upper() for c in commands]
    lines = [
        f"{', '.join(missing[u])} read {u}, which {cfg.command_type} {cfg.key} writes" for u, cfg in upstream.items()
    ]
    wanted = [c for c in ALL_COMMANDS if c in named or any(cfg.command_type == c for cfg in upstream.values())]
    suggestion = (command_line or "rv run RUNNER EXPERIMENTS {commands}").replace(
        "{commands}", " ".join(c.lower() for c in wanted)
    )
    others = sorted({f"{cfg.command_type} {cfg.key}" for cfg in upstream.values()})
    one = len(others) == 1
    elsewhere = [u for u in missing if u not in upstream]
    also = (
        f" Also missing, and written by no command: {', '.join(elsewhere)} (fix the paths in the experiment)."
        if elsewhere
        else ""
    )
    raise ConfigError(
        f"A command you named needs the output of one you did not: {'; '.join(lines)}. "
        f"{', '.join(others)} {'is' if one else 'are'} not among the commands named ({', '.join(named)}) and "
        f"{'its output does' if one else 'their outputs do'} not exist yet. Include {'it' if one else 'them'}: "
        f"{suggestion} (or name no commands to run the whole graph).{also}"
    )


def _upstream_finished_later(stamp: dict[str, Any] | None, upstream: list) -> str | None:
    """The name of an upstream command whose stamp is newer than ``stamp``, if any."""
    if not stamp or not isinstance(stamp.get("finished_at"), (int, float)):
        return None  # stamps written before rv recorded times: nothing to compare
    for up, up_stamp in upstream:
        when = (up_stamp or {}).get("finished_at")
        if isinstance(when, (int, float)) and when > stamp["finished_at"]:
            return up.name
    return None


def _topological_order(planned: list[PlannedCommand]) -> list[int]:
    """Indices of ``planned`` in dependency order; among the commands ready at once, pipeline order
    (ANALYZE before CHIP ...) then the order they were planned in."""
    import heapq
    from graphlib import CycleError, TopologicalSorter

    from rv.keys import ALL_COMMANDS

    rank = {c: i for i, c in enumerate(ALL_COMMANDS)}
    sorter: TopologicalSorter[int] = TopologicalSorter({i: pc.depends_on for i, pc in enumerate(planned)})
    try:
        sorter.prepare()
    except CycleError as e:
        cycle = ", ".join(dict.fromkeys(planned[i].name for i in e.args[1]))
        raise ConfigError(
            f"The commands form a cycle (each reads what another writes): {cycle}. Check their input and output URIs."
        ) from None
    # One at a time, the smallest ready command first: a command made ready by the one just
    # taken competes with those that were ready before it.
    ready: list[tuple[int, int]] = []
    order: list[int] = []
    while sorter.is_active():
        for i in sorter.get_ready():
            heapq.heappush(ready, (rank.get(planned[i].config.command_type, 99), i))
        _, i = heapq.heappop(ready)
        order.append(i)
        sorter.done(i)
    return order


def plan_text(plan: CommandPlan, verbosity: int = 0) -> str:
    """The dry-run listing: commands in order with DEPENDS ON lines."""
    from rv.serialization import unstructure

    lines = []
    for i, pc in enumerate(plan.commands):
        status = "" if pc.status == RUN else f"  [skipped: {pc.reason}]"
        merge = f" (merges {pc.config.parts} parts)" if pc.config.part is None and pc.config.parts > 1 else ""
        lines.append(f"{i}: {pc.name}{merge}  (experiments: {', '.join(pc.experiment_ids)}){status}")
        if pc.depends_on:
            lines.append("   DEPENDS ON: " + ", ".join(f"{d}: {plan.commands[d].name}" for d in pc.depends_on))
        if verbosity >= 1:
            for name, value in pc.config.summary().items():
                if isinstance(value, list):
                    lines.append(f"   {name}:")
                    lines.extend(f"     - {v}" for v in value)
                else:
                    lines.append(f"   {name}: {value}")
            if pc.status == RUN and pc.reason:
                lines.append(f"   runs because: {pc.reason}")
        if verbosity >= 2:
            text = json.dumps(unstructure(pc.config), indent=2)
            lines.extend("   " + line for line in text.splitlines())
    return "\n".join(lines)
