"""Every read and write of rv goes through this module.

A URI is a local path (``/data/x.tif``, ``out/stats.json``), ``file://``,
``http(s)://`` (read only), ``memory://`` (tests), or any scheme a plugin
provides (``s3://`` with rv-aws). URIs are parsed in :mod:`rv.file_systems`;
the file system is chosen through the ``file_system_for`` hook; fsspec does
the work.

Writes are atomic: :func:`open_file` in a write mode, :func:`write_text`,
:func:`write_bytes`, :func:`upload` and :func:`copy` write a temporary file
and put it in place only when writing succeeded (``os.replace`` in the same
directory for local files, one upload at the end for remote ones), so an
interrupted command never leaves an output that looks finished.

Libraries that need a local path (rasterio, zipfile, torch) get one from
:func:`download_if_needed`; outputs written to a local scratch file are
sent with :func:`upload` or :func:`sync_to_dir`. GDAL reads
``http(s)://`` and ``s3://`` in place with range requests: open
:func:`gdal_path` under ``rasterio.Env(**gdal_env())`` (or the ``gdal_env_for``
hook's environment), or let :func:`local_or_gdal_path` download what GDAL
cannot stream.

One concept, one module (over 500 lines): rv's file API, every function a
command calls to read or write a URI, with its atomic writes and its error
messages; URI parsing and file system choice live in :mod:`rv.file_systems`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, cast

from rv.errors import DataError, FileSystemError, RVError
from rv.file_systems import can_stream, gdal_path, is_local, is_write_mode, uri_scheme
from rv.file_systems import local_path as _local_path

__all__ = [
    "AtomicWriter",
    "MissingFileError",
    "copy",
    "create_exclusive",
    "delete",
    "directory_given_as_file",
    "download_if_needed",
    "exists",
    "gdal_env",
    "gdal_path",
    "get_local_path",
    "is_local",
    "join",
    "list_paths",
    "local_or_gdal_path",
    "make_dir",
    "open_file",
    "read_bytes",
    "read_text",
    "sync_from_dir",
    "sync_to_dir",
    "upload",
    "write_bytes",
    "write_text",
]

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# Where to get the file system of a scheme rv-core does not provide.
PROVIDERS = {
    "s3": "rv-aws",
    "s3a": "rv-aws",
}


class MissingFileError(FileSystemError, DataError, FileNotFoundError):
    """A URI that should exist does not.

    It is a :class:`~rv.errors.FileSystemError`, a
    :class:`~rv.errors.DataError` and a :class:`FileNotFoundError`, so
    callers catch whichever family they care about.
    """

    def __init__(self, message: str):
        # OSError's constructor would reinterpret extra arguments; keep one.
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------
# URIs and file systems
# ---------------------------------------------------------------------------


def join(uri: str | os.PathLike, *parts: str) -> str:
    """Join path parts to ``uri``, keeping its scheme.

    ``join("s3://bucket/out", "chip", "chips.json") ==
    "s3://bucket/out/chip/chips.json"``; local paths join with
    :func:`os.path.join`. Slashes at either end of a part are dropped, so a
    part never restarts the path from the root.
    """
    uri = os.fspath(uri)
    parts_ = [str(p).strip("/") for p in parts]
    parts_ = [p for p in parts_ if p]
    if not parts_:
        return uri
    if uri_scheme(uri) == "":
        return os.path.join(uri, *parts_)
    head_end = uri.index("://") + 3
    head, tail = uri[:head_end], uri[head_end:]
    stripped = tail.rstrip("/")
    if stripped:
        return head + "/".join([stripped, *parts_])
    # "memory://" or "file:///": keep the root slash a file URI had.
    return head + ("/" if tail else "") + "/".join(parts_)


def _no_file_system_message(uri: str) -> str:
    scheme = uri_scheme(uri)
    provider = PROVIDERS.get(scheme)
    if provider:
        fix = f"Install the plugin that provides it: pip install {provider}."
    else:
        fix = (
            "Install a plugin that provides it (one that implements the "
            "file_system_for hook), or use a local path, "
            "http(s):// (read only), memory:// or s3:// (pip install rv-aws)."
        )
    return f"No file system for {scheme}:// URIs such as {uri}. {fix}"


def _file_system_for(uri: str, mode: str) -> AbstractFileSystem:
    """The fsspec file system that handles ``uri`` in ``mode`` (``"r"`` or ``"w"``).

    The active plugin manager's ``file_system_for`` hook first; rv-core's own
    implementation (local, http, memory) as the fallback, so that those work
    even with a plugin manager that has not registered the built-in plugin.
    Raises :class:`FileSystemError` naming the plugin to install for an
    unknown scheme.
    """
    from rv import file_systems
    from rv.plugins import get_plugin_manager

    uri = os.fspath(uri)
    mode = "w" if is_write_mode(mode) else "r"
    fs = get_plugin_manager().hook.file_system_for(uri=uri, mode=mode)
    if fs is None:
        fs = file_systems.file_system_for(uri=uri, mode=mode)
    if fs is None:
        raise FileSystemError(_no_file_system_message(uri))
    return fs


def _remote_error_types() -> tuple[type[BaseException], ...]:
    # aiohttp raises its own errors for HTTP failures other than 404; only
    # look for them when something already imported aiohttp.
    types: list[type[BaseException]] = [OSError]
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        types.append(aiohttp.ClientError)
    return tuple(types)


def _http_unreachable(uri: str) -> str | None:
    """Why the host of an ``http(s)://`` URI cannot be reached, or ``None`` when it answers.

    fsspec's HTTP file system reports every failure as a missing file; a
    server that is down is not a missing file, and the fix differs.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return f"its port {parts.netloc.rsplit(':', 1)[-1]!r} is not a number"
    where = f"{parts.hostname}:{port}"
    try:
        with socket.create_connection((parts.hostname, port), timeout=10):
            return None
    except ConnectionRefusedError:
        return f"the host {where} refused the connection (no server is listening on that port)"
    except socket.gaierror:
        return f"the host name {parts.hostname!r} does not resolve (check the spelling, or the network)"
    except TimeoutError:
        return f"the host {where} did not answer within 10 s"
    except OSError as e:
        return f"the host {where} cannot be reached ({e.strerror or e})"


def _unreachable_error(uri: str, action: str) -> FileSystemError | None:
    reason = _http_unreachable(uri)
    if reason is None:
        return None
    return FileSystemError(
        f"Cannot {action} {uri}: {reason}. The file may well exist: start the server, or fix the host and "
        "port in the URI."
    )


@contextlib.contextmanager
def _errors(uri: str, action: str) -> Iterator[None]:
    """Turn library errors into rv errors that name ``uri``."""
    try:
        yield
    except RVError:
        raise
    except FileNotFoundError as e:
        unreachable = _unreachable_error(uri, action)
        if unreachable is not None:
            raise unreachable from e
        raise MissingFileError(
            f"Cannot {action} {uri}: it does not exist. Check the URI (and that the command that writes it has run)."
        ) from e
    except IsADirectoryError as e:
        raise FileSystemError(
            f"Cannot {action} {uri}: it is a directory, not a file. Name a file, or "
            "use sync_from_dir / sync_to_dir for directories."
        ) from e
    except PermissionError as e:
        raise FileSystemError(
            f"Cannot {action} {uri}: permission denied ({e}). Check the credentials or permissions for that location."
        ) from e
    except _remote_error_types() as e:
        raise FileSystemError(f"Cannot {action} {uri}: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------


class AtomicWriter:
    """A file open for writing whose content appears at its URI only on success.

    Returned by :func:`open_file` for ``"w"``/``"wb"``. Used as a context
    manager it commits when the block ends normally and discards the
    temporary file when it raises; :meth:`close` commits; an object dropped
    without being closed leaves nothing behind. Other file methods
    (``write``, ``writelines``, ``tell``, ...) are the temporary file's.
    """

    def __init__(self, uri: str, mode: str = "wb", encoding: str | None = None):
        self._done = True  # nothing to clean up until the temporary file exists
        self.uri = os.fspath(uri)
        self._fs = _file_system_for(self.uri, "w")
        if is_local(self.uri):
            target = os.path.abspath(_local_path(self.uri))
            parent = os.path.dirname(target)
            with _errors(self.uri, "create the directory of"):
                os.makedirs(parent, exist_ok=True)
            # Same directory as the target, so os.replace is an atomic rename.
            self._tmp = os.path.join(parent, f".{os.path.basename(target)}.{uuid.uuid4().hex[:12]}.tmp")
            self._target: str | None = target
        else:
            from rv.settings import tmp_dir

            name = posixpath.basename(self.uri.rstrip("/")) or "upload"
            fd, self._tmp = tempfile.mkstemp(dir=tmp_dir(), prefix="rv-upload-", suffix="-" + name)
            os.close(fd)
            self._target = None
        binary = "b" in mode
        # "x" on a fresh name: the temporary file gets the usual umask-based mode.
        open_mode = ("wb" if binary else "w") if self._target is None else ("xb" if binary else "x")
        try:
            with _errors(self.uri, "write"):
                self._file: IO[Any] = open(self._tmp, open_mode, encoding=None if binary else (encoding or "utf-8"))
        except BaseException:
            if self._target is None:
                _remove_quietly(self._tmp)
            raise
        self._done = False

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the writer lacks; private ones are never the file's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._file, name)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    @property
    def closed(self) -> bool:
        return self._done

    def write(self, data):
        """Write ``data`` to the temporary file."""
        return self._file.write(data)

    def commit(self) -> None:
        """Close the temporary file and put it at the URI (rename or upload)."""
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
            if self._target is not None:
                with _errors(self.uri, "write"):
                    os.replace(self._tmp, self._target)
            else:
                with _errors(self.uri, "upload to"):
                    self._fs.put_file(self._tmp, self.uri)
        finally:
            _remove_quietly(self._tmp)

    close = commit

    def discard(self) -> None:
        """Close and delete the temporary file; the URI is left untouched."""
        if self._done:
            return
        self._done = True
        try:
            self._file.close()
        finally:
            _remove_quietly(self._tmp)

    def __del__(self):
        # Never commit from the garbage collector: an unclosed file means the
        # writer did not finish.
        with contextlib.suppress(Exception):
            self.discard()


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def open_file(uri: str | os.PathLike, mode: str = "r", encoding: str = "utf-8") -> IO[Any]:
    """Open ``uri`` for reading (``"r"``, ``"rb"``) or atomic writing (``"w"``, ``"wb"``).

    Use it as a context manager. Text modes use ``encoding``. A write mode
    returns an :class:`AtomicWriter`: nothing appears at ``uri`` until the
    ``with`` block ends without an exception. Parent directories of local
    files are created.

    Raises:
        MissingFileError: reading a URI that does not exist.
        FileSystemError: unknown scheme, writing to ``http(s)://``, an
            unsupported ``mode``, or an I/O failure (naming the URI).
    """
    uri = os.fspath(uri)
    if mode not in ("r", "rb", "w", "wb", "rt", "wt"):
        raise FileSystemError(
            f"Cannot open {uri} with mode {mode!r}: rv opens files with 'r', 'rb', "
            "'w' or 'wb' (writes replace the whole file atomically)."
        )
    mode = mode.replace("t", "")
    if is_write_mode(mode):
        # File-like (write, close, context manager, the rest delegated to the temporary file).
        return cast(IO[Any], AtomicWriter(uri, mode, encoding))
    fs = _file_system_for(uri, mode)
    with _errors(uri, "read"):
        if is_local(uri):
            return open(_local_path(uri), mode, encoding=None if "b" in mode else encoding)
        if "b" in mode:
            return fs.open(uri, "rb")
        return fs.open(uri, "r", encoding=encoding)


def read_bytes(uri: str | os.PathLike) -> bytes:
    """The content of ``uri``. Raises :class:`MissingFileError` when it does not exist."""
    uri = os.fspath(uri)
    fs = _file_system_for(uri, "r")
    with _errors(uri, "read"):
        if is_local(uri):
            with open(_local_path(uri), "rb") as f:
                return f.read()
        return fs.cat_file(uri)


def read_text(uri: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The content of ``uri`` decoded as ``encoding`` (newlines as written)."""
    uri = os.fspath(uri)
    data = read_bytes(uri)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DataError(
            f"{uri} is not {encoding} text: byte {e.start} cannot be decoded ({e.reason}). "
            "Check that the URI names a text file, or read it with read_bytes."
        ) from e


def write_bytes(uri: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``uri`` atomically (creating local parent directories)."""
    with open_file(uri, "wb") as f:
        f.write(data)


def create_exclusive(uri: str | os.PathLike, text: str) -> bool:
    """Create ``uri`` holding ``text`` only if nothing is there; whether this call created it.

    Exclusive on local disk (``O_CREAT | O_EXCL``) and on file systems whose
    fsspec ``open(uri, "xb")`` is (S3 through s3fs: a conditional put with
    ``If-None-Match: *``). Used for locks: of two processes creating one
    URI at once, exactly one gets ``True``.
    """
    uri = os.fspath(uri)
    data = text.encode("utf-8")
    if is_local(uri):
        path = _local_path(uri)
        with _errors(uri, "create the directory of"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True
    fs = _file_system_for(uri, "w")
    try:
        with fs.open(uri, "xb") as f:
            f.write(data)
    except FileExistsError:
        return False
    except OSError as e:
        # s3fs reports a failed If-None-Match as an OSError carrying the S3 error code.
        if "PreconditionFailed" in str(e) or "412" in str(e):
            return False
        with _errors(uri, "create"):
            raise
    return True


def write_text(uri: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``uri`` atomically (creating local parent directories)."""
    write_bytes(uri, text.encode(encoding))


# ---------------------------------------------------------------------------
# Listing, existence, directories, deletion
# ---------------------------------------------------------------------------


def directory_given_as_file(uri: str | os.PathLike) -> str | None:
    """A message when the local ``uri`` is a directory where a file is expected, else ``None``."""
    uri = os.fspath(uri)
    if not is_local(uri) or not os.path.isdir(_local_path(uri)):
        return None
    inside = sorted(os.listdir(_local_path(uri)))
    files = [n for n in inside if n.lower().endswith((".tif", ".tiff", ".geojson", ".json", ".vrt"))][:3]
    hint = f" (it holds {', '.join(files)}{', ...' if len(inside) > len(files) else ''})" if files else ""
    return (
        f"{uri} is a directory, not a file{hint}. Name the file itself: one raster per scene, and one "
        "scene for each file."
    )


def exists(uri: str | os.PathLike) -> bool:
    """Whether ``uri`` is a file or a directory (for object stores, a prefix with objects)."""
    uri = os.fspath(uri)
    if is_local(uri):
        return os.path.exists(_local_path(uri))
    fs = _file_system_for(uri, "r")
    with _errors(uri, "check"):
        found = bool(fs.exists(uri))
    if not found:
        unreachable = _unreachable_error(uri, "read")
        if unreachable is not None:
            raise unreachable
    return found


def list_paths(
    uri: str | os.PathLike,
    ext: str | tuple[str, ...] | None = None,
    recursive: bool = False,
) -> list[str]:
    """The files under the directory ``uri``, as URIs in the same form, sorted.

    Only files directly in ``uri`` unless ``recursive``. ``ext`` keeps names
    ending with that extension (``"tif"`` or ``".tif"``, or a tuple of them;
    case-insensitive). A ``uri`` that does not exist lists nothing.
    """
    uri = os.fspath(uri)
    fs = _file_system_for(uri, "r")
    base = os.path.abspath(_local_path(uri)) if is_local(uri) else fs._strip_protocol(uri)
    base = base.rstrip("/") or "/"
    with _errors(uri, "list"):
        try:
            if recursive:
                found = fs.find(base)
            else:
                found = [e["name"] for e in fs.ls(base, detail=True) if e.get("type") == "file"]
        except FileNotFoundError:
            return []
    if ext is not None:
        suffixes = (ext,) if isinstance(ext, str) else tuple(ext)
        suffixes = tuple("." + s.lower().lstrip(".") for s in suffixes)
    result = []
    prefix = base if base.endswith("/") else base + "/"
    for path in found:
        path = path.rstrip("/")
        if path == base:  # uri names a file
            rel = ""
        elif path.startswith(prefix):
            rel = path[len(prefix) :]
        else:
            continue
        if ext is not None and not path.lower().endswith(suffixes):
            continue
        result.append(join(uri, rel) if rel else uri)
    return sorted(result)


def _walk_files(uri: str) -> dict[str, str]:
    """``{relative posix path: uri}`` of every file under the directory ``uri``."""
    files = {}
    prefix_len = len(uri.rstrip("/")) + 1
    for path in list_paths(uri, recursive=True):
        rel = path[prefix_len:]
        if is_local(uri):
            rel = rel.replace(os.sep, "/")
        files[rel] = path
    return files


def make_dir(uri: str | os.PathLike) -> None:
    """Create the directory ``uri`` and its parents (object stores need none)."""
    uri = os.fspath(uri)
    if is_local(uri):
        with _errors(uri, "create the directory"):
            os.makedirs(_local_path(uri), exist_ok=True)
        return
    fs = _file_system_for(uri, "w")
    with _errors(uri, "create the directory"):
        fs.makedirs(uri, exist_ok=True)


def delete(uri: str | os.PathLike, recursive: bool = False) -> None:
    """Delete the file ``uri`` (or the directory, with ``recursive=True``).

    Deleting what does not exist is not an error.
    """
    uri = os.fspath(uri)
    fs = _file_system_for(uri, "w")
    with _errors(uri, "delete"):
        if is_local(uri):
            path = _local_path(uri)
            if os.path.isdir(path) and not os.path.islink(path):
                if not recursive:
                    raise FileSystemError(
                        f"Cannot delete {uri}: it is a directory. Pass recursive=True "
                        "to delete it with everything inside."
                    )
                shutil.rmtree(path)
            else:
                _remove_quietly(path)
            return
        if not fs.exists(uri):
            return
        if fs.isdir(uri) and not recursive:
            raise FileSystemError(
                f"Cannot delete {uri}: it is a directory. Pass recursive=True to delete it with everything inside."
            )
        fs.rm(uri, recursive=recursive)


# ---------------------------------------------------------------------------
# Moving files between local disk and remote URIs
# ---------------------------------------------------------------------------


def get_local_path(uri: str | os.PathLike, tmp_dir: str | os.PathLike) -> str:
    """Where ``uri`` lives on local disk: itself if local, else a path in ``tmp_dir``.

    Remote URIs map to ``<tmp_dir>/<scheme>/<host and path>``
    (``s3://b/x/y.tif`` → ``<tmp_dir>/s3/b/x/y.tif``); a query string adds a
    directory named by its hash so different queries do not collide.
    """
    uri = os.fspath(uri)
    if is_local(uri):
        return _local_path(uri)
    scheme = uri_scheme(uri)
    rest = uri[len(scheme) + 3 :]
    query = ""
    if scheme in ("http", "https"):
        rest, _, query = rest.partition("#")[0].partition("?")
    # Never let ".." or empty segments climb out of tmp_dir.
    segments = [s if s not in ("..", ".") else "_" for s in rest.split("/") if s]
    if query:
        segments.insert(-1 if segments else 0, "q-" + hashlib.sha1(query.encode()).hexdigest()[:10])
    if not segments:
        segments = ["root"]
    return os.path.join(os.fspath(tmp_dir), scheme, *segments)


def _download_to(uri: str, local_path: str) -> None:
    """Copy the remote file ``uri`` to ``local_path`` atomically."""
    fs = _file_system_for(uri, "r")
    parent = os.path.dirname(os.path.abspath(local_path))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(local_path)}.{uuid.uuid4().hex[:12]}.part")
    try:
        with _errors(uri, "download"):
            if fs.isdir(uri):
                raise IsADirectoryError(uri)
            fs.get_file(uri, tmp)
        os.replace(tmp, local_path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _remove_quietly(tmp)


def download_if_needed(uri: str | os.PathLike, tmp_dir: str | os.PathLike) -> str:
    """A local path holding the content of ``uri``.

    A local ``uri`` is returned as a path, without copying; a remote one is
    downloaded (every call, so it is never stale) to :func:`get_local_path`
    in ``tmp_dir``. Raises :class:`MissingFileError` when ``uri`` does not
    exist.
    """
    uri = os.fspath(uri)
    if is_local(uri):
        path = _local_path(uri)
        if not os.path.exists(path):
            raise MissingFileError(
                f"Cannot read {uri}: it does not exist. Check the path (relative paths "
                f"are resolved from {os.getcwd()})."
            )
        return path
    local_path = get_local_path(uri, tmp_dir)
    _download_to(uri, local_path)
    return local_path


def upload(local_path: str | os.PathLike, uri: str | os.PathLike) -> None:
    """Put the local file ``local_path`` at ``uri`` (atomic; a local ``uri`` is a copy)."""
    local_path, uri = os.fspath(local_path), os.fspath(uri)
    if not os.path.isfile(local_path):
        raise MissingFileError(f"Cannot upload {local_path} to {uri}: {local_path} is not a file.")
    if is_local(uri):
        dst = _local_path(uri)
        if os.path.exists(dst) and os.path.samefile(local_path, dst):
            return
        with open(local_path, "rb") as src, open_file(uri, "wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        return
    fs = _file_system_for(uri, "w")
    with _errors(uri, "upload to"):
        fs.put_file(local_path, uri)


def copy(src_uri: str | os.PathLike, dst_uri: str | os.PathLike) -> None:
    """Copy the file ``src_uri`` to ``dst_uri``, between any two file systems.

    The destination is written atomically; copies within one remote file
    system are done by that file system (server side for object stores).
    """
    src_uri, dst_uri = os.fspath(src_uri), os.fspath(dst_uri)
    if is_local(src_uri):
        if not os.path.isfile(_local_path(src_uri)):
            raise MissingFileError(f"Cannot copy {src_uri}: it does not exist or is not a file.")
        upload(_local_path(src_uri), dst_uri)
        return
    if is_local(dst_uri):
        _download_to(src_uri, _local_path(dst_uri))
        return
    src_fs = _file_system_for(src_uri, "r")
    dst_fs = _file_system_for(dst_uri, "w")
    if src_fs is dst_fs:
        with _errors(src_uri, "copy"):
            src_fs.copy(src_uri, dst_uri)
        return
    with open_file(src_uri, "rb") as src, open_file(dst_uri, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)


def _sync(src_uri: str, dst_uri: str, delete_extra: bool) -> list[str]:
    if not exists(src_uri):
        raise MissingFileError(f"Cannot sync from {src_uri}: it does not exist.")
    if not is_local(dst_uri):
        # A destination that cannot be written (http://) is an error even when there is nothing to copy.
        _file_system_for(dst_uri, "w")
    src_files = _walk_files(src_uri)
    written = []
    for rel, src in sorted(src_files.items()):
        dst = join(dst_uri, rel)
        copy(src, dst)
        written.append(dst)
    if delete_extra:
        for rel, dst in _walk_files(dst_uri).items():
            if rel not in src_files:
                delete(dst)
    return written


def sync_to_dir(src_dir: str | os.PathLike, dst_uri: str | os.PathLike, delete: bool = False) -> list[str]:
    """Copy every file under the local directory ``src_dir`` to ``dst_uri``.

    Relative paths are kept. With ``delete=True``, files under ``dst_uri``
    that are not in ``src_dir`` are deleted. Returns the URIs written.
    """
    return _sync(os.fspath(src_dir), os.fspath(dst_uri), delete)


def sync_from_dir(src_uri: str | os.PathLike, dst_dir: str | os.PathLike, delete: bool = False) -> list[str]:
    """Copy every file under ``src_uri`` into the local directory ``dst_dir``.

    Relative paths are kept. With ``delete=True``, files in ``dst_dir`` that
    are not under ``src_uri`` are deleted. Returns the local paths written.
    """
    dst_dir = os.fspath(dst_dir)
    os.makedirs(_local_path(dst_dir), exist_ok=True)
    return _sync(os.fspath(src_uri), dst_dir, delete)


# ---------------------------------------------------------------------------
# GDAL
# ---------------------------------------------------------------------------


def local_or_gdal_path(uri: str | os.PathLike, tmp_dir: str | os.PathLike, allow_streaming: bool = True) -> str:
    """A path GDAL opens for ``uri``: read in place when it can be (:func:`gdal_path`), else downloaded.

    With ``allow_streaming=False`` every remote URI is downloaded into
    ``tmp_dir`` (:func:`download_if_needed`); local paths are never copied.
    """
    uri = os.fspath(uri)
    if is_local(uri) or (allow_streaming and can_stream(uri)):
        return gdal_path(uri)
    return download_if_needed(uri, tmp_dir)


def gdal_env(**overrides: Any) -> dict[str, Any]:
    """GDAL configuration options for reading rasters over HTTP (``/vsicurl/``).

    Use as ``with rasterio.Env(**gdal_env()): rasterio.open(gdal_path(uri))``.

    - ``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``: do not list the remote
      "directory" (an HTTP server's index page) or probe for sidecar files
      (``.aux.xml``, ``.ovr``, ``.msk``) on open — each probe is a request.
    - ``GDAL_HTTP_MERGE_CONSECUTIVE_RANGES=YES``: one request for adjacent
      blocks.
    - ``GDAL_HTTP_MAX_RETRY`` / ``GDAL_HTTP_RETRY_DELAY``: retry transient
      server errors.

    ``CPL_VSIL_CURL_ALLOWED_EXTENSIONS`` is not set by default: it would
    refuse URLs without a raster extension (signed URLs, query strings);
    pass it in ``overrides`` (``CPL_VSIL_CURL_ALLOWED_EXTENSIONS=".tif,.tiff"``)
    to restrict GDAL further. ``overrides`` replace or add options.
    """
    options: dict[str, Any] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MAX_RETRY": "3",
        "GDAL_HTTP_RETRY_DELAY": "1",
    }
    options.update(overrides)
    return options
