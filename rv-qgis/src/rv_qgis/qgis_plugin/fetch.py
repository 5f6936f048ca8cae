"""Local copies of an experiment's remote files, made by the configured ``rv`` (``rv qgis fetch``).

Local paths and ``file://`` URIs are used in place. Any other URI
(``http(s)://``, ``s3://``, or a scheme an rv plugin adds) is fetched by
``rv qgis fetch`` of the configured rv installation, with rv's own file
systems and credentials, into the working directory
(``<working dir>/<scheme>/<host>/<path>``): downloaded when there is no copy
yet or when the remote file is newer than the copy. The plugin itself stays
free of rv and its dependencies.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.parse

from .rv_runner import RvCanceled, RvNotFound, error_message, run_rv


class FetchError(Exception):
    """A URI the plugin cannot read; the message names it and the fix."""


def is_remote(uri: str) -> bool:
    scheme = urllib.parse.urlparse(uri).scheme
    return scheme not in ("", "file") and len(scheme) > 1  # "C:\..." is a local path


def _local(uri: str) -> str:
    parsed = urllib.parse.urlparse(uri)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri


def local_paths(uris: list[str], working_dir: str, feedback=None) -> tuple[dict[str, str], dict[str, str]]:
    """Local paths for ``uris`` and the URIs that failed: ``({uri: path}, {uri: message})``.

    Remote URIs are fetched in one ``rv qgis fetch`` run. :class:`FetchError`
    when ``rv`` cannot run at all (absent, canceled, crashed).
    """
    paths = {uri: _local(uri) for uri in uris if not is_remote(uri)}
    remote = list(dict.fromkeys(uri for uri in uris if is_remote(uri)))
    if not remote:
        return paths, {}
    os.makedirs(working_dir, exist_ok=True)
    fd, output = tempfile.mkstemp(prefix="rv-qgis-fetch-", suffix=".json", dir=working_dir)
    os.close(fd)
    try:
        try:
            code, lines = run_rv(["qgis", "fetch", "--working-dir", working_dir, "--output", output, *remote], feedback)
        except (RvNotFound, RvCanceled) as exc:
            raise FetchError(f"cannot fetch {', '.join(remote)}: {exc}") from exc
        try:
            with open(output, encoding="utf-8") as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = None
        if code != 0 or not isinstance(result, dict):
            raise FetchError(
                f"`rv qgis fetch` failed (exit code {code}) on {', '.join(remote)}; is rv-qgis installed beside "
                f"the configured rv?\n{error_message(lines)}"
            )
    finally:
        if os.path.exists(output):
            os.remove(output)
    paths.update(result.get("files") or {})
    return paths, dict(result.get("errors") or {})


def local_path(uri: str, working_dir: str, feedback=None) -> str:
    """A local path for one ``uri`` (see :func:`local_paths`); :class:`FetchError` naming the URI when it fails."""
    paths, errors = local_paths([uri], working_dir, feedback)
    if uri in errors:
        raise FetchError(f"cannot read {uri}: {errors[uri]}")
    return paths[uri]
