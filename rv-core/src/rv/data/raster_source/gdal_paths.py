"""URIs → paths GDAL opens in place.

GDAL reads remote rasters through its virtual file systems (``/vsicurl/``
for HTTP, ``/vsis3/`` for S3, ``/vsigs/`` for Google Cloud Storage,
``/vsiaz/`` for Azure) with range requests, so a windowed read of a cloud
optimized GeoTIFF fetches only the blocks it needs. Other schemes
(``memory://``, custom fsspec file systems) have no GDAL equivalent; their
files are downloaded first.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from rv.errors import DataError

_VSI_PREFIXES = {
    "http": "/vsicurl/",
    "https": "/vsicurl/",
    "s3": "/vsis3/",
    "gs": "/vsigs/",
    "az": "/vsiaz/",
}


def _scheme(uri: str) -> str:
    if uri.startswith("/vsi"):
        return "vsi"
    parsed = urlparse(uri)
    # A Windows drive letter ("C:\\x") parses as a one-letter scheme.
    if len(parsed.scheme) <= 1:
        return ""
    return parsed.scheme.lower()


def is_local(uri: str) -> bool:
    """True for plain paths and ``file://`` URIs."""
    return _scheme(uri) in ("", "file")


def can_stream(uri: str) -> bool:
    """True when GDAL reads ``uri`` in place (local, ``/vsi...``, http(s), s3, gs, az)."""
    return _scheme(uri) in ("", "file", "vsi", *_VSI_PREFIXES)


def gdal_path(uri: str) -> str:
    """The path GDAL opens for ``uri``.

    Local paths become absolute, ``file://`` URIs plain paths,
    ``http(s)://h/p`` → ``/vsicurl/http(s)://h/p``, ``s3://b/k`` →
    ``/vsis3/b/k`` (likewise ``gs://`` and ``az://``); ``/vsi...`` paths pass
    through. Other schemes raise :class:`rv.errors.DataError`: download those
    (``rv.file_utils.download_if_needed``) and open the local copy.
    """
    uri = os.fspath(uri)
    scheme = _scheme(uri)
    if scheme == "vsi":
        return uri
    if scheme == "":
        return os.path.abspath(os.path.expanduser(uri))
    if scheme == "file":
        parsed = urlparse(uri)
        return os.path.abspath(parsed.netloc + parsed.path) if parsed.netloc else parsed.path
    if scheme in ("http", "https"):
        return _VSI_PREFIXES[scheme] + uri
    if scheme in _VSI_PREFIXES:
        return _VSI_PREFIXES[scheme] + uri.split("://", 1)[1]
    raise DataError(
        f"GDAL cannot read {uri!r} in place: the {scheme!r} scheme has no GDAL virtual file system. "
        "Download it first (rv.file_utils.download_if_needed) or use a local path, http(s):// or s3:// URI."
    )


def local_or_gdal_path(uri: str, tmp_dir: str, allow_streaming: bool = True) -> str:
    """A path GDAL can open for ``uri``: read in place when possible, else downloaded into ``tmp_dir``.

    With ``allow_streaming=False`` every non-local URI is downloaded.
    """
    uri = os.fspath(uri)
    if is_local(uri) or _scheme(uri) == "vsi" or (allow_streaming and can_stream(uri)):
        return gdal_path(uri)
    # Imported here: file utilities pull in fsspec and the file-system plugins.
    from rv.file_utils import download_if_needed

    return download_if_needed(uri, tmp_dir)
