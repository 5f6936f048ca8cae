"""Test helpers for rv and for plugin authors; also a pytest plugin.

rv-core declares this module as a ``pytest11`` entry point, so in any test
session where rv-core is installed these fixtures are available without an
import:

``rv_plugin_manager``
    A fresh plugin manager (:func:`rv.plugins.make_plugin_manager`, plugins
    found through entry points as usual), made the *active* one for the
    test: ``rv.TaskConfig.builder(...)``, serialization and the CLI use it.

``rv_register_plugin``
    ``rv_register_plugin(plugin, name=None)`` registers a plugin object (a
    module, class instance or class with ``@rv.hookimpl`` functions) into
    the test's fresh plugin manager and registers its keys. A plugin whose
    registration fails, or a hook name rv does not know, raises
    :class:`rv.errors.PluginError` at once, so a typo fails the test that
    made it. Returns the plugin manager.

``assert_config_round_trip``
    The function :func:`assert_config_round_trip`.

``rv_clean_environment``
    No rv settings from the developer's shell (``RV_*`` and ``PLUGINS_*``
    variables removed), ``RV_CONFIG_DIR`` and the working directory empty
    folders under ``tmp_path``, and no active plugin manager: the first use
    discovers plugins afresh, and the previous manager is active again
    after the test. Not autouse: a conftest makes it so
    (``@pytest.fixture(autouse=True)`` around it, or around
    :func:`clean_rv_environment` for more variables to remove).

``rv_baseline_backend``
    Registers MAJORITY_CLASS_BASELINE (:mod:`rv.testing.baseline`, a
    torch-free backend that runs) into the test's fresh plugin manager and
    returns its key. For ``rv`` subprocesses, :func:`use_baseline_backend`; for a
    backend config that never trains (FAKE_BACKEND), :func:`use_legacy_fake_backend`.

``rv_plugin_venv`` (session scope)
    ``rv_plugin_venv(*project_dirs)`` returns the ``python`` of a throwaway
    venv in which those plugin projects are pip-installed for real (see
    :func:`make_plugin_venv`): run ``python -m rv plugins list`` there to
    check that a plugin is discovered through its entry point, without
    installing anything into the environment that runs the tests.

A plugin's tests then read::

    def test_my_evaluator_round_trips(rv_register_plugin, assert_config_round_trip):
        rv_register_plugin(my_plugin)
        config = rv.EvaluatorConfig.builder("MY_EVALUATOR").with_option(3).build()
        assert_config_round_trip(config)

and :func:`sample_configs` walks the registry to check *every* key (each
config built with every field set, from its type)::

    def test_every_key_round_trips(rv_plugin_manager):
        for group, key, config in sample_configs():
            assert_config_round_trip(config)

Nothing heavy is imported here: pytest imports this module in every session
of an environment where rv-core is installed, so it adds nothing to what
``import rv`` costs; rv's submodules (plugins, serialization) are imported
inside the fixtures and functions.

One concept, one module (over 500 lines): what rv offers tests — its own and plugin authors' —
as fixtures and helpers; each part (config round trips, plugin managers, a clean environment, the
test backends, throwaway plugin venvs) is small, and pytest finds them all through one plugin module.
"""

from __future__ import annotations

import collections.abc
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "register_plugin",
    "assert_config_round_trip",
    "clean_rv_environment",
    "environ_without_rv",
    "make_plugin_venv",
    "sample_config",
    "sample_configs",
    "use_baseline_backend",
]


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


def assert_config_round_trip(config: Any, tmp_dir: str | os.PathLike | None = None) -> Any:
    """Assert that ``config`` survives serialization, and return the config read back.

    Checks, with the registry of the active plugin manager:

    1. ``structure(unstructure(config)) == config`` and that the unstructured
       form is plain JSON (``json.dumps`` accepts it and reads back equal);
    2. the saved-file round trip: :func:`rv.serialization.save_config` to a
       ``.json`` file in ``tmp_dir`` (default: a fresh temporary directory),
       then :func:`rv.serialization.load_config` gives an equal config of the
       same class, and the file records the format version and plugins.
    """
    from rv.serialization import FORMAT_VERSION, load_config, save_config, structure, unstructure

    cls = type(config)
    data = unstructure(config)
    try:
        text = json.dumps(data)
    except (TypeError, ValueError) as e:
        raise AssertionError(f"unstructure() of a {cls.__name__} is not plain JSON ({e}): {data!r}") from e
    assert json.loads(text) == data, f"the unstructured {cls.__name__} does not survive JSON: {data!r}"
    back = structure(json.loads(text), cls)
    assert type(back) is cls, f"structure() gave a {type(back).__name__}, expected {cls.__name__}"
    assert back == config, f"structure(unstructure(c)) != c for {cls.__name__}:\n  {config!r}\n  {back!r}"

    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        uri = os.path.join(tmp, f"{cls.__name__}.json")
        save_config(config, uri)
        with open(uri, encoding="utf-8") as f:
            doc = json.load(f)
        assert doc["format_version"] == FORMAT_VERSION
        assert isinstance(doc["plugins"], list)
        assert doc["config_class"] == f"{cls.__module__}:{cls.__qualname__}"
        # A class defined inside a test cannot be imported by name: read it back as that class.
        loaded = load_config(uri, None if _importable(cls) else cls)
    assert type(loaded) is cls, f"load_config gave a {type(loaded).__name__}, expected {cls.__name__}"
    assert loaded == config, f"save_config/load_config changed the {cls.__name__}:\n  {config!r}\n  {loaded!r}"
    return loaded


def _importable(cls: type) -> bool:
    from rv.errors import ConfigError
    from rv.serialization import config_class_named

    try:
        return config_class_named(f"{cls.__module__}:{cls.__qualname__}") is cls
    except ConfigError:
        return False


# ---------------------------------------------------------------------------
# Sample configs: one instance per registered key, every field set
# ---------------------------------------------------------------------------


def sample_config(group: str, key: str, registry: Any = None) -> Any:
    """An instance of the config registered as ``key`` in ``group`` with every field set.

    Fields are filled from their types, recursively, with values that differ
    from the defaults where the type allows (strings, numbers, ``True``,
    one-element tuples, nested configs — a polymorphic field such as a
    scene's raster source gets a sample of the first key registered in its
    group). The instance is made with the class's constructor and is *not*
    validated: it exercises serialization, not the meaning of the values.
    """
    if registry is None:
        from rv.registry import get_registry

        registry = get_registry()
    cls = registry.config_class(group, key)
    return _Sampler(registry).config(cls, depth=0)


def sample_configs(registry: Any = None) -> Iterator[tuple[str, str, Any]]:
    """``(group, key, config)`` for every config key of ``registry`` (default: the active one)."""
    if registry is None:
        from rv.registry import get_registry

        registry = get_registry()
    from rv.registry import CONFIG_GROUPS

    for group in CONFIG_GROUPS:
        for key in registry.keys(group):
            yield group, key, sample_config(group, key, registry)


class _Sampler:
    MAX_DEPTH = 6

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def config(self, cls: type, depth: int) -> Any:
        import attrs

        attrs.resolve_types(cls)
        values = {}
        for f in attrs.fields(cls):
            if not f.init:
                continue
            value = self.value(f.type, f.name, depth + 1)
            if value is _SKIP:
                continue
            values[f.name] = value
        return cls(**values)

    def value(self, t: Any, name: str, depth: int) -> Any:
        import enum

        import attrs

        from rv.config import Config

        if t is None or t is Any:
            return f"sample-{name}"
        origin = typing.get_origin(t)
        args = typing.get_args(t)
        if origin is typing.Literal:
            return args[-1]  # the last choice: most often not the default
        if isinstance(t, type) and issubclass(t, enum.Enum):
            return list(t)[-1]
        if origin in (typing.Union, types.UnionType):
            choices = [a for a in args if a is not type(None)]
            if not choices:
                return None
            value = self.value(choices[0], name, depth)
            return None if value is _SKIP else value
        if origin is tuple:
            item_type = args[0] if args else Any
            item = self.value(item_type, name, depth)
            return () if item is _SKIP else (item,)
        if origin is list:
            item = self.value(args[0] if args else Any, name, depth)
            return [] if item is _SKIP else [item]
        if origin in (dict, collections.abc.Mapping):
            value = self.value(args[1] if len(args) > 1 else Any, name, depth)
            return {} if value is _SKIP else {f"{name}-key": value}
        if isinstance(t, type) and attrs.has(t) and not issubclass(t, Config):
            return _SKIP if depth > self.MAX_DEPTH else self.config(t, depth)
        if isinstance(t, type) and issubclass(t, Config):
            if depth > self.MAX_DEPTH:
                return _SKIP
            group = getattr(t, "group", None)
            if group is not None and self.registry.key_of(t) is None:
                # A polymorphic base: any registered subclass will do.
                keys = [k for k in self.registry.keys(group) if issubclass(self.registry.config_class(group, k), t)]
                if not keys:
                    return _SKIP
                t = self.registry.config_class(group, keys[0])
            return self.config(t, depth)
        if t is bool:
            return True
        if t is int:
            return 7
        if t is float:
            return 0.25
        if t is str:
            return f"memory://sample/{name}"
        return f"sample-{name}"


_SKIP = object()


# ---------------------------------------------------------------------------
# Plugin managers for one test
# ---------------------------------------------------------------------------


def register_plugin(pm: Any, plugin: Any, name: str | None = None) -> Any:
    """Register ``plugin`` into ``pm`` and its keys into ``pm``'s registry; raise on any failure.

    A failing registration hook, a key claimed twice or an unknown hook name
    raises :class:`rv.errors.PluginError` with the plugin's error (unlike
    plugin discovery, which records the failure and goes on).
    """
    import pluggy

    from rv.errors import PluginError

    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    try:
        pm.add_plugin(plugin, name)
    except (ValueError, pluggy.PluginValidationError) as e:
        raise PluginError(f"Cannot register plugin {name!r}: {e}") from e
    if name not in pm.rv_plugins or pm.rv_plugins[name].status != "ok":
        info = pm.rv_plugins.get(name)
        error = info.error if info else "unknown error"
        raise PluginError(f"Plugin {name!r} failed to register: {error}\n{info.traceback if info else ''}")
    unknown = [
        hc.name
        for hc in pm.get_hookcallers(plugin) or []
        if hc.spec is None and not any(i.plugin is plugin and i.optionalhook for i in hc.get_hookimpls())
    ]
    if unknown:
        pm.unregister(plugin)
        pm.rv_registry.remove_plugin(name)
        pm.rv_plugins.pop(name, None)
        raise PluginError(
            f"Plugin {name!r} implements unknown hook(s) {', '.join(sorted(unknown))}; "
            f"check the names against rv.hookspecs."
        )
    return pm


@pytest.fixture
def rv_plugin_manager() -> Iterator[Any]:
    """A fresh plugin manager (plugins loaded as usual), active for this test."""
    from rv.plugins import make_plugin_manager, use_plugin_manager

    pm = make_plugin_manager()
    with use_plugin_manager(pm):
        yield pm


@pytest.fixture
def rv_register_plugin(rv_plugin_manager: Any) -> Callable[..., Any]:
    """``rv_register_plugin(plugin, name=None)``: add a plugin to this test's fresh manager."""

    def _register(plugin: Any, name: str | None = None) -> Any:
        return register_plugin(rv_plugin_manager, plugin, name)

    return _register


@pytest.fixture(name="assert_config_round_trip")
def assert_config_round_trip_fixture(tmp_path: Path) -> Callable[[Any], Any]:
    """:func:`assert_config_round_trip`, saving its file under the test's ``tmp_path``."""

    def _check(config: Any) -> Any:
        return assert_config_round_trip(config, tmp_path)

    return _check


# ---------------------------------------------------------------------------
# A clean rv environment, and a backend that runs without torch
# ---------------------------------------------------------------------------


#: environment variables that configure rv (settings, plugins); tests run without the developer's
RV_VARIABLE_PREFIXES = ("RV_", "PLUGINS_")


def environ_without_rv(also_remove: Sequence[str] = ()) -> dict[str, str]:
    """A copy of ``os.environ`` without rv's variables (and those starting with ``also_remove``),
    for a subprocess that must not see the developer's rv settings."""
    prefixes = (*RV_VARIABLE_PREFIXES, *also_remove)
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@contextlib.contextmanager
def clean_rv_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, also_remove: Sequence[str] = (), tmpdir: bool = False
) -> Iterator[Path]:
    """An rv as on a fresh machine, for the ``with`` block; yields the working directory.

    - every ``RV_*`` and ``PLUGINS_*`` environment variable (and those
      starting with a prefix of ``also_remove``, e.g. ``"AWS_BATCH_"``) is
      removed for the block;
    - ``RV_CONFIG_DIR`` is the empty folder ``tmp_path/rv-config`` (no
      profile file) and the working directory the empty ``tmp_path/cwd``
      (no ``.env``); with ``tmpdir=True``, ``TMPDIR`` is ``tmp_path/tmp``
      (for subprocesses);
    - the settings cache is dropped before and after, and no plugin manager
      is active inside (:func:`rv.plugins.no_active_plugin_manager`).
    """
    from rv import plugins, settings

    prefixes = (*RV_VARIABLE_PREFIXES, *also_remove)
    for name in list(os.environ):
        if name.startswith(prefixes):
            monkeypatch.delenv(name)
    for folder in ("rv-config", "cwd", "tmp") if tmpdir else ("rv-config", "cwd"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    if tmpdir:
        monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.chdir(tmp_path / "cwd")
    settings.reset_settings()
    try:
        with plugins.no_active_plugin_manager():
            yield tmp_path / "cwd"
    finally:
        settings.reset_settings()
        settings.set_tmp_dir(None)


@pytest.fixture
def rv_clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """:func:`clean_rv_environment` for this test; the working directory is returned."""
    with clean_rv_environment(tmp_path, monkeypatch) as cwd:
        yield cwd


def use_baseline_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make every ``rv`` process of the test load MAJORITY_CLASS_BASELINE; returns its key.

    Names :mod:`rv.testing.baseline` in ``PLUGINS_MODULES`` (the legacy
    plugin form, which subprocesses, runners' jobs and QGIS read from the
    environment) and drops the settings cache so this process reads it too.
    """
    from rv import settings
    from rv.testing.baseline import BASELINE_BACKEND, MODULE

    monkeypatch.setenv("PLUGINS_MODULES", MODULE)
    settings.reset_settings()
    return BASELINE_BACKEND


#: the key of the fake backend of :data:`LEGACY_FAKE_BACKEND`
FAKE_BACKEND = "FAKE_BACKEND"

#: A legacy plugin file (``register_plugin``, named by ``PLUGINS_FILES``) that registers FAKE_BACKEND:
#: a backend config without torch, with one option (``epochs``, set by ``with_epochs``), which never
#: trains anything. For tests whose ``rv`` subprocesses must know a backend key.
LEGACY_FAKE_BACKEND = '''"""FAKE_BACKEND for rv's tests, in the legacy register_plugin form."""
import attrs

import rv
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
from rv.config import field


@attrs.frozen
class FakeBackendConfig(BackendConfig):
    epochs: int = field(default=1, doc="passes over the chips")


class FakeBackendConfigBuilder(BackendConfigBuilder):
    config_class = FakeBackendConfig

    def with_epochs(self, epochs):
        return self._with(epochs=int(epochs))


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder(rv.BACKEND, "FAKE_BACKEND", FakeBackendConfigBuilder)
'''


def use_legacy_fake_backend(directory: str | os.PathLike, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write :data:`LEGACY_FAKE_BACKEND` to ``directory/fake_backend_plugin.py`` and name it in
    ``PLUGINS_FILES`` for the test (this process and its subprocesses); returns the file's path."""
    from rv import settings

    path = Path(directory) / "fake_backend_plugin.py"
    path.write_text(LEGACY_FAKE_BACKEND, encoding="utf-8")
    monkeypatch.setenv("PLUGINS_FILES", str(path))
    settings.reset_settings()
    return path


@pytest.fixture
def rv_baseline_backend(rv_register_plugin: Callable[..., Any]) -> str:
    """MAJORITY_CLASS_BASELINE registered into this test's fresh plugin manager; returns its key."""
    from rv.testing.baseline import BASELINE_BACKEND, PLUGIN

    rv_register_plugin(PLUGIN, "rv_testing_baseline")
    return BASELINE_BACKEND


# ---------------------------------------------------------------------------
# Installing plugin packages for real, without touching the current venv
# ---------------------------------------------------------------------------


def make_plugin_venv(dest: str | os.PathLike, packages: list[str | os.PathLike], timeout: float = 300) -> Path:
    """A throwaway virtual environment that sees this one, with ``packages`` installed in it.

    ``dest`` is created as a venv without pip; a ``.pth`` file makes the
    current environment's site-packages (and its own ``.pth`` files, so
    editable installs) visible inside it, and this environment's pip installs
    ``packages`` (paths of plugin projects) *into the throwaway venv* with
    ``--no-deps``. Entry points are read from both, so the plugins are found
    exactly as after a real ``pip install``, while the current environment
    stays untouched. Returns the throwaway venv's ``python``; run ``python -m
    rv ...`` with it.

    Building a wheel needs the project's build backend: with
    ``--no-build-isolation`` when it is importable here, else pip fetches it
    from the package index.
    """
    import sysconfig
    import venv

    dest = Path(dest)
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=True).create(dest)
    python = dest / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    here = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    lines = [f"import site; site.addsitedir({p!r})" for p in sorted(here)]
    Path(purelib, "_rv_parent_env.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")

    argv = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
    ]
    try:
        import hatchling  # noqa: F401

        argv.append("--no-build-isolation")
    except ImportError:
        pass
    result = subprocess.run(argv + [str(p) for p in packages], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"Installing {', '.join(map(str, packages))} into the throwaway venv {dest} failed "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return python


@pytest.fixture(scope="session")
def rv_plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``rv_plugin_venv(*project_paths)``: the python of a throwaway venv with those plugins installed.

    See :func:`make_plugin_venv`. Cached for the session by the set of paths,
    so several test files that need the same plugins share one install.
    """
    cache: dict[tuple[str, ...], Path] = {}

    def _venv(*packages: str | os.PathLike) -> Path:
        key = tuple(sorted(str(Path(p).resolve()) for p in packages))
        if key not in cache:
            dest = tmp_path_factory.mktemp("rv-plugin-venv")
            cache[key] = make_plugin_venv(dest / "venv", list(key))
        return cache[key]

    return _venv
