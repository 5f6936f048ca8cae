"""Fixtures of rv-aws's tests: the moto S3 server of :mod:`rv_aws.testing` (``data_dir`` comes from the root conftest)."""

from rv_aws.testing import aws_batch_environment, moto_server, s3_bucket  # noqa: F401  (fixtures)
