"""The three PyTorch backend configs as a user builds them: options, model defaults, errors, serialization."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rv
from rv.errors import ConfigError
from rv.registry import get_registry
from rv_pytorch.backend_config import (
    PyTorchChipClassificationConfig,
    PyTorchObjectDetectionConfig,
    PyTorchSemanticSegmentationConfig,
    option_names,
)

BACKENDS = {
    rv.PYTORCH_SEMANTIC_SEGMENTATION: (rv.SEMANTIC_SEGMENTATION, PyTorchSemanticSegmentationConfig),
    rv.PYTORCH_OBJECT_DETECTION: (rv.OBJECT_DETECTION, PyTorchObjectDetectionConfig),
    rv.PYTORCH_CHIP_CLASSIFICATION: (rv.CHIP_CLASSIFICATION, PyTorchChipClassificationConfig),
}
MODEL_KEYS = (rv.RESNET18, rv.RESNET50, rv.EFFICIENTNET_B0, rv.MOBILENETV3_LARGE)


@pytest.fixture(autouse=True)
def fresh_rv(rv_plugin_manager, monkeypatch, tmp_path):
    """A fresh plugin manager, no rv settings from the shell, settings re-read per test."""
    from rv import settings

    for name in [n for n in list(__import__("os").environ) if n.startswith("RV_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    monkeypatch.chdir(tmp_path)
    settings.reset_settings()
    yield
    settings.reset_settings()


def task_for(backend_key: str):
    task_key = BACKENDS[backend_key][0]
    return rv.TaskConfig.builder(task_key).with_classes({"background": (0, "black"), "building": (1, "red")}).build()


def registered(model_key: str, backend_key: str) -> dict:
    return get_registry().get("model_defaults", model_key)[backend_key]


def test_the_three_backends_are_registered_by_rv_pytorch():
    registry = get_registry()
    for key, (_, config_class) in BACKENDS.items():
        assert registry.config_class("backends", key) is config_class
        assert registry.get_registration("backends", key).distribution == "rv-pytorch"
    assert set(MODEL_KEYS) <= set(registry.keys("model_defaults"))


@pytest.mark.parametrize("backend_key", list(BACKENDS))
def test_configs_round_trip_with_every_option_set(backend_key, assert_config_round_trip):
    task = task_for(backend_key)
    builder = (
        rv.BackendConfig.builder(backend_key)
        .with_task(task)
        .with_model_defaults(rv.MOBILENETV3_LARGE)
        .with_batch_size(3)
        .with_num_epochs(2)
        .with_num_steps(7)
        .with_pretrained_model("s3://bucket/earlier/model-bundle.zip")
        .with_train_options(sync_interval=30, do_monitoring=False, replace_model=True)
        .with_debug()
        .with_training_data_uri("s3://bucket/chips")
        .with_training_output_uri("s3://bucket/train")
        .with_model_uri("s3://bucket/train/final.pth")
        .with_config(
            {
                "lr": 3e-4,
                "schedule": "cosine",
                "weight_decay": 0.01,
                "augmentation": ["flip"],
                "ignore_class_id": 0,
                "num_workers": 2,
                "device": "cpu",
                "seed": 5,
            }
        )
    )
    if backend_key != rv.PYTORCH_OBJECT_DETECTION:
        builder = builder.with_config({"class_weights": {"building": 3.0}})
    config = builder.build()
    assert type(config) is BACKENDS[backend_key][1]
    assert config.key == backend_key
    back = assert_config_round_trip(config)
    assert back.augmentation == ("flip",) and back.num_steps == 7 and back.sync_interval == 30.0
    if backend_key != rv.PYTORCH_OBJECT_DETECTION:
        assert back.class_weights == (1.0, 3.0)  # background keeps weight 1, in the task's class order
    # The config goes back to a builder and rebuilds unchanged.
    assert config.to_builder().build() == config


def test_sample_configs_of_every_backend_round_trip(assert_config_round_trip):
    from rv.testing import sample_config

    for key in BACKENDS:
        assert_config_round_trip(sample_config("backends", key))


@pytest.mark.parametrize("backend_key", list(BACKENDS))
@pytest.mark.parametrize("model_key", MODEL_KEYS)
def test_model_defaults_fill_every_option_the_user_left_unset(backend_key, model_key):
    defaults = registered(model_key, backend_key)
    assert defaults, f"{model_key} has no options for {backend_key}"
    config = rv.BackendConfig.builder(backend_key).with_task(task_for(backend_key)).with_model_defaults(model_key)
    built = config.build()
    assert built.model_defaults == model_key
    names = option_names(type(built))
    from rv_pytorch.backend_config import OPTION_ALIASES

    for name, value in defaults.items():
        name = OPTION_ALIASES.get(name, name)
        assert name in names, f"{model_key}/{backend_key} sets {name!r}, which is not an option"
        got = getattr(built, name)
        assert (list(got) if isinstance(got, tuple) else got) == value, name
    # What the user sets wins over the defaults, whatever the order of the calls.
    user = {"batch_size": defaults.get("batch_size", 8) + 5, "lr": 0.0123}
    early = rv.BackendConfig.builder(backend_key).with_batch_size(user["batch_size"]).with_config({"lr": user["lr"]})
    built = early.with_task(task_for(backend_key)).with_model_defaults(model_key).build()
    assert (built.batch_size, built.lr) == (user["batch_size"], user["lr"])
    assert built.encoder == config.build().encoder


def test_without_model_defaults_resnet18_applies():
    key = rv.PYTORCH_SEMANTIC_SEGMENTATION
    built = rv.BackendConfig.builder(key).with_task(task_for(key)).build()
    assert built.model_defaults == rv.RESNET18
    for name, value in registered(rv.RESNET18, key).items():
        got = getattr(built, name)
        assert (list(got) if isinstance(got, tuple) else got) == value, name


def test_the_model_defaults_differ_by_encoder():
    key = rv.PYTORCH_SEMANTIC_SEGMENTATION
    encoders = {
        m: rv.BackendConfig.builder(key).with_task(task_for(key)).with_model_defaults(m).build().encoder
        for m in MODEL_KEYS
    }
    assert len(set(encoders.values())) == len(MODEL_KEYS)
    import timm

    assert all(timm.is_model(name) for name in encoders.values()), encoders


def test_with_config_refuses_an_unknown_option_and_lists_the_known_ones():
    builder = rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
    with pytest.raises(ConfigError) as info:
        builder.with_config({"lr": 1e-3, "learnin_rate": 1e-3})
    message = str(info.value)
    assert "'learnin_rate'" in message and "Known options:" in message
    for known in (
        "lr",
        "schedule",
        "weight_decay",
        "augmentation",
        "class_weights",
        "ignore_class_id",
        "num_workers",
        "device",
        "seed",
        "decoder_channels",
    ):
        assert known in message
    assert "'lr'" not in message.split("Known")[0]  # only the unknown one is blamed
    # Another task's option is unknown here too.
    with pytest.raises(ConfigError, match="'detector'"):
        builder.with_config({"detector": "fcos"})
    # Aliases are accepted.
    built = (
        builder.with_task(task_for(rv.PYTORCH_SEMANTIC_SEGMENTATION))
        .with_config({"learning_rate": 0.02, "augment": ["rot90"]})
        .build()
    )
    assert (built.lr, built.augmentation) == (0.02, ("rot90",))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"schedule": "linear"}, "schedule is 'linear'"),
        ({"augmentation": ["flip", "mixup"]}, "unknown augmentation"),
        ({"lr": 0.0}, "learning rate"),
        ({"class_weights": [1.0, 2.0, 3.0]}, "3 class weights for the 2 classes"),
        ({"class_weights": {"roof": 2.0}}, "'roof'"),
        ({"ignore_class_id": 9}, "ignore_class_id 9"),
        ({"loss": "focal"}, "loss is 'focal'"),
        ({"tta": "d8"}, "tta is 'd8'"),
        ({"class_balance": 2.0}, "class_balance is 2.0"),
    ],
)
def test_bad_options_are_config_errors_naming_the_value(options, message):
    key = rv.PYTORCH_SEMANTIC_SEGMENTATION
    with pytest.raises(ConfigError, match=message):
        rv.BackendConfig.builder(key).with_task(task_for(key)).with_config(options).build()


def test_a_backend_for_another_task_is_refused():
    with pytest.raises(ConfigError, match="PYTORCH_OBJECT_DETECTION backend"):
        rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(
            task_for(rv.PYTORCH_OBJECT_DETECTION)
        ).build()


def test_detection_options():
    key = rv.PYTORCH_OBJECT_DETECTION
    built = (
        rv.BackendConfig.builder(key)
        .with_task(task_for(key))
        .with_config({"detector": "retinanet", "min_stride": 4, "fpn_channels": 64})
        .build()
    )
    assert built.model_options() == {
        "architecture": "retinanet",
        "fpn_channels": 64,
        "min_stride": 4,
        "max_detections": built.max_detections,
    }
    with pytest.raises(ConfigError, match="detector is 'yolo'"):
        rv.BackendConfig.builder(key).with_task(task_for(key)).with_config({"detector": "yolo"}).build()
    for unsupported in ({"class_weights": [1, 2]}, {"class_balance": 0.5}):
        with pytest.raises(ConfigError, match="class_weights and class_balance are not supported"):
            rv.BackendConfig.builder(key).with_task(task_for(key)).with_config(unsupported).build()


# -- RV_MODEL_DEFAULTS_URI ------------------------------------------------------


def write_defaults(path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_model_defaults_file_replaces_the_registered_defaults(tmp_path, monkeypatch):
    from rv import settings

    seg, det = rv.PYTORCH_SEMANTIC_SEGMENTATION, rv.PYTORCH_OBJECT_DETECTION
    uri = write_defaults(
        tmp_path / "defaults.json",
        {
            "RESNET18": {seg: {"encoder": "resnet10t", "batch_size": 3, "learning_rate": 0.05}},
            "TINY": {seg: {"encoder": "mobilenetv3_small_050", "num_epochs": 2}},
        },
    )
    monkeypatch.setenv("RV_MODEL_DEFAULTS_URI", uri)
    settings.reset_settings()

    built = rv.BackendConfig.builder(seg).with_task(task_for(seg)).build()
    assert (built.encoder, built.batch_size, built.lr, built.model_defaults) == ("resnet10t", 3, 0.05, "RESNET18")
    # The file's RESNET18 has no detection options: detection keeps the registered ones.
    det_built = rv.BackendConfig.builder(det).with_task(task_for(det)).with_model_defaults(rv.RESNET18).build()
    assert det_built.encoder == registered(rv.RESNET18, det)["encoder"]
    # A new key from the file.
    tiny = rv.BackendConfig.builder(seg).with_task(task_for(seg)).with_model_defaults("TINY").build()
    assert (tiny.encoder, tiny.num_epochs) == ("mobilenetv3_small_050", 2)
    with pytest.raises(ConfigError, match="have no options for PYTORCH_OBJECT_DETECTION"):
        rv.BackendConfig.builder(det).with_task(task_for(det)).with_model_defaults("TINY").build()
    with pytest.raises(ConfigError, match=r"Unknown model defaults key 'HUGE'.*TINY"):
        rv.BackendConfig.builder(seg).with_task(task_for(seg)).with_model_defaults("HUGE").build()


def test_the_model_defaults_file_can_be_named_in_the_rv_configuration(tmp_path, monkeypatch):
    from rv import settings

    seg = rv.PYTORCH_SEMANTIC_SEGMENTATION
    uri = write_defaults(tmp_path / "team-defaults.json", {"RESNET50": {seg: {"batch_size": 2}}})
    config_dir = tmp_path / "rv-config"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "default").write_text(f"[RV]\nmodel_defaults_uri = {uri}\n")
    settings.reset_settings()
    built = rv.BackendConfig.builder(seg).with_task(task_for(seg)).with_model_defaults(rv.RESNET50).build()
    assert built.batch_size == 2
    # Options the file's entry does not set come from nowhere else: the config's own defaults.
    assert built.encoder == PyTorchSemanticSegmentationConfig.__attrs_attrs__.encoder.default


def test_a_broken_model_defaults_file_is_reported_with_its_uri(tmp_path, monkeypatch):
    from rv import settings

    seg = rv.PYTORCH_SEMANTIC_SEGMENTATION
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    monkeypatch.setenv("RV_MODEL_DEFAULTS_URI", str(bad))
    settings.reset_settings()
    with pytest.raises(ConfigError, match=r"broken\.json .*is not valid JSON"):
        rv.BackendConfig.builder(seg).with_task(task_for(seg)).build()
    write_defaults(bad, {"RESNET18": {seg: {"encoder": "resnet18", "epochz": 3}}})
    with pytest.raises(ConfigError, match="unknown option.*'epochz'"):
        rv.BackendConfig.builder(seg).with_task(task_for(seg)).build()
    monkeypatch.setenv("RV_MODEL_DEFAULTS_URI", str(tmp_path / "missing.json"))
    settings.reset_settings()
    with pytest.raises(ConfigError, match=r"missing\.json .*does not exist"):
        rv.BackendConfig.builder(seg).with_task(task_for(seg)).build()


# -- discovery stays light ----------------------------------------------------------


def test_plugin_discovery_and_building_configs_import_no_torch():
    code = """
import sys
import rv
import rv_pytorch.plugin
from rv.registry import get_registry
task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["a", "b"]).build()
for key in get_registry().keys("backends"):
    if key.startswith("PYTORCH_"):
        t = rv.TaskConfig.builder(key[len("PYTORCH_"):]).with_classes(["a", "b"]).build()
        rv.BackendConfig.builder(key).with_task(t).with_model_defaults(rv.RESNET50).build()
heavy = sorted(m for m in ("torch", "timm", "torchvision", "rasterio", "matplotlib") if m in sys.modules)
print(",".join(heavy) or "none")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
