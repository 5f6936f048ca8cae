"""rich consoles shared by the commands."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def console():
    from rich.console import Console

    return Console()


@lru_cache(maxsize=1)
def error_console():
    from rich.console import Console

    return Console(stderr=True)


#: (category, message) of every warning shown by this process: each is said once
_SHOWN_WARNINGS: set[tuple[str, str]] = set()


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the ``rv`` command: ``rv: warning: <message>``, once per process.

    Python's default format adds the source file, line number and code line
    (``features = read_pixel_features(``), which mean nothing to a user; the
    same label warning for every window would repeat it dozens of times.
    """
    import sys

    text = " ".join(str(message).split())
    key = (getattr(category, "__name__", str(category)), text)
    if key in _SHOWN_WARNINGS:
        return
    _SHOWN_WARNINGS.add(key)
    print(f"rv: warning: {text}", file=file or sys.stderr, flush=True)


def install_warning_display() -> None:
    """Route Python warnings through :func:`show_warning` (the ``rv`` command calls this at start)."""
    import warnings

    warnings.showwarning = show_warning
