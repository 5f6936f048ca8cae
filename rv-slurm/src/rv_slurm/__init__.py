"""rv-slurm: the ``slurm`` runner for rv (each command of the graph an sbatch job).

The plugin module is :mod:`rv_slurm.plugin`; the runner is in
:mod:`rv_slurm.slurm_runner`, the ``[SLURM]`` settings in
:mod:`rv_slurm.slurm_settings`, job scripts in :mod:`rv_slurm.job_script`,
the calls to sbatch/squeue/sacct/scancel in :mod:`rv_slurm.slurm_queue`, and
a pytest fixture with a one-node cluster on loopback in
:mod:`rv_slurm.testing`. Nothing is imported here.
"""
