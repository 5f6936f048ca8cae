"""``rv run_command <uri>``: run one serialized command (locally or on a cluster)."""

from __future__ import annotations

import sys
import tempfile

from rv.command.command_config import CommandConfig
from rv.errors import ConfigError


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
    """
    import os

    from rv.command.command_config import command_implementation
    from rv.command.dag import read_stamp, stamp_is_current, write_stamp
    from rv.command.lock import CommandLock
    from rv.settings import tmp_dir as default_tmp_dir

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
            or (planned_at is not None and isinstance(stamp.get("finished_at"), (int, float))
                and stamp["finished_at"] > planned_at)
        )
        if done_elsewhere and stamp_is_current(config, stamp):
            print(f"rv: {name} was finished by another run meanwhile; not running it again", file=sys.stderr,
                  flush=True)
            return config
        print(f"rv: running {name}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(dir=tmp_dir or default_tmp_dir(),
                                         prefix=f"rv-{config.command_type.lower()}-") as tmp:
            implementation(config, tmp)
        write_stamp(config)
    return config


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
