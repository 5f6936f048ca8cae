"""What every package's tests share: the sample data kept in this repository.

pytest loads this file for every test under the repository root (it is the
rootdir's conftest), so each package's tests ask for ``data_dir`` instead of
working out where the data lives.
"""

from pathlib import Path

import pytest

#: Real imagery and labels for tests, bench scripts and examples (provenance
#: and licences in ``examples/data/DATA_LICENSES``).
SAMPLE_DATA = Path(__file__).resolve().parent / "examples" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The sample data folder, ``examples/data`` (``buildings/``, ``landcover/``, ``multiband/``, ``trees/``)."""
    # Part of the repository: missing data is a broken checkout, never a reason to skip.
    assert (SAMPLE_DATA / "DATA_LICENSES").is_file(), f"sample data missing from the repository at {SAMPLE_DATA}"
    return SAMPLE_DATA
