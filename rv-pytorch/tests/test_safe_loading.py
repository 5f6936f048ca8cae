"""No code runs from data: pickles given as weights are refused, and the payload never runs.

Each test writes a real malicious pickle — unpickling it creates a marker
file — and hands it to rv the ways a user could: as pretrained weights for
TRAIN, and as the weights inside an otherwise valid model bundle for
``rv.Predictor`` and ``rv predict``. rv must refuse it, name the file and
the way to convert a trusted one, and the marker must never appear.
Weights rv writes are safetensors; checkpoints load with
``torch.load(weights_only=True)``; a format-2 bundle (a plain ``model.pth``
state dict) still loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rv
from rv.errors import DataError

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
KAMPALA_B = Path(__file__).resolve().parents[2] / "examples" / "data" / "buildings" / "kampala_oam_b.tif"


class _Payload:
    """Unpickled, it opens (creates) the marker file: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_pth(path: Path, marker: Path) -> Path:
    torch.save({"model": {"weight": torch.zeros(1)}, "extra": _Payload(marker)}, path)
    return path


def _bundle_with_weights(bundle: Path, out: Path, name: str, data: bytes, manifest_format: int | None = None) -> Path:
    """A copy of ``bundle`` whose weights entry is ``name`` holding ``data``."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename in ("model.safetensors", "model.pth"):
                continue
            content = src.read(item.filename)
            if item.filename == "manifest.json" and manifest_format is not None:
                manifest = json.loads(content)
                manifest["format"] = manifest_format
                manifest.pop("label_store", None)
                content = json.dumps(manifest).encode()
            dst.writestr(item, content)
        dst.writestr(name, data)
    return out


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from test_bundle import write_bundle  # the BUNDLE-written chip classifier of test_bundle.py

    return write_bundle(tmp_path_factory.mktemp("safe-bundle"))


def test_rv_writes_weights_as_safetensors(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert "model.safetensors" in names and "model.pth" not in names
        assert zf.read("model.safetensors")[8:9] == b"{"  # a safetensors header, not a pickle


def test_a_pickle_inside_a_bundle_is_refused_by_the_predictor_and_rv_predict(bundle, tmp_path):
    marker = tmp_path / "pwned"
    evil_pth = malicious_pth(tmp_path / "model.pth", marker)
    evil = _bundle_with_weights(bundle, tmp_path / "evil-bundle.zip", "model.pth", evil_pth.read_bytes())

    with pytest.raises(DataError) as raised:
        rv.Predictor(str(evil), str(tmp_path / "work")).predict(str(KAMPALA_B), str(tmp_path / "out.geojson"))
    message = str(raised.value)
    assert "model.pth" in message and "safetensors" in message and "weights_only" in message
    assert not marker.exists()

    result = subprocess.run([sys.executable, "-m", "rv", "predict", str(evil), str(KAMPALA_B),
                             str(tmp_path / "cli.geojson")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "safetensors" in " ".join(result.stderr.split())
    assert not marker.exists() and not (tmp_path / "cli.geojson").exists()


def test_pickled_pretrained_weights_are_refused_by_train(seg_chip_dir, tmp_path):
    marker = tmp_path / "pwned"
    evil = malicious_pth(tmp_path / "resnet18-pretrained.pth", marker)
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"background": (0, "black"),
            "building": (1, "red")}).with_background_class_id(0).with_chip_size(64).build())
    config = (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task).with_batch_size(8)
              .with_config({"encoder": "resnet18", "decoder_channels": 32, "do_monitoring": False})
              .with_num_steps(1).with_pretrained_model(str(evil)).build())
    with pytest.raises(DataError) as raised:
        config.create(task, None).train(str(seg_chip_dir), str(tmp_path / "train"), None, str(tmp_path))
    assert str(evil) in str(raised.value) and "safetensors" in str(raised.value)
    assert not marker.exists()
    assert not (tmp_path / "train" / "model.safetensors").exists()


def test_a_format_2_bundle_with_a_plain_state_dict_still_predicts_the_same(bundle, tmp_path):
    import io

    with zipfile.ZipFile(bundle) as zf:
        state = load_file_from_bytes(zf.read("model.safetensors"))
    buf = io.BytesIO()
    torch.save(state, buf)  # what format-2 rv wrote: a state dict of tensors, loadable with weights_only
    old = _bundle_with_weights(bundle, tmp_path / "format-2.zip", "model.pth", buf.getvalue(), manifest_format=2)
    new_out, old_out = tmp_path / "new.geojson", tmp_path / "old.geojson"
    rv.Predictor(str(bundle), str(tmp_path / "a")).predict(str(KAMPALA_B), str(new_out))
    rv.Predictor(str(old), str(tmp_path / "b")).predict(str(KAMPALA_B), str(old_out))
    assert json.loads(old_out.read_text()) == json.loads(new_out.read_text())


def load_file_from_bytes(data: bytes):
    from safetensors.torch import load

    return load(data)


def test_a_training_checkpoint_loads_with_weights_only(seg_chip_dir, tmp_path):
    task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes({"background": (0, "black"),
            "building": (1, "red")}).with_background_class_id(0).with_chip_size(64).build())
    config = (rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task).with_batch_size(8)
              .with_config({"encoder": "resnet18", "decoder_channels": 32, "do_monitoring": False})
              .with_num_steps(1).build())
    config.create(task, None).train(str(seg_chip_dir), str(tmp_path / "train"), None, str(tmp_path))
    checkpoint = torch.load(tmp_path / "train" / "last.pth", weights_only=True)  # no error: tensors and plain data
    assert {"model", "optimizer", "rng"} <= set(checkpoint)
    weights = load_file(str(tmp_path / "train" / "model.safetensors"))
    assert weights.keys() == checkpoint["model"].keys()


def test_the_documented_conversion_turns_a_trusted_pickle_into_weights_rv_loads(tmp_path):
    """The one-liner the refusal names: run deliberately, it writes safetensors that read_state_dict accepts."""
    from rv_pytorch.model_files import read_state_dict

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    pickled = tmp_path / "whole-model.pth"
    torch.save(model, pickled)  # a pickled nn.Module: weights_only refuses it
    with pytest.raises(DataError, match="rv_pytorch.convert_weights"):
        read_state_dict(str(pickled))
    out = tmp_path / "whole-model.safetensors"
    result = subprocess.run([sys.executable, "-m", "rv_pytorch.convert_weights", str(pickled), str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "only for a file you trust" in result.stderr
    state = read_state_dict(str(out))
    assert state.keys() == model.state_dict().keys()
    torch.testing.assert_close(state["0.weight"], model.state_dict()["0.weight"])
