"""Model defaults: named sets of backend options (``rv.RESNET18``, ``rv.RESNET50``, ...).

A model-defaults document maps a model key to, per backend key, the options
that backend takes from it::

    {
      "RESNET18": {
        "PYTORCH_SEMANTIC_SEGMENTATION": {"encoder": "resnet18", "batch_size": 8, "lr": 0.002, ...},
        "PYTORCH_OBJECT_DETECTION": {...},
        "PYTORCH_CHIP_CLASSIFICATION": {...}
      },
      "RESNET50": {...}
    }

rv-pytorch ships one (``model_defaults.json`` in this package, tuned for the
encoders named) and registers each model key through the
``register_model_defaults`` hook, as any plugin may. A user replaces them with
a file of the same shape named by the ``RV_MODEL_DEFAULTS_URI`` environment
variable or ``model_defaults_uri`` in the ``[RV]`` section of the rv
configuration (any URI rv reads: a path, ``https://``, ``s3://``). For each
model key and backend key the file holds, its options replace the registered
ones; keys it does not hold keep the registered defaults; new model keys are
added.

The backend builders read the defaults here at ``build()``: the built config
carries the values, so a remote runner never needs the file. Only ``json``
and ``rv`` are imported (this module runs at plugin discovery).
"""

from __future__ import annotations

import copy
import json
import warnings
from importlib import resources
from typing import Any

from rv.errors import ConfigError

#: the file shipped with rv-pytorch
PACKAGE_FILE = "model_defaults.json"
SETTINGS_SECTION = "RV"
SETTINGS_OPTION = "model_defaults_uri"


def _check_document(doc: Any, source: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The model keys of a defaults document (entries starting with '_' and format_version are notes)."""
    if not isinstance(doc, dict):
        raise ConfigError(
            f"The model defaults {source} hold a {type(doc).__name__}; they must be a JSON object "
            '{"MODEL_KEY": {"BACKEND_KEY": {"option": value, ...}}}.'
        )
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for model_key, per_backend in doc.items():
        if model_key.startswith("_") or model_key == "format_version":
            continue
        if not isinstance(per_backend, dict) or not all(isinstance(v, dict) for v in per_backend.values()):
            raise ConfigError(
                f"The model defaults {source} give {model_key!r} a value that is not an object of "
                'backend keys to option objects, e.g. {"PYTORCH_SEMANTIC_SEGMENTATION": {"encoder": "resnet18"}}.'
            )
        out[model_key] = {b: dict(o) for b, o in per_backend.items() if not b.startswith("_")}
    return out


def builtin_model_defaults() -> dict[str, dict[str, dict[str, Any]]]:
    """The model defaults shipped with rv-pytorch (``rv_pytorch/model_defaults.json``)."""
    source = resources.files("rv_pytorch").joinpath(PACKAGE_FILE)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        # A broken installation: the backends still work with their built-in
        # option defaults, but no model defaults key is known.
        warnings.warn(
            f"rv-pytorch's {PACKAGE_FILE} is missing from {source}, so no model defaults are registered; "
            "reinstall rv-pytorch.",
            stacklevel=2,
        )
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"rv-pytorch's {PACKAGE_FILE} is not valid JSON ({e}); reinstall rv-pytorch.") from e
    return _check_document(doc, f"file {source}")


def model_defaults_uri() -> str | None:
    """The replacement file named by ``RV_MODEL_DEFAULTS_URI`` / ``[RV] model_defaults_uri``, or None."""
    from rv.settings import get_settings

    return get_settings().get(SETTINGS_SECTION, SETTINGS_OPTION) or None


def load_model_defaults_file(uri: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Read a model-defaults JSON file through rv's file utilities."""
    from rv import file_utils

    try:
        text = file_utils.read_text(uri)
    except FileNotFoundError as e:
        raise ConfigError(
            f"The model defaults file {uri} (RV_MODEL_DEFAULTS_URI / [RV] model_defaults_uri) does not "
            f"exist: {e}. Fix the setting or unset it to use rv-pytorch's defaults."
        ) from e
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"The model defaults file {uri} (RV_MODEL_DEFAULTS_URI / [RV] model_defaults_uri) is not valid JSON: {e}."
        ) from e
    return _check_document(doc, f"file {uri} (RV_MODEL_DEFAULTS_URI)")


def all_model_defaults() -> tuple[dict[str, dict[str, dict[str, Any]]], str | None]:
    """Every model key's defaults (registered by plugins, then replaced from the settings' file),
    and the URI of that file (None when unset)."""
    from rv.registry import get_registry

    registry = get_registry()
    merged = {key: copy.deepcopy(registry.get("model_defaults", key)) for key in registry.keys("model_defaults")}
    uri = model_defaults_uri()
    if uri:
        for model_key, per_backend in load_model_defaults_file(uri).items():
            merged.setdefault(model_key, {}).update(copy.deepcopy(per_backend))
    return merged, uri


def defaults_for(model_key: str, backend_key: str, required: bool = True) -> dict[str, Any]:
    """The options ``backend_key`` takes from the model defaults ``model_key``.

    Raises:
        ConfigError: ``model_key`` is unknown, or (when ``required``) has no
            options for ``backend_key``.
    """
    merged, uri = all_model_defaults()
    where = f" (the file {uri} named by RV_MODEL_DEFAULTS_URI, then the registered ones)" if uri else ""
    if model_key not in merged:
        if not required:
            return {}
        raise ConfigError(
            f"Unknown model defaults key {model_key!r}{where}. Known keys: "
            f"{', '.join(sorted(merged)) or '(none)'}. Add it to a file named by RV_MODEL_DEFAULTS_URI "
            "or use one of the known keys."
        )
    per_backend = merged[model_key]
    if backend_key not in per_backend:
        if not required:
            return {}
        raise ConfigError(
            f"The model defaults {model_key!r}{where} have no options for {backend_key}; they cover "
            f"{', '.join(sorted(per_backend)) or 'no backend'}. Pick another model defaults key or add "
            f"{backend_key} options to the file named by RV_MODEL_DEFAULTS_URI."
        )
    return copy.deepcopy(per_backend[backend_key])
