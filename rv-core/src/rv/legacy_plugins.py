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
from rv.registry import normalize_group


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
        """An object with hookimpls equivalent to the recorded calls."""
        return _LegacyPlugin(self)


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
        for key, runner in self.reg.runners:
            register(key, runner)

    @hookimpl
    def register_file_systems(self, register):
        for fs_class in self.reg.file_systems:
            protocols = getattr(fs_class, "protocol", None)
            if protocols and not hasattr(fs_class, "matches_uri"):
                for proto in (protocols,) if isinstance(protocols, str) else protocols:
                    register(proto, lambda uri, mode, _cls=fs_class: _cls())

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
        for fs_class in self.reg.file_systems:
            if hasattr(fs_class, "matches_uri") and fs_class.matches_uri(uri, mode):
                return fs_class()
        return None
