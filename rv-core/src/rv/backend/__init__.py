"""Backends: the model side of rv (training, prediction, bundle contents)."""
