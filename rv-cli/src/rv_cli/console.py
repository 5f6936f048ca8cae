"""rich consoles shared by the commands."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache


@lru_cache(maxsize=1)
def console():
    from rich.console import Console

    return Console()


@lru_cache(maxsize=1)
def error_console():
    from rich.console import Console

    return Console(stderr=True)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the ``rv`` command: :func:`rv.run_output.show_python_warning`."""
    from rv.run_output import show_python_warning

    show_python_warning(message, category, filename, lineno, file, line)


def install_warning_display() -> None:
    """Route Python warnings through :func:`show_warning` (the ``rv`` command calls this at start)."""
    import warnings

    warnings.showwarning = show_warning


@contextmanager
def quiet_output(quiet: bool, stdout: bool = True):
    """``-q``: while the block runs, nothing reaches the console (stderr, and stdout unless ``stdout`` is
    false); an error is printed by ``rv`` after it. Does nothing when ``quiet`` is false."""
    if not quiet:
        yield
        return
    import os
    from contextlib import ExitStack, redirect_stderr, redirect_stdout

    with open(os.devnull, "w") as null, ExitStack() as stack:
        stack.enter_context(redirect_stderr(null))
        if stdout:
            stack.enter_context(redirect_stdout(null))
        yield
