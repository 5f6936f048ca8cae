"""Lazy package exports: names imported on first access.

A package whose config modules are imported at plugin discovery must not
import its entities (rasterio, shapely, ...) in its ``__init__``. It lists
its public names and their modules, and gets ``__getattr__``/``__dir__``::

    _EXPORTS = {"StatsAnalyzer": "rv.analyzer.stats_analyzer"}
    __all__ = sorted(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(module_name: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``exports`` (name → module)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            setattr(sys.modules[module_name], name, value)
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | set(exports))

    return __getattr__, __dir__


def import_object(path: str) -> Any:
    """The object a ``"module:qualified.name"`` string names (ImportError/AttributeError when it cannot)."""
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split(".") if qualname else []:
        obj = getattr(obj, part)
    return obj
