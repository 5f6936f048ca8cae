"""rv finds the ``slurm`` runner through the entry point, without importing the runner at discovery."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from rv.plugins import get_plugin_manager
pm = get_plugin_manager()
print(pm.rv_registry.get("runners", "slurm"))
print(pm.rv_plugins["rv_slurm"].status, pm.rv_plugins["rv_slurm"].distribution)
print(sorted(m for m in sys.modules if m.startswith("rv_slurm")))
"""


def test_the_slurm_runner_is_registered_by_its_import_path():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rv_slurm.slurm_runner:SlurmRunner",
        "ok rv-slurm",
        "['rv_slurm', 'rv_slurm.plugin']",
    ]
