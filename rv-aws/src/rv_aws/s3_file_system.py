"""rv's file system for ``s3://``: s3fs, configured from the environment, with S3 errors explained.

Writes need nothing here: every rv write goes through
:class:`rv.file_utils.AtomicWriter`, which writes a local temporary file and
uploads it with one ``put_file`` when the write succeeded (s3fs aborts a
failed multipart upload), so an interrupted command leaves no object. For
output made of many files, rv writes its marker or manifest (``chips.json``,
``eval.json``, ...) last, so a directory without it is known to be
unfinished. A process killed outright (SIGKILL, a reclaimed Spot instance)
cannot abort a multipart upload: the parts stay invisible, never an object,
and are billed until the bucket's lifecycle rule
``AbortIncompleteMultipartUpload`` removes them (see docs/aws.md).
"""

from __future__ import annotations

import s3fs
from fsspec.asyn import sync_wrapper

from rv_aws.s3 import S3Settings, explain_s3_error


class RvS3FileSystem(s3fs.S3FileSystem):
    """:class:`s3fs.S3FileSystem` whose errors say what a person must fix.

    No credentials, a missing bucket and rejected credentials raise
    :class:`rv.errors.FileSystemError`, access denied an
    :class:`~rv_aws.s3.S3AccessDeniedError` naming the IAM action
    (:func:`rv_aws.s3.explain_s3_error`), instead of botocore's
    ``NoCredentialsError`` or s3fs's bare ``FileNotFoundError`` /
    ``PermissionError``. A missing key stays a ``FileNotFoundError``.
    Everything else is s3fs's.

    Why ``_call_s3``: it is the one place every S3 request of s3fs passes
    with its operation name, bucket and key (which the IAM action in the
    message needs), and s3fs has no public hook for translating errors.
    botocore's event hooks see neither the missing-credentials error (raised
    while signing) nor s3fs's translation of the others.
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


def _operation_name(method) -> str:
    """The S3 API call's snake_case name: s3fs passes a name or a bound client method."""
    return method if isinstance(method, str) else getattr(method, "__name__", str(method))


def s3_file_system() -> RvS3FileSystem:
    """The file system rv uses for every ``s3://`` URI (what the ``file_system_for`` hook returns).

    Configured from the environment each call (endpoint, credentials, region,
    requester pays: see :mod:`rv_aws.s3`); fsspec's instance cache returns the
    same object while those stay the same. Listings are not cached: rv asks
    whether outputs exist while other processes (Batch jobs) write them.
    """
    options = S3Settings.from_environment().s3fs_options()
    return RvS3FileSystem(use_listings_cache=False, **options)
