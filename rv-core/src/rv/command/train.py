"""TRAIN: fit the backend's model on CHIP's output."""

from __future__ import annotations


def run_train(config, tmp_dir: str) -> None:
    backend = config.backend.create(config.task, tmp_dir)
    backend.train(config.backend.training_data_uri, config.backend.training_output_uri, config.stats_uri, tmp_dir)
