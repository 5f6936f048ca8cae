"""Make ``rv_hello`` importable when it is not installed.

A plugin's own CI would ``pip install -e .`` first; rv's CI runs these tests
from the monorepo without installing the example, so the ``src`` layout is
put on ``sys.path`` (what pytest's ``pythonpath = ["src"]`` setting does). The
plugin is then *not* discovered through its entry point: each test registers
it with ``rv_register_plugin``, which works either way.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("rv_hello") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
