"""Experiments: scenes, datasets, experiment configs and experiment sets."""
