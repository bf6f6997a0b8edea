"""Keyed pseudonyms for BSNs (HMAC-SHA256), replacing them at ingest.

The key never lives in the repository. It comes from, in this order:

1. the environment variable ``KNOOPPUNT_PSEUDONYM_KEY`` (hex or any string of >= 32 characters),
2. the file named by ``KNOOPPUNT_PSEUDONYM_KEY_FILE``,
3. for the embedded demo only: ``<warehouse>/secrets/pseudonym.key``, created on first use with
   mode 0600.

The same key gives the same pseudonym for the same BSN, so joins across deliveries keep working;
rotating the key re-pseudonymises everything on the next full load.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pipelines.files import private_dir

ENV_KEY = "KNOOPPUNT_PSEUDONYM_KEY"
ENV_KEY_FILE = "KNOOPPUNT_PSEUDONYM_KEY_FILE"
PREFIX = "P"  # pseudonyms look like P + 24 hex chars, never like a 9-digit BSN


class Pseudonymiser:
    def __init__(self, key: bytes):
        if len(key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")
        self._key = key

    def __call__(self, bsn: str) -> str:
        digest = hmac.new(self._key, bsn.encode("ascii"), hashlib.sha256).hexdigest()
        return PREFIX + digest[:24]

    @classmethod
    def from_environment(cls, secrets_dir: Path | None = None) -> Pseudonymiser:
        return cls(load_key(ENV_KEY, ENV_KEY_FILE, "pseudonym.key", secrets_dir))


def load_key(env: str, env_file: str, demo_name: str, secrets_dir: Path | None) -> bytes:
    """A secret key from the environment, a secret file, or (demo) a file created on first use.

    With ``KNOOPPUNT_ENV=production`` a demo key is never created: the key must be configured, and
    have at least 32 bytes of entropy as far as can be told (:func:`key_problem`).
    """
    production = os.environ.get("KNOOPPUNT_ENV") == "production"
    configured = None
    if value := os.environ.get(env):
        configured = value.encode()
    elif path := os.environ.get(env_file):
        configured = Path(path).read_bytes().strip()
    if configured is not None:
        if production and (problem := key_problem(configured)):
            raise RuntimeError(f"the key in {env if os.environ.get(env) else env_file} {problem}")
        return configured
    if secrets_dir is None or production:
        raise RuntimeError(f"no key configured: set {env} or {env_file}")
    path = Path(secrets_dir) / demo_name
    if not path.exists():
        # Write the key to a private temporary file, then link it into place: the link fails if
        # another process won the race, and nobody can ever read a half-written key.
        private_dir(path.parent)
        tmp = path.with_name(f".{demo_name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes().strip()


MIN_KEY_BYTES = 32
MIN_DISTINCT_BYTES = 16


def key_problem(raw: bytes) -> str | None:
    """Why a configured key is too weak for production, or None.

    A key written as hex counts as the bytes it encodes. It must be at least 32 bytes and not made
    of a few repeated values (``aaaa...``, ``0101...``): a length and variety check, not a proof of
    randomness; generating keys is the host's (``openssl rand -hex 32``, docs/SECURITY.md).
    """
    text = raw.decode("utf-8", errors="replace")
    is_hex = len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text)
    key = bytes.fromhex(text) if is_hex else raw
    if len(key) < MIN_KEY_BYTES:
        return f"is {len(key)} bytes; it must have at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)"
    if len(set(key)) < MIN_DISTINCT_BYTES:
        return "is not random (too few distinct values); generate one with `openssl rand -hex 32`"
    return None
