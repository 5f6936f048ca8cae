"""TRAIN on two CPU processes (DistributedDataParallel over gloo), started by rv itself.

The same small segmentation model trains for one epoch on one and on two
processes from the same seed: both learn, the two-process run's train
directory holds what a one-process run writes and nothing more (one writer),
and its checkpoint resumes on one process.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import rv
from rv_pytorch.data import ChipDataset, Normalizer, collate_chips
from rv_pytorch.model_files import ModelSpec
from rv_pytorch.train import load_weights, read_log, validate

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

BUILDINGS = {"background": (0, "black"), "building": (1, "red")}
SEED = 5
# 24 training chips, 4 per optimiser step (2 per process on two): 6 steps per epoch either way
STEPS_PER_EPOCH = 6
OUTPUTS = {"model.safetensors", "model-config.json", "last.pth", "log.csv", "training_curves.png", "tb"}


def backend_config(num_processes: int, num_epochs: int = 1):
    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes(BUILDINGS)
        .with_background_class_id(0)
        .with_chip_size(64)
        .build()
    )
    options = {"encoder": "resnet10t", "decoder_channels": 32, "fine": False, "seed": SEED, "lr": 5e-3,
               "schedule": "constant", "augmentation": []}  # fmt: skip
    return (
        rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
        .with_task(task)
        .with_batch_size(4)
        .with_num_epochs(num_epochs)
        .with_train_options(num_processes=num_processes, do_monitoring=True)
        .with_config(options)
        .build()
    )


def train(config, chip_dir, train_dir, tmp_path) -> None:
    config.create(config.task, None).train(str(chip_dir), str(train_dir), None, str(tmp_path / "tmp"))


def training_loss(config, train_dir, chip_dir, weights: str | None) -> float:
    """The loss over the training chips of the seeded initial network (``weights`` None) or of trained weights."""
    backend = config.create(config.task, None)
    spec = ModelSpec.load(str(train_dir / "model-config.json"))
    torch.manual_seed(SEED)  # as TRAIN seeds the initial weights
    model = backend.create_model(spec)
    if weights is not None:
        load_weights(model, train_dir / weights)
    chips = ChipDataset(chip_dir, "train", normalizer=Normalizer.from_dict(spec.normalizer))
    loader = DataLoader(chips, batch_size=8, collate_fn=collate_chips)
    return validate(model, backend.torch_task(spec), loader, torch.device("cpu"))["valid_loss"]


def test_two_cpu_processes_learn_write_once_and_resume_on_one(seg_chip_dir, tmp_path, capfd):
    one, two = tmp_path / "one", tmp_path / "two"
    train(backend_config(1), seg_chip_dir, one, tmp_path)
    capfd.readouterr()
    train(backend_config(2), seg_chip_dir, two, tmp_path)
    err = capfd.readouterr().err
    assert "training on 2 processes (CPU, gloo)" in err
    assert err.count("rv: trained 1 epoch(s), 6 step(s)") == 1  # one voice

    # Both learn from the same initial network (its loss over the training chips is ~1.7; ~0.8 after).
    initial = training_loss(backend_config(1), one, seg_chip_dir, None)
    assert initial == pytest.approx(training_loss(backend_config(2), two, seg_chip_dir, None))
    for train_dir in (one, two):
        trained = training_loss(backend_config(1), train_dir, seg_chip_dir, "model.safetensors")
        assert trained < 0.9 * initial

    # One writer: the same files as one process writes, no leftovers, one TensorBoard file, one log row.
    for train_dir in (one, two):
        assert {p.name for p in train_dir.iterdir()} == OUTPUTS
        assert len(list((train_dir / "tb").iterdir())) == 1
        rows = read_log(train_dir / "log.csv")
        assert [(r["epoch"], r["step"]) for r in rows] == [(1, STEPS_PER_EPOCH)]
        assert {"train_loss", "valid_loss"} <= set(rows[0])
    checkpoint = torch.load(two / "last.pth", weights_only=True)
    assert checkpoint["num_processes"] == 2 and not any(k.startswith("module.") for k in checkpoint["model"])

    # The two-process checkpoint resumes on one process for a second epoch.
    train(backend_config(1, num_epochs=2), seg_chip_dir, two, tmp_path)
    assert "resuming from the checkpoint" in capfd.readouterr().err
    rows = read_log(two / "log.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, STEPS_PER_EPOCH), (2, 2 * STEPS_PER_EPOCH)]
    assert torch.load(two / "last.pth", weights_only=True)["num_processes"] == 1
    assert {p.name for p in two.iterdir()} == OUTPUTS


def test_launch_variables_and_bad_num_processes_are_read_before_any_work():
    from rv.errors import ConfigError
    from rv_pytorch.distributed import Processes, resolve_num_processes

    assert Processes.from_environment({}) is None  # no launcher: rv starts the processes itself
    launched = Processes.from_environment({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
    assert launched == Processes(rank=3, local_rank=1, world_size=4) and not launched.is_writer
    with pytest.raises(ConfigError, match="RANK is 4, but WORLD_SIZE is 4"):
        Processes.from_environment({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ConfigError, match="not whole numbers"):
        Processes.from_environment({"RANK": "zero", "WORLD_SIZE": "2"})

    assert resolve_num_processes(2, "cpu") == 2
    assert resolve_num_processes(-1, "cpu") == 1  # one per GPU, and there is none
    with pytest.raises(ConfigError, match="batch_size 6 .* does not split evenly over num_processes 4"):
        backend_config(4).to_builder().with_batch_size(6).build()
    with pytest.raises(ConfigError, match="num_processes is 0"):
        backend_config(0)


def test_a_workers_explained_error_reaches_the_user_as_itself():
    from rv.errors import ConfigError
    from rv_pytorch.distributed import worker_error

    text = (
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "KeyError: 'model'\n\nDuring handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "train.py", line 9, in _resume\n'
        "rv.errors.ConfigError: The checkpoint 'last.pth' was written for a different model.\n"
    )
    error = worker_error(text, "Training process 1 of 2: ")
    assert isinstance(error, ConfigError)
    assert str(error) == "Training process 1 of 2: The checkpoint 'last.pth' was written for a different model."
    assert worker_error("Traceback (most recent call last):\nRuntimeError: out of memory\n") is None
