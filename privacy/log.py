"""The processing log (verwerkingenlogging): append-only, tamper-evident, shared by processes.

Stored as JSON Lines in ``<warehouse>/log/verwerkingen.jsonl`` so that the pipeline and the web
server can both append without opening the DuckDB warehouse. Every append takes an exclusive
``fcntl`` lock on ``<warehouse>/log/verwerkingen.lock``.

Tamper evidence: every entry carries a sequence number ``seq``, the ``hash`` of the previous entry
(``prev``) and its own ``hash`` = HMAC-SHA256 over the entry (key from ``KNOOPPUNT_LOG_KEY``,
``KNOOPPUNT_LOG_KEY_FILE`` or, for the demo, ``<warehouse>/secrets/log.key``). Without the key an
edited entry cannot be given a valid hash, a removed entry leaves a gap in ``seq`` and the chain,
an inserted one breaks it, and ``verwerkingen.head`` (seq and hash of the last entry, also
HMAC'd) shows entries cut off the end.

Completeness: the log starts with a *genesis* entry (seq 0, never purged), so a log cut off at
the start does not verify, and its head is witnessed outside the file (:mod:`privacy.witness`), so
a wiped log, or an earlier copy of log and head put back, does not verify either.

Retention (:meth:`ProcessingLog.purge`, by a named privacy officer, under the register in force,
never for a future date) replaces an expired entry by a *tombstone* that keeps only ``seq``,
``prev`` and ``hash`` (so the removed range's hashes stay in the chain) and appends a purge entry
(the *anchor*) recording which seqs are tombstones. Verify trusts only tombstones that the latest
anchor lists, so hiding an entry by turning it into a tombstone is detected as an edit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.files import private_dir, write_private
from pipelines.warehouse import Warehouse
from privacy import witness
from privacy.pseudonym import load_key
from privacy.register import Purpose, Register, load_register, subtract_duration
from privacy.scan import bsns_in_text

ENV_KEY = "KNOOPPUNT_LOG_KEY"
ENV_KEY_FILE = "KNOOPPUNT_LOG_KEY_FILE"
LOG_DIR = "log"
LOG_FILE = "verwerkingen.jsonl"
HEAD_FILE = "verwerkingen.head"
LOCK_FILE = "verwerkingen.lock"
GENESIS = "0" * 64
SYSTEM = "knooppunt"

# Dutch names of our actions for the VNG export (actieNaam).
ACTION_NAMES = {
    "genesis": "Start verwerkingenlog",
    "gated_join": "Gekoppelde verwerking (join gate)",
    "hit": "Zoeken (hit/no-hit)",
    "detail": "Raadplegen details",
    "export": "Exporteren lijst gevlagde adressen",
    "refusal": "Geweigerde verwerking",
    "aggregated_read": "Geaggregeerde bevraging",
    "reidentification": "Heridentificatie",
    "purge": "Verwijderen na bewaartermijn",
    "overview": "Overzicht signalen",
    "triage": "Besluit over een signaal (triage)",
}


@functools.cache
def code_version() -> str:
    """Package version plus the git commit of the checkout, when there is one (read once)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("knooppunt")
    except PackageNotFoundError:
        base = "0+unknown"
    git = Path(__file__).resolve().parents[1] / ".git"
    with contextlib.suppress(OSError):
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = git / head[5:]
            if ref.exists():
                return f"{base}+{ref.read_text().strip()[:12]}"
            packed = git / "packed-refs"
            for line in packed.read_text().splitlines() if packed.exists() else []:
                if line.endswith(head[5:]):
                    return f"{base}+{line[:12]}"
        else:
            return f"{base}+{head[:12]}"
    return base


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class LogEntry:
    """One processing action. Objects are referred to by pseudonym or BAG/KvK id, never by BSN."""

    action: str  # a key of ACTION_NAMES
    gebruiker: str  # user id, or "pipeline" for a run
    bewaartermijn: str  # ISO 8601 duration
    uitvoerder: str  # OIN of the organisation
    vertrouwelijkheid: str = "vertrouwelijk"
    purpose: str | None = None
    purpose_id: str | None = None
    purpose_name: str | None = None
    role: str | None = None
    tijdstip: str = field(default_factory=now)
    objects: list[dict[str, str]] = field(default_factory=list)  # soortObjectId, objectId, betrokkenheid
    run_id: str | None = None
    code_version: str = field(default_factory=code_version)
    inputs: dict[str, list[str]] = field(default_factory=dict)  # table -> columns read
    output: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    justification: str | None = None
    register_version: str | None = None
    register_fingerprint: str | None = None
    outcome: str = "uitgevoerd"  # or "geweigerd"
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    actie_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Set by ProcessingLog.append:
    seq: int | None = None
    prev: str | None = None
    tijdstip_registratie: str | None = None
    hash: str | None = None

    @classmethod
    def under(
        cls, register: Register, purpose: Purpose | None, action: str, gebruiker: str, **kwargs: Any
    ) -> LogEntry:
        """An entry filled in from the register: retention, confidentiality, justification in force."""
        if purpose is None:
            return cls(
                action=action,
                gebruiker=gebruiker,
                bewaartermijn=register.log_bewaartermijn,
                uitvoerder=register.oin,
                register_version=register.versie,
                **kwargs,
            )
        return cls(
            action=action,
            gebruiker=gebruiker,
            bewaartermijn=purpose.bewaartermijn.verwerkingenlog,
            uitvoerder=register.oin,
            vertrouwelijkheid=purpose.vertrouwelijkheid,
            purpose=purpose.key,
            purpose_id=purpose.id,
            purpose_name=purpose.naam,
            justification=purpose.justification,
            register_version=register.versie,
            register_fingerprint=purpose.fingerprint,
            **kwargs,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogEntry:
        return cls(**data)

    def body(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("hash")
        return data


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int  # lines checked (entries and tombstones)
    problem: str | None = None  # the first problem found, naming the entry
    kind: str | None = None  # "edited", "inserted", "removed", "head", "wiped", "rollback", "witness"
    seq: int | None = None  # the first affected sequence number
    warnings: tuple[str, ...] = ()


class LogError(RuntimeError):
    pass


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


class ProcessingLog:
    def __init__(self, warehouse: Warehouse | str | Path):
        self.warehouse = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
        self.dir = self.warehouse.root / LOG_DIR
        self.path = self.dir / LOG_FILE
        self.head_path = self.dir / HEAD_FILE

    # -- keys and locking -------------------------------------------------------------------------
    def _key(self, create: bool = True) -> bytes:
        """The HMAC key; verification never creates one (a new key would fail every entry)."""
        configured = os.environ.get(ENV_KEY) or os.environ.get(ENV_KEY_FILE)
        if not create and not configured and not (self.warehouse.secrets_dir / "log.key").exists():
            raise LogError(
                f"cannot verify the processing log: no log key (set {ENV_KEY} or {ENV_KEY_FILE}, "
                f"or restore {self.warehouse.secrets_dir / 'log.key'})"
            )
        return load_key(ENV_KEY, ENV_KEY_FILE, "log.key", self.warehouse.secrets_dir)

    def _mac(self, key: bytes, data: dict[str, Any]) -> str:
        return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.dir)
        fd = os.open(self.dir / LOCK_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- writing ----------------------------------------------------------------------------------
    def append(self, entry: LogEntry) -> LogEntry:
        """Append ``entry`` (seq, prev, hash and tijdstip_registratie are set here) and return it.

        The first append of a new log writes the genesis entry (seq 0) first. Every append
        replaces the head file and the signed witness file.
        """
        if entry.action not in ACTION_NAMES or entry.action == "genesis":
            raise LogError(f"unknown log action {entry.action!r}; known: {sorted(ACTION_NAMES)}")
        body_text = json.dumps(entry.body(), ensure_ascii=False, default=str)
        if bsns_in_text(body_text):
            raise LogError(
                f"refusing to log a {entry.action} entry: it contains a BSN-like value; "
                "refer to persons by pseudonym only"
            )
        key = self._key()
        with self._locked():
            last_seq, last_hash = self._tail()
            if last_seq < 0:
                genesis = LogEntry(
                    action="genesis",
                    gebruiker=SYSTEM,
                    bewaartermijn="P100Y",
                    uitvoerder="",
                    details={"log_id": str(uuid.uuid4())},
                )
                last_seq, last_hash = self._write(key, genesis, -1, GENESIS)
            self._write(key, entry, last_seq, last_hash)
        return entry

    def _write(self, key: bytes, entry: LogEntry, last_seq: int, last_hash: str) -> tuple[int, str]:
        entry.seq = last_seq + 1
        entry.prev = last_hash
        entry.tijdstip_registratie = now()
        entry.hash = None
        body = json.loads(json.dumps(entry.body(), default=str))
        entry.hash = self._mac(key, body)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**body, "hash": entry.hash}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._write_head(key, entry.seq, entry.hash)
        witness.write_file(self.warehouse, entry.seq, entry.hash)
        return entry.seq, entry.hash

    def _write_head(self, key: bytes, seq: int, last_hash: str) -> None:
        head = {"seq": seq, "hash": last_hash}
        head["mac"] = self._mac(key, head)
        write_private(self.head_path, json.dumps(head), sync=False)  # after the durable log line

    def head(self) -> tuple[int, str]:
        """Seq and hash of the last entry; (-1, GENESIS) for a log without entries."""
        with self._locked():
            return self._tail()

    def witness_release(self, release: Path) -> tuple[int, str]:
        """Write a signed witness of the current head next to a published release; return the head."""
        seq, last = self.head()
        witness.write_release(self.warehouse, release, seq, last)
        return seq, last

    def _tail(self) -> tuple[int, str]:
        """Seq and hash of the last line (read from the head file; the log's last line if none)."""
        if self.head_path.exists():
            head = json.loads(self.head_path.read_text())
            return int(head["seq"]), str(head["hash"])
        last = None
        for last in self._lines():  # noqa: B007 - we want the last line
            pass
        if last is None:
            return -1, GENESIS
        data = json.loads(last[1])
        return int(data["seq"]), str(data["hash"])

    def _head_seq(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return int(json.loads(self.head_path.read_text())["seq"])
        return None

    def _lines(self) -> Iterator[tuple[int, str]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield number, line

    # -- reading ----------------------------------------------------------------------------------
    def entries(
        self, from_: dt.date | dt.datetime | None = None, to: dt.date | dt.datetime | None = None
    ) -> Iterator[LogEntry]:
        """Processing actions with ``from_ <= tijdstip`` and ``tijdstip <= to`` (dates inclusive).

        Tombstones and the genesis entry (which records no processing) are left out.
        """
        lo = _bound(from_, start=True)
        hi = _bound(to, start=False)
        for _, line in self._lines():
            data = json.loads(line)
            if data.get("tombstone") or data.get("action") == "genesis":
                continue
            when = dt.datetime.fromisoformat(data["tijdstip"])
            if (lo and when < lo) or (hi and when > hi):
                continue
            yield LogEntry.from_json(data)

    def find(self, actie_id: str | None = None, action: str | None = None, **details: Any) -> LogEntry | None:
        """The last entry with this actie_id and action whose ``details`` hold all the given values.

        Reads the file backwards: the entries looked up (a hit before its detail request) are recent.
        """
        for line in self._lines_backwards():
            if actie_id is not None and actie_id not in line:
                continue
            data = json.loads(line)
            if data.get("tombstone"):
                continue
            entry = LogEntry.from_json(data)
            if actie_id is not None and entry.actie_id != actie_id:
                continue
            if action is not None and entry.action != action:
                continue
            if all(entry.details.get(k) == v for k, v in details.items()):
                return entry
        return None

    def _lines_backwards(self, block: int = 1 << 16) -> Iterator[str]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            position = fh.tell()
            rest = b""
            while position > 0:
                step = min(block, position)
                position -= step
                fh.seek(position)
                chunk = fh.read(step) + rest
                lines = chunk.split(b"\n")
                rest = lines.pop(0)  # possibly incomplete: joined with the previous block
                for line in reversed(lines):
                    if line.strip():
                        yield line.decode("utf-8")
            if rest.strip():
                yield rest.decode("utf-8")

    # -- verification -----------------------------------------------------------------------------
    def verify(self, expect: tuple[int, str] | None = None) -> VerifyResult:
        """Check the chain from the genesis entry, the head file and every witness of the head.

        ``expect`` is a head (seq, hash) recorded elsewhere, e.g. in a run's Dagster metadata.
        """
        try:
            witnesses = witness.collect(self.warehouse)
        except witness.WitnessError as exc:
            return VerifyResult(False, 0, str(exc), "witness")
        if expect is not None:
            witnesses.append(witness.Witness(expect[0], expect[1], "", "the given head (--seq/--hash)"))
        if not self.path.exists() and not self.head_path.exists() and not witnesses:
            return VerifyResult(True, 0)
        key = self._key(create=False)
        parsed: list[tuple[int, dict[str, Any] | None]] = []
        for number, line in self._lines():
            try:
                parsed.append((number, json.loads(line)))
            except json.JSONDecodeError:
                parsed.append((number, None))

        def valid(data: dict[str, Any] | None) -> bool:
            if not data or data.get("tombstone") or "hash" not in data:
                return False
            body = {k: v for k, v in data.items() if k != "hash"}
            return hmac.compare_digest(self._mac(key, body), str(data["hash"]))

        anchor = max(
            (d for _, d in parsed if valid(d) and d.get("action") == "purge"),
            key=lambda d: d["seq"],
            default=None,
        )
        tombstones = _expand(anchor["details"]["tombstones"]) if anchor else set()
        expected_seq, expected_prev = 0, GENESIS

        def fail(kind: str, seq: int | None, problem: str) -> VerifyResult:
            return VerifyResult(False, len(parsed), problem, kind, seq)

        hashes: dict[int, str] = {}
        for index, (number, data) in enumerate(parsed):
            if data is None:
                return fail("edited", expected_seq, f"entry {expected_seq} (line {number}) is not valid JSON")
            seq = data.get("seq")
            if index == 0 and (seq != 0 or not valid(data) or data.get("action") != "genesis"):
                return fail(
                    "removed",
                    0,
                    "the log does not start with its genesis entry: entries were cut off its start "
                    "or its first line was replaced",
                )
            if data.get("tombstone"):
                if seq != expected_seq or seq not in tombstones:
                    return fail(
                        "edited",
                        seq,
                        f"entry {seq} (line {number}) was turned into a tombstone no purge recorded",
                    )
                expected_seq, expected_prev = seq + 1, str(data.get("hash"))
                hashes[seq] = expected_prev
                continue
            if not valid(data):
                following = parsed[index + 1][1] if index + 1 < len(parsed) else None
                if (
                    following
                    and following.get("seq") == expected_seq
                    and following.get("prev") == expected_prev
                ):
                    return fail("inserted", expected_seq, f"line {number} was inserted before entry {seq}")
                if following is None and self._head_seq() == expected_seq - 1:
                    return fail("inserted", expected_seq, f"line {number} was appended without the log key")
                return fail("edited", seq, f"entry {seq} (line {number}) was edited: its hash does not match")
            if seq > expected_seq:
                missing = str(expected_seq) if seq - 1 == expected_seq else f"{expected_seq}-{seq - 1}"
                return fail("removed", expected_seq, f"entry {missing} removed (before line {number})")
            if seq < expected_seq:
                return fail("inserted", seq, f"line {number} is an inserted copy of entry {seq}")
            if data.get("prev") != expected_prev:
                return fail("edited", seq, f"the chain breaks before entry {seq} (line {number})")
            expected_seq, expected_prev = seq + 1, data["hash"]
            hashes[seq] = expected_prev

        last_seq = expected_seq - 1
        warnings: tuple[str, ...] = ()
        if self.head_path.exists():
            head = json.loads(self.head_path.read_text())
            head_body = {"seq": head.get("seq"), "hash": head.get("hash")}
            if not hmac.compare_digest(self._mac(key, head_body), str(head.get("mac"))):
                return fail("head", None, f"{self.head_path.name} was edited")
            if last_seq < head["seq"]:
                missing = str(head["seq"]) if head["seq"] == last_seq + 1 else f"{last_seq + 1}-{head['seq']}"
                return fail("removed", last_seq + 1, f"entry {missing} removed from the end of the log")
            if last_seq > head["seq"]:
                warnings = (
                    f"entries after {head['seq']} were written but the head was not updated (crash?)",
                )
        for w in sorted(witnesses, key=lambda w: -w.seq):
            when = f" on {w.at}" if w.at else ""
            if not parsed:
                return fail(
                    "wiped",
                    0,
                    f"the log is missing or empty, but {w.source} saw entry {w.seq}{when}: it was wiped",
                )
            if w.seq > last_seq:
                return fail(
                    "rollback",
                    last_seq + 1,
                    f"the log ends at entry {last_seq}, but {w.source} saw entry {w.seq}{when}: entries "
                    "were cut off its end or an earlier copy was put back",
                )
            if hashes.get(w.seq) != w.hash:
                return fail(
                    "rollback",
                    w.seq,
                    f"entry {w.seq} is not the entry {w.source} saw{when}: the log was rewritten or an "
                    "earlier copy was put back",
                )
        if parsed and not witnesses:
            return fail(
                "witness",
                None,
                f"no witness of the log's head ({witness.witness_path(self.warehouse)} is missing): its "
                "end is unverified",
            )
        if parsed and not self.head_path.exists():
            return fail("head", None, f"{self.head_path.name} is missing: the log's end is unverified")
        return VerifyResult(True, len(parsed), warnings=warnings)

    # -- retention --------------------------------------------------------------------------------
    def purge(self, as_of: dt.date, officer: str, extra: dict[str, Any] | None = None) -> LogEntry | None:
        """Tombstone entries past their bewaartermijn on ``as_of`` and log the purge as ``officer``.

        Only under the register in force, never for a day after today (a future date would remove
        entries still within their retention) and only by a named person (``officer``, whose
        role the caller has checked). ``extra`` describes data removed alongside (recorded in the
        same purge entry). Nothing is written, and None returned, when no entry expired and
        ``extra`` is empty: a second run on the same day changes nothing. Refuses to purge a log
        that does not verify (purging must not launder tampering).
        """
        if as_of > dt.date.today():
            raise LogError(f"refusing to purge as of {as_of.isoformat()}: that is in the future")
        if not officer or officer in (SYSTEM, "pipeline"):
            raise LogError("a purge must be done by a named privacy officer")
        register = load_register()
        check = self.verify()
        if not check.ok:
            raise LogError(f"refusing to purge a log that does not verify: {check.problem}")
        with self._locked():
            lines = [json.loads(line) for _, line in self._lines()]
            anchor = max((d["seq"] for d in lines if d.get("action") == "purge"), default=None)
            due = [
                i
                for i, data in enumerate(lines)
                if not data.get("tombstone")
                and data["action"] != "genesis"
                and data["seq"] != anchor  # the current anchor always stays
                and dt.datetime.fromisoformat(data["tijdstip"]).date()
                < subtract_duration(as_of, data["bewaartermijn"])
            ]
            # Old purge entries go only along with other expired entries: otherwise every purge
            # would leave a new purge entry for the next one to remove, and a second run would
            # never change nothing.
            if all(lines[i].get("action") == "purge" for i in due):
                due = []
            for i in due:
                lines[i] = {k: lines[i][k] for k in ("seq", "prev", "hash")} | {"tombstone": True}
            expired = len(due)
            if not expired and not extra:
                return None
            tombstones = _compress([d["seq"] for d in lines if d.get("tombstone")])
            if expired:
                write_private(
                    self.path, "".join(json.dumps(data, ensure_ascii=False) + "\n" for data in lines)
                )
        entry = LogEntry.under(
            register,
            None,
            "purge",
            officer,
            role="privacy_officer",
            details={
                "as_of": as_of.isoformat(),
                "log_entries_removed": expired,
                "tombstones": tombstones,
                **(extra or {}),
            },
        )
        return self.append(entry)

    # -- export -----------------------------------------------------------------------------------
    def export_vng(self, from_: dt.date | None = None, to: dt.date | None = None) -> dict[str, Any]:
        """The log in the shape of VNG's Verwerkingenlogging API list response (``GET /verwerkingsacties``).

        Each result is a ``VerwerkingsactieUitgebreid``; knooppunt's own fields (seq, run id, code
        version, inputs, columns, row counts, justification) are kept under ``knooppunt``.
        """
        results = [_vng_action(e) for e in self.entries(from_, to)]
        return {"count": len(results), "next": None, "previous": None, "results": results}


def _vng_action(e: LogEntry) -> dict[str, Any]:
    objects = []
    for obj in e.objects:
        oid = str(uuid.uuid5(uuid.UUID(e.actie_id), f"{obj['soortObjectId']}:{obj['objectId']}"))
        item = {
            "url": f"urn:uuid:{oid}",
            "verwerktObjectId": oid,
            # VNG's enum has only "persoon": an address or establishment is logged as the
            # identifier through which the persons living or registered there were processed.
            "objecttype": "persoon",
            "soortObjectId": obj["soortObjectId"],
            "objectId": obj["objectId"],
        }
        if obj.get("betrokkenheid"):
            item["betrokkenheid"] = obj["betrokkenheid"]
        objects.append(item)
    action: dict[str, Any] = {
        "url": f"urn:uuid:{e.actie_id}",
        "actieId": e.actie_id,
        "actieNaam": ACTION_NAMES[e.action],
        "handelingNaam": e.action,
        "vertrouwelijkheid": e.vertrouwelijkheid,
        "bewaartermijn": e.bewaartermijn,
        "uitvoerder": e.uitvoerder,
        "systeem": f"{SYSTEM} {e.code_version}"[:242],
        "gebruiker": e.gebruiker[:40],
        "gegevensbron": ("knooppunt warehouse: " + ", ".join(sorted(e.inputs)))[:242]
        if e.inputs
        else "knooppunt warehouse",
        "tijdstip": e.tijdstip,
        "tijdstipRegistratie": e.tijdstip_registratie,
        "verwerkteObjecten": objects,
        "knooppunt": {
            "seq": e.seq,
            "verwerkingsactiviteit": e.purpose,
            "rol": e.role,
            "run_id": e.run_id,
            "code_version": e.code_version,
            "inputs": e.inputs,
            "output": e.output,
            "row_counts": e.row_counts,
            "justification": e.justification,
            "register_version": e.register_version,
            "register_fingerprint": e.register_fingerprint,
            "outcome": e.outcome,
            "reason": e.reason,
            "details": e.details,
        },
    }
    if e.purpose_id:
        action["verwerkingsactiviteitId"] = e.purpose_id
        action["verwerkingsactiviteitUrl"] = f"urn:uuid:{e.purpose_id}"
        action["verwerkingNaam"] = (e.purpose_name or e.purpose or "")[:242]
    return action


def _bound(value: dt.date | dt.datetime | None, *, start: bool) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    t = dt.time.min if start else dt.time.max
    return dt.datetime.combine(value, t, tzinfo=dt.UTC)


def _compress(seqs: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for s in seqs:
        if ranges and ranges[-1][1] == s - 1:
            ranges[-1][1] = s
        else:
            ranges.append([s, s])
    return ranges


def _expand(ranges: list[list[int]]) -> set[int]:
    return {s for lo, hi in ranges for s in range(lo, hi + 1)}
