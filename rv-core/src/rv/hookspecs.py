"""The hooks a plugin implements.

A plugin is a module (or object) found through the ``rv.plugins`` entry point
group. It implements any of the functions below, decorated with
:data:`rv.hookimpl`::

    import rv

    @rv.hookimpl
    def register_evaluators(register):
        register("MY_EVALUATOR", MyEvaluatorConfigBuilder)

Registration hooks receive a ``register`` callback so that rv owns the
key → builder map and reports a key claimed twice (naming both plugins).
Default providers are *firstresult* hooks: the first plugin that returns a
value other than ``None`` wins, later plugins are not called.

A module that implements registration hooks imports only ``rv`` and its own
light config classes; torch, rasterio and boto3 are imported where the work
runs, so that ``rv --help`` and ``rv plugins list`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer
    from fsspec import AbstractFileSystem

    from rv.config import ConfigBuilder
    from rv.core.box import Box
    from rv.core.crs_transformer import CRSTransformer

PROJECT_NAME = "rv"

#: the callback of a registration hook: ``register(key, value)``
Register = Callable[[str, Any], None]

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---------------------------------------------------------------------------
# Registration hooks: each receives ``register(key, builder_or_class)``
# ---------------------------------------------------------------------------


@hookspec
def register_tasks(register: Register) -> None:
    """Register task configs.

    Called with ``register(key, builder_class)``; ``builder_class`` is a
    :class:`rv.config.ConfigBuilder` subclass whose ``config_class`` is a
    :class:`rv.task.TaskConfig`. Returns nothing.
    """


@hookspec
def register_backends(register: Register) -> None:
    """Register backend configs (``register(key, builder_class)``).

    The builder's config is a :class:`rv.backend.BackendConfig`. Returns
    nothing.
    """


@hookspec
def register_raster_sources(register: Register) -> None:
    """Register raster source configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_raster_transformers(register: Register) -> None:
    """Register raster transformer configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_label_sources(register: Register) -> None:
    """Register label source configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_label_stores(register: Register) -> None:
    """Register label store configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_analyzers(register: Register) -> None:
    """Register analyzer configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_augmentors(register: Register) -> None:
    """Register augmentor configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluator configs (``register(key, builder_class)``).

    Returns nothing.
    """


@hookspec
def register_runners(register: Register) -> None:
    """Register experiment runners (``register(key, runner_class)``).

    ``runner_class`` is a :class:`rv.runner.Runner` subclass, or a string
    ``"module:Class"`` imported only when the runner is used. Returns nothing.
    """


@hookspec
def register_command_implementations(register: Register) -> None:
    """Register what runs a command (``register(command_type, implementation)``).

    ``command_type`` is one of ``ANALYZE``, ``CHIP``, ``TRAIN``, ``PREDICT``,
    ``EVAL``, ``BUNDLE``. ``implementation`` is a callable
    ``(command_config, tmp_dir) -> None`` that writes the command's declared
    outputs, or a string ``"module:function"`` imported only when the command
    runs (``rv run_command``). A command type registered by rv-core's built-in
    plugin may be replaced by another plugin (``rv plugins list`` shows who
    provides it); two other plugins registering the same command type is an
    error naming both. Returns nothing.
    """


@hookspec
def register_model_defaults(register: Register) -> None:
    """Register model defaults (``register(key, defaults)``).

    ``defaults`` maps a backend key to a dict of backend options (encoder
    name, batch size, learning rate, ...), as in the JSON file that
    ``RV_MODEL_DEFAULTS_URI`` may name. Returns nothing.
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add subcommands to the ``rv`` command line.

    Called with the root :class:`typer.Typer` app; add commands with
    ``@app.command()`` or ``app.add_typer(...)``. Import heavy libraries
    inside the command functions. Returns nothing.
    """


# ---------------------------------------------------------------------------
# Default providers: firstresult, stop at the first non-None result
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def default_raster_source(uri: str) -> ConfigBuilder | None:
    """Pick a raster source for ``uri`` (``with_raster_source("x.tif")``).

    Returns a :class:`rv.config.ConfigBuilder` of a raster source, or
    ``None`` when this plugin does not handle ``uri``. Stops at the first
    non-None result.
    """


@hookspec(firstresult=True)
def default_label_source(task_type: str, uri: str) -> ConfigBuilder | None:
    """Pick a label source for ``uri`` and the task key ``task_type``.

    Returns a label source :class:`rv.config.ConfigBuilder`, or ``None``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def default_label_store(task_type: str) -> ConfigBuilder | None:
    """Pick the label store of the task key ``task_type``.

    Returns a label store :class:`rv.config.ConfigBuilder`, or ``None``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def default_evaluator(task_type: str) -> ConfigBuilder | None:
    """Pick the evaluator of the task key ``task_type``.

    Returns an evaluator :class:`rv.config.ConfigBuilder`, or ``None``.
    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def file_system_for(uri: str, mode: str) -> AbstractFileSystem | None:
    """Pick the file system that handles ``uri`` in ``mode`` (``"r"``/``"w"``).

    The one way a plugin adds a URI scheme: every read and write of rv
    (:mod:`rv.file_utils`) asks this hook. Returns an
    :class:`fsspec.AbstractFileSystem`, or ``None`` when this plugin does
    not handle the URI (parse it with :func:`rv.file_systems.uri_scheme`).
    rv makes writes atomic itself (a local temporary file, one
    ``put_file`` at the end), so the file system needs no special write
    mode. Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def read_aoi(uris: Sequence[str], crs_transformer: CRSTransformer, extent: Box) -> list[Any] | None:
    """Read AOI polygons from ``uris`` (a list of vector files in any CRS).

    ``crs_transformer`` is the scene's :class:`rv.core.crs_transformer.CRSTransformer`
    and ``extent`` its pixel :class:`rv.core.box.Box`. Returns a list of shapely
    polygons in the scene's *pixel* coordinates, or ``None`` when this plugin
    does not read these files (rv-geojson reads GeoJSON). Stops at the first
    non-None result.
    """


@hookspec(firstresult=True)
def gdal_env_for(uri: str) -> AbstractContextManager[Any] | None:
    """A context manager under which GDAL opens ``uri`` in place (credentials, endpoint).

    Raster sources read remote files window by window through GDAL
    (``/vsis3/``, ``/vsicurl/``); the plugin that owns the scheme says how
    GDAL must be configured, e.g. ``rasterio.Env(session=AWSSession(...),
    AWS_S3_ENDPOINT=...)``. Returns the context manager, or ``None`` when this
    plugin does not handle ``uri``. Stops at the first non-None result.
    """


@hookspec
def check_access(uris: Sequence[str], mode: str) -> None:
    """Check, before any command runs, that ``uris`` can be read (``mode="r"``) or written (``"w"``).

    Each plugin checks the URIs of the schemes it handles and ignores the
    rest; it raises :class:`rv.errors.FileSystemError` with a message naming
    the URI, what is wrong (missing credentials, missing bucket, access
    denied) and the fix. Returns nothing.
    """
