"""TRAIN through the backend entity: files written, remote train URIs, resume, loading, fine-tuning.

Chips come from the shared Kampala scenes (``conftest.py``); budgets are a
few optimiser steps: these tests check the plumbing, the engine's own tests
check that models learn.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
import uuid
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import rv
from rv import file_utils
from rv_pytorch.model_files import ModelSpec, transfer_weights
from rv_pytorch.train import read_log
from rv_pytorch.train_sync import TrainDirSync

torch.set_num_threads(1)
BUILDINGS = {"background": (0, "black"), "building": (1, "red")}
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def seg_task(chip_size: int = 64):
    return (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(BUILDINGS).with_background_class_id(0)
            .with_chip_size(chip_size).build())


def seg_backend(task=None, **options):
    task = task or seg_task()
    builder = (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task)
               .with_batch_size(8).with_num_epochs(options.pop("num_epochs", 1))
               .with_config({"encoder": "resnet18", "decoder_channels": 32, "do_monitoring": False, "seed": 3,
                             "fine": False, **options}))
    return builder.build()


@pytest.fixture(scope="module")
def trained_seg(tmp_path_factory, seg_chip_dir):
    """A segmentation model trained for one epoch into a local train directory."""
    train_dir = tmp_path_factory.mktemp("seg_train")
    config = seg_backend(num_steps=2)
    config.create(config.task, None).train(str(seg_chip_dir), str(train_dir), None, str(train_dir.parent))
    return train_dir


def test_a_local_train_directory_holds_the_model_its_config_and_the_log(trained_seg):
    names = {p.name for p in trained_seg.iterdir()}
    assert {"model.safetensors", "model-config.json", "last.pth", "log.csv", "training_curves.png"} <= names
    spec = ModelSpec.load(str(trained_seg / "model-config.json"))
    assert (spec.backend, spec.task, spec.encoder) == (rv.PYTORCH_SEMANTIC_SEGMENTATION, rv.SEMANTIC_SEGMENTATION,
                                                       "resnet18")
    assert spec.class_ids == [0, 1] and spec.class_names == ["background", "building"]
    assert (spec.num_channels, spec.dtype, spec.chip_size) == (3, "uint8", 64)
    assert spec.normalizer == {"mean": [0.0] * 3, "std": [255.0] * 3}
    assert spec.model_options == {"decoder_channels": 32, "fine": False, "tta": "none"}  # tta: RESNET18's (opt-in)
    rows = read_log(trained_seg / "log.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(1.0, 2.0)]
    assert {"miou", "f1_building", "valid_loss"} <= set(rows[0])


def test_class_balance_weights_the_loss_by_the_class_counts_of_the_training_chips(seg_chip_dir, tmp_path, capsys):
    from rv_pytorch.data import ChipDataset, balanced_class_weights, class_counts

    config = seg_backend(num_steps=1, class_balance=0.5)
    backend = config.create(config.task, None)
    backend.train(str(seg_chip_dir), str(tmp_path / "balanced"), None, str(tmp_path))
    counts = class_counts(ChipDataset(seg_chip_dir, "train"))
    expected = balanced_class_weights(counts, 0.5)
    assert counts[1] < counts[0] and expected[1] > 1 > expected[0]  # buildings are the rarer class
    assert backend._class_weights() == pytest.approx(expected)
    assert f"class weights background {expected[0]:.2f}, building {expected[1]:.2f}" in capsys.readouterr().err

    # Explicit class weights win over class_balance; class_balance 0 leaves the loss unweighted.
    explicit = seg_backend(num_steps=1, class_balance=0.5, class_weights=[1.0, 3.0])
    backend = explicit.create(explicit.task, None)
    backend.train(str(seg_chip_dir), str(tmp_path / "explicit"), None, str(tmp_path))
    assert backend._class_weights() == [1.0, 3.0]
    plain = seg_backend(num_steps=1, class_balance=0.0)
    backend = plain.create(plain.task, None)
    backend.train(str(seg_chip_dir), str(tmp_path / "plain"), None, str(tmp_path))
    assert backend._class_weights() is None


def test_training_into_a_remote_uri_syncs_resumes_and_uploads_the_weights_last(seg_chip_dir, tmp_path, monkeypatch,
                                                                               capsys):
    uri = f"memory://rvpt-{uuid.uuid4().hex}/train"
    uploads: list[str] = []
    real_upload = file_utils.upload
    monkeypatch.setattr(file_utils, "upload", lambda src, dst: uploads.append(dst) or real_upload(src, dst))

    first = seg_backend(num_steps=2, sync_interval=0.05, debug=True)
    first.create(first.task, None).train(str(seg_chip_dir), uri, None, str(tmp_path / "run1"))
    for name in ("model.safetensors", "model-config.json", "last.pth", "log.csv", "training_curves.png", "debug-chips.png"):
        assert file_utils.exists(f"{uri}/{name}"), name
    assert uploads[-1] == f"{uri}/model.safetensors"  # the file that marks TRAIN finished comes last
    assert uploads.count(f"{uri}/model.safetensors") == 1
    assert file_utils.read_bytes(f"{uri}/debug-chips.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert "downloading the checkpoint" not in capsys.readouterr().err

    # A later run with a longer plan resumes from the remote checkpoint, in a fresh scratch directory.
    longer = seg_backend(num_epochs=2, sync_interval=0.05)
    longer.create(longer.task, None).train(str(seg_chip_dir), uri, None, str(tmp_path / "run2"))
    assert "downloading the checkpoint" in capsys.readouterr().err
    log_path = tmp_path / "log.csv"
    log_path.write_bytes(file_utils.read_bytes(f"{uri}/log.csv"))
    rows = read_log(log_path)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert int(rows[0]["step"]) == 2 and int(rows[1]["step"]) == 2 + 3  # 24 chips / 8 per step

    # replace_model starts afresh.
    fresh = seg_backend(num_steps=1, replace_model=True)
    fresh.create(fresh.task, None).train(str(seg_chip_dir), uri, None, str(tmp_path / "run3"))
    log_path.write_bytes(file_utils.read_bytes(f"{uri}/log.csv"))
    assert [(int(r["epoch"]), int(r["step"])) for r in read_log(log_path)] == [(1, 1)]


def test_an_interrupted_run_uploads_its_checkpoint_but_not_final_weights(tmp_path):
    local = tmp_path / "train"
    local.mkdir()
    (local / "last.pth").write_bytes(b"checkpoint")
    (local / "log.csv").write_text("epoch\n1\n")
    (local / "model.safetensors").write_bytes(b"weights")
    (local / ".last.pth.tmp-42").write_bytes(b"half written")
    uri = f"memory://rvpt-{uuid.uuid4().hex}/train"
    with pytest.raises(KeyboardInterrupt):
        with TrainDirSync(str(local), uri, interval=60):
            raise KeyboardInterrupt
    assert file_utils.read_bytes(f"{uri}/last.pth") == b"checkpoint"
    assert file_utils.exists(f"{uri}/log.csv")
    assert not file_utils.exists(f"{uri}/model.safetensors")
    assert not file_utils.exists(f"{uri}/.last.pth.tmp-42")


def test_a_model_loads_from_its_weights_file_train_directory_or_bundle(trained_seg, tmp_path):
    config = seg_backend()
    chips = torch.rand(2, 3, 64, 64)

    def outputs(model_uri, backend_config=config):
        backend = backend_config.create(backend_config.task, None)
        backend.load_model(str(model_uri), str(tmp_path))
        with torch.no_grad():
            return backend.model(chips)

    reference = outputs(trained_seg)
    torch.testing.assert_close(outputs(trained_seg / "model.safetensors"), reference)
    # A bundle: the zip itself, or unpacked.
    bundle = bundle_of(trained_seg, tmp_path / "model-bundle.zip")
    torch.testing.assert_close(outputs(bundle), reference)
    # Weights copied elsewhere (with_model_uri) find their model config in the train directory.
    elsewhere = tmp_path / "final" / "weights.pth"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes((trained_seg / "model.safetensors").read_bytes())
    moved = seg_backend().evolve(training_output_uri=str(trained_seg))
    torch.testing.assert_close(outputs(elsewhere, moved), reference)
    with pytest.raises(rv.DataError, match="no model-config.json"):
        outputs(elsewhere)
    with pytest.raises(rv.DataError, match="No model at"):
        outputs(tmp_path / "nothing-here")
    # A model config from a newer rv-pytorch is refused with what to do.
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "model.safetensors").write_bytes((trained_seg / "model.safetensors").read_bytes())
    spec = json.loads((trained_seg / "model-config.json").read_text())
    (newer / "model-config.json").write_text(json.dumps({**spec, "format_version": 99}))
    with pytest.raises(rv.DataError, match="format version 99, newer than this rv-pytorch reads.*upgrade"):
        outputs(newer)


def first_valid_loss(train_dir) -> float:
    return read_log(train_dir / "log.csv")[0]["valid_loss"]


def last_valid_loss(train_dir) -> float:
    return read_log(train_dir / "log.csv")[-1]["valid_loss"]


def bundle_of(train_dir, path):
    """A model-bundle.zip holding what BUNDLE takes from a train directory (the weights and their config),
    with the manifest every bundle opens with."""
    spec = json.loads((train_dir / "model-config.json").read_text())
    manifest = {"format_version": 3, "task": spec["task"], "backend": spec["backend"], "classes": spec["classes"]}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.write(train_dir / "model.safetensors", "model.safetensors")
        zf.write(train_dir / "model-config.json", "model-config.json")
    return path


def assert_continues(tuned: float, earlier: float, fresh: float) -> None:
    """The fine-tuned run's first validation loss is the earlier run's last (one step at a tiny learning
    rate later), and the earlier run had learnt: its last loss is well below a fresh model's first."""
    assert earlier < 0.85 * fresh, (earlier, fresh)
    assert abs(tuned - earlier) < min(0.05 * earlier, 0.1 * (fresh - earlier)), (tuned, earlier, fresh)


def test_fine_tuning_from_a_bundle_continues_the_earlier_runs_validation_loss(seg_chip_dir, tmp_path, capsys):
    earlier = seg_backend(num_epochs=3, lr=0.01)
    earlier.create(earlier.task, None).train(str(seg_chip_dir), str(tmp_path / "earlier"), None, str(tmp_path))
    bundle = bundle_of(tmp_path / "earlier", tmp_path / "model-bundle.zip")
    # One optimiser step at a tiny learning rate before the first validation: a fresh model stays where it
    # starts, a fine-tuned one where the earlier run ended.
    fresh = seg_backend(num_steps=1, lr=1e-5)
    fresh.create(fresh.task, None).train(str(seg_chip_dir), str(tmp_path / "fresh"), None, str(tmp_path))
    capsys.readouterr()
    tuned = fresh.to_builder().with_pretrained_model(str(bundle)).build()
    tuned.create(tuned.task, None).train(str(seg_chip_dir), str(tmp_path / "tuned"), None, str(tmp_path))
    total = len(load_file(tmp_path / "earlier" / "model.safetensors"))
    assert f"fine-tuning from {bundle}: {total} of {total} weight tensors loaded" in capsys.readouterr().err
    assert_continues(first_valid_loss(tmp_path / "tuned"), last_valid_loss(tmp_path / "earlier"),
                     first_valid_loss(tmp_path / "fresh"))


def test_chip_classification_fine_tunes_from_an_earlier_runs_train_output_or_bundle(cls_chip_dir, tmp_path, capsys):
    import shutil

    # Validation on a quarter of the training cells: the earlier run's loss there falls well below a
    # fresh model's within a few epochs (what is checked is continuity, not generalisation).
    chips = tmp_path / "chips"
    shutil.copytree(cls_chip_dir, chips)
    shutil.rmtree(chips / "valid")
    (chips / "valid").mkdir()
    seen = sorted((chips / "train").glob("*.npz"))[::4]
    for n, path in enumerate(seen):
        shutil.copy(path, chips / "valid" / f"scene-{n}.npz")
    manifest = json.loads((chips / "chips.json").read_text())
    manifest["counts"]["valid"] = len(seen)
    (chips / "chips.json").write_text(json.dumps(manifest))

    task = (rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_classes(BUILDINGS).with_background_class_id(0)
            .with_chip_size(32).build())

    def backend(epochs, **options):
        return (rv.BackendConfig.builder(rv.PYTORCH_CHIP_CLASSIFICATION).with_task(task).with_batch_size(8)
                .with_num_epochs(epochs).with_config({"encoder": "resnet18", "do_monitoring": False, "seed": 3,
                                                      **options}).build())

    def train(config, out):
        config.create(task, None).train(str(chips), str(tmp_path / out), None, str(tmp_path))
        return tmp_path / out

    earlier = train(backend(4, lr=0.003), "earlier")
    bundle = bundle_of(earlier, tmp_path / "model-bundle.zip")
    fresh_config = backend(1, num_steps=1, lr=1e-5)
    fresh = train(fresh_config, "fresh")
    capsys.readouterr()
    from_train_dir = train(fresh_config.to_builder().with_pretrained_model(str(earlier)).build(), "from-train-dir")
    from_bundle = train(fresh_config.to_builder().with_pretrained_model(str(bundle)).build(), "from-bundle")
    err = capsys.readouterr().err
    total = len(load_file(earlier / "model.safetensors"))
    for uri in (earlier, bundle):
        assert f"fine-tuning from {uri}: {total} of {total} weight tensors loaded" in err
    assert_continues(first_valid_loss(from_train_dir), last_valid_loss(earlier), first_valid_loss(fresh))
    # The same weights whichever way they came.
    assert first_valid_loss(from_bundle) == pytest.approx(first_valid_loss(from_train_dir), abs=1e-6)


def test_fine_tuning_carries_the_encoder_over_to_another_task(trained_seg):
    seg_state = load_file(trained_seg / "model.safetensors")
    # Another task: a detector takes the segmentation encoder's tensors.
    det_task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"building": (1, "red")}).build()
    det_config = rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION).with_task(det_task).with_config(
        {"encoder": "resnet18", "fpn_channels": 32}).build()
    det_backend = det_config.create(det_task, None)
    spec = ModelSpec.load(str(trained_seg / "model-config.json"))
    spec.model_options = det_config.model_options()
    detector = det_backend.create_model(spec)
    loaded, _ = transfer_weights(detector, seg_state, rv.OBJECT_DETECTION)
    encoder = {k[len("encoder."):]: v for k, v in seg_state.items() if k.startswith("encoder.")}
    target = {k[len("detector.backbone.encoder."):]: v for k, v in detector.state_dict().items()
              if k.startswith("detector.backbone.encoder.")}
    assert loaded == len(target) and set(target) <= set(encoder)
    for name, tensor in target.items():
        torch.testing.assert_close(tensor, encoder[name])


def test_rgb_weights_seed_a_model_of_more_bands(trained_seg):
    """A stem for 5 bands keeps the RGB filters on the first three bands; the extra bands start at zero."""
    seg_state = load_file(trained_seg / "model.safetensors")
    spec = ModelSpec.load(str(trained_seg / "model-config.json"))
    spec.num_channels = 5
    model = seg_backend().create(seg_task(), None).create_model(spec)
    loaded, total = transfer_weights(model, seg_state, rv.SEMANTIC_SEGMENTATION)
    assert loaded == total
    stem = model.state_dict()["encoder.conv1.weight"]
    assert stem.shape[1] == 5
    torch.testing.assert_close(stem[:, :3], seg_state["encoder.conv1.weight"])
    assert (stem[:, 3:] == 0).all()


def test_uint16_chips_are_normalised_with_the_stats_of_analyze_or_of_the_chips(tmp_path, data_dir):
    """10-band Sentinel-2 chips keep their uint16 values; the model config records how they are scaled."""
    from rvpt_data import grid, read_scene, write_chip_dir

    from rv.analyzer.stats_analyzer import RasterStats

    image = read_scene(data_dir / "landcover" / "s2_aberystwyth_tile4.tif")
    labels = read_scene(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif")[..., 0]
    size = 64

    def chip(y, x):
        return {"image": image[y:y + size, x:x + size], "mask": np.zeros((size, size), bool),
                "labels": labels[y:y + size, x:x + size]}

    classes = [{"id": i, "name": n, "color": None} for i, n in enumerate(["forest", "grass", "urban", "water"], 1)]
    chip_dir = write_chip_dir(tmp_path / "chips", "SEMANTIC_SEGMENTATION", classes,
                              {"train": [chip(y, x) for y, x in grid(192, 192, size, size)],
                               "valid": [chip(187, 187)]}, size)
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["forest", "grass", "urban", "water"])
            .with_chip_size(size).build())

    def train(stats_uri, out):
        config = seg_backend(task, num_steps=1)
        config.create(task, None).train(str(chip_dir), str(tmp_path / out), stats_uri, str(tmp_path))
        return ModelSpec.load(str(tmp_path / out / "model-config.json"))

    from_chips = train(None, "from-chips")
    pixels = image[:192, :192].reshape(-1, 10).astype(np.float64)
    assert (from_chips.num_channels, from_chips.dtype) == (10, "uint16")
    np.testing.assert_allclose(from_chips.normalizer["mean"], pixels.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(from_chips.normalizer["std"], pixels.std(axis=0), rtol=1e-4)

    stats = RasterStats(means=np.arange(10) * 100.0 + 50, stds=np.full(10, 25.0), count=1)
    stats.save(str(tmp_path / "stats.json"))
    from_stats = train(str(tmp_path / "stats.json"), "from-stats")
    assert from_stats.normalizer == {"mean": list(np.arange(10) * 100.0 + 50), "std": [25.0] * 10}
    assert json.loads((tmp_path / "from-stats" / "model-config.json").read_text())["dtype"] == "uint16"


# -- training length -------------------------------------------------------------


@pytest.fixture
def tiny_model_defaults(tmp_path, monkeypatch):
    """A model-defaults file (RV_MODEL_DEFAULTS_URI) naming 1 epoch of a small segmentation network, as
    rv.RESNET18's 30 epochs would, and with ``num_steps`` for the detection backend."""
    from rv import settings

    seg, det = rv.PYTORCH_SEMANTIC_SEGMENTATION, rv.PYTORCH_OBJECT_DETECTION
    path = tmp_path / "model-defaults.json"
    path.write_text(json.dumps({"TINY": {
        seg: {"encoder": "resnet18", "batch_size": 8, "num_epochs": 1, "decoder_channels": 32, "fine": False,
              "tta": "none", "seed": 3},
        det: {"encoder": "resnet18", "num_epochs": 4, "num_steps": 50},
    }}))
    monkeypatch.setenv("RV_MODEL_DEFAULTS_URI", str(path))
    settings.reset_settings()
    yield "TINY"
    settings.reset_settings()


def test_with_num_steps_alone_trains_exactly_that_many_steps_whatever_epochs_the_model_defaults_name(
        seg_chip_dir, tmp_path, tiny_model_defaults, capsys):
    config = (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(seg_task())
              .with_model_defaults(tiny_model_defaults).with_num_steps(5)
              .with_train_options(do_monitoring=False).build())
    assert (config.num_epochs, config.num_steps) == (1, 5)  # the defaults' epochs are kept, and do not apply
    config.create(config.task, None).train(str(seg_chip_dir), str(tmp_path / "train"), None, str(tmp_path))
    rows = read_log(tmp_path / "train" / "log.csv")
    # 24 chips at 8 per step: two passes, the second stopped after two of its three steps.
    assert [(int(r["epoch"]), int(r["step"])) for r in rows] == [(1, 3), (2, 5)]
    err = capsys.readouterr().err
    assert "training 5 step(s) in 2 epoch(s) (num_steps 5; num_epochs 1 ignored)" in err
    assert "trained 2 epoch(s), 5 step(s)" in err


def test_the_users_epochs_beat_the_model_defaults_steps_and_the_users_steps_beat_both(tiny_model_defaults):
    from rv_pytorch.train import TrainOptions, plan_training

    det_task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes({"tree": (0, "green")}).build()
    base = (rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION).with_task(det_task)
            .with_model_defaults(tiny_model_defaults))
    # Nothing set by the user: the model defaults' own num_steps decides.
    assert (base.build().num_epochs, base.build().num_steps) == (4, 50)
    # The user's epochs alone: the defaults' steps no longer apply.
    by_epochs = base.with_num_epochs(2).build()
    assert (by_epochs.num_epochs, by_epochs.num_steps) == (2, None)
    plan = plan_training(TrainOptions(**by_epochs.train_options()), num_chips=80)
    assert (plan.num_epochs, plan.total_steps) == (2, 20)  # 80 chips at 8 per step, twice
    assert "num_epochs 2; num_steps not set" in plan.describe()
    # Both set by the user: steps win, also through with_config and after a round trip as a builder.
    both = base.with_num_epochs(2).with_config({"steps": 7}).build()
    assert both.to_builder().build().num_steps == 7
    plan = plan_training(TrainOptions(**both.train_options()), num_chips=80)
    assert (plan.num_epochs, plan.total_steps) == (1, 7)
    assert "num_steps 7; num_epochs 2 ignored" in plan.describe()


# -- TensorBoard monitoring ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_monitoring_writes_tensorboard_events_and_serves_them_while_train_runs_at_a_terminal(
        seg_chip_dir, tmp_path, monkeypatch, capsys):
    """do_monitoring (the default, as in Raster Vision) at a terminal: events in <train dir>/tb, and a
    TensorBoard server on the configured port for the length of TRAIN, stopped at its end."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rv import settings
    from rv_pytorch import monitoring

    port = free_port()
    monkeypatch.setenv("RV_TENSORBOARD_PORT", str(port))
    settings.reset_settings()
    monkeypatch.setattr(monitoring, "interactive", lambda: True)  # as if typed in a terminal
    started = []
    real_start = monitoring.TensorBoardServer.start
    monkeypatch.setattr(monitoring.TensorBoardServer, "start", lambda self: started.append(self) or real_start(self))

    config = (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(seg_task()).with_batch_size(8)
              .with_num_steps(4).with_config({"encoder": "resnet18", "decoder_channels": 32, "fine": False}).build())
    assert config.do_monitoring  # the documented default
    train_dir = tmp_path / "train"
    config.create(config.task, None).train(str(seg_chip_dir), str(train_dir), None, str(tmp_path))
    settings.reset_settings()

    assert f"TensorBoard shows the training at http://localhost:{port}/ until TRAIN ends" in capsys.readouterr().err
    (server,) = started
    assert server.logdir == str(train_dir) and server.process is None  # stopped when TRAIN ended
    assert monitoring.port_is_free(port)

    events = EventAccumulator(str(train_dir / "tb"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss", "epoch/train_loss", "epoch/valid_loss", "epoch/lr", "epoch/miou"} <= scalars
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert [e.step for e in events.Scalars("epoch/miou")] == [1, 2]  # 3 steps, then 1


def test_no_tensorboard_server_without_a_terminal_or_with_the_port_set_to_0(tmp_path, monkeypatch):
    from rv import settings
    from rv_pytorch import monitoring

    monkeypatch.setattr(monitoring.TensorBoardServer, "start", lambda self: pytest.fail("TensorBoard was started"))
    said = []
    monkeypatch.setattr(monitoring, "interactive", lambda: False)
    with monitoring.tensorboard_during_training(str(tmp_path), True, said.append) as server:
        assert server is None
    monkeypatch.setattr(monitoring, "interactive", lambda: True)
    with monitoring.tensorboard_during_training(str(tmp_path), False, said.append) as server:  # do_monitoring off
        assert server is None
    monkeypatch.setenv("RV_TENSORBOARD_PORT", "0")
    settings.reset_settings()
    with monitoring.tensorboard_during_training(str(tmp_path), True, said.append) as server:
        assert server is None
    assert said == []
    # A port in use: said, and training goes on without the server.
    with socket.socket() as busy:
        busy.bind(("localhost", 0))
        busy.listen()
        monkeypatch.setenv("RV_TENSORBOARD_PORT", str(busy.getsockname()[1]))
        settings.reset_settings()
        with monitoring.tensorboard_during_training(str(tmp_path), True, said.append) as server:
            assert server is None
    assert said and "is in use, so TensorBoard is not started" in said[0] and "RV_TENSORBOARD_PORT" in said[0]
    monkeypatch.setenv("RV_TENSORBOARD_PORT", "six thousand")
    settings.reset_settings()
    with pytest.raises(rv.errors.ConfigError, match="RV_TENSORBOARD_PORT.*not a port number"):
        monitoring.configured_port()
    settings.reset_settings()


def test_the_tensorboard_server_serves_the_training_events_over_http_and_stops(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from rv_pytorch.monitoring import TensorBoardServer, port_is_free

    writer = SummaryWriter(str(tmp_path / "train" / "tb"))
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.close()
    port = free_port()
    server = TensorBoardServer(str(tmp_path / "train"), port, log_path=str(tmp_path / "tensorboard.log")).start()
    try:
        assert server.wait_until_serving(timeout=180), (tmp_path / "tensorboard.log").read_text()[-2000:]
        with urllib.request.urlopen(server.url, timeout=10) as page:
            assert page.status == 200 and b"TensorBoard" in page.read()
        # The run appears once TensorBoard has read the logdir.
        runs: list = []
        for _ in range(120):
            with urllib.request.urlopen(server.url + "data/runs", timeout=10) as response:
                runs = json.loads(response.read())
            if runs:
                break
            time.sleep(0.5)
        assert runs == ["tb"]
        pid = server.process.pid
    finally:
        server.stop()
    assert server.process is None and port_is_free(port)
    with pytest.raises(ProcessLookupError):  # the process is gone, not only detached
        os.kill(pid, 0)
