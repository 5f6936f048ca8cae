"""Exceptions, one type per failure family.

Messages are for people: they name the file, the value and the fix.
"""


class RVError(Exception):
    """Base class of every error rv raises on purpose."""


class ConfigError(RVError):
    """A config, builder, experiment or command configuration is wrong."""


class DataError(RVError):
    """Input data is missing, unreadable or inconsistent (rasters, labels, AOIs)."""


class PluginError(RVError):
    """A plugin failed to load, or two plugins claim the same key."""


class RunnerError(RVError):
    """A command failed while a runner executed the command graph."""


class FileSystemError(RVError):
    """A URI cannot be read or written with the available file systems."""
