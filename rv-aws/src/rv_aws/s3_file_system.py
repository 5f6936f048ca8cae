"""rv's file system for ``s3://``: s3fs, configured from the environment, with atomic writes.

Why atomic writes need help: an S3 object appears only when its upload
completes (one PUT, or a multipart upload's final *complete* call), so S3
itself never shows half an object. But fsspec's file objects finish the
upload whenever they are closed, and a ``with`` block closes them on an
exception too::

    with s3fs.S3FileSystem().open("s3://b/out.json", "wb") as f:
        f.write(b'{"half": ')
        raise RuntimeError  # plain s3fs uploads the 9 bytes: a truncated object

:class:`AtomicS3FileSystem` opens files whose ``with`` block publishes the
object only when it ends without an exception; otherwise the buffered data
is dropped and a started multipart upload is aborted, so no object appears
(and an older object under the key is left untouched). Text mode behaves the
same. A file closed explicitly with ``close()`` is published, as usual: write
in a ``with`` block. For output made of many files, rv writes its marker or
manifest (``chips.json``, ``eval.json``, ...) last, so a directory without it
is known to be unfinished.

A process killed outright (SIGKILL, a terminated spot instance) cannot abort
its multipart upload: the parts stay invisible, never an object, and are
billed until the bucket's lifecycle rule ``AbortIncompleteMultipartUpload``
removes them (see docs/aws.md).
"""

from __future__ import annotations

import io

import s3fs
from fsspec.asyn import sync_wrapper

from rv_aws.s3 import S3Settings, explain_s3_error


class AtomicS3File(s3fs.S3File):
    """An :class:`s3fs.S3File` whose ``with`` block publishes the object only on success."""

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and "r" not in self.mode:
            self.abandon()
        else:
            self.close()

    def abandon(self) -> None:
        """Drop what was written: no object appears, a started multipart upload is aborted."""
        if self.closed:
            return
        try:
            self.discard()
        finally:
            # Marked closed so that neither close() nor garbage collection
            # uploads the discarded data later.
            self.closed = True
            transaction = self.fs._transaction if self.fs._intrans else None
            if transaction is not None and self in transaction.files:
                transaction.files.remove(self)


class AtomicTextWriter(io.TextIOWrapper):
    """Text mode over an :class:`AtomicS3File`: an exception in the block publishes nothing."""

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and isinstance(self.buffer, AtomicS3File):
            # The text not yet encoded into the buffer is dropped with it.
            self.buffer.abandon()
            return None
        return super().__exit__(exc_type, exc, tb)


class AtomicS3FileSystem(s3fs.S3FileSystem):
    """:class:`s3fs.S3FileSystem` whose written files appear only when written completely.

    Everything else (reading, listing, ``put``, ``get``, ``rm``) is s3fs's.
    ``put``/``put_file`` are atomic already: s3fs aborts a failed multipart
    upload.

    Errors that a person must fix are explained (:func:`rv_aws.s3.explain_s3_error`):
    no credentials, a missing bucket and rejected credentials raise
    :class:`rv.errors.FileSystemError`, access denied an
    :class:`~rv_aws.s3.S3AccessDeniedError` naming the IAM action, instead of
    botocore's ``NoCredentialsError`` or s3fs's bare ``FileNotFoundError`` /
    ``PermissionError``. A missing key stays a ``FileNotFoundError``.
    """

    async def _call_s3(self, method, *akwarglist, **kwargs):
        import botocore.exceptions

        try:
            return await super()._call_s3(method, *akwarglist, **kwargs)
        except botocore.exceptions.NoCredentialsError as exc:
            explained = explain_s3_error(exc, _operation_name(method), kwargs.get("Bucket"), kwargs.get("Key"))
            raise explained from exc
        except OSError as exc:
            # s3fs turned botocore's ClientError into an OSError and kept it as the cause.
            explained = explain_s3_error(
                exc.__cause__, _operation_name(method), kwargs.get("Bucket"), kwargs.get("Key")
            )
            if explained is None:
                raise
            raise explained from exc

    # s3fs's blocking form (used by its file objects) wraps the base class's coroutine; wrap ours.
    call_s3 = sync_wrapper(_call_s3)

    def _open(self, path, mode="rb", **kwargs):
        f = super()._open(path, mode=mode, **kwargs)
        if "r" not in mode:
            # s3fs builds its S3File by name inside _open; re-class the object
            # instead of copying _open's argument handling. AtomicS3File adds
            # behaviour only, no state.
            f.__class__ = AtomicS3File
        return f

    def open(self, path, mode="rb", **kwargs):
        """Open ``path``; in a write mode, the object appears when the ``with`` block succeeds."""
        if "b" not in mode and "r" not in mode and kwargs.get("compression") is None:
            text_kwargs = {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
            binary = super().open(path, mode.replace("t", "") + "b", **kwargs)
            return AtomicTextWriter(binary, **text_kwargs)
        return super().open(path, mode, **kwargs)


def _operation_name(method) -> str:
    """The S3 API call's snake_case name: s3fs passes a name or a bound client method."""
    return method if isinstance(method, str) else getattr(method, "__name__", str(method))


def s3_file_system(uri: str | None = None, mode: str | None = None) -> AtomicS3FileSystem:
    """The file system rv uses for ``s3://`` (the factory of the ``s3`` protocol).

    Configured from the environment each call (endpoint, credentials, region,
    requester pays: see :mod:`rv_aws.s3`); fsspec's instance cache returns the
    same object while those stay the same. ``uri`` and ``mode`` are accepted
    for the ``factory(uri, mode)`` contract; every S3 URI gets the same
    file system. Listings are not cached: rv asks whether outputs exist while
    other processes (Batch jobs) write them.
    """
    options = S3Settings.from_environment().s3fs_options()
    return AtomicS3FileSystem(use_listings_cache=False, **options)
