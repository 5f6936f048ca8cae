"""Opening a model bundle (a zip file) defensively.

Bundles are files people download and share, so their zip is read like any
untrusted archive, before anything is written to disk:

- an entry whose name is absolute, has a drive letter or a ``..`` segment
  (it would land outside the extraction folder: "zip slip"), or that is a
  symbolic link, is refused;
- the sum of the entries' uncompressed sizes is checked against a limit
  (``RV_BUNDLE_MAX_BYTES``, default 8 GiB) before extraction, and each
  entry is copied with a cap at its declared size, so a zip bomb — or a
  header that lies about its sizes — is refused, not extracted;
- ``manifest.json`` is read from the archive and validated first: a file
  that is not an rv bundle is refused before any other entry (weights
  included) is read.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Callable
from typing import Any

from rv.errors import DataError

MANIFEST_NAME = "manifest.json"
#: default limit of a bundle's total uncompressed size (bytes)
DEFAULT_MAX_BYTES = 8 * 1024**3
MAX_BYTES_ENV = "RV_BUNDLE_MAX_BYTES"


def max_bundle_bytes() -> int:
    """The limit of a bundle's total uncompressed size: ``RV_BUNDLE_MAX_BYTES`` or 8 GiB."""
    from rv.errors import ConfigError

    value = os.environ.get(MAX_BYTES_ENV)
    if not value:
        return DEFAULT_MAX_BYTES
    try:
        return int(float(value))
    except ValueError:
        raise ConfigError(
            f"{MAX_BYTES_ENV}={value!r} is not a number of bytes (e.g. 17179869184 for 16 GiB)."
        ) from None


def _unsafe_name(name: str) -> str | None:
    """Why the entry name would escape the extraction folder, or ``None``."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/"):
        return "an absolute path"
    if len(normalized) > 1 and normalized[1] == ":":
        return "a drive letter"
    if any(part == ".." for part in normalized.split("/")):
        return "a '..' segment"
    return None


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def check_bundle_members(zf: zipfile.ZipFile, uri: str, max_bytes: int | None = None) -> list[zipfile.ZipInfo]:
    """The entries of a bundle archive after checking names, links and total size (nothing extracted)."""
    limit = max_bundle_bytes() if max_bytes is None else max_bytes
    members = zf.infolist()
    for info in members:
        reason = _unsafe_name(info.filename)
        if reason:
            raise DataError(
                f"Model bundle {uri} is refused: its entry {info.filename!r} has {reason}, so extracting it "
                "would write outside the bundle's folder. A bundle written by rv never has one; do not use "
                "this file (ask whoever shared it for the model-bundle.zip BUNDLE wrote)."
            )
        if _is_link(info):
            raise DataError(
                f"Model bundle {uri} is refused: its entry {info.filename!r} is a symbolic link, which could "
                "point anywhere on this machine. A bundle written by rv holds plain files only."
            )
    total = sum(info.file_size for info in members)
    if total > limit:
        raise DataError(
            f"Model bundle {uri} is refused: its entries would take {total / 1024**3:.1f} GiB once "
            f"uncompressed, over the {limit / 1024**3:.1f} GiB limit (the file itself is "
            f"{sum(i.compress_size for i in members) / 1024**2:.1f} MiB: a zip bomb?). If the bundle is "
            f"genuine and this large, raise the limit with {MAX_BYTES_ENV}=<bytes>."
        )
    return members


def read_manifest(zf: zipfile.ZipFile, uri: str) -> dict[str, Any]:
    """``manifest.json`` of a bundle archive, checked to be an rv manifest (a dict with a format)."""
    try:
        info = zf.getinfo(MANIFEST_NAME)
    except KeyError:
        raise DataError(f"{uri} has no {MANIFEST_NAME}, so it is not an rv model bundle.") from None
    if info.file_size > 1024**2:
        raise DataError(f"{uri}: its {MANIFEST_NAME} is {info.file_size} bytes, far more than a manifest holds.")
    try:
        manifest = json.loads(zf.read(info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{uri}: its {MANIFEST_NAME} is not valid JSON ({e}); the bundle is damaged.") from None
    if not isinstance(manifest, dict):
        raise DataError(
            f"{uri}: its {MANIFEST_NAME} holds a JSON {type(manifest).__name__}, not an rv bundle manifest."
        )
    missing = [
        k
        for k, kind in (("task", str), ("backend", str), ("classes", list))
        if not isinstance(manifest.get(k), kind) or not manifest.get(k)
    ]
    if missing:
        raise DataError(
            f"{uri}: its {MANIFEST_NAME} lacks {', '.join(repr(k) for k in missing)}, so it is not an rv model "
            "bundle manifest (BUNDLE writes the task, the backend and the classes)."
        )
    return manifest


def extract_bundle(
    local_zip: str,
    out_dir: str,
    uri: str | None = None,
    check_manifest: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Extract the bundle archive ``local_zip`` into ``out_dir`` after every check; returns its manifest.

    ``check_manifest`` (e.g. the predictor's format upgrade) is applied to
    the manifest before anything is extracted; its result is returned.

    Raises:
        DataError: not a zip, not an rv bundle, an unsafe entry, or too large.
    """
    uri = uri or local_zip
    try:
        zf = zipfile.ZipFile(local_zip)
    except zipfile.BadZipFile as e:
        raise DataError(
            f"{uri} is not a model bundle (not a zip file: {e}); pass the model-bundle.zip that BUNDLE wrote."
        ) from None
    with zf:
        members = check_bundle_members(zf, uri)
        manifest = read_manifest(zf, uri)
        if check_manifest is not None:
            manifest = check_manifest(manifest)
        root = os.path.realpath(out_dir)
        os.makedirs(root, exist_ok=True)
        for info in members:
            target = os.path.realpath(os.path.join(root, info.filename))
            if not (target == root or target.startswith(root + os.sep)):
                raise DataError(f"Model bundle {uri} is refused: its entry {info.filename!r} leaves the bundle folder.")
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    # Copy no more than the declared size: a header that understates it is a lie.
                    copied = _copy_capped(src, dst, info.file_size)
            except (zipfile.BadZipFile, EOFError, OSError) as e:
                raise DataError(
                    f"Model bundle {uri} is damaged: its entry {info.filename!r} cannot be read ({e})."
                ) from None
            if copied > info.file_size:
                raise DataError(
                    f"Model bundle {uri} is refused: its entry {info.filename!r} holds more than the "
                    f"{info.file_size} bytes its header declares."
                )
    return manifest


def _copy_capped(src, dst, declared: int) -> int:
    copied = 0
    while True:
        chunk = src.read(min(1024**2, declared - copied + 1))
        if not chunk:
            return copied
        copied += len(chunk)
        if copied > declared:
            return copied
        dst.write(chunk)


__all__ = ["extract_bundle", "check_bundle_members", "read_manifest", "max_bundle_bytes"]
