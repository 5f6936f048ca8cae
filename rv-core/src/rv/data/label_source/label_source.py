"""The interface of label sources: a scene's ground-truth labels."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rv.core.box import Box


class LabelSource(ABC):
    """Reads the labels of one scene (ground truth for training and evaluation).

    Coordinates of the returned labels are scene pixels; sources reading map
    coordinates convert with the scene's CRS transformer.
    """

    @abstractmethod
    def get_labels(self, window: Box | None = None) -> Any:
        """Labels inside ``window`` (pixel Box), or of the whole scene when ``window`` is None.

        Returns the task's labels type (:mod:`rv.labels`).
        """
