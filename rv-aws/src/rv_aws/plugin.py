"""rv-aws's plugin: the ``s3://`` file system, GDAL's access to S3, the access check, the ``aws_batch`` runner.

Loaded at plugin discovery through the entry point ``rv_aws = "rv_aws.plugin"``
(group ``rv.plugins``), so it imports only ``rv`` and this package's light
modules: s3fs, boto3 and rasterio are imported when an S3 file system, a GDAL
environment or an access check is first asked for, and the runner module
(``rv_aws.batch_runner``) when ``rv run aws_batch`` uses it.
"""

from __future__ import annotations

from rv.hookspecs import hookimpl
from rv_aws.s3 import is_s3_uri

#: the runner's key (``rv.AWS_BATCH``) and where its class lives, imported only when used
AWS_BATCH_RUNNER = "aws_batch"
AWS_BATCH_RUNNER_CLASS = "rv_aws.batch_runner:AwsBatchRunner"


@hookimpl
def file_system_for(uri, mode):
    """Return rv's S3 file system for an ``s3://`` URI, ``None`` for any other URI."""
    if is_s3_uri(uri):
        # Imported here: s3fs pulls in aiobotocore and botocore (~0.3 s).
        from rv_aws.s3_file_system import s3_file_system

        return s3_file_system()
    return None


@hookimpl
def gdal_env_for(uri):
    """For an ``s3://`` URI, a ``rasterio.Env`` pointing ``/vsis3/`` at rv's S3 endpoint and credentials.

    Raster sources enter it around their reads, so a GeoTIFF on S3 is read in
    place, window by window (see :func:`rv_aws.s3.rasterio_env_for_s3`).
    ``None`` for any other URI.
    """
    if is_s3_uri(uri):
        from rv_aws.s3 import rasterio_env_for_s3

        return rasterio_env_for_s3()
    return None


@hookimpl
def check_access(uris, mode):
    """Check the ``s3://`` URIs among ``uris`` (credentials, bucket, IAM permissions); ignore the rest.

    Raises :class:`rv.errors.FileSystemError` naming the URI, the problem and
    the fix (see :func:`rv_aws.s3.check_s3_access`).
    """
    s3_uris = [u for u in uris if is_s3_uri(u)]
    if s3_uris:
        from rv_aws.s3 import check_s3_access

        check_s3_access(s3_uris, mode)


@hookimpl
def register_runners(register):
    """Register the ``aws_batch`` runner (by its import path: boto3 loads only when it runs)."""
    register(AWS_BATCH_RUNNER, AWS_BATCH_RUNNER_CLASS)
