"""Plugin discovery and the plugin manager factory.

Plugins are found through the ``rv.plugins`` entry point group (rv-core's own
built-ins included) and, for the older form, through ``[PLUGINS] files=[...]
modules=[...]`` in the rv configuration. Entry points load one at a time; a
plugin that fails to import is recorded with its distribution, version and
error, named in a one-line warning, and never takes the host down — unless
``RV_STRICT_PLUGINS=1``.

Environment:

- ``RV_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry point except rv-core's own
  built-ins and those named in ``RV_LOAD_PLUGINS``.
- ``RV_LOAD_PLUGINS=a,b``: load only these entry points (by entry point name
  or distribution name), plus rv-core's built-ins.
- ``RV_STRICT_PLUGINS=1``: a plugin failure, a duplicate key or an
  unknown hook name is an error.

Legacy plugins named in ``[PLUGINS]`` are loaded whatever these say: they
are named explicitly, like pytest's ``-p``. Plugin names are unique: a second
distribution using an entry point name already taken is recorded as failed,
never silently skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs
import pluggy

from rv import hookspecs
from rv.errors import PluginError
from rv.registry import GROUP_HOOKS, Registry

ENTRY_POINT_GROUP = "rv.plugins"
BUILTIN_PLUGIN = "rv"  # entry point name of rv-core's built-in plugin


@attrs.define
class PluginInfo:
    """What ``rv plugins list`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    source: str  # "entry point 'x = mod'" or "legacy module mod" or "registered"
    status: str = "ok"  # "ok" or "failed"
    error: str | None = None
    traceback: str | None = None
    hooks: list[str] = attrs.field(factory=list)
    provides: dict[str, list[str]] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d.pop("traceback")
        return d


class RVPluginManager(pluggy.PluginManager):
    """A pluggy PluginManager that also holds rv's registry and plugin records."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.rv_registry = Registry()
        self.rv_plugins: dict[str, PluginInfo] = {}
        self.strict = False
        self._registry_built = False

    # -- records ---------------------------------------------------------
    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.rv_plugins.values() if p.status != "ok"]

    def plugin_infos(self) -> list[PluginInfo]:
        for info in self.rv_plugins.values():
            plugin = self.get_plugin(info.name)
            if plugin is not None:
                info.hooks = sorted(h.name for h in self.get_hookcallers(plugin) or [])
            info.provides = self.rv_registry.provided_by(info.name)
        return list(self.rv_plugins.values())

    def distributions(self) -> dict[str, str]:
        """Distribution → version of every loaded plugin (recorded in saved configs)."""
        return {
            p.distribution: p.version or "" for p in self.rv_plugins.values() if p.status == "ok" and p.distribution
        }

    def distribution_of_key(self, group: str, key: str) -> str | None:
        reg = self.rv_registry.get_registration(group, key)
        return reg.distribution

    # -- registering -------------------------------------------------------
    def add_plugin(
        self,
        plugin: Any,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        source: str = "registered",
    ) -> None:
        """Register a plugin object (module or instance) and record it."""
        self.register(plugin, name=name)
        self.rv_plugins[name] = PluginInfo(name, distribution, version, source)
        if self._registry_built:
            self._register_keys_of(name, plugin)

    def record_failure(
        self, name: str, distribution: str | None, version: str | None, source: str, exc: BaseException
    ) -> None:
        info = PluginInfo(
            name,
            distribution,
            version,
            source,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)),
        )
        self.rv_plugins[name] = info
        if self.strict:
            if isinstance(exc, PluginError):
                raise exc
            raise PluginError(
                f"Plugin {name!r} ({distribution or 'no distribution'} {version or ''}) failed to load "
                f"from {source}: {info.error}. Fix or uninstall it, or unset RV_STRICT_PLUGINS."
            ) from exc
        print(
            f"rv: warning: plugin {name!r} ({distribution or '?'} {version or ''}) failed to load: "
            f"{info.error} (see `rv plugins list`; RV_STRICT_PLUGINS=1 to make this an error)",
            file=sys.stderr,
        )

    # -- the registry ------------------------------------------------------
    def build_registry(self) -> Registry:
        """Call every plugin's registration hooks, one plugin at a time."""
        self._registry_built = True
        for name, plugin in list(self.list_name_plugin()):
            if plugin is not None:
                self._register_keys_of(name, plugin)
        return self.rv_registry

    def _register_keys_of(self, name: str, plugin: Any) -> None:
        """Run one plugin's registration hooks; on any failure undo its keys."""
        info = self.rv_plugins.get(name)
        dist = info.distribution if info else None
        version = info.version if info else None
        for group, hook_name in GROUP_HOOKS.items():
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue

                def register(key, value, _group=group):
                    self.rv_registry.register(_group, key, value, plugin=name, distribution=dist)

                try:
                    impl.function(register)
                except Exception as exc:  # a broken plugin never takes the host down
                    self.rv_registry.remove_plugin(name)
                    self.unregister(plugin)
                    self.record_failure(name, dist, version, f"hook {hook_name}", exc)
                    return

    def check_hook_names(self) -> None:
        """Hook implementations no hookspec matches: an error in strict mode, else a warning.

        pluggy's ``check_pending`` with rv's messages: a hook rv used to have
        (:data:`REMOVED_HOOKS`) is named with what replaced it.
        """
        for name, caller in vars(self.hook).items():
            if name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                if name in REMOVED_HOOKS:
                    message = (
                        f"plugin {impl.plugin_name!r} implements the hook {name!r}, which rv no longer has: "
                        f"{REMOVED_HOOKS[name]}"
                    )
                else:
                    message = (
                        f"unknown hook {name!r} in plugin {impl.plugin!r}. Check the hook's name against rv.hookspecs"
                    )
                if self.strict:
                    raise PluginError(message + ".")
                print(f"rv: warning: {message}", file=sys.stderr)


#: hooks rv no longer has → what a plugin implements instead
REMOVED_HOOKS = {
    "register_file_systems": (
        "implement file_system_for(uri, mode) instead, returning your fsspec file system for the URIs of "
        "your scheme and None for the others (rv 0.1 answered both hooks; the registered factories are "
        "no longer called)"
    ),
}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _wanted(names: set[str] | None, ep: metadata.EntryPoint) -> bool:
    if ep.name == BUILTIN_PLUGIN and _dist_name(ep) == "rv-core":
        return True
    if names is None:
        return True
    dist = _dist_name(ep)
    return ep.name in names or (dist is not None and dist in names)


def _dist_name(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def make_plugin_manager(
    *,
    autoload: bool | None = None,
    load_only: list[str] | None = None,
    strict: bool | None = None,
    legacy: bool = True,
    settings: Any = None,
) -> RVPluginManager:
    """Make a fresh plugin manager with plugins loaded and the registry built.

    Arguments default to the environment (``RV_DISABLE_PLUGIN_AUTOLOAD``,
    ``RV_LOAD_PLUGINS``, ``RV_STRICT_PLUGINS``). ``autoload=False`` with no
    ``load_only`` loads only rv-core's built-in plugin.
    """
    pm = RVPluginManager()
    pm.strict = _truthy(os.environ.get("RV_STRICT_PLUGINS")) if strict is None else strict
    if autoload is None:
        autoload = not _truthy(os.environ.get("RV_DISABLE_PLUGIN_AUTOLOAD"))
    if load_only is None and os.environ.get("RV_LOAD_PLUGINS"):
        load_only = [n.strip() for n in os.environ["RV_LOAD_PLUGINS"].split(",") if n.strip()]
    names = set(load_only) if load_only is not None else (None if autoload else set())
    load_entry_points(pm, names)
    if legacy:
        load_legacy_plugins(pm, settings)
    pm.build_registry()
    pm.check_hook_names()
    return pm


def load_entry_points(pm: RVPluginManager, names: set[str] | None) -> None:
    """Load ``rv.plugins`` entry points one at a time, recording failures."""
    seen: dict[str, str | None] = {}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name != BUILTIN_PLUGIN, e.name)):
        if not _wanted(names, ep):
            continue
        dist = _dist_name(ep)
        version = ep.dist.version if getattr(ep, "dist", None) is not None else None
        source = f"entry point '{ep.name} = {ep.value}'"
        if ep.name in seen:
            if seen[ep.name] != dist:
                # Plugin names are unique: the second distribution's plugin cannot be registered.
                pm.record_failure(
                    f"{ep.name} ({dist})",
                    dist,
                    version,
                    source,
                    PluginError(
                        f"the plugin name {ep.name!r} is already taken by distribution {seen[ep.name]}; "
                        f"one of the two must rename its entry point in group {ENTRY_POINT_GROUP!r}"
                    ),
                )
            continue
        seen[ep.name] = dist
        try:
            plugin = ep.load()
            pm.add_plugin(plugin, ep.name, dist, version, source)
        except Exception as exc:
            pm.record_failure(ep.name, dist, version, source, exc)


# ---------------------------------------------------------------------------
# The older plugin form: modules with register_plugin(plugin_registry)
# ---------------------------------------------------------------------------


def load_legacy_plugins(pm: RVPluginManager, settings: Any = None) -> None:
    """Load ``[PLUGINS] files=[...] modules=[...]`` from the rv configuration."""
    try:
        if settings is None:
            from rv.settings import get_settings

            settings = get_settings()
        files = settings.get_list("PLUGINS", "files")
        modules = settings.get_list("PLUGINS", "modules")
    except Exception as exc:  # settings trouble must not take the host down either
        print(f"rv: warning: could not read [PLUGINS] settings: {exc}", file=sys.stderr)
        return
    for uri in files:
        load_legacy_plugin(pm, file=uri)
    for module in modules:
        load_legacy_plugin(pm, module=module)


def load_legacy_plugin(pm: RVPluginManager, *, file: str | None = None, module: str | None = None) -> None:
    """Load one legacy plugin module and call its ``register_plugin``."""
    from rv.legacy_plugins import LegacyPluginRegistry

    source = f"legacy file {file}" if file else f"legacy module {module}"
    name = module or Path(file).stem
    if name in pm.rv_plugins:  # plugin names are unique: a legacy module may share an entry point's
        name = f"{name} ({source})"
    try:
        if file:
            local = file
            if "://" in file:
                from rv.file_utils import download_if_needed
                from rv.settings import tmp_dir

                with use_plugin_manager(pm):  # the manager being built answers file_system_for
                    local = download_if_needed(file, tmp_dir())
            module_name = f"rv_legacy_plugin_{Path(local).stem}"
            spec = importlib.util.spec_from_file_location(module_name, local)
            if spec is None or spec.loader is None:
                raise PluginError(f"cannot import {local}")
            mod = importlib.util.module_from_spec(spec)
            # In sys.modules, so that its config classes resolve their annotations
            # and a saved config can name them ("config_class").
            sys.modules[module_name] = mod
            try:
                spec.loader.exec_module(mod)
            except BaseException:
                sys.modules.pop(module_name, None)
                raise
        else:
            mod = importlib.import_module(module)
        if not hasattr(mod, "register_plugin"):
            raise PluginError(f"{source} has no register_plugin(plugin_registry) function")
        legacy = LegacyPluginRegistry(name)
        mod.register_plugin(legacy)
        pm.add_plugin(legacy.as_plugin(), name, None, None, source)
    except Exception as exc:
        pm.record_failure(name, None, None, source, exc)


# ---------------------------------------------------------------------------
# The active plugin manager
# ---------------------------------------------------------------------------

_active: list[RVPluginManager] = []


def get_plugin_manager() -> RVPluginManager:
    """The active plugin manager, made (and plugins loaded) on first use."""
    if not _active:
        _active.append(make_plugin_manager())
    return _active[-1]


def set_plugin_manager(pm: RVPluginManager | None) -> None:
    """Replace the active plugin manager (``None``: make a new one on next use)."""
    _active.clear()
    if pm is not None:
        _active.append(pm)


@contextlib.contextmanager
def use_plugin_manager(pm: RVPluginManager) -> Iterator[RVPluginManager]:
    """Make ``pm`` the active plugin manager inside a ``with`` block."""
    _active.append(pm)
    try:
        yield pm
    finally:
        _active.remove(pm)


@contextlib.contextmanager
def no_active_plugin_manager() -> Iterator[None]:
    """Inside the block no plugin manager is active; the ones active before are again after it.

    The first :func:`get_plugin_manager` in the block discovers plugins afresh,
    as a new ``rv`` process would (after a test changed the environment, the
    settings or the installed plugins); call :func:`set_plugin_manager` with
    ``None`` inside the block to discover afresh once more.
    """
    saved = list(_active)
    _active.clear()
    try:
        yield
    finally:
        _active[:] = saved
