"""The three networks build and run for 1, 3 and 10 bands; pretrained weights load."""

from __future__ import annotations

import pytest
import timm
import torch

from rv.errors import ConfigError
from rv_pytorch.models import (
    create_classification_model,
    create_detection_model,
    create_encoder,
    create_segmentation_model,
)


@pytest.mark.parametrize("bands", [1, 3, 10])
def test_segmentation_model_any_band_count(bands):
    model = create_segmentation_model("resnet18", 3, in_channels=bands).eval()
    with torch.no_grad():
        # 100 x 70 is not a multiple of the encoder stride: logits still match the input.
        logits = model(torch.randn(2, bands, 100, 70))
    assert logits.shape == (2, 3, 100, 70)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet_b0", "mobilenetv3_large_100"])
def test_segmentation_model_with_stride_2_refinement(encoder):
    model = create_segmentation_model(encoder, 2, in_channels=4, fine=True).eval()
    assert model.decoder.out_stride == 2
    with torch.no_grad():
        assert model(torch.randn(1, 4, 96, 80)).shape == (1, 2, 96, 80)


@pytest.mark.parametrize("bands", [1, 3, 10])
def test_classification_model_any_band_count(bands):
    model = create_classification_model("resnet18", 4, in_channels=bands).eval()
    with torch.no_grad():
        logits = model(torch.randn(3, bands, 64, 64))
    assert logits.shape == (3, 4)


@pytest.mark.parametrize("bands", [1, 3, 10])
def test_detection_model_any_band_count(bands):
    model = create_detection_model("resnet18", 2, in_channels=bands)
    model.train()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 40.0, 60.0]]), "class_ids": torch.tensor([1])},
        {"boxes": torch.zeros((0, 4)), "class_ids": torch.zeros(0, dtype=torch.int64)},
    ]
    losses = model(torch.randn(2, bands, 96, 128), targets)
    assert set(losses) == {"classification", "bbox_regression", "bbox_ctrness"}
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        detections = model(torch.randn(1, bands, 96, 128))
    boxes = detections[0]["boxes"]
    assert boxes.shape[1] == 4 and len(detections[0]["scores"]) == len(boxes)
    # rv order ymin, xmin, ymax, xmax, inside the 96 x 128 image (no resizing).
    if len(boxes):
        assert (boxes[:, 2] <= 96).all() and (boxes[:, 3] <= 128).all()
        assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()


@pytest.mark.parametrize("architecture", ["retinanet", "faster_rcnn"])
def test_other_detection_architectures_train_and_predict(architecture):
    model = create_detection_model("resnet18", 1, in_channels=4, architecture=architecture)
    model.train()
    losses = model(torch.randn(1, 4, 64, 64), [{"boxes": torch.tensor([[5.0, 5.0, 30.0, 40.0]]),
                                                "class_ids": torch.tensor([0])}])
    assert sum(losses.values()).requires_grad
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 4, 64, 64))
    assert (out[0]["class_ids"] >= 0).all()


def test_detection_model_boxes_are_in_rv_order():
    """A target in ymin, xmin, ymax, xmax reaches torchvision as x1, y1, x2, y2."""
    model = create_detection_model("resnet18", 1, architecture="fcos")
    seen = {}

    def spy(images, targets=None):
        seen["targets"] = targets
        return {}

    model.detector.forward = spy
    model.train()
    model(torch.zeros(1, 3, 64, 64), [{"boxes": torch.tensor([[1.0, 2.0, 30.0, 50.0]]), "class_ids": torch.tensor([0])}])
    assert seen["targets"][0]["boxes"].tolist() == [[2.0, 1.0, 50.0, 30.0]]


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory):
    torch.manual_seed(3)
    reference = timm.create_model("resnet18", num_classes=1000)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_pretrained_uri_loads_a_saved_state_dict(resnet18_weights):
    path, reference = resnet18_weights
    encoder = create_encoder("resnet18", pretrained_uri=path)
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(tensor, reference.state_dict()[name]), name
    # A randomly initialised encoder differs.
    assert not torch.equal(create_encoder("resnet18").conv1.weight, reference.conv1.weight)


def test_pretrained_uri_extends_rgb_stem_to_ten_bands(resnet18_weights):
    path, reference = resnet18_weights
    model = create_segmentation_model("resnet18", 2, in_channels=10, pretrained_uri=path)
    stem = model.encoder.conv1.weight
    assert stem.shape == (64, 10, 7, 7)
    assert torch.equal(stem[:, :3], reference.conv1.weight)
    assert torch.count_nonzero(stem[:, 3:]) == 0
    assert torch.equal(model.encoder.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    # With zero extra filters, 10 bands give the RGB model's features.
    rgb_encoder = create_encoder("resnet18", pretrained_uri=path).eval()
    model.eval()
    x = torch.randn(1, 10, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.encoder(x)[-1], rgb_encoder(x[:, :3])[-1], atol=1e-5)


def test_pretrained_uri_single_band_and_classifier(resnet18_weights):
    path, reference = resnet18_weights
    grey = create_encoder("resnet18", in_channels=1, pretrained_uri=path)
    assert torch.allclose(grey.conv1.weight[:, 0], reference.conv1.weight.sum(dim=1))
    classifier = create_classification_model("resnet18", 2, in_channels=3, pretrained_uri=path)
    assert classifier.fc.out_features == 2
    assert torch.equal(classifier.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_pretrained_uri_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError, match="nope.pth"):
        create_encoder("resnet18", pretrained_uri=missing)
    wrong = tmp_path / "effnet.pth"
    torch.save(timm.create_model("efficientnet_b0").state_dict(), wrong)
    with pytest.raises(ConfigError, match="effnet.pth"):
        create_encoder("resnet18", pretrained_uri=wrong)
    with pytest.raises(ConfigError, match="not a timm model"):
        create_encoder("resnet_eighteen")
