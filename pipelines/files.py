"""Private files: everything the warehouse folder holds is for this service's user only.

The warehouse, the identity store, releases, the processing log, witnesses, accounts, cases and
keys are created mode 0600 in folders of mode 0700, whatever the process umask. Call
:func:`private_umask` once at the start of a process that writes them (the CLI does), and use
:func:`private_dir` / :func:`make_private` / :func:`write_private` where a file is created, so a
library caller with umask 022 gets the same modes. :func:`exposed` lists secrets that group or
others can read: ``knooppunt serve`` and ``knooppunt run`` refuse to start on them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077


def private_umask() -> None:
    """New files of this process get no group or other permissions."""
    os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700; returns it."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def make_private(path: Path) -> None:
    """Make an existing file 0600 (a no-op for a file that does not exist)."""
    if path.exists():
        os.chmod(path, FILE_MODE)


def write_private(path: Path, text: str, *, sync: bool = True) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 from the first byte.

    ``sync=False`` skips the fsync, for small files rewritten after something already durable
    (the log's head and witness after the log line: if they lag after a crash, verify says so).
    """
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


# Secret files named by the environment (privacy.pseudonym/identity/log/witness, pipelines.signin).
KEY_FILE_VARIABLES = (
    "KNOOPPUNT_PSEUDONYM_KEY_FILE",
    "KNOOPPUNT_IDENTITY_KEY_FILE",
    "KNOOPPUNT_LOG_KEY_FILE",
    "KNOOPPUNT_WITNESS_KEY_FILE",
    "KNOOPPUNT_TOKEN_FILE",
)


def secret_paths(warehouse_root: Path) -> list[Path]:
    """Where a warehouse's secrets are: its folder's keys and accounts, and configured key files."""
    paths = [warehouse_root / "secrets", warehouse_root / "web" / "accounts.json"]
    return paths + [Path(os.environ[v]) for v in KEY_FILE_VARIABLES if os.environ.get(v)]


def exposed(paths: Iterable[Path]) -> list[str]:
    """The given files and folders (recursively) that group or others may read, as messages."""
    found = []
    for root in paths:
        if not root.exists():
            continue
        for path in [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                found.append(f"{path} is readable or writable by group or others (mode {mode:o})")
    return found
