"""Witnesses of the processing log's head, kept outside the log file, signed with their own key.

The log's hash chain and its HMAC'd head file show an edited, inserted or removed entry, but not a
log that was wiped, or put back from an earlier copy together with its head: both are consistent in
themselves. A *witness* is a signed statement "on <at>, entry <seq> of the log had hash <hash>".
``knooppunt audit verify`` compares the log with every witness it can find and fails when the log
ends before a witnessed entry, or holds a different entry at a witnessed sequence number.

Witnesses are written

* to the witness file (``<warehouse>/witness/log-head.json``, or ``KNOOPPUNT_WITNESS_FILE``) on
  every append: the latest head, signed;
* next to every published release (``releases/<release>.witness.json``): the head when the run
  published it, signed;
* in the Dagster metadata of every run's ``release`` asset (``log_head_seq``, ``log_head_hash``),
  where ``knooppunt audit verify --seq N --hash H`` can check against them.

The signature is Ed25519 with a key of its own (``KNOOPPUNT_WITNESS_KEY`` or
``KNOOPPUNT_WITNESS_KEY_FILE``; the demo creates ``<warehouse>/secrets/witness.key``), not the log's
HMAC key: whoever holds only the log key cannot write a witness. Verification needs only the public
key, which can be given as ``KNOOPPUNT_WITNESS_PUBLIC_KEY`` (hex) to a verifier that does not hold
the private key. What this cannot stop, and what the host must do, is in docs/SECURITY.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pipelines.files import write_private
from pipelines.warehouse import Warehouse
from privacy.pseudonym import load_key

ENV_KEY = "KNOOPPUNT_WITNESS_KEY"
ENV_KEY_FILE = "KNOOPPUNT_WITNESS_KEY_FILE"
ENV_PUBLIC_KEY = "KNOOPPUNT_WITNESS_PUBLIC_KEY"
ENV_FILE = "KNOOPPUNT_WITNESS_FILE"
WITNESS_FILE = Path("witness") / "log-head.json"
RELEASE_SUFFIX = ".witness.json"


class WitnessError(RuntimeError):
    """A witness whose signature does not verify (forged or edited), or no key to check it."""


@dataclass(frozen=True)
class Witness:
    seq: int
    hash: str
    at: str  # when it was witnessed (ISO 8601, UTC)
    source: str  # where it was found, for messages: "the witness file", "release ...", "--seq/--hash"


def witness_path(warehouse: Warehouse) -> Path:
    configured = os.environ.get(ENV_FILE)
    return Path(configured) if configured else warehouse.root / WITNESS_FILE


def _private_key(warehouse: Warehouse) -> Ed25519PrivateKey:
    raw = load_key(ENV_KEY, ENV_KEY_FILE, "witness.key", warehouse.secrets_dir)
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(raw).digest())


def public_key(warehouse: Warehouse) -> Ed25519PublicKey:
    if configured := os.environ.get(ENV_PUBLIC_KEY):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(configured.strip()))
    try:
        return _private_key(warehouse).public_key()
    except RuntimeError as exc:
        raise WitnessError(f"cannot check the log's witnesses: {exc} (or set {ENV_PUBLIC_KEY})") from exc


def public_key_hex(warehouse: Warehouse) -> str:
    return public_key(warehouse).public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _message(seq: int, hash_: str, at: str) -> bytes:
    return json.dumps({"seq": seq, "hash": hash_, "at": at}, sort_keys=True).encode()


def sign(warehouse: Warehouse, seq: int, hash_: str) -> dict[str, object]:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    signature = _private_key(warehouse).sign(_message(seq, hash_, at))
    return {"seq": seq, "hash": hash_, "at": at, "signature": signature.hex()}


def write_file(warehouse: Warehouse, seq: int, hash_: str) -> None:
    """Replace the witness file with a signed statement of the current head (private, atomic).

    Not fsynced: it follows the durable log line on every append; after a crash it may lag, which
    verify accepts (a witness behind the log), never run ahead.
    """
    write_private(witness_path(warehouse), json.dumps(sign(warehouse, seq, hash_)) + "\n", sync=False)


def write_release(warehouse: Warehouse, release: Path, seq: int, hash_: str) -> Path:
    """A signed witness next to a published release file; returns its path."""
    path = release.with_name(release.name + RELEASE_SUFFIX)
    write_private(path, json.dumps(sign(warehouse, seq, hash_)) + "\n")
    return path


def _read(path: Path, source: str, key: Ed25519PublicKey) -> Witness:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seq, hash_, at = int(data["seq"]), str(data["hash"]), str(data["at"])
        key.verify(bytes.fromhex(str(data["signature"])), _message(seq, hash_, at))
    except (OSError, ValueError, KeyError, TypeError, InvalidSignature) as exc:
        problem = f"{source} ({path}) is not a valid signed witness: it was edited or forged"
        raise WitnessError(problem) from exc
    return Witness(seq, hash_, at, source)


def collect(warehouse: Warehouse) -> list[Witness]:
    """Every witness of this warehouse's log: the witness file and those of the releases."""
    candidates = []
    file = witness_path(warehouse)
    if file.exists():
        candidates.append((file, "the witness file"))
    releases = warehouse.root / "releases"
    if releases.exists():
        candidates += [(p, f"release witness {p.name}") for p in sorted(releases.rglob("*" + RELEASE_SUFFIX))]
    if not candidates:
        return []
    key = public_key(warehouse)
    return [_read(path, source, key) for path, source in candidates]
