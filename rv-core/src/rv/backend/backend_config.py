"""BackendConfig: the family of backend configs (registered with ``register_backends``)."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from rv.config import Config, ConfigBuilder, field
from rv.task.task_config import TaskConfig


@attrs.frozen
class BackendConfig(Config):
    """Base of backend configs.

    The experiment fills the URIs: ``training_data_uri`` (CHIP's output),
    ``training_output_uri`` (TRAIN's output) and ``model_uri``.
    """

    group: ClassVar[str] = "backends"
    #: the weights file TRAIN writes last into ``training_output_uri`` (a backend may name its own)
    model_file_name: ClassVar[str] = "model.pth"

    task: TaskConfig | None = field(default=None, doc="the task (with_task)")
    training_data_uri: str | None = field(default=None, doc="chip directory (default: the experiment's chip URI)")
    training_output_uri: str | None = field(default=None, doc="train directory (default: the experiment's train URI)")
    model_uri: str | None = field(
        default=None, doc="weights file (default: <training_output_uri>/<the backend's weights file name>)"
    )
    pretrained_model_uri: str | None = field(
        default=None, doc="weights file, earlier train output or bundle to start from (fine-tuning)"
    )

    def create(self, task_config: TaskConfig | None = None, tmp_dir: str | None = None):
        """The runtime :class:`rv.backend.backend.Backend`."""
        raise NotImplementedError

    def model_output_uri(self) -> str | None:
        """What TRAIN writes last (the file that marks training finished)."""
        if self.model_uri:
            return self.model_uri
        if self.training_output_uri:
            return f"{self.training_output_uri.rstrip('/')}/{self.model_file_name}"
        return None


class BackendConfigBuilder(ConfigBuilder):
    """Builder of any backend config: the options all backends share."""

    def with_task(self, task: TaskConfig) -> BackendConfigBuilder:
        """The task this backend learns."""
        return self._with(task=task)

    def with_training_data_uri(self, uri: str) -> BackendConfigBuilder:
        """Read chips from here instead of the experiment's chip URI."""
        return self._with(training_data_uri=uri)

    def with_training_output_uri(self, uri: str) -> BackendConfigBuilder:
        """Write training output here instead of the experiment's train URI."""
        return self._with(training_output_uri=uri)

    def with_model_uri(self, uri: str) -> BackendConfigBuilder:
        """Where the trained weights go."""
        return self._with(model_uri=uri)

    def with_pretrained_model(self, uri: str | None) -> BackendConfigBuilder:
        """Start from these weights: a weights file, an earlier train output, or a bundle."""
        return self._with(pretrained_model_uri=uri)

    def with_pretrained_model_uri(self, uri: str | None) -> BackendConfigBuilder:
        return self.with_pretrained_model(uri)

    def _with_any(self, **kw: Any) -> BackendConfigBuilder:
        return self._with(**kw)
