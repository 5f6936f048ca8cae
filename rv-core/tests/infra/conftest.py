"""Fixtures for the infrastructure tests: a real HTTP server, clean settings.

The HTTP server is Python's ``ThreadingHTTPServer`` on 127.0.0.1 (port 0)
with single-range support. ``http_dir`` runs it in a thread of the test
process (fsspec's HTTP client runs in its own event-loop thread, so that is
enough). ``http_dir_process`` runs the same server in a child process: GDAL
keeps Python's GIL during parts of ``rasterio.open`` on ``/vsicurl/``, so a
server thread in the same process can deadlock against it.

Run as a script (``python conftest.py ROOT LOG``) this file is that child:
it prints the port, then serves ``ROOT`` and appends one JSON line per
request to ``LOG``.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest


class RangeRequestHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server plus single ``Range: bytes=a-b`` requests (as S3 and nginx do).

    Every request is passed to ``server.record((method, path, range header,
    body bytes sent))`` so tests can check how a client read.
    """

    _RANGE = re.compile(r"bytes=(\d*)-(\d*)")

    def log_message(self, format, *args):  # keep test output clean
        pass

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def _record(self, sent: int | None) -> None:
        self.server.record((self.command, self.path, self.headers.get("Range"), sent))

    def do_HEAD(self):
        self._record(0)
        super().do_HEAD()

    def do_GET(self):
        header = self.headers.get("Range")
        path = self.translate_path(self.path)
        match = self._RANGE.fullmatch(header.strip()) if header else None
        if match is None or not os.path.isfile(path) or match.groups() == ("", ""):
            # No single range: the whole file, a directory listing or a 404.
            self._record(os.path.getsize(path) if os.path.isfile(path) else None)
            super().do_GET()
            return
        size = os.path.getsize(path)
        first, last = match.groups()
        if first == "":  # suffix range: the last N bytes
            start, end = max(0, size - int(last)), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            self._record(0)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        self._record(len(body))
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(root: str, record) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeRequestHandler, directory=root))
    server.daemon_threads = True
    server.record = record
    return server


class ServedDir:
    """A directory served over HTTP: ``root`` on disk, ``url`` to read it, ``requests`` made."""

    def __init__(self, root: Path, url: str, requests=None, log: Path | None = None):
        self.root = root
        self.url = url
        self._requests = requests
        self._log = log

    def __truediv__(self, name: str) -> str:
        return f"{self.url}/{name}"

    @property
    def requests(self) -> list[tuple]:
        """``(method, path, range header, bytes sent)`` of every request so far."""
        if self._requests is not None:
            return list(self._requests)
        if not self._log.exists():
            return []
        return [tuple(json.loads(line)) for line in self._log.read_text().splitlines()]

    def clear(self) -> None:
        if self._requests is not None:
            self._requests.clear()
        elif self._log.exists():
            self._log.write_text("")


def _serve_main(root: str, log: str) -> None:
    lock = threading.Lock()

    def record(entry):
        with lock, open(log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    server = make_server(root, record)
    print(server.server_address[1], flush=True)
    server.serve_forever()


@pytest.fixture
def http_dir(tmp_path):
    """A ThreadingHTTPServer on 127.0.0.1 (free port), in a thread, serving a fresh directory."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list = []
    server = make_server(str(root), requests.append)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="rv-test-http", daemon=True
    )
    thread.start()
    try:
        yield ServedDir(root, f"http://127.0.0.1:{server.server_address[1]}", requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_dir_process(tmp_path):
    """The same server in a child process (for GDAL, see the module docstring)."""
    root = tmp_path / "served"
    root.mkdir()
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, __file__, str(root), str(log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        yield ServedDir(root, f"http://127.0.0.1:{port}", log=log)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def clean_settings(tmp_path, monkeypatch):
    """No rv variables from the developer's shell, an empty config dir, cwd in tmp (``rv.testing.clean_rv_environment``).

    Yields the config directory (``RV_CONFIG_DIR``).
    """
    from rv.testing import clean_rv_environment

    with clean_rv_environment(tmp_path, monkeypatch, also_remove=("AWS_BATCH_",)):
        yield tmp_path / "rv-config"


if __name__ == "__main__":
    _serve_main(sys.argv[1], sys.argv[2])
