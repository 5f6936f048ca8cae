"""rv-aws: the ``s3://`` file system and the ``aws_batch`` runner for rv.

The plugin module is :mod:`rv_aws.plugin`; S3 helpers are in :mod:`rv_aws.s3`
(GDAL options for ``/vsis3/``, the access check, explained S3 errors), the
file system in :mod:`rv_aws.s3_file_system`, the runner in
:mod:`rv_aws.batch_runner`, pytest fixtures (a moto server with S3 and Batch)
in :mod:`rv_aws.testing`. Nothing heavy is imported here.
"""
