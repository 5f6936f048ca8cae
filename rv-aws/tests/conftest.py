"""Fixtures of rv-aws's tests: the moto S3 server of :mod:`rv_aws.testing`."""

from pathlib import Path

import pytest

from rv_aws.testing import aws_batch_environment, moto_server, s3_bucket  # noqa: F401  (fixtures)

# <repo>/rv-aws/tests/conftest.py -> <repo>/../shared/data
DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared sample data (``/work/shared/data`` beside the repository)."""
    assert DATA_DIR.is_dir(), f"shared data not found at {DATA_DIR}"
    return DATA_DIR
