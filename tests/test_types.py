"""rv-core's types check: mypy over rv-core/src with the settings of pyproject.toml's ``[tool.mypy]``.

The hookspecs' parameters and the core's public signatures are typed (heavy
types imported under ``TYPE_CHECKING``), and optional capabilities are
methods declared on the base classes, so mypy checks callers against them.
Run it by hand with ``.venv/bin/python -m mypy`` from the repository root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes_over_rv_core(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "--no-color-output"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"mypy found type errors in rv-core/src:\n{result.stdout}\n{result.stderr}"
    assert "Success: no issues found" in result.stdout, result.stdout
