"""One writer at a time: the warehouse lock that every writing run takes.

``knooppunt run``, ``knooppunt ingest`` and every run of ``knooppunt_job`` (the schedule, the
sensor, a launch from the Dagster UI) take the same lock, a file ``writer.lock`` in the warehouse
folder (beside the database files, so it also covers a run's generation of them). A second writer
waits at most ``wait`` seconds and then refuses with ``another run (ID, since TIME) holds the
warehouse``.

The lock is an advisory ``flock`` on that file: the operating system releases it when the process
that holds it ends, however it ends, so a killed run never leaves a stale lock behind. The file's
content (holder id, start time, process id) is only for the message; it may outlive the lock.

Within one process the holder may take the lock again for the same id (``knooppunt run`` takes
it before Dagster starts, and the run's ``WarehouseResource`` takes it again); any other id is a
second writer and is refused like one from another process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "writer.lock"
POLL_SECONDS = 0.2


class WarehouseBusy(RuntimeError):
    """Another writer holds the warehouse."""

    def __init__(self, root: Path, holder: dict):
        self.root = root
        self.holder = holder
        super().__init__(
            f"another run ({holder.get('id', 'unknown')}, since {holder.get('since', 'unknown')}) "
            f"holds the warehouse in {Path(root).resolve()}"
        )


@dataclass
class _Held:
    fd: int
    holder_id: str
    depth: int


_held: dict[Path, _Held] = {}
_guard = threading.Lock()


def lock_path(root: str | Path) -> Path:
    return Path(root) / LOCK_FILE


def holder(root: str | Path) -> dict:
    """Who holds (or last held) the lock, as written in the lock file; ``{}`` when unknown."""
    try:
        return json.loads(lock_path(root).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _acquire(key: Path, holder_id: str) -> _Held | None:
    """Take the lock (or re-enter it for the same id) if it is free; ``None`` when it is not."""
    with _guard:
        held = _held.get(key)
        if held is not None:
            if held.holder_id != holder_id:
                return None
            held.depth += 1
            return held
        fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"id": holder_id, "since": since, "pid": os.getpid()}).encode(), 0)
        held = _held[key] = _Held(fd, holder_id, 1)
        return held


def _release(key: Path, held: _Held) -> None:
    with _guard:
        held.depth -= 1
        if held.depth == 0:
            del _held[key]
            fcntl.flock(held.fd, fcntl.LOCK_UN)
            os.close(held.fd)


@contextlib.contextmanager
def warehouse_lock(root: str | Path, holder_id: str, *, wait: float = 0) -> Iterator[None]:
    """Hold the warehouse's writer lock for ``holder_id`` (a run id, or e.g. ``ingest-bag-…``).

    Waits up to ``wait`` seconds for another writer to finish, then raises :class:`WarehouseBusy`.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    key = lock_path(root).resolve()
    deadline = time.monotonic() + wait
    while (held := _acquire(key, holder_id)) is None:
        if time.monotonic() >= deadline:
            raise WarehouseBusy(root, holder(root))
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        _release(key, held)
