"""The ``[SLURM]`` section of rv's settings: where and how each command's job runs.

Example (in the rv profile file, ``~/.rastervision/default``)::

    [SLURM]
    partition = cpu
    gpu_partition = gpu
    account = def-someone
    qos = normal
    time = 04:00:00
    mem = 16G
    cpus = 4
    gpus = 1
    extra_sbatch = --constraint=v100, --mail-type=FAIL
    setup =
        module load python/3.11 gdal
        source ~/venvs/rv/bin/activate
    wait = false

Every option can also be set as the environment variable ``SLURM_<OPTION>``
(rv's settings rule), except ``wait``: Slurm's own ``srun`` reads
``SLURM_WAIT``, so ``rv`` reads ``RV_SLURM_WAIT`` instead.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field

from rv.errors import ConfigError

SECTION = "SLURM"
#: ``rv run slurm`` follows its jobs until they end when this is a yes value (``[SLURM] wait`` in a file)
WAIT_VARIABLE = "RV_SLURM_WAIT"

# Slurm's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED/INFINITE.
_TIME = re.compile(
    r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|unlimited|infinite)$",
    re.IGNORECASE,
)
_MEM = re.compile(r"^\d+[KMGT]?B?$", re.IGNORECASE)

_HELP = {
    "partition": "the partition of every job (`partition = cpu`)",
    "gpu_partition": "the partition of TRAIN and PREDICT (default: partition)",
    "account": "the account charged (`account = def-someone`)",
    "qos": "the quality of service (`qos = normal`)",
    "time": "the time limit of every job (`time = 04:00:00`, Slurm's formats)",
    "gpu_time": "the time limit of TRAIN and PREDICT (default: time)",
    "mem": "the memory of every job (`mem = 16G`)",
    "cpus": "CPUs per job (`cpus = 4`, default 1)",
    "gpus": "GPUs of TRAIN and PREDICT jobs (`gpus = 1`, default 1; 0 asks for none)",
    "extra_sbatch": "more #SBATCH options, comma separated (`extra_sbatch = --constraint=v100, --mail-type=FAIL`)",
    "setup": "shell lines run before the command (`module load ...`, `source venv/bin/activate`)",
    "python": "the Python that runs `-m rv run_command` in the jobs (default: the one running `rv run`)",
    "log_dir": "where job logs go (default: beside each command's outputs when they are local)",
    "poll_seconds": "how often a waiting `rv run slurm` asks squeue (default 5)",
    "wait": "follow the jobs until they end (yes/no; environment RV_SLURM_WAIT)",
}


@dataclass(frozen=True)
class SlurmSettings:
    """The ``[SLURM]`` settings (see the module docstring).

    Attributes:
        partition: partition of every job (``None``: the cluster's default).
        gpu_partition: partition of TRAIN and PREDICT (default ``partition``).
        account: ``--account``.
        qos: ``--qos``.
        time: ``--time`` of every job.
        gpu_time: ``--time`` of TRAIN and PREDICT (default ``time``).
        mem: ``--mem`` of every job.
        cpus: ``--cpus-per-task`` of every job.
        gpus: ``--gres=gpu:N`` of TRAIN and PREDICT; 0 asks for no GPU.
        extra_sbatch: further options, each written as an ``#SBATCH`` line.
        setup: shell lines run in each job before ``rv run_command``.
        python: the Python interpreter of the jobs.
        log_dir: folder of the job logs (``None``: beside each command's outputs).
        poll_seconds: seconds between two squeue calls while waiting.
        wait: whether ``rv run slurm`` follows the jobs until they end.
    """

    partition: str | None = None
    gpu_partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    gpu_time: str | None = None
    mem: str | None = None
    cpus: int = 1
    gpus: int = 1
    extra_sbatch: tuple[str, ...] = ()
    setup: str = ""
    python: str = field(default_factory=lambda: sys.executable)
    log_dir: str | None = None
    poll_seconds: float = 5.0
    wait: bool = False

    @classmethod
    def from_settings(cls, settings=None) -> SlurmSettings:
        """Read the ``[SLURM]`` section (environment ``SLURM_*``, ``.env``, profile file).

        Raises:
            ConfigError: a value Slurm would refuse (``cpus``/``gpus`` not a
                whole number, a time limit or a memory size in no Slurm
                format, a ``wait`` that is not yes/no), naming the option,
                where it was set and the fix.
        """
        from rv.settings import get_settings, parse_bool, parse_list

        settings = settings if settings is not None else get_settings()

        def text(name: str) -> str | None:
            value = settings.get(SECTION, name)
            value = value.strip() if value is not None else None
            return value or None

        def bad(name: str, value: str, rule: str) -> ConfigError:
            return ConfigError(
                f"[{SECTION}] {name} is {value!r} (from {settings.origin(SECTION, name)}), but {rule}. "
                f"Set {_HELP[name]} in the rv profile file under [{SECTION}] or as SLURM_{name.upper()}."
            )

        def whole(name: str, default: int, minimum: int) -> int:
            value = text(name)
            if value is None:
                return default
            try:
                number = int(value)
            except ValueError:
                number = minimum - 1
            if number < minimum:
                raise bad(name, value, f"it must be a whole number of at least {minimum}")
            return number

        for name in ("time", "gpu_time"):
            value = text(name)
            if value is not None and not _TIME.match(value):
                raise bad(name, value, "Slurm reads a time limit as minutes, HH:MM:SS or D-HH:MM:SS")
        mem = text("mem")
        if mem is not None and not _MEM.match(mem):
            raise bad("mem", mem, "Slurm reads memory as a number with an optional K, M, G or T (e.g. 16G)")
        poll = text("poll_seconds") or "5"
        try:
            poll_seconds = float(poll)
        except ValueError:
            poll_seconds = 0.0
        if not poll_seconds > 0:
            raise bad("poll_seconds", poll, "it must be a positive number of seconds")
        extra = []
        for item in parse_list(settings.get(SECTION, "extra_sbatch")):
            item = item.strip()
            if item.startswith("#SBATCH"):
                item = item[len("#SBATCH") :].strip()
            if not item.startswith("-"):
                raise bad("extra_sbatch", item, "each item must be an sbatch option such as --constraint=v100")
            extra.append(item)
        python = text("python") or sys.executable
        return cls(
            partition=text("partition"),
            gpu_partition=text("gpu_partition") or text("partition"),
            account=text("account"),
            qos=text("qos"),
            time=text("time"),
            gpu_time=text("gpu_time") or text("time"),
            mem=mem,
            cpus=whole("cpus", 1, 1),
            gpus=whole("gpus", 1, 0),
            extra_sbatch=tuple(extra),
            setup=(settings.get(SECTION, "setup") or "").strip("\n"),
            python=os.path.expanduser(python),
            log_dir=text("log_dir"),
            poll_seconds=poll_seconds,
            wait=_wait(settings, parse_bool),
        )

    def options_for(self, gpu: bool) -> list[str]:
        """The ``#SBATCH`` options (without the prefix) of a job, GPU (TRAIN, PREDICT) or CPU."""
        options = []
        partition = self.gpu_partition if gpu else self.partition
        if partition:
            options.append(f"--partition={partition}")
        if self.account:
            options.append(f"--account={self.account}")
        if self.qos:
            options.append(f"--qos={self.qos}")
        limit = self.gpu_time if gpu else self.time
        if limit:
            options.append(f"--time={limit}")
        if self.mem:
            options.append(f"--mem={self.mem}")
        options.append(f"--cpus-per-task={self.cpus}")
        if gpu and self.gpus > 0:
            options.append(f"--gres=gpu:{self.gpus}")
        options.append("--export=ALL")
        options.extend(self.extra_sbatch)
        return options

    def python_argv(self) -> list[str]:
        """``python -m rv`` as the jobs run it (``python`` may hold arguments, e.g. ``apptainer exec img python``)."""
        return [*shlex.split(self.python), "-m", "rv"]


def _wait(settings, parse_bool) -> bool:
    """``RV_SLURM_WAIT`` in the environment or ``.env``, else ``[SLURM] wait`` from the files.

    ``SLURM_WAIT`` (what rv's rule would read) is srun's own variable, a
    number of seconds, so it is never taken for this option.
    """
    value = settings.get("RV", "slurm_wait")
    name = f"{WAIT_VARIABLE} ({settings.origin('RV', 'slurm_wait')})"
    if value is None:
        origin = settings.origin(SECTION, "wait") or ""
        if origin.startswith("environment"):
            return False
        value = settings.get(SECTION, "wait")
        name = f"[{SECTION}] wait ({origin})"
    if value is None or not value.strip():
        return False
    return parse_bool(value, name=name)
