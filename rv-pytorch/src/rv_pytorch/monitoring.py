"""TensorBoard during TRAIN: the local server that shows the training's event files.

With monitoring on (``with_train_options(do_monitoring=True)``, the
default), :func:`rv_pytorch.train.train` writes TensorBoard events to
``<train dir>/tb``. When TRAIN also runs on this machine with a person at
its terminal (its standard input is a terminal: ``rv run local`` or
``rv run_command`` typed in a shell; remote runners, CI and scripts have
none), :func:`tensorboard_during_training` starts ``tensorboard --logdir
<train dir>`` on ``localhost`` for the length of TRAIN and stops it, by its
process id, when TRAIN ends.

The port is 6006 unless the rv configuration sets ``tensorboard_port`` in
the ``[RV]`` section (or ``RV_TENSORBOARD_PORT``); ``0`` or ``off`` turns
the server off, the event files are still written.

Only the standard library is imported here: TensorBoard itself runs in its
own process (``python -m tensorboard.main``), so nothing heavy loads in TRAIN.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import IO

from rv.errors import ConfigError

SETTINGS_SECTION = "RV"
SETTINGS_OPTION = "tensorboard_port"
DEFAULT_PORT = 6006
DEFAULT_HOST = "localhost"
_OFF = ("0", "off", "false", "no", "none")


def configured_port() -> int | None:
    """The port of ``[RV] tensorboard_port`` / ``RV_TENSORBOARD_PORT`` (default 6006); None when set to 0/off."""
    from rv.settings import env_name, get_settings

    value = get_settings().get(SETTINGS_SECTION, SETTINGS_OPTION)
    if value is None or not str(value).strip():
        return DEFAULT_PORT
    value = str(value).strip().lower()
    if value in _OFF:
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ConfigError(
            f"The TensorBoard port {value!r} ({env_name(SETTINGS_SECTION, SETTINGS_OPTION)} / [{SETTINGS_SECTION}] "
            f"{SETTINGS_OPTION}) is not a port number: use a number from 1 to 65535 (default {DEFAULT_PORT}), "
            "or 0 to start no TensorBoard server."
        )
    return port


def interactive() -> bool:
    """Whether a person runs this process at a terminal of this machine (its standard input is one)."""
    try:
        return sys.stdin is not None and os.isatty(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):  # no real stdin (a daemon, pytest's capture)
        return False


def port_is_free(port: int, host: str = DEFAULT_HOST) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class TensorBoardServer:
    """``tensorboard --logdir LOGDIR`` on ``host:port`` in a child process.

    Use :meth:`start` and :meth:`stop` (or the object as a context manager);
    :meth:`wait_until_serving` blocks until the page answers.

    Args:
        logdir: the folder TensorBoard reads event files from (searched recursively).
        port: the port to listen on.
        host: the interface (``localhost``: this machine only).
        log_path: where TensorBoard's own output goes (default: nowhere).
    """

    def __init__(self, logdir: str, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, log_path: str | None = None):
        self.logdir = str(logdir)
        self.port = int(port)
        self.host = host
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._log: IO | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> TensorBoardServer:
        """Start the server (it answers a few seconds later: see :meth:`wait_until_serving`)."""
        argv = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            self.logdir,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self._log = open(self.log_path, "w") if self.log_path else None  # noqa: SIM115 - closed in stop()
        out = self._log or subprocess.DEVNULL
        # Same process group as TRAIN: Ctrl-C or a kill of the run ends it too.
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        return self

    def wait_until_serving(self, timeout: float = 120.0) -> bool:
        """Block until the page answers (True), the server exits, or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its process id (terminate, then kill if it does not exit)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> TensorBoardServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def tensorboard_during_training(
    train_dir: str, enabled: bool, say: Callable[[str], None], log_path: str | None = None
) -> Iterator[TensorBoardServer | None]:
    """Serve ``train_dir``'s events with TensorBoard for the length of the block, when ``enabled``
    (do_monitoring), a person is at the terminal (:func:`interactive`) and a port is configured.

    Yields the running server, or None when none was started (``say`` tells why, when it is not
    the obvious "no terminal").
    """
    if not enabled or not interactive():
        yield None
        return
    port = configured_port()
    if port is None:
        yield None
        return
    if not port_is_free(port):
        say(
            f"port {port} is in use, so TensorBoard is not started (the events are in {train_dir}/tb); "
            f"set another port with RV_TENSORBOARD_PORT or [RV] tensorboard_port in the rv configuration"
        )
        yield None
        return
    server = TensorBoardServer(train_dir, port, log_path=log_path).start()
    say(f"TensorBoard shows the training at {server.url} until TRAIN ends")
    try:
        yield server
    finally:
        server.stop()
