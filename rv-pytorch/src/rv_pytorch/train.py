"""The training loop shared by the three tasks.

:func:`train` fits a model on a training :class:`~torch.utils.data.Dataset`,
validates every epoch with the task's metrics, and writes to ``output_dir``:

- ``last.pth``: checkpoint after every epoch (model, optimiser, scheduler,
  AMP scaler, epoch, step, RNG states, history), written atomically, so an
  interrupted run resumes from its last finished epoch. It holds tensors and
  plain containers only, and is read back with ``torch.load(weights_only=True)``:
  resuming never unpickles Python objects;
- ``log.csv``: one row per epoch (rewritten from the checkpoint on resume,
  then appended);
- ``tb/``: TensorBoard events (``options.tensorboard``): the loss of every
  step and every ``log.csv`` column per epoch;
- ``model.safetensors``: the final weights (a state dict as safetensors);
- ``training_curves.png``: losses and metrics per epoch, drawn from ``log.csv``.

On several processes (:mod:`rv_pytorch.distributed`), process 0 alone writes
these files; a checkpoint resumes on any number of processes.

Progress goes through :mod:`rv.progress` (bars on a terminal, a summary line
otherwise, nothing with ``RV_PROGRESS=0``).

What differs between tasks (loss, batch handling, metrics) comes from a
:class:`rv_pytorch.tasks.TorchTask`.

One concept, one module (about 700 lines): a training run and the files it
writes and reads back — its options and length (:class:`TrainOptions`,
:func:`plan_training`), the learning-rate schedule, the loop
(:func:`train`: ``_DataLoaders``, ``_Run``, ``_Outputs``), the checkpoint it
resumes from, and ``log.csv`` with its curves. Processes and their launch
live in :mod:`rv_pytorch.distributed`, the remote mirror in
:mod:`rv_pytorch.train_sync`.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from rv.errors import ConfigError
from rv.progress import Progress
from rv_pytorch.backend_config import SCHEDULES
from rv_pytorch.data import collate_chips
from rv_pytorch.distributed import Processes, training_device
from rv_pytorch.model_files import MODEL_NAME, read_state_dict, save_weights, unsafe_weights_error
from rv_pytorch.tasks.base import TorchTask

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pth"
LOG_NAME = "log.csv"
CURVES_NAME = "training_curves.png"


@dataclass(frozen=True)
class TrainOptions:
    """How to train.

    Attributes:
        batch_size: chips per optimiser step.
        num_epochs: passes over the training chips (used when ``num_steps`` is None).
        num_steps: the number of optimiser steps to train; when set it decides
            the training length (the last epoch may be partial) and
            ``num_epochs`` does not apply. See :func:`plan_training`.
        lr: peak learning rate (AdamW).
        weight_decay: AdamW decoupled weight decay.
        schedule: ``"onecycle"`` (warm up over ``warmup_fraction`` of the steps
            from lr/25, then cosine down to lr/10^4), ``"cosine"`` (linear
            warm-up then cosine to 0) or ``"constant"``.
        warmup_fraction: share of the steps spent warming up.
        grad_clip: clip the gradient norm to this value (None: no clipping).
        num_workers: DataLoader worker processes (0 loads in the main process).
        seed: seeds python, numpy and torch (weights, shuffling, augmentation).
        replace_model: start afresh even when ``last.pth`` exists.
        device: ``"cuda"``, ``"cpu"``, ... or None for CUDA when available.
        amp: mixed precision; None means on with CUDA, off on CPU.
        tensorboard: write TensorBoard events to ``output_dir/tb``.
    """

    batch_size: int = 8
    num_epochs: int = 10
    num_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    warmup_fraction: float = 0.2
    grad_clip: float | None = None
    num_workers: int = 0
    seed: int = 0
    replace_model: bool = False
    device: str | None = None
    amp: bool | None = None
    tensorboard: bool = True

    def __post_init__(self):
        if self.batch_size < 1 or self.num_epochs < 1:
            raise ConfigError(f"batch_size ({self.batch_size}) and num_epochs ({self.num_epochs}) must be at least 1.")
        if self.num_steps is not None and self.num_steps < 1:
            raise ConfigError(
                f"num_steps is {self.num_steps}; use None (train num_epochs passes) or a positive number of steps."
            )
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"Unknown learning-rate schedule {self.schedule!r}; choose from {SCHEDULES}.")
        if not self.lr > 0:
            raise ConfigError(f"The learning rate is {self.lr}; it must be positive (e.g. 1e-3).")
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError(f"warmup_fraction is {self.warmup_fraction}; it must be in [0, 1).")


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    output_dir: Path
    model_path: Path
    log_path: Path
    history: list[dict[str, float]] = field(default_factory=list)
    epochs: int = 0
    steps: int = 0

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


@dataclass(frozen=True)
class TrainingPlan:
    """How long :func:`train` trains: ``num_epochs`` passes (the last one may stop early) of
    ``batches_per_epoch`` batches, ``total_steps`` optimiser steps in all, and why (``reason``)."""

    num_epochs: int
    total_steps: int
    batches_per_epoch: int
    reason: str

    def describe(self) -> str:
        """One line for the TRAIN log, e.g. ``training 200 step(s) in 17 epoch(s) (num_steps 200; num_epochs
        30 ignored); 12 step(s) per pass over the training chips``."""
        per_epoch = f"{self.batches_per_epoch} step(s) per pass over the training chips"
        return f"training {self.total_steps} step(s) in {self.num_epochs} epoch(s) ({self.reason}); {per_epoch}"


def drop_last_batch(num_chips: int, batch_size: int) -> bool:
    """Whether an epoch drops its last incomplete batch: yes when there are at least two full
    ones (a tiny last batch makes a noisy step)."""
    return num_chips >= 2 * batch_size


def batches_per_epoch(num_chips: int, batch_size: int) -> int:
    """Batches (optimiser steps) in one pass over ``num_chips`` training chips."""
    if drop_last_batch(num_chips, batch_size):
        return num_chips // batch_size
    return max(math.ceil(num_chips / batch_size), 1)


def process_batch_size(batch_size: int, num_processes: int) -> int:
    """The chips each of ``num_processes`` training processes takes per step: ``batch_size`` is the
    number of chips of one optimiser step, all processes together, so it must split evenly."""
    if batch_size % num_processes:
        raise ConfigError(
            f"batch_size {batch_size} (chips per optimiser step, all processes together) does not split evenly "
            f"over {num_processes} training processes; use a multiple of {num_processes} (e.g. "
            f"{max(batch_size // num_processes, 1) * num_processes}) or another num_processes."
        )
    return batch_size // num_processes


def plan_training(options: TrainOptions, num_chips: int, num_processes: int = 1) -> TrainingPlan:
    """The training length of ``options`` on ``num_chips`` training chips shared by ``num_processes``.

    ``num_steps``, when set, is the exact number of optimiser steps and
    ``num_epochs`` does not apply (the backend builder only keeps a
    ``num_steps`` of the model defaults when the user did not set
    ``num_epochs`` themselves); otherwise ``num_epochs`` full passes. Each
    process takes ``ceil(num_chips / num_processes)`` chips per pass, in
    batches of :func:`process_batch_size`.
    """
    per_process = math.ceil(num_chips / num_processes)
    batches = batches_per_epoch(per_process, process_batch_size(options.batch_size, num_processes))
    if options.num_steps is not None:
        total = int(options.num_steps)
        reason = f"num_steps {total}; num_epochs {options.num_epochs} ignored"
        return TrainingPlan(math.ceil(total / batches), total, batches, reason)
    reason = f"num_epochs {options.num_epochs}; num_steps not set"
    return TrainingPlan(options.num_epochs, options.num_epochs * batches, batches, reason)


def lr_factor(schedule: str, step: int, total_steps: int, warmup_fraction: float) -> float:
    """The learning-rate multiplier at ``step`` of ``total_steps`` (a pure function of the step,
    so a resumed or extended run recomputes its schedule exactly)."""
    if schedule == "constant":
        return 1.0
    warmup = int(round(warmup_fraction * total_steps))
    if schedule == "onecycle":
        start, end = 1.0 / 25.0, 1.0 / 25.0 / 1e4
        if step < warmup:
            return start + (1.0 - start) * (1 - math.cos(math.pi * step / warmup)) / 2
        progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
        return end + (1.0 - end) * (1 + math.cos(math.pi * progress)) / 2
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
    return (1 + math.cos(math.pi * progress)) / 2


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    """Every RNG's state as tensors and plain containers (what ``torch.load(weights_only=True)`` reads)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def place_model(model: nn.Module, device: str | torch.device) -> nn.Module:
    """Move ``model`` to ``device`` with its 4-d weights in channels-last memory format.

    Convolutions then run channels-last whatever the input's layout: on the
    CPU (oneDNN), resnet18 training steps are ~15 % faster for the segmentation
    model, ~10 % for FCOS and ~8 % for the classifier, and inference ~15 %
    (2 cores, measured 2026-12-06); on CUDA with mixed precision it is the
    layout tensor cores want. Results are the same up to float rounding.
    Safe inside ``torch.inference_mode()`` (prediction): the weights stay
    normal tensors, so the model can still be trained afterwards.
    """
    with torch.inference_mode(False):
        return model.to(device, memory_format=torch.channels_last)


def resolve_device(device: str | None) -> torch.device:
    """``device`` or, when None, CUDA if available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    columns: list[str] = []
    for row in history:
        columns.extend(k for k in row if k not in columns)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow(row)
    os.replace(tmp, path)


def read_log(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``log.csv`` as dicts of floats (:func:`rv.plot.read_training_log`)."""
    from rv.plot import read_training_log

    return read_training_log(path)


def plot_training_curves(log_path: str | Path, out_path: str | Path) -> Path:
    """Draw losses (left) and validation metrics (right) per epoch from ``log.csv`` to a PNG
    (the figure of :func:`rv.plot.training_curves`)."""
    from rv.plot import training_curves

    training_curves(log_path).savefig(out_path, dpi=90)
    return Path(out_path)


#: scalar tags of the TensorBoard events: the loss of every step; per epoch, every column of log.csv
#: but the epoch and step (``epoch/train_loss``, ``epoch/valid_loss``, ``epoch/lr``, the metrics)
STEP_LOSS_TAG = "train/loss"
EPOCH_TAG_PREFIX = "epoch/"


def _tensorboard_writer(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # tensorboard is a dependency of rv-pytorch: a broken installation
        raise ConfigError(
            f"Monitoring is on (do_monitoring), so TRAIN writes TensorBoard events to {directory}, but "
            f"tensorboard cannot be imported ({e}). Reinstall rv-pytorch (pip install tensorboard) or turn "
            "monitoring off with with_train_options(do_monitoring=False)."
        ) from e
    return SummaryWriter(log_dir=str(directory))


def train(
    model: nn.Module,
    task: TorchTask,
    train_dataset: Dataset,
    valid_dataset: Dataset | None,
    output_dir: str | Path,
    options: TrainOptions = TrainOptions(),
) -> TrainResult:
    """Train ``model`` for ``task``; see the module docstring for the files written.

    Resumes from ``output_dir/last.pth`` unless ``options.replace_model``.
    Trains for :func:`plan_training`'s length: exactly ``num_steps`` steps
    when set, else ``num_epochs`` passes.
    A finished run (all epochs or ``num_steps`` done) only rewrites
    ``model.safetensors`` and the curves. Returns a :class:`TrainResult`.

    Called in every process of a torch.distributed process group
    (:mod:`rv_pytorch.distributed`), it trains with DistributedDataParallel:
    each process takes its share of the chips and process 0 alone validates
    and writes the files.

    Raises:
        ConfigError: empty training set, or a checkpoint that does not fit the model.
    """
    output_dir = Path(output_dir)
    _check_training_set(train_dataset, output_dir)
    processes = Processes.current()
    device = training_device(options.device, processes)
    use_amp = (device.type == "cuda") if options.amp is None else options.amp
    seed_everything(options.seed + processes.rank)
    place_model(model, device)
    plan = plan_training(options, len(train_dataset), processes.world_size)
    loaders = _DataLoaders.build(train_dataset, valid_dataset, options, device, processes)

    run = _Run(model, task, options, plan, device, use_amp, processes)
    outputs = _Outputs(output_dir, options, enabled=processes.is_writer)
    checkpoint_path = output_dir / CHECKPOINT_NAME
    if checkpoint_path.exists() and not options.replace_model:
        run.resume(checkpoint_path)
        if processes.is_writer:
            log.info("Resuming from %s at epoch %d, step %d", checkpoint_path, run.epoch, run.step)
    run.start_schedule()
    outputs.start(run.history)
    try:
        # rv's progress display: bars on a terminal, one summary line otherwise
        # (RV_PROGRESS=0 turns it off; processes other than the writer show none).
        with Progress() as progress:
            bars = _Bars(progress, plan, run.epoch, run.step)
            while run.wants_another_epoch():
                row = run.train_epoch(loaders, outputs, bars)
                if processes.is_writer:
                    if loaders.valid is not None:
                        row.update(validate(model, task, loaders.valid, device, use_amp))
                    row["epoch_time_s"] = time.perf_counter() - run.epoch_started
                    run.history.append(row)
                    outputs.end_epoch(row, run.checkpoint())
                    bars.end_epoch(run.epoch, row, task.monitor, plan.num_epochs, run.step)
                run.wait_for_the_writer()
    finally:
        outputs.close()
    outputs.finish(model, run.history)
    return TrainResult(output_dir, output_dir / MODEL_NAME, outputs.log_path, run.history, run.epoch, run.step)


def _check_training_set(train_dataset: Dataset, output_dir: Path) -> None:
    if len(train_dataset) == 0:
        raise ConfigError(
            f"The training set is empty, so there is nothing to train in {str(output_dir)!r}. "
            "Check that CHIP wrote train chips (the training scenes, AOIs and labels)."
        )


@dataclass
class _DataLoaders:
    """The training loader (with its distributed sampler when several processes train) and the
    validation loader (None without validation chips, and in processes other than the writer)."""

    train: DataLoader
    valid: DataLoader | None
    sampler: DistributedSampler | None

    @classmethod
    def build(
        cls,
        train_dataset: Dataset,
        valid_dataset: Dataset | None,
        options: TrainOptions,
        device: torch.device,
        processes: Processes,
    ) -> _DataLoaders:
        batch_size = process_batch_size(options.batch_size, processes.world_size)
        sampler = None
        num_chips = len(train_dataset)
        if processes.distributed:
            sampler = DistributedSampler(
                train_dataset, num_replicas=processes.world_size, rank=processes.rank, shuffle=True, seed=options.seed
            )
            num_chips = len(sampler)
        pin = device.type == "cuda"
        train = DataLoader(
            train_dataset,
            batch_size=batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            num_workers=options.num_workers,
            collate_fn=collate_chips,
            drop_last=drop_last_batch(num_chips, batch_size),
            pin_memory=pin,
            persistent_workers=options.num_workers > 0,
        )
        valid = None
        if processes.is_writer and valid_dataset is not None and len(valid_dataset) > 0:
            valid = DataLoader(
                valid_dataset,
                batch_size=options.batch_size,
                shuffle=False,
                num_workers=options.num_workers,
                collate_fn=collate_chips,
                pin_memory=pin,
            )
        return cls(train, valid, sampler)


class _Run:
    """The training state (model, optimiser, AMP scaler, schedule, epoch, step, history) and its steps."""

    def __init__(
        self,
        model: nn.Module,
        task: TorchTask,
        options: TrainOptions,
        plan: TrainingPlan,
        device: torch.device,
        use_amp: bool,
        processes: Processes,
    ):
        self.model, self.task, self.options, self.plan = model, task, options, plan
        self.device, self.use_amp, self.processes = device, use_amp, processes
        # The replicas' gradients are averaged at every step; `model` stays the network itself
        # (what is validated and saved).
        self.trained: nn.Module = model
        if processes.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.epoch, self.step = 0, 0
        self.epoch_started = time.perf_counter()
        self.history: list[dict[str, float]] = []

    def resume(self, path: Path) -> None:
        """Continue from the checkpoint at ``path`` (written by any number of processes)."""
        self.epoch, self.step, self.history = _resume(path, self.model, self.optimizer, self.scaler, self.device)
        if self.processes.rank > 0:  # the checkpoint holds the writer's random state; the others draw their own
            seed_everything(self.options.seed + 7919 * self.processes.rank + self.step)

    def start_schedule(self) -> None:
        """The schedule is a function of the step: built at the (resumed) step through the scheduler's
        public last_epoch argument, scaling today's peak lr (also right when num_epochs/num_steps
        or lr changed since the checkpoint)."""
        options, total = self.options, self.plan.total_steps
        for group in self.optimizer.param_groups:
            group["initial_lr"] = options.lr
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: lr_factor(options.schedule, s, total, options.warmup_fraction),
            last_epoch=self.step - 1,
        )

    def wants_another_epoch(self) -> bool:
        # By steps, the step count alone ends training: a resumed run whose last epoch
        # stopped part way through still reaches num_steps.
        by_steps = self.options.num_steps is not None
        return self.step < self.plan.total_steps and (by_steps or self.epoch < self.plan.num_epochs)

    def train_epoch(self, loaders: _DataLoaders, outputs: _Outputs, bars: _Bars) -> dict[str, float]:
        """One pass over this process's share of the training chips (cut short at the last step);
        returns the epoch's row of ``log.csv`` so far (the writer adds the validation metrics)."""
        self.epoch_started = time.perf_counter()
        if loaders.sampler is not None:
            loaders.sampler.set_epoch(self.epoch)  # the same shuffle in every process, a new one per epoch
        self.trained.train()
        losses: list[float] = []
        for batch in loaders.train:
            if self.step >= self.plan.total_steps:
                break
            losses.append(self.train_step(batch))
            outputs.step_loss(losses[-1], self.step)
            bars.step()
        self.epoch += 1
        return {
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": float(np.mean(losses)) if losses else 0.0,
        }

    def train_step(self, batch: Any) -> float:
        """One optimiser step; returns the loss (the mean over the processes)."""
        options = self.options
        batch = self.task.to_device(batch, self.device)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            loss = self.task.loss(self.trained, batch)
        value = self._mean_over_processes(loss.detach())
        if not math.isfinite(value):  # every process sees the same mean, so all of them stop
            raise FloatingPointError(
                f"The training loss became {value} at step {self.step}; lower the learning "
                f"rate (now {options.lr}) or check the chips for extreme values."
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if options.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), options.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return value

    def _mean_over_processes(self, value: torch.Tensor) -> float:
        if not self.processes.distributed:
            return float(value)
        import torch.distributed as dist

        total = value.float().reshape(1).clone()
        dist.all_reduce(total)
        return float(total) / self.processes.world_size

    def wait_for_the_writer(self) -> None:
        """The other processes wait while the writer validates and saves."""
        if self.processes.distributed:
            import torch.distributed as dist

            dist.barrier()

    def checkpoint(self) -> dict[str, Any]:
        """What ``last.pth`` holds: tensors and plain containers only (``weights_only`` loading)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "rng": _rng_state(),
            "history": self.history,
            "options": asdict(self.options),
            "num_processes": self.processes.world_size,
        }


class _Outputs:
    """The files of the train directory: written by one process (``enabled``), the others write nothing."""

    def __init__(self, output_dir: Path, options: TrainOptions, enabled: bool):
        self.output_dir, self.enabled = output_dir, enabled
        self.checkpoint_path = output_dir / CHECKPOINT_NAME
        self.log_path = output_dir / LOG_NAME
        self.writer = None
        if enabled:
            output_dir.mkdir(parents=True, exist_ok=True)
            if options.tensorboard:
                self.writer = _tensorboard_writer(output_dir / "tb")

    def start(self, history: list[dict[str, float]]) -> None:
        """``log.csv`` as the checkpoint's history says (none when starting afresh)."""
        if not self.enabled:
            return
        if history:
            _write_log(self.log_path, history)
        elif self.log_path.exists():
            self.log_path.unlink()

    def step_loss(self, loss: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(STEP_LOSS_TAG, loss, step)

    def end_epoch(self, row: dict[str, float], checkpoint: dict[str, Any]) -> None:
        """Checkpoint, ``log.csv`` (the checkpoint's history) and the epoch's TensorBoard scalars."""
        atomic_save(checkpoint, self.checkpoint_path)
        _write_log(self.log_path, checkpoint["history"])
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("epoch", "step") and np.isfinite(value):
                    self.writer.add_scalar(f"{EPOCH_TAG_PREFIX}{key}", value, row["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def finish(self, model: nn.Module, history: list[dict[str, float]]) -> None:
        """The final weights and the training curves."""
        if not self.enabled:
            return
        save_weights(model.state_dict(), str(self.output_dir / MODEL_NAME))
        if history:
            if not self.log_path.exists():
                _write_log(self.log_path, history)
            plot_training_curves(self.log_path, self.output_dir / CURVES_NAME)


class _Bars:
    """The epochs and steps bars of rv's progress display."""

    def __init__(self, progress: Progress, plan: TrainingPlan, epoch: int, step: int):
        self.progress = progress
        self.epochs = progress.add_task("epochs", total=plan.num_epochs)
        self.steps = progress.add_task("steps", total=plan.total_steps)
        progress.update(self.epochs, completed=min(epoch, plan.num_epochs))
        progress.update(self.steps, completed=min(step, plan.total_steps))

    def step(self) -> None:
        self.progress.advance(self.steps)

    def end_epoch(self, epoch: int, row: dict[str, float], monitor: str, num_epochs: int, step: int) -> None:
        info = f"loss {row['train_loss']:.4f}"
        if monitor in row:
            info += f"  {monitor} {row[monitor]:.4f}"
        self.progress.update(self.epochs, completed=epoch, description=f"epochs ({info})")
        log.info("epoch %d/%d step %d: %s", epoch, num_epochs, step, info)


def _resume(path: Path, model, optimizer, scaler, device) -> tuple[int, int, list[dict[str, float]]]:
    import pickle

    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError, EOFError) as e:
        raise unsafe_weights_error(str(path), e) from None
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as exc:
        raise ConfigError(
            f"The checkpoint {str(path)!r} was written for a different model ({exc}). "
            "Set replace_model to start afresh, or use the model settings it was trained with."
        ) from exc
    optimizer.load_state_dict(checkpoint["optimizer"])
    scaler.load_state_dict(checkpoint["scaler"])
    _set_rng_state(checkpoint["rng"])
    return int(checkpoint["epoch"]), int(checkpoint["step"]), list(checkpoint.get("history", []))


@torch.no_grad()
def validate(
    model: nn.Module, task: TorchTask, loader: DataLoader, device: torch.device, use_amp: bool = False
) -> dict[str, float]:
    """One pass over ``loader`` in eval mode: ``valid_loss`` (when the task has one) and the task's metrics.

    One forward pass per batch: validation never uses test-time augmentation
    (the ``tta`` model option is PREDICT's alone), so its cost is one
    inference over the validation chips.
    """
    model.eval()
    evaluator = task.evaluator()
    losses: list[float] = []
    for batch in loader:
        batch = task.to_device(batch, device)
        with torch.autocast(device.type, enabled=use_amp):
            loss = evaluator.update(model, batch)
        if loss is not None:
            losses.append(loss)
    metrics = {"valid_loss": float(np.mean(losses))} if losses else {}
    metrics.update(evaluator.compute())
    return metrics


def load_weights(model: nn.Module, path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Load ``model.safetensors``, a format-2 ``model.pth`` or a ``last.pth`` checkpoint into ``model``
    (never unpickling Python objects: :func:`rv_pytorch.model_files.read_state_dict`)."""
    model.load_state_dict(read_state_dict(str(path)))
    return model.to(device)
