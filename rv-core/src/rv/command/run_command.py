"""``rv run_command <uri>``: run one serialized command (locally or on a cluster)."""

from __future__ import annotations

import sys
import tempfile

from rv.command.command_config import CommandConfig
from rv.errors import ConfigError


def load_command(uri: str) -> CommandConfig:
    """Read a command-config.json and check that the plugins it needs are loaded."""
    import json

    from rv import file_utils
    from rv.plugins import get_plugin_manager
    from rv.serialization import config_from_json

    text = file_utils.read_text(uri)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{uri} is not valid JSON ({e.msg}, line {e.lineno}).") from e
    loaded = get_plugin_manager().distributions()
    missing = [p["distribution"] for p in doc.get("plugins", []) if p["distribution"] not in loaded]
    if missing:
        raise ConfigError(
            f"{uri} needs plugin distribution(s) {', '.join(missing)}, which are not installed or failed to "
            f"load here: pip install {' '.join(missing)} (see `rv plugins list`)."
        )
    config = config_from_json(text, source=uri)
    if not isinstance(config, CommandConfig):
        raise ConfigError(f"{uri} holds a {type(config).__name__}, not a command config.")
    return config


def run_command(uri: str, tmp_dir: str | None = None) -> CommandConfig:
    """Load the command at ``uri``, run it, then write its stamp."""
    from rv.command.dag import write_stamp
    from rv.settings import tmp_dir as default_tmp_dir

    config = load_command(uri)
    print(f"rv: running {config.command_type} {config.key}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir or default_tmp_dir(), prefix=f"rv-{config.command_type.lower()}-") as tmp:
        config.run(tmp)
    write_stamp(config)
    return config
