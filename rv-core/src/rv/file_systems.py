"""rv-core's file systems: local paths and ``file://``, ``http(s)://`` (read only), ``memory://``.

These are hook implementations of the built-in plugin. Other schemes come
from plugins through the same ``file_system_for`` hook or through
``register_file_systems`` (``s3://`` from rv-aws). fsspec is imported
inside the hook so that plugin discovery stays cheap.
"""

from __future__ import annotations

import re

from rv.errors import FileSystemError
from rv.hookspecs import hookimpl

# ``C:\\data`` or ``C:/data`` is a Windows path, not a URI with scheme "c".
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")

WRITE_MODES = frozenset({"w", "wb", "a", "ab", "x", "xb"})


def uri_scheme(uri: str) -> str:
    """The lower-case scheme of ``uri`` (``"s3"``, ``"http"``), or ``""`` for a local path."""
    uri = str(uri)
    if _WINDOWS_DRIVE.match(uri):
        return ""
    match = _SCHEME.match(uri)
    return match.group(1).lower() if match else ""


def is_write_mode(mode: str) -> bool:
    """Whether ``mode`` (``"r"``, ``"w"``, ``"rb"``, ``"wb"``, ...) writes."""
    return any(char in mode for char in "wax+")


@hookimpl
def file_system_for(uri, mode):
    """Return the fsspec file system of a local, ``file://``, ``http(s)://`` or ``memory://`` URI.

    Returns ``None`` for other schemes. Raises
    :class:`rv.errors.FileSystemError` for a write to ``http(s)://``.
    """
    scheme = uri_scheme(uri)
    if scheme in ("", "file"):
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()
    if scheme == "memory":
        from fsspec.implementations.memory import MemoryFileSystem

        return MemoryFileSystem()
    if scheme in ("http", "https"):
        if is_write_mode(mode):
            raise FileSystemError(
                f"Cannot write to {uri}: HTTP(S) URIs are read-only in rv. Write the "
                "output to a local path, an s3:// URI (pip install rv-aws) or another "
                "writable URI instead."
            )
        from fsspec.implementations.http import HTTPFileSystem

        return HTTPFileSystem()
    return None
