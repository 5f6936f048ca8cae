"""``rv --help`` and ``rv plugins list`` wall time, median of 5, beside a bare ``python -c pass``.

The name issue 1 asks for; the measuring lives in ``cli_startup.py`` (``-n`` changes the runs).

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_startup import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a in ("-n", "--runs") or a.startswith("--runs=") for a in argv):
        argv = ["-n", "5", *argv]
    sys.exit(main(argv))
