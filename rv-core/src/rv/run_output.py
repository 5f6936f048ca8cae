"""What a run says: each warning once per run on the console, and every command's output in its ``log.txt``.

Three pieces, used by the runners and by ``rv``'s console:

- :func:`say_warning` says one of rv's warnings (``rv: warning: <message>``).
  Python warnings reach it through the ``rv`` command's warning display, and
  CHIP's and EVAL's own warnings call it. A command on its own (``rv
  run_command``) says each distinct message once.
- :class:`RunRecord` is the console of one ``rv run``: the commands of the
  run (in subprocesses of the ``local`` runner, or in this process) may say
  the same warning many times, for each scene or window; the record lets the
  console show each *kind* once (the same file, the same words, whatever the
  numbers: :func:`warning_key`) and keeps them for the run's summary. ``-v``
  shows every distinct message, ``-q`` none.
- :class:`CommandLog` writes what a command prints to
  ``<root>/<command>/<key>/log.txt`` (uploaded atomically for a remote root),
  whatever runner runs it: :func:`rv.command.run_command.run_command` opens one.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

#: how every rv warning starts on the console and in logs
WARNING_PREFIX = "rv: warning: "
#: the name of each command's log, beside its outputs
LOG_NAME = "log.txt"
#: how a command says it starts (``rv: running CHIP key``)
RUNNING_PREFIX = "rv: running "

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_PATH_LIKE = re.compile(r"[/\\]")
_FILE_NAME = re.compile(r"[A-Za-z_]\w*\.[A-Za-z]\w*\W*$")


def warning_key(text: str) -> str:
    """The kind of a warning: its words with every number masked, file names and paths kept whole.

    ``labels.geojson: of 206 features, 90 lie inside the scene (1024x1536 px)``
    and the same sentence for another scene of the same file are one kind;
    the same sentence about another file is another.
    """
    out = []
    for token in re.split(r"(\s+)", text):
        is_file = bool(_PATH_LIKE.search(token) and re.search(r"[A-Za-z]", token)) or bool(_FILE_NAME.search(token))
        out.append(token if is_file else _NUMBER.sub("#", token))
    return "".join(out)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class RunRecord:
    """The warnings of one run, as the console shows them: each kind once (``verbosity`` 0), each distinct
    message once (``verbosity`` ≥ 1) or none (``verbosity`` < 0, ``-q``); all kept for the summary.

    Processes forked during the run (CHIP's workers under the ``inprocess``
    runner) share the record: before the first fork it moves to a folder of
    its own (:meth:`share`), where each process claims a kind or a message by
    creating its file (the first creator says it) and appends what it said to
    one list the run's summary reads.
    """

    def __init__(self, verbosity: int = 0) -> None:
        self.verbosity = verbosity
        #: kind → the distinct messages of that kind, in the order said (this process's, until :meth:`close`)
        self.warnings: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        #: the folder shared with forked processes, once there is one
        self._shared: str | None = None
        self._owner = os.getpid()

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    def record_warning(self, text: str) -> bool:
        """Record a warning; True when the console should show it now."""
        text = _one_line(text)
        key = warning_key(text)
        with self._lock:
            if self._shared is not None:
                if not self._claim("m", text):
                    return False
                first = self._claim("k", key)
                self._append(text)
            else:
                texts = self.warnings.setdefault(key, [])
                if text in texts:
                    return False
                texts.append(text)
                first = len(texts) == 1
        return not self.quiet and (first or self.verbosity > 0)

    def share(self) -> None:
        """Move the record to a folder that processes forked from now on share (called before a fork)."""
        import tempfile

        with self._lock:
            if self._shared is not None:
                return
            self._shared = tempfile.mkdtemp(prefix="rv-run-warnings-")
            for key, texts in self.warnings.items():
                self._claim("k", key)
                for text in texts:
                    self._claim("m", text)
                    self._append(text)

    def _claim(self, kind: str, text: str) -> bool:
        """Create the file that stands for ``text``; False when another process (or this one) did first."""
        import hashlib

        name = f"{kind}-{hashlib.sha1(text.encode('utf-8')).hexdigest()}"
        try:
            os.close(os.open(os.path.join(self._shared, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            return False
        return True

    def _append(self, text: str) -> None:
        # One write of one line with O_APPEND: lines of several processes never interleave.
        fd = os.open(os.path.join(self._shared, "said.txt"), os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        try:
            os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def _all_warnings(self) -> dict[str, list[str]]:
        if self._shared is None:
            return self.warnings
        out: dict[str, list[str]] = {}
        try:
            with open(os.path.join(self._shared, "said.txt"), encoding="utf-8") as f:
                for line in f:
                    text = line.rstrip("\n")
                    texts = out.setdefault(warning_key(text), [])
                    if text and text not in texts:
                        texts.append(text)
        except FileNotFoundError:
            pass
        return out

    def close(self) -> None:
        """Take back what every process said and remove the shared folder (the end of the run)."""
        import shutil

        with self._lock:
            if self._shared is None or os.getpid() != self._owner:
                return
            self.warnings = self._all_warnings()
            shared, self._shared = self._shared, None
        shutil.rmtree(shared, ignore_errors=True)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it

    def relay(self, line: str) -> bool:
        """Whether the console shows ``line`` of a command's output (its warnings are recorded).

        A command's ``rv: running ...`` is left to ``-v``: its runner says when it starts.
        """
        if line.startswith(WARNING_PREFIX):
            return self.record_warning(line[len(WARNING_PREFIX) :])
        if line.startswith(RUNNING_PREFIX):
            return self.verbosity > 0
        return not self.quiet

    def summary_lines(self, leave_out: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """One line per kind of warning: its first message, and how many others of its kind were said
        (kinds whose first message is in ``leave_out``, said elsewhere, are left out)."""
        lines = []
        for texts in self._all_warnings().values():
            if texts[0] in leave_out:
                continue
            more = f" (and {len(texts) - 1} more like it: see the logs)" if len(texts) > 1 else ""
            lines.append(f"{texts[0]}{more}")
        return lines


_run: RunRecord | None = None


def current_run() -> RunRecord | None:
    """The record of the run in progress in this process (``rv run``), if any."""
    return _run


@contextmanager
def recording_run(verbosity: int = 0) -> Iterator[RunRecord]:
    """Make a :class:`RunRecord` the current one while the block runs (an outer one is reused)."""
    global _run
    if _run is not None:
        yield _run
        return
    _run = RunRecord(verbosity)
    try:
        yield _run
    finally:
        record, _run = _run, None
        record.close()


def _before_fork() -> None:
    # A process forked within a run (CHIP's workers, inprocess) says its warnings through the shared record.
    if _run is not None:
        _run.share()


def _after_fork_in_child() -> None:
    if _run is not None:
        _run._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def say_warning(text: str) -> None:
    """Say one of rv's warnings: ``rv: warning: <message>`` on stderr, on one line.

    Within a run (:func:`recording_run`) the run's record decides whether the
    console shows it, and the log of the command in progress
    (:class:`CommandLog`) always gets it; a command on its own (``rv
    run_command``) says each distinct message once, in its output and its log.
    """
    text = _one_line(text)
    line = WARNING_PREFIX + text
    run, log = _run, _log
    if run is not None:
        if log is not None:
            log.log_only(line)
        if run.record_warning(text):
            _write_line(line, log.console_stderr if log is not None else sys.stderr)
        return
    if log is not None:
        if line in log.said:
            return
        log.said.add(line)
    _write_line(line, sys.stderr)


def _write_line(line: str, stream: IO[str]) -> None:
    # One write, newline included (print makes two): the worker processes of a command share its
    # output pipe, and two warnings written at once must not interleave into one garbled line.
    stream.write(line + "\n")
    stream.flush()


#: (category, message) of every Python warning said by this process outside a run and a command's log
_SHOWN_WARNINGS: set[tuple[str, str]] = set()


def show_python_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A ``warnings.showwarning`` that says Python warnings as rv's: ``rv: warning: <message>``.

    Python's default format adds the source file, line number and code line
    (``features = read_pixel_features(``), which mean nothing to a user; the
    same label warning for every window would repeat it dozens of times.
    :func:`say_warning` says it: once per kind within a run, once per message
    in a command's log, and once per process otherwise.
    """
    text = _one_line(str(message))
    if _run is None and _log is None:  # within those, say_warning decides
        key = (getattr(category, "__name__", str(category)), text)
        if key in _SHOWN_WARNINGS:
            return
        _SHOWN_WARNINGS.add(key)
    say_warning(text)


@contextmanager
def python_warnings_as_rvs() -> Iterator[None]:
    """While the block runs, Python warnings are said by :func:`show_python_warning` (``rv.run()`` from a
    notebook, say); the ``rv`` command installs it for its whole process."""
    import warnings

    saved = warnings.showwarning
    warnings.showwarning = show_python_warning
    try:
        yield
    finally:
        warnings.showwarning = saved


class _Tee:
    """A text stream that writes to the console stream it replaces and to a command's log."""

    def __init__(self, stream: IO[str], log: CommandLog) -> None:
        self._stream = stream
        self._log = log

    def write(self, data: str) -> int:
        self._log._write(data)
        return self._stream.write(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def __getattr__(self, name: str) -> Any:  # fileno, encoding, rich's rich_proxied_file...
        return getattr(self._stream, name)


_log: CommandLog | None = None


def current_log() -> CommandLog | None:
    """The log of the command running in this process, if any."""
    return _log


class CommandLog:
    """What a command prints (stdout and stderr, Python level), kept in ``uri`` (its ``log.txt``).

    Use as a context manager: the output still reaches the console, and the
    log is written atomically when the block ends, also when the command
    fails (the error or the traceback is written last). :meth:`discard`
    leaves ``uri`` as it was (a command another run finished).
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._writer: Any = None
        self._lock = threading.Lock()
        #: the warning lines this log holds (each once)
        self.said: set[str] = set()
        self._saved: tuple[Any, Any] | None = None
        self._outer: CommandLog | None = None
        self.console_stderr: IO[str] = sys.stderr

    def __enter__(self) -> CommandLog:
        global _log
        from rv import file_utils

        self._writer = file_utils.open_file(self.uri, "w")
        self._saved = (sys.stdout, sys.stderr)
        self.console_stderr = sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, self), _Tee(sys.stderr, self)
        self._outer, _log = _log, self
        return self

    def _write(self, data: str) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.write(data)
                # At once: worker processes forked by the command (CHIP's) share the file and end
                # without flushing what they buffered.
                self._writer.flush()

    def log_only(self, line: str) -> None:
        """Write ``line`` to the log and not the console (once per distinct line)."""
        if line not in self.said:
            self.said.add(line)
            self._write(line + "\n")

    def discard(self) -> None:
        """Write no log (the block's output still reached the console)."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.discard()

    def __exit__(self, exc_type, exc, tb) -> None:
        global _log
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
        _log = self._outer
        if exc is not None and not isinstance(exc, KeyboardInterrupt):
            from rv.errors import RVError

            if isinstance(exc, RVError):
                self._write(f"rv: error: {exc}\n")
            else:
                self._write("".join(traceback.format_exception(exc_type, exc, tb)))
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.commit()
        except Exception as e:  # the command's own result stands; a log that cannot be written is said
            print(f"{WARNING_PREFIX}could not write the log {self.uri}: {e}", file=sys.stderr, flush=True)


#: how many of a command's last output lines a runner keeps to write its log when the command could not
CRASH_LOG_LINES = 10_000


def write_crash_log(uri: str, lines, returncode: int) -> None:
    """Write ``log.txt`` for a command whose process was killed (by a signal: no chance to write its own),
    from the output lines its runner relayed; a log that cannot be written is said, not raised."""
    from rv import file_utils

    how = f"killed by signal {-returncode}" if returncode < 0 else f"ended with exit code {returncode}"
    text = "".join(lines) + f"rv: the command's process was {how} (this log was kept by the runner)\n"
    try:
        file_utils.write_text(uri, text)
    except Exception as e:
        print(f"{WARNING_PREFIX}could not write the log {uri}: {e}", file=sys.stderr, flush=True)
