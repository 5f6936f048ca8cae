"""A lock on one command's outputs, held while the command runs.

Two ``rv run`` processes on one experiment root (two terminals, a Batch retry
beside a local run) must never write one command's outputs at the same time.
Every runner runs a command through :func:`rv.command.run_command.run_command`,
which holds a :class:`CommandLock` on ``<command dir>/command-lock.json``
while the command runs:

- the lock file is created exclusively: ``O_CREAT | O_EXCL`` on local disk,
  a conditional put (``If-None-Match: *``) on S3 and any file system whose
  fsspec ``open(uri, "xb")`` is exclusive;
- its holder rewrites the file every :data:`HEARTBEAT_S` seconds (a
  heartbeat), and deletes it when the command ends, whatever the outcome;
- a second process waits while the lock is alive, then looks at the
  command's stamp: work the first process finished is skipped, not redone;
- a lock is *stale* when its holder is a process of this host that no longer
  exists, or when its heartbeat has not changed for :data:`STALE_AFTER_S`
  seconds of the waiter's own clock (so clocks of different machines are
  never compared). A stale lock is taken over, with a message naming the
  process that left it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from rv import file_utils

LOCK_NAME = "command-lock.json"
#: seconds between two rewrites of a held lock
HEARTBEAT_S = 10.0
#: a lock whose heartbeat has not changed for this long is taken over
STALE_AFTER_S = 90.0
#: seconds between two looks at a lock held by another process
POLL_S = 0.5


def _say(message: str) -> None:
    print(f"rv: {message}", file=sys.stderr, flush=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


class CommandLock:
    """An exclusive lock on the outputs of the command whose directory is ``command_uri``.

    Use it as a context manager: entering waits until the lock is free (or
    stale) and takes it; leaving releases it. ``waited`` says whether
    another process held it first.
    """

    def __init__(
        self,
        command_uri: str,
        name: str,
        *,
        stale_after: float | None = None,
        heartbeat: float | None = None,
        poll: float | None = None,
    ):
        self.uri = file_utils.join(command_uri, LOCK_NAME)
        self.name = name
        self.stale_after = STALE_AFTER_S if stale_after is None else stale_after
        self.heartbeat = HEARTBEAT_S if heartbeat is None else heartbeat
        self.poll = POLL_S if poll is None else poll
        self.token = uuid.uuid4().hex
        self.waited = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = time.time()

    # -- content ---------------------------------------------------------------

    def _content(self) -> str:
        return json.dumps(
            {
                "command": self.name,
                "token": self.token,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started_at": self._started_at,
                "heartbeat_at": time.time(),
            }
        )

    def _read(self) -> dict[str, Any] | None:
        """The lock's content; ``None`` when there is no lock. An unreadable lock is ``{}``."""
        try:
            text = file_utils.read_text(self.uri)
        except file_utils.MissingFileError:
            return None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return {}  # caught between create and write, or torn: judged by its heartbeat like any other
        return doc if isinstance(doc, dict) else {}

    # -- taking and giving back --------------------------------------------------

    def acquire(self) -> None:
        """Wait until the lock is free or stale, then take it."""
        seen: tuple[str, float] | None = None  # (content, when this process first saw it)
        announced = False
        while True:
            if file_utils.create_exclusive(self.uri, self._content()):
                break
            held = self._read()
            if held is None:
                continue  # released between our attempt and our look: try again at once
            text = json.dumps(held, sort_keys=True)
            now = time.monotonic()
            if seen is None or seen[0] != text:
                seen = (text, now)  # a new holder, or a heartbeat: the holder is alive
            reason = self._stale_reason(held, now - seen[1])
            if reason:
                _say(f"{self.name}: taking over the lock {self.uri}: {reason}.")
                self._remove_if_unchanged(text)
                seen = None
                continue
            if not announced:
                who = f"process {held.get('pid', '?')} on {held.get('host', '?')}"
                _say(f"{self.name} is being run by {who} (lock {self.uri}); waiting for it to finish.")
                announced = True
            self.waited = True
            time.sleep(self.poll)
        self._thread = threading.Thread(target=self._beat, name=f"rv-lock-{self.name}", daemon=True)
        self._thread.start()

    def _stale_reason(self, held: dict[str, Any], unchanged_for: float) -> str | None:
        pid, host = held.get("pid"), held.get("host")
        if host == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
            return f"process {pid} on this host, which took it, no longer exists (killed or crashed)"
        if unchanged_for >= self.stale_after:
            who = f"process {pid} on {host}" if pid else "an unknown process"
            return (
                f"{who} has not renewed it for {unchanged_for:.0f} s (it renews every "
                f"{self.heartbeat:.0f} s while it runs), so it was stopped"
            )
        return None

    def _remove_if_unchanged(self, text: str) -> None:
        # Another waiter may have taken over first: delete only the lock judged stale.
        current = self._read()
        if current is not None and json.dumps(current, sort_keys=True) == text:
            with contextlib.suppress(file_utils.MissingFileError):
                file_utils.delete(self.uri)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with contextlib.suppress(Exception):  # a missed beat only brings staleness closer
                held = self._read()
                if held is not None and held.get("token") != self.token:
                    _say(
                        f"{self.name}: another process took over the lock {self.uri}; "
                        "this run's outputs of the command may be overwritten by it."
                    )
                    return
                file_utils.write_text(self.uri, self._content())

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            held = self._read()
            if held is not None and held.get("token") == self.token:
                file_utils.delete(self.uri)

    def __enter__(self) -> CommandLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
