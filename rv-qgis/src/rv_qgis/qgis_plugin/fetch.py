"""Local copies of remote files: an experiment's URIs may be ``http(s)://`` (standard library only).

A remote file is downloaded into the working directory
(``<working dir>/<host>/<path>``) when absent, or when the server says it is
newer than the local copy (``Last-Modified``), as Raster Vision's plugin did.
Local paths and ``file://`` URIs are used in place.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import urllib.parse
import urllib.request


class FetchError(Exception):
    """A URI the plugin cannot read; the message names it and the fix."""


def local_path(uri: str, working_dir: str) -> str:
    """A local path for ``uri``: itself when local, else a fresh enough download in ``working_dir``."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # "C:\..." is a local path too
        return urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri
    if parsed.scheme not in ("http", "https"):
        raise FetchError(
            f"cannot read {uri}: the QGIS plugin downloads http(s) URIs only; copy the experiment's root_uri "
            f"locally (for example `aws s3 sync`) and pick the experiment JSON there"
        )
    target = os.path.join(working_dir, parsed.netloc, parsed.path.lstrip("/"))
    try:
        with urllib.request.urlopen(urllib.request.Request(uri, method="HEAD"), timeout=30) as response:
            modified = response.headers.get("Last-Modified")
        if os.path.exists(target) and modified:
            remote_time = email.utils.parsedate_to_datetime(modified).timestamp()
            if remote_time <= os.path.getmtime(target):
                return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with urllib.request.urlopen(uri, timeout=60) as response, open(target + ".part", "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(target + ".part", target)
    except OSError as exc:
        raise FetchError(f"cannot download {uri} into {working_dir}: {exc}") from exc
    return target
