"""URIs and file systems: the one place rv parses a URI.

A URI is a local path (``/data/x.tif``, ``out/stats.json``, ``C:\\data``),
``file://``, ``http(s)://`` (read only), ``memory://`` (tests), or any scheme
a plugin provides through the ``file_system_for`` hook (``s3://`` with
rv-aws). This module answers the questions every reader and writer asks —
its scheme (:func:`uri_scheme`), whether it is on this machine
(:func:`is_local`, :func:`local_path`), the path GDAL opens in place
(:func:`gdal_path`, :func:`can_stream`) — and holds rv-core's hook
implementation for the schemes it serves itself. fsspec is imported inside
the hook so that plugin discovery stays cheap; :mod:`rv.file_utils` does the
reading and writing.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from rv.errors import DataError, FileSystemError
from rv.hookspecs import hookimpl

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# ``C:\\data`` or ``C:/data`` is a Windows path, not a URI with scheme "c".
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
#: GDAL's virtual file system paths (``/vsis3/b/k``, ``/vsizip//a.zip/b.tif``) pass through gdal_path
_VSI_PREFIX = "/vsi"

#: GDAL's virtual file system of each remote scheme it reads with range requests
_VSI_PREFIXES = {
    "http": "/vsicurl/",
    "https": "/vsicurl/",
    "s3": "/vsis3/",
    "gs": "/vsigs/",
    "az": "/vsiaz/",
}


def uri_scheme(uri: str | os.PathLike[str]) -> str:
    """The lower-case scheme of ``uri`` (``"s3"``, ``"http"``), or ``""`` for a local path."""
    text = os.fspath(uri)
    if _WINDOWS_DRIVE.match(text):
        return ""
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else ""


def is_write_mode(mode: str) -> bool:
    """Whether ``mode`` (``"r"``, ``"w"``, ``"rb"``, ``"wb"``, ...) writes."""
    return any(char in mode for char in "wax+")


def _is_vsi(uri: str) -> bool:
    return uri.startswith(_VSI_PREFIX)


def is_local(uri: str | os.PathLike[str]) -> bool:
    """Whether ``uri`` is a path on this machine or a ``file://`` URI.

    GDAL's ``/vsi...`` paths are not local: they name remote or archived files.
    """
    text = os.fspath(uri)
    return uri_scheme(text) in ("", "file") and not _is_vsi(text)


def local_path(uri: str | os.PathLike[str]) -> str:
    """The path of a local ``uri``: ``file:///x`` → ``/x``, ``file://localhost/x`` → ``/x``; a path as given."""
    text = os.fspath(uri)
    if uri_scheme(text) == "file":
        path = text[len("file://") :]
        if path.startswith("localhost/"):
            path = path[len("localhost") :]
        return path
    return text


def can_stream(uri: str | os.PathLike[str]) -> bool:
    """Whether GDAL reads ``uri`` in place (local, ``/vsi...``, http(s), s3, gs, az)."""
    text = os.fspath(uri)
    return is_local(text) or _is_vsi(text) or uri_scheme(text) in _VSI_PREFIXES


def gdal_path(uri: str | os.PathLike[str]) -> str:
    """The path GDAL (rasterio) opens for ``uri`` without downloading it.

    Local paths and ``file://`` URIs become absolute paths;
    ``http(s)://h/p`` → ``/vsicurl/http(s)://h/p`` (open it under
    ``rasterio.Env(**rv.file_utils.gdal_env())``); ``s3://b/k`` →
    ``/vsis3/b/k`` (under the ``gdal_env_for`` hook's environment: rv-aws
    points it at rv's endpoint and credentials), likewise ``gs://`` and
    ``az://``; ``/vsi...`` paths pass through.

    Raises:
        DataError: the scheme has no GDAL virtual file system (``memory://``,
            a plugin's own scheme). Download the file first
            (:func:`rv.file_utils.download_if_needed`) and open the local copy.
    """
    text = os.fspath(uri)
    if _is_vsi(text):
        return text
    if is_local(text):
        return os.path.abspath(os.path.expanduser(local_path(text)))
    scheme = uri_scheme(text)
    if scheme in ("http", "https"):
        return _VSI_PREFIXES[scheme] + text
    if scheme in _VSI_PREFIXES:
        return _VSI_PREFIXES[scheme] + text.split("://", 1)[1]
    raise DataError(
        f"GDAL cannot read {text!r} in place: the {scheme!r} scheme has no GDAL virtual file system. "
        "Download it first (rv.file_utils.download_if_needed) or use a local path, http(s):// or s3:// URI."
    )


@hookimpl
def file_system_for(uri: str, mode: str) -> AbstractFileSystem | None:
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
