"""The one progress display every long step of rv uses.

::

    from rv.progress import progress, Progress

    for window in progress(windows, description="Predicting scene-1"):
        ...

    with Progress() as p:
        train = p.add_task("Chipping train", total=len(train_scenes))
        for scene in train_scenes:
            ...
            p.advance(train)

Bars are drawn with rich on stderr when stderr is a terminal, and in a
Jupyter notebook's cell (rich's notebook support, with ipywidgets installed;
without it a notebook gets the plain lines). Elsewhere (logs of a batch job,
CI, pytest) there are no bars: the outermost
display writes one summary line to stderr when it ends. ``RV_PROGRESS=0``
(or ``[RV] progress = 0`` in the settings) turns both off; ``RV_PROGRESS=1``
draws bars even without a terminal.

Displays nest: a :func:`progress` or :class:`Progress` started while
another is showing adds its rows to that one (rich allows a single live
display) and removes them when it ends. rich is imported only when bars
are drawn, so importing this module is cheap.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

# The displays currently shown, outermost first.
_active: list[Progress] = []


def _setting() -> str | None:
    value = os.environ.get("RV_PROGRESS")
    if value is not None:
        return value
    try:
        from rv.settings import get_settings

        return get_settings().get("RV", "progress")
    except Exception:  # a broken settings file must not break a progress bar
        return None


# Processes forked while bars are drawn (CHIP's and ANALYZE's worker pools): rich's refresh thread
# may hold a lock of the display at that moment, and a thread is not copied by fork, so the child
# would wait for that lock forever on its first print. The locks are taken around fork (in the
# refresh thread's order), and the child gets no display of its own: the parent shows progress.
_held_for_fork: list[Any] = []
_forked_from_display = False


def _display_locks(rich_progress: Any) -> list[Any]:
    live = getattr(rich_progress, "live", None)
    locks = [getattr(live, "_lock", None), getattr(rich_progress, "_lock", None)]
    console = getattr(live, "console", None)
    locks.append(getattr(console, "_lock", None))
    return [lock for lock in locks if lock is not None]


def _before_fork() -> None:
    if _active and _active[0]._rich is not None:
        for lock in _display_locks(_active[0]._rich):
            lock.acquire()
            _held_for_fork.append(lock)


def _after_fork_in_parent() -> None:
    while _held_for_fork:
        _held_for_fork.pop().release()


def _after_fork_in_child() -> None:
    global _forked_from_display
    if not _held_for_fork:
        return
    _after_fork_in_parent()  # this thread took them: the child's copies are released the same way
    _forked_from_display = True
    _active.clear()
    for name in ("stdout", "stderr"):  # the live display's proxies write to the parent's display
        inner = getattr(getattr(sys, name), "rich_proxied_file", None)
        if inner is not None:
            setattr(sys, name, inner)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


def _stderr_is_tty() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def _in_jupyter() -> bool:
    """Whether this is a Jupyter kernel where rich can draw live bars (it needs ipywidgets there)."""
    if "ipykernel" not in sys.modules:  # never imports IPython outside a kernel
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    if type(get_ipython()).__name__ != "ZMQInteractiveShell":
        return False
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def display_mode() -> str:
    """``"bars"``, ``"summary"`` (no terminal: one line at the end) or ``"off"``.

    Decided by ``RV_PROGRESS`` (``0``/``false``/``off`` → off, ``1``/``true``/
    ``on`` → bars) and otherwise by whether stderr is a terminal or this is a
    Jupyter notebook with ipywidgets (rich draws the bars in the cell's output).
    """
    value = (_setting() or "auto").strip().lower()
    if value in ("0", "false", "no", "off") or _forked_from_display:
        return "off"
    if value in ("1", "true", "yes", "on"):
        return "bars"
    return "bars" if _stderr_is_tty() or _in_jupyter() else "summary"


class _Task:
    __slots__ = ("description", "total", "completed", "rich_id")

    def __init__(self, description: str, total: float | None):
        self.description = description
        self.total = total
        self.completed = 0.0
        self.rich_id: Any = None


class Progress:
    """A progress display with several tasks (rows).

    Use as a context manager. :meth:`add_task` returns a task id for
    :meth:`advance` and :meth:`update`; :meth:`track` iterates and advances.

    Args:
        console: a :class:`rich.console.Console` to draw on (default: stderr).
            Giving one draws bars regardless of the terminal check, unless
            ``RV_PROGRESS=0``.
        transient: erase the bars when the display ends.
    """

    def __init__(self, *, console: Any = None, transient: bool = False):
        self._console = console
        self._transient = transient
        self._tasks: dict[int, _Task] = {}
        self._rich: Any = None  # rich.progress.Progress when drawing bars
        self._outer: Progress | None = None
        self._mode = "off"
        self._start = 0.0

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Progress:
        self._start = time.monotonic()
        if _active:
            # rich shows one live display at a time: draw our rows in the outer one.
            self._outer = _active[-1]
            self._mode = self._outer._mode
            self._rich = self._outer._rich
        else:
            self._mode = display_mode()
            if self._console is not None and self._mode != "off":
                self._mode = "bars"
            if self._mode == "bars":
                self._rich = self._make_rich()
                self._rich.start()
        _active.append(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self in _active:
            _active.remove(self)
        if self._outer is not None:
            if self._rich is not None:
                for task in self._tasks.values():
                    self._rich.remove_task(task.rich_id)
            return
        if self._rich is not None:
            self._rich.stop()
        elif (
            self._mode == "summary"
            and self._tasks
            and (
                # GeneratorExit: the loop over progress() was left early, on purpose.
                exc_type is None or issubclass(exc_type, GeneratorExit)
            )
        ):
            print(self.summary(), file=sys.stderr, flush=True)

    def _make_rich(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        return RichProgress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console or Console(stderr=True),
            transient=self._transient,
        )

    # -- tasks -------------------------------------------------------------

    def add_task(self, description: str, total: float | None = None) -> int:
        """Add a row; ``total=None`` means unknown (an indeterminate bar). Returns its id."""
        task = _Task(description, total)
        if self._rich is not None:
            task.rich_id = self._rich.add_task(description, total=total)
        task_id = id(task)
        self._tasks[task_id] = task
        return task_id

    def advance(self, task_id: int, amount: float = 1) -> None:
        """Add ``amount`` to the completed count of a task."""
        task = self._tasks[task_id]
        task.completed += amount
        if self._rich is not None:
            self._rich.advance(task.rich_id, amount)

    def update(
        self,
        task_id: int,
        *,
        total: float | None = None,
        completed: float | None = None,
        description: str | None = None,
    ) -> None:
        """Change a task's total, completed count or description."""
        task = self._tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if description is not None:
            task.description = description
        if self._rich is not None:
            self._rich.update(task.rich_id, total=total, completed=completed, description=description)

    def track(self, iterable: Iterable[T], total: float | None = None, description: str = "Working") -> Iterator[T]:
        """Yield the items of ``iterable``, advancing a new task after each one."""
        if total is None:
            total = _length(iterable)
        task_id = self.add_task(description, total)
        for item in iterable:
            yield item
            self.advance(task_id)
        if self._tasks[task_id].total is None:
            # Now we know how many there were: show a full bar.
            self.update(task_id, total=self._tasks[task_id].completed)

    def summary(self) -> str:
        """One line: each task's description and count, and the elapsed time."""
        parts = []
        for task in self._tasks.values():
            done = _format_count(task.completed)
            if task.total is not None and task.total != task.completed:
                done += "/" + _format_count(task.total)
            parts.append(f"{task.description}: {done}")
        return f"{'; '.join(parts)} ({time.monotonic() - self._start:.1f} s)"


def _length(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


def _format_count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def progress(
    iterable: Iterable[T],
    total: float | None = None,
    description: str = "Working",
    *,
    console: Any = None,
) -> Iterator[T]:
    """Iterate over ``iterable`` showing progress (see the module docstring).

    ``total`` defaults to ``len(iterable)`` when it has one. Inside another
    display it adds a row there and removes it when the loop ends (or is
    left early).
    """
    with Progress(console=console) as display:
        yield from display.track(iterable, total=total, description=description)
