"""Running the ``rv`` command of a configured rv installation, with progress and cancel.

The plugin never imports rv: everything heavy (torch, rasterio) happens in
this subprocess. Its output goes line by line to the Processing feedback; a
cancel (``feedback.isCanceled()``) kills the process and its children.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

from . import settings


class RvNotFound(Exception):
    """No ``rv`` executable: the message says where the plugin looked and how to configure one."""


class RvCanceled(Exception):
    """The user canceled; the ``rv`` process has been killed."""


def rv_executable() -> str:
    """The configured ``rv`` executable (setting ``rv/executable``), else ``rv`` on ``PATH``."""
    configured = settings.executable()
    if configured:
        path = os.path.expanduser(configured)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        found = shutil.which(configured)
        if found:
            return found
        raise RvNotFound(
            f"the rv executable {configured} set in the rv plugin's settings does not exist or is not executable: "
            "set the path of an rv installation's `rv` command in Plugins → rv → Configure"
        )
    found = shutil.which("rv")
    if found:
        return found
    raise RvNotFound(
        "no `rv` command on PATH: install rv (pip install rv-core rv-pytorch) and set the path of its `rv` "
        "command in Plugins → rv → Configure"
    )


def run_rv(args: list[str], feedback=None, poll_seconds: float = 0.1) -> tuple[int, list[str]]:
    """Run ``rv *args``; return its exit code and output lines (stdout and stderr, merged).

    Every line is pushed to ``feedback`` as console output. When
    ``feedback.isCanceled()`` becomes true the process group is killed and
    :class:`RvCanceled` raised.
    """
    command = [rv_executable(), *args]
    env = dict(os.environ)
    env.setdefault("RV_PROGRESS", "0")  # no bars: a pipe, and QGIS shows its own progress
    env["PYTHONUNBUFFERED"] = "1"
    if feedback is not None:
        feedback.pushCommandInfo(" ".join(command))
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=env,
        start_new_session=True,
    )
    if feedback is not None:
        feedback.pushInfo(f"rv: started process {process.pid}")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    shown = 0
    try:
        while process.poll() is None:
            if feedback is not None and feedback.isCanceled():
                _kill(process)
                raise RvCanceled(f"rv {args[0] if args else ''} canceled: process {process.pid} killed")
            shown = _show(lines, shown, feedback)
            time.sleep(poll_seconds)
        reader.join(timeout=5)
        _show(lines, shown, feedback)
    finally:
        if process.poll() is None:  # an exception of ours, not the process's end
            _kill(process)
        process.stdout.close()
    return process.returncode, [line.rstrip("\n") for line in lines]


def _show(lines, shown, feedback) -> int:
    end = len(lines)
    if feedback is not None:
        for line in lines[shown:end]:
            feedback.pushConsoleInfo(line.rstrip("\n"))
    return end


def _kill(process) -> None:
    """Kill the process and its children (its own session, started by us), and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def error_message(lines: list[str], limit: int = 8) -> str:
    """The part of rv's output that says what went wrong: its ``rv: error`` lines, else the last lines."""
    errors = [line for line in lines if "error" in line.lower()]
    chosen = errors[-limit:] if errors else [line for line in lines if line.strip()][-limit:]
    return "\n".join(chosen)
