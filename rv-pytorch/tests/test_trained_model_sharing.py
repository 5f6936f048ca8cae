"""TRAIN then PREDICT in one process (the ``inprocess`` runner): PREDICT takes TRAIN's network, built once.

The model is a small segmentation network trained for one step on the
shared Kampala chips (``conftest.py``). Loads are counted by wrapping the
backend's network constructor and the weights reader; the shared network
must predict exactly what the weights file gives, and a weights file
rewritten since TRAIN must be read again.
"""

from __future__ import annotations

import pytest
import torch

import rv
from rv_pytorch import backend as backend_module
from rv_pytorch import train as train_module
from rv_pytorch.model_files import read_state_dict, save_weights

torch.set_num_threads(1)
BUILDINGS = {"background": (0, "black"), "building": (1, "red")}
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def seg_backend():
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(BUILDINGS).with_background_class_id(0)
            .with_chip_size(64).build())
    return (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task)
            .with_batch_size(8).with_num_epochs(1)
            .with_config({"encoder": "resnet18", "decoder_channels": 32, "do_monitoring": False, "seed": 3,
                          "fine": False, "num_steps": 1})
            .build())


@pytest.fixture
def counted(monkeypatch):
    """Counts of networks built (``create_model``) and weights files read (``load_weights``)."""
    counts = {"built": 0, "read": 0}
    cls = backend_module.PyTorchSemanticSegmentation
    real_create, real_load = cls.create_model, train_module.load_weights

    def create_model(self, spec, pretrained=False):
        counts["built"] += 1
        return real_create(self, spec, pretrained)

    def load_weights(model, path, device="cpu"):
        counts["read"] += 1
        return real_load(model, path, device)

    monkeypatch.setattr(cls, "create_model", create_model)
    monkeypatch.setattr(train_module, "load_weights", load_weights)
    backend_module.trained_models.clear()
    yield counts
    backend_module.trained_models.clear()


def _logits(model, image):
    with torch.no_grad():
        return model(image)


def test_predict_after_train_in_one_process_uses_the_trained_network_until_its_file_changes(
    seg_chip_dir, tmp_path, counted, capsys
):
    config = seg_backend()
    train_dir = tmp_path / "train"
    config.create(config.task, None).train(str(seg_chip_dir), str(train_dir), None, str(tmp_path))
    assert counted == {"built": 1, "read": 0}
    weights = train_dir / "model.safetensors"

    # PREDICT's load_model in the same process: no second network, no read of the weights.
    predictor = config.create(config.task, None)
    predictor.load_model(str(weights), str(tmp_path))
    assert counted == {"built": 1, "read": 0}
    assert "using the network TRAIN left in this process" in capsys.readouterr().err
    assert not predictor.model.training

    # The shared network is the one in the file: a fresh load from disk answers the same.
    image = torch.rand(2, 3, 64, 64)
    shared = _logits(predictor.model, image)
    backend_module.trained_models.clear()
    from_disk = config.create(config.task, None)
    from_disk.load_model(str(weights), str(tmp_path))
    assert counted == {"built": 2, "read": 1}
    torch.testing.assert_close(_logits(from_disk.model, image), shared)


def test_a_weights_file_rewritten_after_train_is_read_again(seg_chip_dir, tmp_path, counted):
    config = seg_backend()
    train_dir = tmp_path / "train"
    config.create(config.task, None).train(str(seg_chip_dir), str(train_dir), None, str(tmp_path))
    weights = train_dir / "model.safetensors"

    # Another run (or a user) replaces the weights: zeros in the last layer's bias, say.
    state = read_state_dict(str(weights))
    last_bias = [k for k in state if k.endswith("bias")][-1]
    state[last_bias] = torch.zeros_like(state[last_bias])
    save_weights(state, str(weights))

    predictor = config.create(config.task, None)
    predictor.load_model(str(weights), str(tmp_path))
    assert counted == {"built": 2, "read": 1}
    loaded = predictor.model.state_dict()[last_bias]
    assert torch.count_nonzero(loaded) == 0
