"""The machine's one training: `flock` on a file in the runs folder, across server processes.

The kernel drops an `flock` when the last descriptor of its open file closes, so a killed
server (or child) never leaves it held; the file's contents (who holds it) are only a record,
cleared by whoever takes the lock next.

A `MachineLock` is not thread-safe on its own: its one owner, `supervisor.TrainingJobs`,
takes, records and releases it under the same mutex as the job's state.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

LOCK_NAME = ".training.lock"
PROBE_GRACE_S = 0.2  # another process's `holder()` holds a shared lock for microseconds: retry this long


class MachineLock:
    """`flock` on `path`: taken by the server that starts a training and inherited by its child."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self.fd is not None

    def acquire(self) -> bool:
        """Take the lock (creating the file); False when another process holds it. OSError if unwritable.

        A refusal is retried for PROBE_GRACE_S: another server's `holder()` takes a shared lock
        for a moment to look, and must not read as a training running there."""
        if self.fd is not None:
            raise RuntimeError("the machine lock is already held by this server")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + PROBE_GRACE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    return False
                time.sleep(0.005)
        self.fd = fd
        return True

    def record(self, info: dict[str, Any]) -> None:
        """Write who holds the lock, for other server processes to show."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(info).encode(), 0)

    def read_record(self) -> dict[str, Any]:
        """The record in the file, read through the descriptor this object holds ({} when empty or garbled)."""
        try:
            record = json.loads(os.pread(self.fd, 65536, 0) or b"{}")
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def release(self) -> None:
        """Clear the record and let go (a child that inherited the descriptor keeps it until it exits)."""
        fd, self.fd = self.fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)

    def holder(self) -> dict[str, Any] | None:
        """The record of another process holding the lock, or None when it is free. Creates nothing."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                record = json.loads(os.pread(fd, 65536, 0) or b"{}")
            except ValueError:
                return {}
            return record if isinstance(record, dict) else {}
        finally:
            os.close(fd)
        return None
