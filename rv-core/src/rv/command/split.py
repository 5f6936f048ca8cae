"""Split commands: ``rv run RUNNER exp.py --splits N``.

CHIP and PREDICT (and ANALYZE when every analyzer can merge partial
results, as the stats analyzer can) run as N *parts* plus a *merge*, on
every runner:

- a part is the command's config with ``part=k`` and ``parts=N``, in its own
  directory ``<command dir>/splits/<k>``: its own command-config.json,
  stamp and lock, so a rerun skips the parts that finished and two runs
  never write one part at once;
- the merge is the whole command's config with ``parts=N``: the same
  directory, outputs and config hash as the unsplit command, so the outputs
  of a split run are those of an unsplit run (and a later unsplit run skips
  them). It depends on its parts and the command's dependants depend on it.
  Once its outputs are in place it deletes what the parts wrote for it
  (CHIP's chips, ANALYZE's partial results); the parts' configs, stamps and
  logs stay.

How the work is shared: CHIP's parts take contiguous runs of the scenes, and
when there are fewer scenes than splits, each scene's windows are cut into
contiguous shards (:func:`rv.task.task.shard_windows`), so one large scene
is chipped by several parts; the merge renumbers the chips as one process
names them. PREDICT's parts take contiguous runs of the scenes (a scene is
never cut: its predictions are one raster or one GeoJSON), so PREDICT has at
most as many parts as scenes; its merge only checks that every part's
predictions are there. ANALYZE's parts each compute the partial statistics
of a contiguous run of the sampled windows, and the merge adds them up in
window order (:meth:`rv.analyzer.stats_analyzer.StatsAnalyzer.process_part`).

The ``local`` runner runs the parts as separate processes (``-j`` of them
at once), ``inprocess`` one after the other; cluster runners submit the parts
of one command as one array job whose tasks run ``rv run_command
<command dir>/splits/{index}/command-config.json --array-index-env VAR``
(:func:`array_config_uri`, :func:`resolve_array_uri`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from rv import keys
from rv.errors import ConfigError

if TYPE_CHECKING:
    from rv.command.command_config import CommandConfig

#: the folder of a split command's parts, inside the command's directory
SPLITS_DIR = "splits"
#: what an array job's command-config URI holds in place of the part index
INDEX_PLACEHOLDER = "{index}"


def part_uri(command_uri: str, index: int | str) -> str:
    """The directory of part ``index`` of the command whose directory is ``command_uri``."""
    return f"{command_uri.rstrip('/')}/{SPLITS_DIR}/{index}"


def whole_command_uri(part_command_uri: str) -> str:
    """The directory of the whole command a part's directory (``.../splits/<k>``) belongs to."""
    head, splits, _ = part_command_uri.rstrip("/").rsplit("/", 2)
    if splits != SPLITS_DIR:
        raise ValueError(f"{part_command_uri} is not the directory of a part of a split command")
    return head


def array_config_uri(command_uri: str) -> str:
    """The command-config URI an array job's tasks are given: ``{index}`` stands for the part."""
    from rv.command.command_config import CONFIG_NAME

    return f"{part_uri(command_uri, INDEX_PLACEHOLDER)}/{CONFIG_NAME}"


def resolve_array_uri(uri: str, index_env: str, parts: str | None = None, environ=None) -> str:
    """The command-config URI of one task of an array job.

    ``uri`` holds ``{index}``; the task's index is read from the environment
    variable ``index_env`` (``SLURM_ARRAY_TASK_ID``, ``AWS_BATCH_JOB_ARRAY_INDEX``).
    ``parts`` (``"1,3"``), when given, maps the task index to a part: task
    ``i`` runs part ``parts[i]`` (an array of the parts left to run).
    """
    environ = os.environ if environ is None else environ
    if INDEX_PLACEHOLDER not in uri:
        raise ConfigError(
            f"--array-index-env was given but the command-config URI {uri} has no {INDEX_PLACEHOLDER} to put "
            "the array index in; give the URI of a split command's parts, e.g. "
            f"<command dir>/{SPLITS_DIR}/{INDEX_PLACEHOLDER}/command-config.json."
        )
    value = environ.get(index_env, "")
    if not value.strip().isdigit():
        raise ConfigError(
            f"The array index variable {index_env} is {'unset' if not value else repr(value)}: this command runs one "
            f"task of an array job, and the scheduler sets {index_env} to the task's index. Run it as an array "
            f"job, or set {index_env}=<part> to run one part by hand."
        )
    index = int(value)
    if parts:
        chosen = [p.strip() for p in parts.split(",") if p.strip()]
        if index >= len(chosen):
            raise ConfigError(f"Array index {index} ({index_env}) is past the {len(chosen)} parts given: {parts}.")
        index = int(chosen[index])
    return uri.replace(INDEX_PLACEHOLDER, str(index))


def share(count: int, part: int, parts: int) -> range:
    """Part ``part`` of ``parts`` contiguous, near-equal runs of ``range(count)``."""
    if not 0 <= part < parts:
        raise ValueError(f"part {part} is not in 0..{parts - 1}")
    return range(count * part // parts, count * (part + 1) // parts)


def chip_units(num_scenes: int, parts: int) -> list[list[tuple[int, int, int]]]:
    """CHIP's work per part: ``(scene index, shard, shards)`` triples.

    With at least as many scenes as parts, each part takes whole scenes;
    otherwise every scene is cut into ``ceil(parts / scenes)`` shards of its
    windows, so each part has work.
    """
    shards = 1 if num_scenes >= parts else -(-parts // max(num_scenes, 1))
    units = [(i, k, shards) for i in range(num_scenes) for k in range(shards)]
    return [[units[j] for j in share(len(units), p, parts)] for p in range(parts)]


def part_count(config, splits: int) -> int:
    """Into how many parts ``config`` splits for ``--splits splits`` (1: it is not split)."""
    if splits <= 1 or config.part is not None:
        return 1
    if config.command_type == keys.CHIP:
        return splits if config.train_scenes or config.validation_scenes else 1
    if config.command_type == keys.PREDICT:
        return min(splits, len(config.scenes))
    if config.command_type == keys.ANALYZE:
        if config.analyzers and all(a.can_merge_parts() for a in config.analyzers):
            return splits
    return 1


def split_command(config: CommandConfig, splits: int) -> tuple[list[CommandConfig], CommandConfig] | None:
    """The parts and the merge of ``config`` for ``--splits splits``, or ``None`` when it is not split."""
    n = part_count(config, splits)
    if n <= 1:
        return None
    parts = [attrs.evolve(config, command_uri=part_uri(config.command_uri, k), part=k, parts=n) for k in range(n)]
    return parts, attrs.evolve(config, parts=n)


def split_plan(plan, splits: int, rerun: bool = False):
    """``plan`` with each splittable command to run replaced by its parts and their merge.

    A part whose stamp records its config and whose outputs exist (an
    earlier split run finished it) is skipped, unless ``rerun`` or a command
    it depends on runs, or that command finished after the part did.
    """
    from rv.command.dag import (
        RUN,
        SKIP,
        CommandPlan,
        PlannedCommand,
        _upstream_finished_later,
        read_stamp,
        stamp_is_current,
    )

    if splits <= 1:
        return plan
    if splits > 10_000:
        raise ConfigError(f"--splits {splits} is more parts than any scheduler runs as one array (10000 at most).")
    new: list[PlannedCommand] = []
    moved: dict[int, int] = {}
    for i, pc in enumerate(plan.commands):
        deps = [moved[d] for d in pc.depends_on]
        split = split_command(pc.config, splits) if pc.status == RUN else None
        if split is None:
            new.append(attrs.evolve(pc, depends_on=deps))
            moved[i] = len(new) - 1
            continue
        part_configs, merge = split
        upstream_runs = any(plan.commands[d].status == RUN for d in pc.depends_on)
        upstream = [(plan.commands[d], read_stamp(plan.commands[d].config.stamp_uri)) for d in pc.depends_on]
        part_indices = []
        for cfg in part_configs:
            status, reason = RUN, pc.reason
            if not rerun and not upstream_runs:
                stamp = read_stamp(cfg.stamp_uri)
                if stamp_is_current(cfg, stamp) and _upstream_finished_later(stamp, upstream) is None:
                    status, reason = SKIP, "this part's outputs exist from an identical config"
            new.append(PlannedCommand(cfg, list(pc.experiment_ids), list(deps), status, reason))
            part_indices.append(len(new) - 1)
        new.append(PlannedCommand(merge, list(pc.experiment_ids), deps + part_indices, RUN, pc.reason))
        moved[i] = len(new) - 1
    return CommandPlan(new, made_at=plan.made_at)


def remove_part_outputs(uris: list[str]) -> None:
    """Delete what the parts of a merged command wrote for the merge (its outputs are in place now).

    The parts' configs, stamps and logs stay: with their outputs gone, a later run reruns a part only
    when the whole command runs again.
    """
    import sys

    from rv import file_utils

    for uri in uris:
        try:
            if file_utils.exists(uri):
                file_utils.delete(uri, recursive=True)
        except Exception as e:  # only tidiness: the merged outputs are complete
            print(f"rv: could not delete {uri} ({e}); it can be deleted by hand", file=sys.stderr)


# -- cluster runners: the parts of a command as one array job ---------------------------------------


def cluster_jobs(plan) -> list[tuple[list[int], list[int]]]:
    """The jobs a cluster runner submits for the plan's commands to run, in plan order, as
    ``(members, parents)``: ``members`` are the plan indices the job runs (one command, or the parts to
    run of one split command as an array job when there are two or more; the first names the job) and
    ``parents`` the first members of the jobs it waits for."""
    groups = _cluster_groups(plan)
    first = {i: group[0] for group in groups for i in group}
    return [
        (group, sorted({first[d] for i in group for d in plan.commands[i].depends_on if d in first} - {group[0]}))
        for group in groups
    ]


def _cluster_groups(plan) -> list[list[int]]:
    from rv.command.dag import RUN

    groups: list[list[int]] = []
    by_command: dict[tuple[str, str], list[int]] = {}
    for i, pc in enumerate(plan.commands):
        if pc.status != RUN:
            continue
        config = pc.config
        if config.part is None:
            groups.append([i])
            continue
        key = (config.command_type, config.output_dir)
        if key in by_command:
            by_command[key].append(i)
        else:
            by_command[key] = [i]
            groups.append(by_command[key])
    return groups


def array_run_command_args(plan, members: list[int], index_env: str, map_parts: bool) -> list[str]:
    """What follows ``rv run_command`` in an array job whose tasks run the parts ``members`` (plan indices).

    ``map_parts``: the scheduler numbers the tasks 0..n-1 (AWS Batch), so when the parts to run are not
    exactly 0..n-1 (some finished in an earlier run) ``--array-parts`` maps task numbers to parts.
    A scheduler that takes the list of task ids (Slurm's ``--array=1,3``) needs no map.
    """
    config = plan.commands[members[0]].config
    args = [array_config_uri(config.output_dir), "--array-index-env", index_env]
    parts = [plan.commands[i].config.part for i in members]
    if map_parts and parts != list(range(len(parts))):
        args += ["--array-parts", ",".join(str(p) for p in parts)]
    return args


def array_spec(parts: list[int]) -> str:
    """Slurm's ``--array`` value for task ids ``parts``: ``0-3`` when contiguous, else ``1,3``."""
    if parts == list(range(parts[0], parts[0] + len(parts))):
        return f"{parts[0]}-{parts[-1]}"
    return ",".join(str(p) for p in parts)


def parts_description(configs: list) -> str:
    """``CHIP key, parts 1-2 of 2`` (``parts 1, 3 of 3``): what an array job of these parts runs."""
    first = configs[0]
    numbers = [c.part + 1 for c in configs]
    if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        which = f"{numbers[0]}-{numbers[-1]}"
    else:
        which = ", ".join(str(n) for n in numbers)
    return f"{first.command_type} {first.key}, parts {which} of {first.parts}"
