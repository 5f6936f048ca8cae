"""Cross-package tests: the installed packages working together, found through real entry points.

The example plugins (examples/plugins/rv-hello, rv-broken) are installed for
real, with pip, into a throwaway venv that sees the current environment
(``rv.testing.rv_plugin_venv``); tests run ``python`` there in subprocesses.
The environment that runs pytest is never changed.
"""

import subprocess
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGINS = ROOT / "examples" / "plugins"


@pytest.fixture(scope="session")
def plugin_venv(rv_plugin_venv):
    """Python of a throwaway venv with rv-hello and rv-broken installed (shared by the session)."""
    return rv_plugin_venv(EXAMPLE_PLUGINS / "rv-hello", EXAMPLE_PLUGINS / "rv-broken")


@pytest.fixture
def run_python(tmp_path):
    """``run_python(python, code_or_args, env=None)``: run a Python in a clean rv environment, return the result."""
    config_dir = tmp_path / "rv-config"
    config_dir.mkdir()

    def _run(python, args, env=None, check=True):
        environ = environ_without_rv()
        environ["RV_CONFIG_DIR"] = str(config_dir)
        environ.update(env or {})
        argv = [str(python), "-c", args] if isinstance(args, str) else [str(python), *map(str, args)]
        result = subprocess.run(argv, capture_output=True, text=True, env=environ, cwd=tmp_path, timeout=180)
        if check and result.returncode != 0:
            raise AssertionError(f"{argv} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    return _run
