"""TRAIN on several processes: torch DistributedDataParallel, launched by rv or by torchrun/srun.

Each process trains a replica of the model on its share of the training
chips (a :class:`~torch.utils.data.distributed.DistributedSampler`); the
gradients are averaged over the processes at every step, so the replicas
stay equal. ``batch_size`` stays the number of chips of one optimiser step,
all processes together: each takes ``batch_size // N`` of them, and the
training plan (steps per epoch, learning-rate schedule) is the same as on
one process. Process 0 (the *writer*) alone writes the train directory:
checkpoints, ``log.csv``, TensorBoard events, the weights and the curves;
it also runs the validation while the others wait. A checkpoint is the
same whatever the number of processes, so a run resumes on any number.

How the processes come to be:

- **rv launches them** (:func:`spawn`): when the backend option
  ``num_processes`` asks for more than one and no launcher started this
  process, TRAIN starts N workers on this machine (``torch.multiprocessing``,
  the ``spawn`` method) that meet on loopback at a free port.
- **a launcher launches them**: ``torchrun --nproc-per-node N -m rv run_command
  <train command-config.json>``, or Slurm's ``srun`` (the ``slurm`` runner
  does this for a multi-GPU TRAIN). rv reads torchrun's variables (``RANK``,
  ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and
  ``num_processes`` does not apply: the launcher decided.

Processes talk through ``nccl`` on GPUs (one GPU per process: ``cuda:<local
rank>``) and ``gloo`` on the CPU.
"""

from __future__ import annotations

import datetime
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rv.errors import ConfigError
from rv_pytorch.backend_config import ALL_GPUS

#: how long a process waits for the others (the writer validates meanwhile)
TIMEOUT = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Processes:
    """Which of the training processes this one is.

    Attributes:
        rank: 0 to ``world_size - 1``; 0 is the writer.
        local_rank: the index among the processes of this machine (its GPU).
        world_size: how many processes train together.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_writer(self) -> bool:
        """Whether this process writes the outputs (rank 0)."""
        return self.rank == 0

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Processes | None:
        """The processes torchrun (or a script mapping ``srun``'s variables to torchrun's) describes
        in the environment; None when no launcher started this process."""
        environ = os.environ if environ is None else environ
        if "WORLD_SIZE" not in environ or "RANK" not in environ:
            return None
        try:
            world_size, rank = int(environ["WORLD_SIZE"]), int(environ["RANK"])
            local_rank = int(environ.get("LOCAL_RANK", rank))
        except ValueError as e:
            raise ConfigError(
                f"The launcher's variables RANK={environ.get('RANK')!r}, LOCAL_RANK={environ.get('LOCAL_RANK')!r}, "
                f"WORLD_SIZE={environ.get('WORLD_SIZE')!r} are not whole numbers ({e}). Launch TRAIN with torchrun, "
                "or set them from srun's SLURM_PROCID, SLURM_LOCALID and SLURM_NTASKS."
            ) from None
        if not 0 <= rank < world_size:
            raise ConfigError(f"RANK is {rank}, but WORLD_SIZE is {world_size}: a rank must lie in [0, WORLD_SIZE).")
        return cls(rank, local_rank, world_size)

    @classmethod
    def current(cls) -> Processes:
        """This process in the process group torch.distributed has set up (one process when none)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return cls()
        rank = dist.get_rank()
        return cls(rank, int(os.environ.get("LOCAL_RANK", rank)), dist.get_world_size())


def wants_cuda(device: str | None) -> bool:
    """Whether training on ``device`` (None: CUDA when available) uses GPUs."""
    import torch

    if device is None:
        return torch.cuda.is_available()
    return torch.device(device).type == "cuda"


def resolve_num_processes(num_processes: int, device: str | None) -> int:
    """How many processes ``num_processes`` means on this machine.

    ``-1`` (:data:`ALL_GPUS`): one per visible GPU, and 1 without GPUs. On
    GPUs each process needs its own, so asking for more processes than there
    are GPUs is a ConfigError (before any work).
    """
    import torch

    cuda = wants_cuda(device)
    gpus = torch.cuda.device_count() if cuda else 0
    if num_processes == ALL_GPUS:
        return max(gpus, 1)
    if num_processes < 1:
        raise ConfigError(f"num_processes is {num_processes}; use 1 or more, or {ALL_GPUS} for one process per GPU.")
    if cuda and num_processes > gpus:
        raise ConfigError(
            f"num_processes is {num_processes}, but this machine shows {gpus} GPU(s) (CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); each training process needs its own GPU. Use "
            f"num_processes {ALL_GPUS} (one per GPU), or device 'cpu' to train on CPU processes."
        )
    return num_processes


def training_device(device: str | None, processes: Processes):
    """The torch device of this process: ``device`` (None: CUDA when available), with the process's own
    GPU (``cuda:<local rank>``) when several processes train on GPUs."""
    import torch

    from rv_pytorch.train import resolve_device

    resolved = resolve_device(device)
    if processes.distributed and resolved.type == "cuda":
        return torch.device("cuda", processes.local_rank)
    return resolved


@contextmanager
def process_group(processes: Processes | None, device: str | None) -> Iterator[Processes]:
    """Join the other training processes for the block (``nccl`` on GPUs, ``gloo`` on the CPU).

    Yields ``processes`` (one process when None). On the CPU, unless
    ``OMP_NUM_THREADS`` says otherwise, the machine's cores are shared out
    (torch threads per process = cores // processes). Processes other than the
    writer draw no progress display.
    """
    if processes is None or not processes.distributed:
        yield processes or Processes()
        return
    import torch
    import torch.distributed as dist

    cuda = training_device(device, processes).type == "cuda"
    if cuda:
        torch.cuda.set_device(processes.local_rank)
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, _cores() // min(processes.world_size, _cores())))
    if not processes.is_writer:
        os.environ["RV_PROGRESS"] = "0"
    os.environ.setdefault("LOCAL_RANK", str(processes.local_rank))
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        rank=processes.rank,
        world_size=processes.world_size,
        timeout=TIMEOUT,
    )
    try:
        yield processes
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the workers' meeting point)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def spawn(worker: Callable[..., None], num_processes: int, args: Sequence = ()) -> None:
    """Run ``worker(*args)`` in ``num_processes`` new processes of this machine that form one process group.

    Each worker finds torchrun's variables in its environment (rank, world
    size, the loopback address and a free port), so the code it runs is the
    one a torchrun launch runs. ``worker`` must be a module-level function and
    ``args`` plain values (they reach the workers through the ``spawn`` start
    method). Returns when every worker finished; when one fails, the others
    are stopped and a RuntimeError carries the failed worker's traceback; when
    this process is interrupted, the workers are stopped too.
    """
    import torch.multiprocessing as mp

    port = free_port()
    context = mp.start_processes(
        _launch, args=(num_processes, port, worker, tuple(args)), nprocs=num_processes, start_method="spawn", join=False
    )
    try:
        while not context.join():
            pass
    except mp.ProcessRaisedException as e:
        explained = worker_error(e.msg, f"Training process {e.error_index} of {num_processes}: ")
        if explained is not None:
            raise explained from None
        raise RuntimeError(
            f"Training process {e.error_index} of {num_processes} failed (the others were stopped):\n{e.msg}"
        ) from None
    except mp.ProcessExitedException as e:
        raise RuntimeError(
            f"Training process {e.error_index} of {num_processes} ended with exit code {e.exit_code} "
            "(the others were stopped); its output above says why."
        ) from None
    except BaseException:
        # Interrupted here (Ctrl-C, SIGTERM as SystemExit): the workers stop too (SIGTERM lets the
        # writer keep its last checkpoint) instead of training on without anyone waiting for them.
        for process in context.processes:
            if process.is_alive():
                process.terminate()
        for process in context.processes:
            process.join(timeout=60)
        raise


def worker_error(traceback_text: str, prefix: str = "") -> Exception | None:
    """rv's explained error (a ConfigError, DataError, ...: one paragraph naming the fix) that ended a
    worker, rebuilt from its traceback text; None when the worker died of something else."""
    import re

    from rv import errors

    matches = list(re.finditer(r"^rv\.errors\.(\w+): ", traceback_text, re.MULTILINE))
    last = matches[-1] if matches else None  # the exception that ended the worker
    cls = getattr(errors, last[1], None) if last else None
    if not (isinstance(cls, type) and issubclass(cls, errors.RVError)):
        return None
    return cls(prefix + traceback_text[last.end() :].strip())


def _launch(local_rank: int, world_size: int, port: int, worker: Callable[..., None], args: tuple) -> None:
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    worker(*args)
