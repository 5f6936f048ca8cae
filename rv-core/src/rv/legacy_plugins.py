"""The older plugin form: a module with ``register_plugin(plugin_registry)``.

Raster Vision 0.8 plugins were modules named in the ``[PLUGINS]`` section of
the rv configuration (``files=[...]`` paths or URIs, ``modules=[...]``
importable names). Each defines ``register_plugin(plugin_registry)`` and calls
methods on the object it receives. :class:`LegacyPluginRegistry` records those
calls and turns them into an ordinary pluggy plugin, so the rest of rv sees
one kind of plugin.
"""

from __future__ import annotations

from typing import Any

from rv.hookspecs import hookimpl
from rv.registry import GROUP_HOOKS, normalize_group


class LegacyPluginRegistry:
    """The ``plugin_registry`` object a legacy ``register_plugin`` receives."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.config_builders: list[tuple[str, str, Any]] = []
        self.raster_source_providers: list[Any] = []
        self.label_source_providers: list[Any] = []
        self.label_store_providers: list[Any] = []
        self.evaluator_providers: list[Any] = []
        self.runners: list[tuple[str, Any]] = []
        self.file_systems: list[Any] = []

    # -- the Raster Vision 0.8 API -------------------------------------------
    def register_config_builder(self, group: str, key: str, builder_class: Any) -> None:
        """Register a config builder under ``key`` in ``group`` (e.g. ``rv.TASK`` or ``"tasks"``)."""
        self.config_builders.append((normalize_group(group), key, builder_class))

    def register_default_raster_source(self, provider: Any) -> None:
        """``provider(uri)`` or ``provider.handles(uri)`` + ``provider.construct(uri)``."""
        self.raster_source_providers.append(provider)

    def register_default_label_source(self, provider: Any) -> None:
        """``provider(task_type, uri)`` or ``handles(task_type, uri)`` + ``construct(uri)``."""
        self.label_source_providers.append(provider)

    def register_default_label_store(self, provider: Any) -> None:
        """``provider(task_type)`` or ``handles(task_type)`` + ``construct()``."""
        self.label_store_providers.append(provider)

    def register_default_evaluator(self, provider: Any) -> None:
        """``provider(task_type)`` or ``handles(task_type)`` + ``construct()``."""
        self.evaluator_providers.append(provider)

    def register_experiment_runner(self, key: str, runner_class: Any) -> None:
        """Register an experiment runner class under ``key``."""
        self.runners.append((key, runner_class))

    def register_filesystem(self, fs_class: Any) -> None:
        """Register a file system.

        ``fs_class`` is an fsspec ``AbstractFileSystem`` subclass (used for its
        ``protocol``), or a class with ``matches_uri(uri, mode)`` and a
        constructor taking no arguments that returns an fsspec file system.
        """
        self.file_systems.append(fs_class)

    # -- conversion ----------------------------------------------------------
    def as_plugin(self) -> Any:
        """A plugin object with hookimpls equivalent to the recorded calls.

        It implements only the hooks the calls need (``register_evaluators``
        for an evaluator's config builder, ``default_evaluator`` for a default
        evaluator provider, ...), so ``rv plugins list`` shows what the plugin
        really contributes.
        """
        full = _LegacyPlugin(self)
        hooks: set[str] = {GROUP_HOOKS[group] for group, _, _ in self.config_builders}
        if self.runners:
            hooks.add("register_runners")
        if self.file_systems:
            hooks.add("file_system_for")
        for hook, providers in (
            ("default_raster_source", self.raster_source_providers),
            ("default_label_source", self.label_source_providers),
            ("default_label_store", self.label_store_providers),
            ("default_evaluator", self.evaluator_providers),
        ):
            if providers:
                hooks.add(hook)
        groups = {hook: group for group, hook in GROUP_HOOKS.items()}
        impls = {}
        for hook in sorted(hooks):
            impl = getattr(full, hook, None)
            # A registry group without a method here (one newer than this module) gets its keys as they are.
            impls[hook] = impl if impl is not None else full.group_hookimpl(groups[hook])
        return _HookSubset(self.name, impls)


class _HookSubset:
    """A plugin object whose attributes are the chosen bound hookimpls of a :class:`_LegacyPlugin`."""

    def __init__(self, name: str, hooks: dict[str, Any]) -> None:
        self.__dict__.update(hooks)
        self._rv_legacy_name = name

    def __repr__(self) -> str:
        return f"<legacy plugin {self._rv_legacy_name!r}>"


def _provide(providers: list[Any], args: tuple, construct_args: tuple) -> Any:
    for provider in providers:
        if hasattr(provider, "handles"):
            if provider.handles(*args):
                return provider.construct(*construct_args)
        else:
            result = provider(*args)
            if result is not None:
                return result
    return None


class _LegacyPlugin:
    def __init__(self, reg: LegacyPluginRegistry) -> None:
        self.reg = reg

    def _register_group(self, group: str, register: Any) -> None:
        for g, key, builder in self.reg.config_builders:
            if g == group:
                register(key, builder)

    def group_hookimpl(self, group: str) -> Any:
        """A ``register_<group>(register)`` hookimpl that registers the recorded keys of ``group``."""

        def register_group(register):
            self._register_group(group, register)

        register_group.__name__ = GROUP_HOOKS[group]
        return hookimpl(register_group)

    @hookimpl
    def register_tasks(self, register):
        self._register_group("tasks", register)

    @hookimpl
    def register_backends(self, register):
        self._register_group("backends", register)

    @hookimpl
    def register_raster_sources(self, register):
        self._register_group("raster_sources", register)

    @hookimpl
    def register_raster_transformers(self, register):
        self._register_group("raster_transformers", register)

    @hookimpl
    def register_label_sources(self, register):
        self._register_group("label_sources", register)

    @hookimpl
    def register_label_stores(self, register):
        self._register_group("label_stores", register)

    @hookimpl
    def register_analyzers(self, register):
        self._register_group("analyzers", register)

    @hookimpl
    def register_augmentors(self, register):
        self._register_group("augmentors", register)

    @hookimpl
    def register_evaluators(self, register):
        self._register_group("evaluators", register)

    @hookimpl
    def register_runners(self, register):
        self._register_group("runners", register)
        for key, runner in self.reg.runners:
            register(key, runner)

    @hookimpl
    def default_raster_source(self, uri):
        return _provide(self.reg.raster_source_providers, (uri,), (uri,))

    @hookimpl
    def default_label_source(self, task_type, uri):
        return _provide(self.reg.label_source_providers, (task_type, uri), (uri,))

    @hookimpl
    def default_label_store(self, task_type):
        return _provide(self.reg.label_store_providers, (task_type,), ())

    @hookimpl
    def default_evaluator(self, task_type):
        return _provide(self.reg.evaluator_providers, (task_type,), ())

    @hookimpl
    def file_system_for(self, uri, mode):
        """The first registered file system that claims ``uri``: by ``matches_uri``, else by ``protocol``."""
        from rv.file_systems import uri_scheme

        scheme = uri_scheme(uri)
        for fs_class in self.reg.file_systems:
            if hasattr(fs_class, "matches_uri"):
                if fs_class.matches_uri(uri, mode):
                    return fs_class()
                continue
            protocols = getattr(fs_class, "protocol", None) or ()
            if scheme in ((protocols,) if isinstance(protocols, str) else protocols):
                return fs_class()
        return None
