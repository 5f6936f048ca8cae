"""``rv run_command <uri>``: run one serialized command (locally or on a cluster)."""

from __future__ import annotations

import sys
import tempfile

from rv.command.command_config import CommandConfig
from rv.errors import ConfigError
from rv.run_output import LOG_NAME, RUNNING_PREFIX, CommandLog, current_run


def command_config_json(config: CommandConfig, pm=None) -> str:
    """The command-config.json text of ``config``.

    Its ``plugins`` also name the distribution whose implementation runs the
    command (a plugin may replace a built-in one), so that a machine without
    that plugin refuses the command, naming it, instead of quietly running
    rv-core's own implementation.
    """
    import json

    from rv.serialization import config_to_json

    if pm is None:
        from rv.plugins import get_plugin_manager

        pm = get_plugin_manager()
    doc = json.loads(config_to_json(config, pm))
    registry = pm.rv_registry
    if registry.has("command_implementations", config.command_type):
        dist = registry.get_registration("command_implementations", config.command_type).distribution
        if dist and all(p.get("distribution") != dist for p in doc["plugins"]):
            version = next((p.version for p in pm.rv_plugins.values() if p.distribution == dist), None)
            doc["plugins"] = sorted(
                [*doc["plugins"], {"distribution": dist, "version": version or ""}], key=lambda p: p["distribution"]
            )
    return json.dumps(doc, indent=2)


def load_command(uri: str) -> CommandConfig:
    """Read a command-config.json and check that the plugins it needs are loaded."""
    import json

    from rv import file_utils
    from rv.serialization import config_from_json, missing_plugins_error

    text = file_utils.read_text(uri)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{uri} is not valid JSON ({e.msg}, line {e.lineno}).") from e
    missing = missing_plugins_error(doc, uri)
    if missing is not None:
        raise missing
    config = config_from_json(text, source=uri)
    if not isinstance(config, CommandConfig):
        raise ConfigError(f"{uri} holds a {type(config).__name__}, not a command config.")
    return config


#: set by a runner to the time its plan was made: a stamp newer than that came from another run
PLANNED_AT_ENV = "RV_PLANNED_AT"


def run_command(uri: str, tmp_dir: str | None = None, planned_at: float | None = None) -> CommandConfig:
    """Load the command at ``uri``, run it through its registered implementation, then write its stamp.

    The command runs under a :class:`rv.command.lock.CommandLock` on its
    outputs. When another run holds the lock, this waits; if that run
    finished the same command (an identical config, every output there),
    the work is not done twice.

    ``planned_at`` is when the runner made its plan (a stamp written after it
    came from another run); by default it is read from :data:`PLANNED_AT_ENV`,
    which the ``local`` runner sets for its subprocesses. The ``inprocess``
    runner calls this function directly and passes it.

    What the command prints is also written to ``log.txt`` beside ``uri`` (the
    command's folder), atomically when it ends, failed or not (with its error
    last); a command another run finished leaves that run's log.
    """
    import os

    from rv import file_utils
    from rv.command.command_config import command_implementation
    from rv.command.dag import read_stamp, stamp_is_current, write_stamp
    from rv.command.lock import CommandLock
    from rv.settings import tmp_dir as default_tmp_dir

    if launched_rank() > 0:
        # One of the processes torchrun or srun started for a multi-process command (TRAIN on
        # several GPUs): process 0 holds the lock and writes the log and the stamp, this one
        # only does its share of the work.
        config = load_command(uri)
        implementation = command_implementation(config.command_type)
        with tempfile.TemporaryDirectory(dir=tmp_dir or default_tmp_dir(), prefix="rv-rank-") as tmp:
            implementation(config, tmp)
        return config
    if not file_utils.exists(uri):
        load_command(uri)  # the error naming the missing file, and no log left in a folder made for it
    # Everything the command prints, its error included, also goes to log.txt beside its config and
    # outputs (<root>/<command>/<key>/log.txt), whatever runs it: local, inprocess, a cluster's job.
    with CommandLog(command_log_uri(uri)) as log:
        config = load_command(uri)
        # Looked up before anything runs: an unknown command type is named, not a traceback.
        implementation = command_implementation(config.command_type)
        name = f"{config.command_type} {config.key}"
        before = read_stamp(config.stamp_uri)
        with CommandLock(config.command_uri, name):
            stamp = read_stamp(config.stamp_uri)
            if planned_at is None:
                planned_at = _float_or_none(os.environ.get(PLANNED_AT_ENV))
            done_elsewhere = stamp is not None and (
                stamp != before
                or (
                    planned_at is not None
                    and isinstance(stamp.get("finished_at"), (int, float))
                    and stamp["finished_at"] > planned_at
                )
            )
            if done_elsewhere and stamp_is_current(config, stamp):
                log.discard()  # the log of the run that did it stays
                print(
                    f"rv: {name} was finished by another run meanwhile; not running it again",
                    file=sys.stderr,
                    flush=True,
                )
                return config
            run = current_run()
            if run is None or run.verbosity > 0:
                print(f"{RUNNING_PREFIX}{name}", file=sys.stderr, flush=True)
            else:  # in this process within rv run (inprocess): its runner says it starts, the log says it too
                log.log_only(f"{RUNNING_PREFIX}{name}")
            with tempfile.TemporaryDirectory(
                dir=tmp_dir or default_tmp_dir(), prefix=f"rv-{config.command_type.lower()}-"
            ) as tmp:
                implementation(config, tmp)
            write_stamp(config)
    return config


def command_log_uri(config_uri: str) -> str:
    """The log of the command whose config is ``config_uri``: ``log.txt`` beside it, in the command's folder."""
    parent, _, _ = config_uri.rpartition("/")
    return f"{parent or '.'}/{LOG_NAME}"


def launched_rank() -> int:
    """This process's rank among the processes a launcher started for one command (torchrun's
    ``RANK`` when ``WORLD_SIZE`` is above 1; ``srun`` launches map Slurm's ``SLURM_PROCID`` to it),
    0 when none did."""
    import os

    try:
        if int(os.environ.get("WORLD_SIZE") or 1) > 1:
            return int(os.environ.get("RANK") or 0)
    except ValueError:
        pass  # the training engine names bad launch variables
    return 0


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
