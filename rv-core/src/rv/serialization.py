"""JSON serialization of configs with cattrs.

Every polymorphic config carries its registry key as a ``"type"`` tag; the
converter is built from the registry after plugins load. A saved file records
the format version and the plugins (distribution, version) its configs need::

    {"format_version": 2,
     "plugins": [{"distribution": "rv-geojson", "version": "0.1.0"}],
     "config": {...}}

Loading a file written at an older format version passes every config dict
through its class's ``upgrade(data, from_version)`` before structuring.
"""

from __future__ import annotations

import difflib
import json
import typing
from typing import Any, TypeVar, overload

import attrs
import cattrs

from rv.config import Config
from rv.errors import ConfigError

#: a config class, for functions that return an instance of the class they are given
C = TypeVar("C", bound=Config)

#: format version of saved configs; 1 = rv 0.0 development files (see upgrades)
FORMAT_VERSION = 2

TYPE_TAG = "type"


def _is_config(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, Config)


class RVConverter(cattrs.Converter):
    """A cattrs converter that knows rv's registry and config upgrades."""

    def __init__(self, registry) -> None:
        super().__init__()
        self.registry = registry
        self.from_version = FORMAT_VERSION
        self.register_unstructure_hook_func(_is_config, self._unstructure_config)
        self.register_structure_hook_func(_is_config, self._structure_config)
        # tuples are JSON lists
        self.register_unstructure_hook_func(lambda t: t is tuple, lambda v: [self.unstructure(x) for x in v])

    # -- unstructure ---------------------------------------------------------
    def _unstructure_config(self, obj: Config) -> dict:
        out: dict[str, Any] = {}
        found = self.registry.key_of(type(obj))
        if found is not None:
            out[TYPE_TAG] = found[1]
        elif type(obj).group is not None:
            raise ConfigError(
                f"{type(obj).__name__} is not registered under any key, so it cannot be saved; "
                f"register it in a plugin's register_* hook."
            )
        for f in attrs.fields(type(obj)):
            out[f.name] = self.unstructure(getattr(obj, f.name))
        return out

    # -- structure -----------------------------------------------------------
    def _structure_config(self, data: Any, cl: type[Config]) -> Config:
        if isinstance(data, Config):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"Expected an object for {cl.__name__}, got {type(data).__name__}: {data!r:.80}.")
        data = dict(data)
        key = data.pop(TYPE_TAG, None)
        cls = cl
        if key is not None:
            group = cl.group or (self.registry.key_of(cl) or (None,))[0]
            if group is None:
                raise ConfigError(f"{cl.__name__} takes no {TYPE_TAG!r} tag, got {key!r}.")
            cls = self.registry.config_class(group, key)
            if not issubclass(cls, cl):
                raise ConfigError(f"Key {key!r} is a {cls.__name__}, which is not a {cl.__name__}.")
        elif cl.group is not None and self.registry.key_of(cl) is None:
            raise ConfigError(
                f"A {cl.__name__} needs a {TYPE_TAG!r} tag naming its key, one of: "
                f"{', '.join(sorted(self.registry.keys(cl.group)))}."
            )
        if self.from_version < cls.format_version or self.from_version < FORMAT_VERSION:
            data = cls.upgrade(data, self.from_version)
        attrs.resolve_types(cls)
        fields = attrs.fields_dict(cls)
        unknown = [k for k in data if k not in fields]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, list(fields), n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(
                f"Unknown key(s) {', '.join(hints)} in {cls.__name__}{f' ({key})' if key else ''}. "
                f"Known keys: {', '.join(fields)}."
            )
        kwargs = {}
        for name, value in data.items():
            f = fields[name]
            try:
                kwargs[name] = self.structure(value, f.type) if f.type is not None else value
            except ConfigError:
                raise
            except Exception as e:
                inner = _config_error_in(e)
                if inner is not None:  # e.g. an unknown key in a scene inside a tuple of scenes
                    raise ConfigError(f"{cls.__name__}.{name}: {inner}") from e
                raise ConfigError(f"{cls.__name__}.{name}: cannot read {value!r:.80} as {f.type}: {e}") from e
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ConfigError(f"{cls.__name__}{f' ({key})' if key else ''}: {e}") from e


def _config_error_in(exc: BaseException) -> ConfigError | None:
    """The first ConfigError inside cattrs' exception groups (structuring a tuple of configs)."""
    if isinstance(exc, ConfigError):
        return exc
    for sub in getattr(exc, "exceptions", ()) or ():
        found = _config_error_in(sub)
        if found is not None:
            return found
    return None


def _structure_any(converter: RVConverter):
    converter.register_structure_hook(typing.Any, lambda v, _: v)


def make_converter(registry=None) -> RVConverter:
    """A converter for the given registry (default: the active one)."""
    if registry is None:
        from rv.registry import get_registry

        registry = get_registry()
    conv = RVConverter(registry)
    _structure_any(conv)
    return conv


def unstructure(config: Config, registry=None) -> dict:
    """The config as plain JSON-able data."""
    return make_converter(registry).unstructure(config)


def structure(data: dict, cls: type[C] = Config, registry: Any = None, from_version: int = FORMAT_VERSION) -> C:  # type: ignore[assignment]
    """A config from plain data; ``from_version`` triggers upgrades."""
    conv = make_converter(registry)
    conv.from_version = from_version
    return conv.structure(data, cls)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def required_plugins(config: Config, pm=None) -> list[dict[str, str]]:
    """Distributions (with versions) that provide the keys a config uses."""
    if pm is None:
        from rv.plugins import get_plugin_manager

        pm = get_plugin_manager()
    dists: dict[str, str] = {}
    versions = {p.distribution: p.version for p in pm.rv_plugins.values() if p.distribution}
    for obj in iter_configs(config):
        found = pm.rv_registry.key_of(type(obj))
        if found is None:
            continue
        reg = pm.rv_registry.get_registration(*found)
        if reg.distribution:
            dists[reg.distribution] = versions.get(reg.distribution) or ""
    return [{"distribution": d, "version": v} for d, v in sorted(dists.items())]


def iter_configs(config: Any):
    """Every config nested in ``config`` (depth first, including itself)."""
    if isinstance(config, Config):
        yield config
        for f in attrs.fields(type(config)):
            yield from iter_configs(getattr(config, f.name))
    elif isinstance(config, (list, tuple)):
        for item in config:
            yield from iter_configs(item)
    elif isinstance(config, dict):
        for item in config.values():
            yield from iter_configs(item)


def config_to_json(config: Config, pm=None) -> str:
    """The saved-file JSON text of a config: format version, plugins, config."""
    registry = pm.rv_registry if pm is not None else None
    doc = {
        "format_version": FORMAT_VERSION,
        "config_class": f"{type(config).__module__}:{type(config).__qualname__}",
        "plugins": required_plugins(config, pm),
        "config": unstructure(config, registry),
    }
    return json.dumps(doc, indent=2, sort_keys=False)


@overload
def config_from_json(text: str, cls: type[C], source: str = ..., pm: Any = ...) -> C: ...
@overload
def config_from_json(text: str, cls: None = None, source: str = ..., pm: Any = ...) -> Config: ...
def config_from_json(text: str, cls: type[Config] | None = None, source: str = "<string>", pm: Any = None) -> Config:
    """Read a saved-file JSON text back; ``source`` names the file in errors."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}).") from e
    if not isinstance(doc, dict) or "config" not in doc:
        raise ConfigError(f"{source} is not an rv config file: it has no 'config' member.")
    version = int(doc.get("format_version", 1))
    if version > FORMAT_VERSION:
        raise ConfigError(
            f"{source} was written at config format version {version}, newer than this rv "
            f"understands ({FORMAT_VERSION}); upgrade rv-core."
        )
    if cls is None:
        cls = config_class_named(doc.get("config_class", ""), source)
    registry = pm.rv_registry if pm is not None else None
    try:
        return structure(doc["config"], cls, registry, from_version=version)
    except ConfigError as e:
        missing = missing_plugins_error(doc, source, pm, cause=e)
        if missing is not None:
            raise missing from e
        raise ConfigError(f"{source}: {e}") from e


def missing_plugins_error(doc: dict, source: str, pm=None, cause: Exception | None = None) -> ConfigError | None:
    """The error naming the distributions a saved file records that this process has not loaded (or None).

    Checked before loading a command (``rv run_command``: "needs plugin
    distribution(s) X") and when a saved config fails to load (``cause``:
    "was written with plugin distribution(s) X", then the original error).
    """
    missing = _missing_distributions(doc, pm)
    if not missing:
        return None
    verb = "was written with" if cause is not None else "needs"
    after = f" ({cause})" if cause is not None else ""
    return ConfigError(
        f"{source} {verb} plugin distribution(s) {', '.join(missing)}, which are not installed or failed to "
        f"load here: pip install {' '.join(missing)} (see `rv plugins list`).{after}"
    )


def _missing_distributions(doc: dict, pm=None) -> list[str]:
    """Distributions a saved file records that this process has not loaded."""
    if not isinstance(doc, dict):
        return []
    recorded = [p.get("distribution") for p in doc.get("plugins", []) if isinstance(p, dict)]
    if not recorded:
        return []
    try:
        if pm is None:
            from rv.plugins import get_plugin_manager

            pm = get_plugin_manager()
        loaded = pm.distributions()
    except Exception:  # naming the distribution is a courtesy; the key error still stands
        return []
    return [d for d in recorded if d and d not in loaded]


def config_class_named(path: str, source: str = "<string>") -> type[Config]:
    """The config class a saved file names as ``"module:QualName"``; a ConfigError when it cannot be imported."""
    from rv._lazy import import_object

    mod, _, qualname = path.partition(":")
    if not mod or not qualname:
        raise ConfigError(f"{source} does not say which config class it holds ('config_class': {path!r}).")
    try:
        obj = import_object(path)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"{source} holds a {path}, which cannot be imported here ({e}). Install the package that "
            f"defines it (see the file's 'plugins'), or load the file with an explicit config class."
        ) from e
    if not (isinstance(obj, type) and issubclass(obj, Config)):
        raise ConfigError(f"{source} names {path} as its config class, which is not an rv Config.")
    return obj


def save_config(config: Config, uri: str) -> None:
    """Write a config file (atomically) through rv's file utilities."""
    from rv.file_utils import write_text

    write_text(uri, config_to_json(config))


@overload
def load_config(uri: str, cls: type[C]) -> C: ...
@overload
def load_config(uri: str, cls: None = None) -> Config: ...
def load_config(uri: str, cls: type[Config] | None = None) -> Config:
    """Read a config file written by :func:`save_config` (upgrading old formats)."""
    from rv.file_utils import read_text

    return config_from_json(read_text(uri), cls, source=uri)
