"""The Backend entity interface that commands call."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rv.data.scene import Scene


class Backend(ABC):
    """What TRAIN, PREDICT and BUNDLE need from a backend."""

    @abstractmethod
    def train(self, chip_uri: str, train_uri: str, stats_uri: str | None, tmp_dir: str) -> None:
        """Fit the model on CHIP's output; write checkpoints and ``model.pth`` under ``train_uri``.

        Resumes from the last checkpoint unless told to replace the model.
        """

    @abstractmethod
    def load_model(self, model_uri: str, tmp_dir: str) -> None:
        """Load trained weights (a file, a train directory or an unpacked bundle)."""

    @abstractmethod
    def predict_scene(self, scene: Scene, tmp_dir: str) -> Any:
        """Predict over a whole scene window by window; write through ``scene.label_store``.

        Returns the labels (or None when they were streamed to the store).
        """

    def bundle_files(self, train_uri: str) -> dict[str, str]:
        """Files the model bundle needs: name in the bundle → URI. Default: ``model.pth``."""
        return {"model.pth": f"{train_uri.rstrip('/')}/model.pth"}
