"""The interface of label stores: where predictions of one scene are written (and read back)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class LabelStore(ABC):
    """Writes a scene's predicted labels, and reads them back for evaluation."""

    @abstractmethod
    def save(self, labels: Any) -> None:
        """Write ``labels`` (the task's labels type), replacing any previous output atomically."""

    @abstractmethod
    def get_labels(self) -> Any:
        """Read back the labels written by :meth:`save`."""

    @abstractmethod
    def empty(self) -> Any:
        """Empty labels of the task's type, to fill and pass to :meth:`save`."""
