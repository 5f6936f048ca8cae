"""Training into a local directory that mirrors a remote train URI.

Training writes into a local directory; :class:`TrainDirSync` uploads what
changed there to the train URI every ``interval`` seconds from a background
thread, and once more at the end. The final weights (``model.safetensors``) mark a
finished TRAIN, so they are uploaded last and only when training finished;
after a failure or an interruption (SIGTERM, as a cluster sends before it
takes a machine away) the checkpoint and log are uploaded instead, so the
next run resumes where this one stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rv import file_utils

log = logging.getLogger(__name__)


class TrainDirSync:
    """Mirror ``local_dir`` to ``remote_uri`` periodically and at the end.

    Use as a context manager around training. Hidden files (the engine's
    ``.name.tmp-*`` files being written) are never uploaded.

    Args:
        local_dir: where training writes.
        remote_uri: the train URI.
        interval: seconds between uploads while training runs.
        final_names: files uploaded only when training finished, after every
            other file.
    """

    def __init__(
        self, local_dir: str, remote_uri: str, interval: float, final_names: tuple[str, ...] = ("model.safetensors",)
    ):
        self.local_dir = os.fspath(local_dir)
        self.remote_uri = str(remote_uri)
        self.interval = float(interval)
        self.final_names = tuple(final_names)
        self._sent: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _files(self) -> list[tuple[str, str]]:
        out = []
        for root, dirs, files in os.walk(self.local_dir):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                path = os.path.join(root, name)
                out.append((os.path.relpath(path, self.local_dir).replace(os.sep, "/"), path))
        return out

    def push(self, final: bool = False) -> list[str]:
        """Upload files that changed since the last push; with ``final`` also the final files, last.

        Returns the relative paths uploaded.
        """
        with self._lock:
            files = self._files()
            ordinary = [(rel, p) for rel, p in files if rel not in self.final_names]
            last = [(rel, p) for rel, p in files if rel in self.final_names] if final else []
            sent = []
            for rel, path in ordinary + last:
                try:
                    stat = os.stat(path)
                except FileNotFoundError:  # replaced between the walk and now
                    continue
                signature = (stat.st_mtime, stat.st_size)
                if self._sent.get(rel) == signature:
                    continue
                file_utils.upload(path, file_utils.join(self.remote_uri, rel))
                self._sent[rel] = signature
                sent.append(rel)
            return sent

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.push()
            except Exception as e:  # a failed upload is retried at the next tick
                log.warning("Uploading the training output to %s failed (%s); retrying later.", self.remote_uri, e)

    def __enter__(self) -> TrainDirSync:
        self._thread = threading.Thread(target=self._run, name="rv-train-sync", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if exc_type is None:
            self.push(final=True)
            return
        try:
            # Interrupted or failed: keep the last checkpoint for the next run to resume from.
            self.push(final=False)
        except Exception as e:  # never hide the original error
            log.warning("Could not upload the checkpoint to %s after the failure: %s", self.remote_uri, e)


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit (so cleanup runs) instead of killing the process at once.

    Only in the main thread (where Python delivers signals); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
