"""rv-slurm's plugin: the ``slurm`` runner.

Loaded at plugin discovery through the entry point ``rv_slurm =
"rv_slurm.plugin"`` (group ``rv.plugins``), so it imports only ``rv``: the
runner module is imported by its path when ``rv run slurm`` uses it.
"""

from __future__ import annotations

from rv.hookspecs import hookimpl

#: the runner's key and where its class lives, imported only when used
SLURM_RUNNER = "slurm"
SLURM_RUNNER_CLASS = "rv_slurm.slurm_runner:SlurmRunner"


@hookimpl
def register_runners(register):
    """Register the ``slurm`` runner (by its import path)."""
    register(SLURM_RUNNER, SLURM_RUNNER_CLASS)
