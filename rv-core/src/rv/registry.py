"""The registry: one key → builder map per group, filled by plugins.

Plugins fill it through the registration hooks (``register_tasks(register)``
and friends). A key claimed twice is a :class:`~rv.errors.PluginError` naming
both plugins; an unknown key is a :class:`~rv.errors.ConfigError` listing the
group's keys and the closest match, or naming the package that provides a
known first-party key.

A few keys have aliases (``rv.keys.KEY_ALIASES``: the names later Raster
Vision releases gave to the same things). Looking up an alias that no plugin
registered as a key of its own gives the entry of the key it names.
"""

from __future__ import annotations

import difflib
from typing import Any

import attrs

from rv.errors import ConfigError, PluginError
from rv.keys import FIRST_PARTY_PROVIDERS, KEY_ALIASES, REPLACED_BACKENDS

#: registry group → registration hook name
GROUP_HOOKS = {
    "tasks": "register_tasks",
    "backends": "register_backends",
    "raster_sources": "register_raster_sources",
    "raster_transformers": "register_raster_transformers",
    "label_sources": "register_label_sources",
    "label_stores": "register_label_stores",
    "analyzers": "register_analyzers",
    "augmentors": "register_augmentors",
    "evaluators": "register_evaluators",
    "runners": "register_runners",
    "command_implementations": "register_command_implementations",
    "model_defaults": "register_model_defaults",
}

#: groups whose values are config builders (the others hold runners, factories, dicts)
CONFIG_GROUPS = (
    "tasks",
    "backends",
    "raster_sources",
    "raster_transformers",
    "label_sources",
    "label_stores",
    "analyzers",
    "augmentors",
    "evaluators",
)

#: Raster Vision 0.8 group names, accepted by the legacy plugin registry
LEGACY_GROUPS = {
    "TASK": "tasks",
    "BACKEND": "backends",
    "RASTER_SOURCE": "raster_sources",
    "RASTER_TRANSFORMER": "raster_transformers",
    "LABEL_SOURCE": "label_sources",
    "LABEL_STORE": "label_stores",
    "ANALYZER": "analyzers",
    "AUGMENTOR": "augmentors",
    "EVALUATOR": "evaluators",
}

#: groups where another plugin may replace a key registered by rv-core's built-in plugin
REPLACEABLE_GROUPS = ("command_implementations",)

_SINGULAR = {
    "tasks": "task",
    "backends": "backend",
    "raster_sources": "raster source",
    "raster_transformers": "raster transformer",
    "label_sources": "label source",
    "label_stores": "label store",
    "analyzers": "analyzer",
    "augmentors": "augmentor",
    "evaluators": "evaluator",
    "runners": "runner",
    "command_implementations": "command implementation",
    "model_defaults": "model defaults",
}


@attrs.frozen
class Registration:
    """One registered key: what it maps to and which plugin registered it."""

    group: str
    key: str
    value: Any
    plugin: str
    distribution: str | None = None
    #: the built-in registration this one replaced (REPLACEABLE_GROUPS only)
    replaced: Registration | None = None


def normalize_group(group: str) -> str:
    if group in GROUP_HOOKS:
        return group
    if group in LEGACY_GROUPS:
        return LEGACY_GROUPS[group]
    raise PluginError(
        f"Unknown registry group {group!r}; use one of {', '.join(GROUP_HOOKS)} "
        f"(or the Raster Vision names {', '.join(LEGACY_GROUPS)})."
    )


class Registry:
    """Key → builder maps per group, and the reverse map config class → key."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {g: {} for g in GROUP_HOOKS}
        self._config_classes: dict[type, tuple[str, str]] = {}

    # -- filling ------------------------------------------------------------
    def register(self, group: str, key: str, value: Any, plugin: str, distribution: str | None = None) -> None:
        """Record ``key`` in ``group``; a key registered twice is a PluginError."""
        group = normalize_group(group)
        if not isinstance(key, str) or not key:
            raise PluginError(
                f"Plugin {plugin!r} registered a {_SINGULAR[group]} with key {key!r}: keys are non-empty strings."
            )
        if group == "command_implementations" and not (callable(value) or (isinstance(value, str) and ":" in value)):
            raise PluginError(
                f"Plugin {_who(plugin, distribution)} registered {value!r} as the implementation of command {key!r}; "
                f"register a callable (command_config, tmp_dir) -> None, or a 'module:function' string."
            )
        existing = self._entries[group].get(key)
        if existing is not None and group in REPLACEABLE_GROUPS and _is_builtin(plugin) != _is_builtin(existing.plugin):
            # A plugin provides its own implementation of a built-in: it wins, whichever registered first.
            if _is_builtin(plugin):
                self._entries[group][key] = attrs.evolve(
                    existing, replaced=Registration(group, key, value, plugin, distribution)
                )
            else:
                self._entries[group][key] = Registration(group, key, value, plugin, distribution, replaced=existing)
            return
        if existing is not None:
            raise PluginError(
                f"The {_SINGULAR[group]} key {key!r} is registered twice: by plugin "
                f"{_who(existing.plugin, existing.distribution)} and by plugin "
                f"{_who(plugin, distribution)}. Uninstall one of them, or disable one with "
                f"RV_LOAD_PLUGINS=<the plugins to keep>."
            )
        if group in CONFIG_GROUPS:
            value = _as_builder_class(value, group, key, plugin)
            config_cls = value.config_class
            if config_cls in self._config_classes:
                g, k = self._config_classes[config_cls]
                raise PluginError(
                    f"Plugin {_who(plugin, distribution)} registered config class {config_cls.__name__} "
                    f"as {key!r}, but it is already registered as {k!r} ({g}). Each key needs its own config class."
                )
            self._config_classes[config_cls] = (group, key)
        self._entries[group][key] = Registration(group, key, value, plugin, distribution)

    def remove_plugin(self, plugin: str) -> None:
        """Forget every key a plugin registered (used when its registration fails)."""
        for group, entries in self._entries.items():
            for key in [k for k, r in entries.items() if r.plugin == plugin]:
                reg = entries.pop(key)
                if group in CONFIG_GROUPS:
                    self._config_classes.pop(reg.value.config_class, None)
                if reg.replaced is not None:  # the built-in it replaced comes back
                    entries[key] = reg.replaced
            for key, reg in list(entries.items()):
                if reg.replaced is not None and reg.replaced.plugin == plugin:
                    entries[key] = attrs.evolve(reg, replaced=None)

    # -- reading ------------------------------------------------------------
    def keys(self, group: str) -> list[str]:
        return list(self._entries[normalize_group(group)])

    def registrations(self, group: str | None = None) -> list[Registration]:
        groups = [normalize_group(group)] if group else list(self._entries)
        return [r for g in groups for r in self._entries[g].values()]

    def resolve_key(self, group: str, key: str) -> str:
        """``key``, or the key an alias names when ``key`` is not registered itself."""
        group = normalize_group(group)
        if key in self._entries[group]:
            return key
        return KEY_ALIASES.get(group, {}).get(key, key)

    def get_registration(self, group: str, key: str) -> Registration:
        group = normalize_group(group)
        try:
            return self._entries[group][self.resolve_key(group, key)]
        except KeyError:
            raise ConfigError(self.unknown_key_message(group, key)) from None

    def get(self, group: str, key: str) -> Any:
        return self.get_registration(group, key).value

    def get_builder(self, group: str, key: str):
        return self.get(group, key)

    def has(self, group: str, key: str) -> bool:
        return self.resolve_key(group, key) in self._entries[normalize_group(group)]

    def key_of(self, config_cls: type) -> tuple[str, str] | None:
        return self._config_classes.get(config_cls)

    def builder_for_config_class(self, config_cls: type):
        found = self._config_classes.get(config_cls)
        if found is None:
            return None
        return self._entries[found[0]][found[1]].value

    def config_class(self, group: str, key: str) -> type:
        return self.get_builder(group, key).config_class

    def provided_by(self, plugin: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for reg in self.registrations():
            if reg.plugin == plugin:
                out.setdefault(reg.group, []).append(reg.key)
        return out

    def unknown_key_message(self, group: str, key: str) -> str:
        group = normalize_group(group)
        known = sorted(self._entries[group])
        what = _SINGULAR[group]
        if group == "command_implementations":
            return (
                f"No implementation of command {key!r} is registered, so it cannot run. Commands with an "
                f"implementation: {', '.join(known) if known else '(none)'}. A plugin provides one with the "
                f"register_command_implementations(register) hook; if yours does, check that it is installed "
                f"and loaded here (see `rv plugins list`)."
            )
        target = self.resolve_key(group, key)
        if target != key:  # an alias of a key no loaded plugin registered
            return f"{key!r} is another name of the {what} key {target!r}. " + self.unknown_key_message(group, target)
        if group == "backends" and key in REPLACED_BACKENDS:
            return (
                f"{key!r} is a TensorFlow backend of Raster Vision; rv's backends are PyTorch ones. Use "
                f"rv.BackendConfig.builder(rv.{REPLACED_BACKENDS[key]}) instead; its .with_model_defaults(...), "
                f".with_batch_size(...), .with_num_steps(...) and .with_config({{...}}) take the place of a "
                f"TensorFlow template (see 'Coming from Raster Vision' in the documentation)."
            )
        provider = FIRST_PARTY_PROVIDERS.get(key)
        if provider:
            return (
                f"Unknown {what} key {key!r}: it is provided by the {provider} package, "
                f"which is not installed (or failed to load: see `rv plugins list`). "
                f"Install it with: pip install {provider}"
            )
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return (
            f"Unknown {what} key {key!r}.{hint} Known {what} keys: "
            f"{', '.join(known) if known else '(none registered)'}. "
            f"A key from a third-party plugin needs that plugin installed (see `rv plugins list`)."
        )


def _is_builtin(plugin: str) -> bool:
    from rv.plugins import BUILTIN_PLUGIN

    return plugin == BUILTIN_PLUGIN


def resolve_implementation(value: Any, what: str) -> Any:
    """A registered value, importing a lazy ``"module:attribute"`` string; a PluginError when that fails."""
    if not isinstance(value, str):
        return value
    from rv._lazy import import_object

    attribute = value.partition(":")[2]
    try:
        obj = import_object(value)
    except (ImportError, AttributeError) as e:
        raise PluginError(
            f"The {what} is registered as {value!r}, which cannot be imported here ({type(e).__name__}: {e}). "
            f"Reinstall the plugin that registers it (see `rv plugins list`)."
        ) from e
    if not attribute:
        raise PluginError(f"The {what} is registered as {value!r}; a lazy implementation is 'module:function'.")
    return obj


def _who(plugin: str, distribution: str | None) -> str:
    return f"{plugin!r} ({distribution})" if distribution and distribution != plugin else f"{plugin!r}"


def _as_builder_class(value: Any, group: str, key: str, plugin: str):
    from rv.config import Config, ConfigBuilder, GenericBuilder

    if isinstance(value, type) and issubclass(value, ConfigBuilder):
        if value.config_class is Config:
            raise PluginError(
                f"Plugin {plugin!r} registered builder {value.__name__} for {key!r} without a config_class."
            )
        return value
    if isinstance(value, type) and issubclass(value, Config):
        if value.builder_class is not None and value.builder_class.config_class is value:
            return value.builder_class
        return GenericBuilder.for_class(value)
    raise PluginError(
        f"Plugin {plugin!r} registered {value!r} as {_SINGULAR[group]} {key!r}; "
        f"register a ConfigBuilder or Config subclass."
    )


def get_registry() -> Registry:
    """The registry of the active plugin manager (loading plugins on first use)."""
    from rv.plugins import get_plugin_manager

    return get_plugin_manager().rv_registry
