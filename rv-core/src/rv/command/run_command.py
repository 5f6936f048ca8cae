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


def run_command(uri: str, tmp_dir: str | None = None) -> CommandConfig:
    """Load the command at ``uri``, run it through its registered implementation, then write its stamp."""
    from rv.command.command_config import command_implementation
    from rv.command.dag import write_stamp
    from rv.settings import tmp_dir as default_tmp_dir

    config = load_command(uri)
    # Looked up before anything runs: an unknown command type is named, not a traceback.
    implementation = command_implementation(config.command_type)
    print(f"rv: running {config.command_type} {config.key}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir or default_tmp_dir(), prefix=f"rv-{config.command_type.lower()}-") as tmp:
        implementation(config, tmp)
    write_stamp(config)
    return config
