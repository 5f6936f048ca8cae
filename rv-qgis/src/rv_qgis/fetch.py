"""``rv qgis fetch``: local copies of remote files for the QGIS plugin, through rv's own file systems.

The plugin runs in QGIS's Python without rv, so it cannot read ``s3://`` or
any other scheme an rv plugin adds; it runs this command instead. A remote
URI is downloaded to ``<working dir>/<scheme>/<host>/<path>``
(:func:`rv.file_utils.get_local_path`) when there is no copy yet, or when the
remote file is newer than the copy (its modification time as the file system
reports it: ``Last-Modified`` for http(s), ``LastModified`` for S3, ...). A
file system that reports no time is downloaded every time, so a copy is never
stale. The copy takes the remote time as its own, so the next comparison does
not depend on the two clocks.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os

from rv import file_utils
from rv.errors import RVError

#: keys of an fsspec ``info()`` that hold a modification time, by file system
_TIME_KEYS = ("LastModified", "last_modified", "Last-Modified", "mtime", "updated", "modified", "created")


def _as_timestamp(value) -> float | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return email.utils.parsedate_to_datetime(value).timestamp()  # http: RFC 2822 dates
        except (TypeError, ValueError):
            pass
        try:
            return _as_timestamp(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def remote_mtime(uri: str) -> float | None:
    """The modification time of the remote file ``uri`` (POSIX seconds), or ``None`` when its file system has none."""
    from rv import file_systems
    from rv.plugins import get_plugin_manager

    fs = get_plugin_manager().hook.file_system_for(uri=uri, mode="r") or file_systems.file_system_for(uri, "r")
    if fs is None:
        return None
    try:
        info = fs.info(uri)
    except (OSError, ValueError):
        return None
    for key in _TIME_KEYS:
        stamp = _as_timestamp(info.get(key))
        if stamp is not None:
            return stamp
    return None


def fetch(uri: str, working_dir: str) -> tuple[str, bool]:
    """A local path with the content of ``uri`` and whether it was downloaded now.

    Local paths (and ``file://``) are returned as they are, after checking they exist.
    """
    if file_utils.is_local(uri):
        return file_utils.download_if_needed(uri, working_dir), False
    target = file_utils.get_local_path(uri, working_dir)
    modified = remote_mtime(uri)
    if os.path.isfile(target) and modified is not None and modified <= os.path.getmtime(target):
        return target, False
    file_utils.download_if_needed(uri, working_dir)
    if modified is not None:
        os.utime(target, (modified, modified))
    return target, True


def fetch_all(uris: list[str], working_dir: str) -> dict:
    """``{"files": {uri: local path}, "downloaded": [uri, ...], "errors": {uri: message}}`` for ``uris``."""
    files, downloaded, errors = {}, [], {}
    for uri in uris:
        try:
            files[uri], fresh = fetch(uri, working_dir)
        except (RVError, OSError) as exc:
            errors[uri] = str(exc)
            continue
        if fresh:
            downloaded.append(uri)
    return {"files": files, "downloaded": downloaded, "errors": errors}


def write_json_atomically(path: str, value) -> None:
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)
