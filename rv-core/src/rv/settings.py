"""rv's configuration: environment > ``.env`` > INI profile file.

A setting is an *option* in a *section*, as in an INI file::

    [RV]
    model_defaults_uri = s3://my-bucket/model-defaults.json

    [PLUGINS]
    files = ["/home/me/my_plugin.py"]
    modules = my_package.rv_plugin, other_package.plugin

    [AWS_BATCH]
    job_queue = my-queue

Every option can also be given as an environment variable named
``SECTION_OPTION`` in upper case (``RV_MODEL_DEFAULTS_URI``,
``PLUGINS_MODULES``, ``AWS_BATCH_JOB_QUEUE``), or as the same line in a
``.env`` file in the working directory. A value is looked up in this order,
first found wins:

1. the process environment;
2. ``.env`` in the working directory;
3. the file named by ``$RV_CONFIG``, when set;
4. the profile file ``${RV_CONFIG_DIR:-~/.rastervision}/<profile>``, where
   the profile is the ``profile`` argument, else ``$RV_PROFILE``, else
   ``default``.

``$RV_CONFIG`` overrides the profile file without hiding it, as in Raster
Vision: an option it sets wins, and every other option of the profile file
still applies.

Plugins read their own sections the same way (``get_settings().section(
"AWS_BATCH")``); no declaration is needed. :func:`get_settings` caches one
:class:`Settings` per profile; :func:`reset_settings` drops the cache (tests
call it after changing the environment or the working directory).

The temporary directory rv uses is set with :func:`set_tmp_dir` (the
``--tmpdir`` option of the ``rv`` command), else ``$TMPDIR``, else the
system default; :func:`tmp_dir` returns it.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from rv.errors import ConfigError

DEFAULT_PROFILE = "default"
DEFAULT_CONFIG_DIR = "~/.rastervision"

# Environment variables that choose where settings come from; they are not
# options of the ``RV`` section even though they share its prefix.
_META_VARIABLES = frozenset({"RV_PROFILE", "RV_CONFIG", "RV_CONFIG_DIR"})

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})


def env_name(section: str, option: str) -> str:
    """The environment variable of ``option`` in ``section``.

    ``env_name("AWS_BATCH", "job_queue") == "AWS_BATCH_JOB_QUEUE"``.
    """
    return f"{section}_{option}".upper().replace("-", "_").replace(".", "_")


def parse_dotenv(text: str, path: str = ".env") -> dict[str, str]:
    """Parse the text of a ``.env`` file into a dict, with python-dotenv's parser.

    ``KEY=VALUE`` lines, an optional leading ``export``, ``#`` comments and
    quoted values are read as python-dotenv reads them; ``${VAR}`` is not
    expanded. A line python-dotenv cannot parse (not ``KEY=VALUE``, a quote
    never closed) raises :class:`rv.errors.ConfigError` naming ``path`` and
    the line, instead of being skipped with a log message.
    """
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.string.strip()
        if binding.key is None and not binding.error:
            continue  # a blank or comment line
        if binding.error or binding.value is None:
            unclosed = line.partition("=")[2].lstrip()[:1] in ("'", '"')
            why = (
                "opens a quoted value that is never closed (close the quote on the same line)"
                if unclosed
                else "is not a KEY=VALUE assignment"
            )
            raise ConfigError(
                f"Line {binding.original.line} of {path} {why}: {line!r}. "
                "Write one setting per line as SECTION_OPTION=value "
                "(for example RV_MODEL_DEFAULTS_URI=s3://bucket/defaults.json), "
                "or start the line with # to make it a comment."
            )
        values[binding.key] = binding.value
    return values


def parse_list(value: str | list | tuple | None) -> list[str]:
    """Parse a list setting.

    Accepts a JSON list (``["a", "b"]``), a bracketed list without quotes
    (``[a, b]``), or comma- or newline-separated values (``a, b``). Empty
    items are dropped.
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            text = text[1:-1]
        else:
            if isinstance(parsed, list):
                return [str(item) for item in parsed]
    items = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip().strip("'\"").strip()
        if part:
            items.append(part)
    return items


def parse_bool(value: str | bool, *, name: str = "value") -> bool:
    """Parse ``1/0``, ``true/false``, ``yes/no``, ``on/off`` (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(
        f"Setting {name} is {value!r}, which is not a yes/no value. Use 1/0, true/false, yes/no or on/off."
    )


class Settings:
    """rv's settings for one profile (see the module docstring for the order).

    Files are read once, when the object is made; the process environment is
    read at every lookup, so a variable set later still wins.

    Args:
        profile: profile name; default ``$RV_PROFILE``, else ``"default"``.
        environ: the environment mapping (default ``os.environ``).
        cwd: the directory whose ``.env`` is read (default: the working
            directory).

    Raises:
        ConfigError: ``$RV_CONFIG`` names a missing file, a non-default
            profile has no file, or a file cannot be parsed.

    ``config_paths`` lists the files read, the one whose values win first.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
    ):
        self._environ = os.environ if environ is None else environ
        self.profile = profile or self._environ.get("RV_PROFILE") or DEFAULT_PROFILE
        cwd = Path.cwd() if cwd is None else Path(cwd)

        self.dotenv_path: Path | None = None
        self._dotenv: dict[str, str] = {}
        dotenv = cwd / ".env"
        if dotenv.is_file():
            self.dotenv_path = dotenv
            self._dotenv = parse_dotenv(dotenv.read_text(encoding="utf-8"), str(dotenv))

        #: the configuration files read, the one whose values win first ($RV_CONFIG, then the profile file)
        self.config_paths: list[Path] = self._find_config_files()
        # One dict per file, in config_paths' order: sections keyed by upper-case
        # name, options by lower-case name.
        self._inis: list[dict[str, dict[str, str]]] = [_read_ini(path) for path in self.config_paths]

    @property
    def config_path(self) -> Path | None:
        """The configuration file whose values win: ``$RV_CONFIG`` if set, else the profile file (or None)."""
        return self.config_paths[0] if self.config_paths else None

    def _find_config_files(self) -> list[Path]:
        paths = []
        explicit = self._lookup_meta("RV_CONFIG")
        if explicit:
            path = Path(explicit).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"RV_CONFIG names the configuration file {path}, which does not "
                    "exist. Create it, fix the path, or unset RV_CONFIG to use the "
                    f"profile file in {self.config_dir} alone."
                )
            paths.append(path)
        path = self.config_dir / self.profile
        if path.is_file():
            if path.resolve() not in {p.resolve() for p in paths}:
                paths.append(path)
        elif self.profile != DEFAULT_PROFILE:
            raise ConfigError(
                f"Configuration profile {self.profile!r} not found: {path} does not "
                f"exist. Create it (an INI file with sections such as [RV]), set "
                "RV_CONFIG_DIR to the directory that holds it, or choose another "
                "profile (RV_PROFILE / --profile)."
            )
        return paths

    def _lookup_meta(self, name: str) -> str | None:
        # The variables that locate files come from the environment or .env.
        value = self._environ.get(name)
        if value is None:
            value = self._dotenv.get(name)
        return value or None

    @property
    def config_dir(self) -> Path:
        """The directory of profile files (``$RV_CONFIG_DIR`` or ``~/.rastervision``)."""
        return Path(self._lookup_meta("RV_CONFIG_DIR") or DEFAULT_CONFIG_DIR).expanduser()

    def get(self, section: str, option: str, default: str | None = None) -> str | None:
        """The value of ``option`` in ``section``, or ``default`` when unset."""
        value, _ = self._lookup(section, option)
        return default if value is None else value

    def origin(self, section: str, option: str) -> str | None:
        """Where the value of ``option`` comes from, for messages and ``rv config``.

        ``"environment (NAME)"``, ``"<path>/.env (NAME)"``, ``"<config file>
        [SECTION]"``, or ``None`` when it is unset.
        """
        return self._lookup(section, option)[1]

    def _lookup(self, section: str, option: str) -> tuple[str | None, str | None]:
        name = env_name(section, option)
        if name in self._environ:
            return self._environ[name], f"environment ({name})"
        if name in self._dotenv:
            return self._dotenv[name], f"{self.dotenv_path} ({name})"
        key = option.lower()
        for path, ini in zip(self.config_paths, self._inis):
            options = ini.get(section.upper(), {})
            if key in options:
                return options[key], f"{path} [{section.upper()}]"
        return None, None

    def get_list(self, section: str, option: str, default: list[str] | None = None) -> list[str]:
        """A list option (JSON list, ``[a, b]`` or ``a, b``); ``default`` or ``[]`` when unset."""
        value = self.get(section, option)
        if value is None:
            return list(default) if default is not None else []
        return parse_list(value)

    def get_bool(self, section: str, option: str, default: bool = False) -> bool:
        """A yes/no option; raises :class:`ConfigError` for a value that is neither."""
        value = self.get(section, option)
        if value is None:
            return default
        return parse_bool(value, name=f"{env_name(section, option)} ({self.origin(section, option)})")

    def section(self, name: str) -> dict[str, str]:
        """Every option of section ``name`` as ``{option: value}`` (lower-case options).

        Merges the sources in their order of precedence. Environment
        and ``.env`` variables count when they start with ``NAME_``; for a
        section whose name is a prefix of another (``AWS`` and
        ``AWS_BATCH``) the longer section's variables show up in the
        shorter one too, since the two cannot be told apart.
        """
        upper = name.upper()
        prefix = upper + "_"
        merged: dict[str, str] = {}
        for ini in reversed(self._inis):  # the profile file first, $RV_CONFIG over it
            merged.update(ini.get(upper, {}))
        for source in (self._dotenv, self._environ):
            for key, value in source.items():
                if key.startswith(prefix) and key not in _META_VARIABLES and len(key) > len(prefix):
                    merged[key[len(prefix) :].lower()] = value
        return merged

    def sections(self) -> list[str]:
        """The sections of the configuration files (upper case)."""
        return sorted({name for ini in self._inis for name in ini})

    def __repr__(self) -> str:
        paths = [str(p) for p in self.config_paths]
        return f"Settings(profile={self.profile!r}, config_paths={paths}, dotenv_path={self.dotenv_path})"


def _read_ini(path: Path) -> dict[str, dict[str, str]]:
    # No interpolation: values are URIs and may hold '%'.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f, source=str(path))
    except configparser.Error as e:
        raise ConfigError(
            f"Cannot parse the rv configuration file {path}: {e}. It must be an INI "
            "file: [SECTION] headers followed by option = value lines."
        ) from e
    result: dict[str, dict[str, str]] = {}
    for section in parser.sections():
        options = result.setdefault(section.upper(), {})
        for option, value in parser.items(section):
            options[option.lower()] = value
    return result


_cache: dict[str, Settings] = {}
_lock = threading.Lock()


def get_settings(profile: str | None = None) -> Settings:
    """The :class:`Settings` of ``profile`` (default ``$RV_PROFILE`` or ``default``), cached."""
    key = profile or os.environ.get("RV_PROFILE") or DEFAULT_PROFILE
    with _lock:
        settings = _cache.get(key)
        if settings is None:
            settings = _cache[key] = Settings(key)
        return settings


def reset_settings() -> None:
    """Forget cached settings, so the next :func:`get_settings` reads the files again."""
    with _lock:
        _cache.clear()


_tmp_dir: str | None = None


def set_tmp_dir(path: str | os.PathLike | None) -> None:
    """Make ``path`` rv's temporary directory (``rv --tmpdir``); ``None`` restores the default.

    The directory is created if needed. It also becomes :mod:`tempfile`'s
    default, so libraries that make temporary files use it too.
    """
    global _tmp_dir
    if path is None:
        _tmp_dir = None
        tempfile.tempdir = None
        return
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"Cannot use {path} as the temporary directory: {e}. Choose a writable directory with --tmpdir or TMPDIR."
        ) from e
    _tmp_dir = path
    tempfile.tempdir = path


def tmp_dir() -> str:
    """rv's temporary directory: :func:`set_tmp_dir`, else ``$TMPDIR``, else the system's.

    Commands make their scratch directories inside it
    (``tempfile.TemporaryDirectory(dir=tmp_dir())``).
    """
    if _tmp_dir is not None:
        return _tmp_dir
    # Read TMPDIR each time: tempfile.gettempdir() caches its first answer.
    env = os.environ.get("TMPDIR")
    if env:
        os.makedirs(env, exist_ok=True)
        return env
    return tempfile.gettempdir()
