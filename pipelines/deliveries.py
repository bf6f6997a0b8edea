"""The delivery lifecycle: which delivery a run loads per source, and the record of what was loaded.

A *delivery* is what one source delivered at one moment:

* BAG: one LVBAG extract zip. Its stand date is the Leveringsdocument's StandTechnischeDatum
  (else the ``DDMMYYYY`` in Kadaster's file name). The one chosen must pass
  :func:`sources.bag.delivery.check_extract` (complete zip, CRCs, all seven object zips,
  Leveringsdocument, sidecar checksum), or the run refuses it.
* BRP, KvK, enforcement: the files in the source's folder that share a delivery date: the date in
  the file name (``personen-20261101.csv``, ``2026-11-01``) when every file of the source has
  one, else the file's modification date (UTC). That date is the BRP peildatum / the KvK and
  enforcement file date.

Every delivery is identified by that date and the sha256 of its files. Per source a run loads
exactly one delivery, the newest, and never merges two (:func:`decide`):

* newest identical to the loaded one (same sha256s), or no delivery at all: ``skip`` (the tables
  stay; the signals are still recomputed);
* newest older than the loaded one: ``refuse`` (the run fails and changes nothing), unless
  ``force``, which loads it and records the override;
* two different BAG extracts with the same stand date, or an incomplete/partial newest extract:
  ``refuse``.

Files modified less than ``settle_seconds`` ago (landing folder only) are not picked up: they may
still be being written. The sensor additionally waits until sizes are stable between two
evaluations (``pipelines.sensors``).

What was loaded is recorded in ``meta.delivery`` (source, file, stand date, sha256, size, run id,
loaded_at, note). In the landing folder, processed deliveries (loaded, unchanged or superseded)
are moved to ``<landing>/archive/<run_id>/<folder>/`` once the run's generation is promoted
(:func:`archive`); a folder given with ``--data`` is left as it is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from sources.errors import SourceError

FOLDERS = {"bag": "bag", "brp": "brp", "kvk": "kvk", "enforcement": "handhaving"}
PATTERNS = {
    "bag": ("*.zip", "*.xml"),
    "brp": ("*.csv", "*.json"),
    "kvk": ("*.json", "*.csv", "*.parquet"),
    "enforcement": ("*.csv", "*.parquet"),
}
ARCHIVE = "archive"

DELIVERY_DDL = """CREATE TABLE IF NOT EXISTS meta.delivery (
    source VARCHAR, file VARCHAR, stand_date DATE, sha256 VARCHAR, size BIGINT,
    run_id VARCHAR, loaded_at TIMESTAMP, note VARCHAR)"""

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")
_DMY_DATE = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{4})(?!\d)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def date_in_name(name: str) -> dt.date | None:
    """``YYYYMMDD`` / ``YYYY-MM-DD`` in a file name, else Kadaster's ``DDMMYYYY``."""
    for pattern, order in ((_ISO_DATE, (0, 1, 2)), (_DMY_DATE, (2, 1, 0))):
        for m in pattern.finditer(name):
            year, month, day = (int(m.group(i + 1)) for i in order)
            if 1990 <= year <= 2100:
                try:
                    return dt.date(year, month, day)
                except ValueError:
                    continue
    return None


def _mtime_date(path: Path) -> dt.date:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()


@dataclass(frozen=True)
class DeliveryFile:
    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Delivery:
    source: str
    stand_date: dt.date
    files: tuple[DeliveryFile, ...]
    dated_by: str  # "leveringsdocument", "file name", "modification date"

    @property
    def fingerprint(self) -> tuple[str, ...]:
        return tuple(sorted(f.sha256 for f in self.files))

    @property
    def names(self) -> str:
        """The files, for messages: all of them up to three, else the first three and a count."""
        shown = ", ".join(f.path.name for f in self.files[:3])
        rest = len(self.files) - 3
        return f"{shown} and {rest} more file{'s' if rest > 1 else ''}" if rest > 0 else shown


@dataclass(frozen=True)
class Loaded:
    """The delivery of a source recorded in ``meta.delivery`` by the last run that loaded it."""

    stand_date: dt.date
    fingerprint: tuple[str, ...]
    run_id: str
    files: str


@dataclass
class Decision:
    source: str
    action: str  # "load" | "skip" | "refuse"
    reason: str
    delivery: Delivery | None = None
    processed: list[Path] = field(default_factory=list)  # to archive once the run is promoted
    note: str = ""  # recorded with the load (e.g. a forced older delivery)

    @property
    def files(self) -> list[Path]:
        return [f.path for f in self.delivery.files] if self.delivery else []


def _bag_stand(path: Path) -> tuple[dt.date, str]:
    """Stand date of an LVBAG zip without reading it all: Leveringsdocument, name, mtime."""
    import zipfile

    from sources.bag.delivery import LEVERINGSDOCUMENT
    from sources.bag.scanner import STAND_DATE

    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                is_doc = Path(info.filename).name.lower() == LEVERINGSDOCUMENT.lower()
                if is_doc and (m := STAND_DATE.search(zf.read(info))):
                    return dt.date.fromisoformat(m.group(1).decode()), "leveringsdocument"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        pass  # a damaged zip is refused by check_extract if it is the newest
    if named := date_in_name(path.name):
        return named, "file name"
    return _mtime_date(path), "modification date"


def scan(folder: Path, source: str, *, settle_seconds: float = 0) -> tuple[list[Delivery], list[Path]]:
    """The deliveries of ``source`` in ``folder`` (oldest first) and the files still settling."""
    if not folder.is_dir():
        return [], []
    now = time.time()
    paths = sorted({p for pattern in PATTERNS[source] for p in folder.glob(pattern) if p.is_file()})
    settling = [p for p in paths if settle_seconds and now - p.stat().st_mtime < settle_seconds]
    paths = [p for p in paths if p not in settling]
    groups: dict[tuple[dt.date, str, str], list[Path]] = {}
    # Dates in names count only when every file has one: a number in one file's name (a KvK
    # number such as 20150312) must not split a delivery whose other files carry no date.
    named = {p: date_in_name(p.name) for p in paths}
    by_name = all(named.values())
    for path in paths:
        if source == "bag" and path.suffix.lower() == ".zip":
            stand, how = _bag_stand(path)
            key = (stand, how, path.name)  # every extract zip is a delivery of its own
        elif source == "bag":
            key = (_mtime_date(path), "modification date", "loose XML")
        elif by_name:
            key = (named[path], "file name", "")
        else:
            key = (_mtime_date(path), "modification date", "")
        groups.setdefault(key, []).append(path)
    deliveries = [
        Delivery(
            source,
            stand,
            tuple(DeliveryFile(p, p.stat().st_size, sha256_of(p)) for p in files),
            how,
        )
        for (stand, how, _), files in groups.items()
    ]
    deliveries.sort(key=lambda d: (d.stand_date, [f.path.name for f in d.files]))
    return deliveries, settling


def loaded(con: duckdb.DuckDBPyConnection, source: str) -> Loaded | None:
    """What the warehouse holds for ``source`` according to ``meta.delivery``."""
    from privacy.sqltext import table_exists

    if not table_exists(con, "meta.delivery"):
        return None
    rows = con.execute(
        """SELECT stand_date, sha256, run_id, file FROM meta.delivery
           WHERE source = ?
             AND run_id = (SELECT arg_max(run_id, loaded_at) FROM meta.delivery WHERE source = ?)""",
        [source, source],
    ).fetchall()
    if not rows:
        return None
    return Loaded(
        stand_date=max(r[0] for r in rows),
        fingerprint=tuple(sorted(r[1] for r in rows if r[1])),
        run_id=rows[0][2],
        files=", ".join(sorted(r[3] for r in rows)),
    )


def decide(
    source: str,
    folder: Path,
    previous: Loaded | None,
    *,
    force: bool = False,
    settle_seconds: float = 0,
) -> Decision:
    """Which delivery of ``source`` to load from ``folder`` (see the module docstring)."""
    deliveries, settling = scan(folder, source, settle_seconds=settle_seconds)
    waiting = (
        f"; not picked up (still being written?): {', '.join(p.name for p in settling)}" if settling else ""
    )
    if not deliveries:
        if previous is None and source == "bag":
            archived = folder.parent / ARCHIVE
            hint = f" (processed deliveries were moved to {archived})" if archived.is_dir() else ""
            reason = f"no LVBAG delivery (*.zip) in {folder} and none loaded before{hint}{waiting}"
            return Decision(source, "refuse", reason)
        if previous is None:
            return Decision(
                source, "load", f"no delivery in {folder}; nothing loaded before: empty tables{waiting}"
            )
        return Decision(source, "skip", f"no new delivery in {folder}; keeping {previous.files}{waiting}")
    newest = deliveries[-1]
    superseded = [f.path for d in deliveries[:-1] for f in d.files]
    if source == "bag":
        twins = [
            d
            for d in deliveries[:-1]
            if d.stand_date == newest.stand_date and d.fingerprint != newest.fingerprint
        ]
        if twins:
            return Decision(
                source,
                "refuse",
                f"two different LVBAG deliveries with stand date {newest.stand_date}: "
                f"{twins[-1].names} and {newest.names}; remove the wrong one",
                newest,
            )
        if len(newest.files) != 1 or newest.files[0].path.suffix.lower() != ".zip":
            return Decision(
                source,
                "refuse",
                f"{newest.names} in {folder} is not a complete LVBAG extract zip; a partial delivery can "
                "only be loaded by an operator: knooppunt ingest bag PATH --partial",
                newest,
            )
    older = (
        f"{', '.join(d.names for d in deliveries[:-1])} superseded by {newest.names}; " if superseded else ""
    )
    if previous is not None and newest.fingerprint == previous.fingerprint:
        return Decision(
            source,
            "skip",
            f"{older}{newest.names} is the delivery already loaded (run {previous.run_id}); "
            f"tables kept{waiting}",
            newest,
            processed=[*superseded, *(f.path for f in newest.files)],
        )
    if source == "bag":
        from sources.bag.delivery import check_extract

        try:
            check_extract(newest.files[0].path)
        except SourceError as exc:
            return Decision(source, "refuse", f"{exc}; nothing loaded", newest)
    note = ""
    if previous is not None and newest.stand_date < previous.stand_date:
        message = (
            f"{newest.names} ({newest.stand_date}) is older than the loaded delivery "
            f"{previous.files} ({previous.stand_date})"
        )
        if not force:
            return Decision(source, "refuse", f"{message}; refused (reload it with --force)", newest)
        note = f"forced: {message}"
    return Decision(
        source,
        "load",
        f"{older}loading {newest.names} ({newest.dated_by} {newest.stand_date}){waiting}",
        newest,
        processed=[*superseded, *(f.path for f in newest.files)],
        note=note,
    )


def record(
    con: duckdb.DuckDBPyConnection, decision: Decision, run_id: str, *, stand_date: dt.date | None = None
) -> None:
    """Add the loaded delivery of ``decision`` to ``meta.delivery`` (in the caller's transaction)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(DELIVERY_DDL)
    stand = stand_date or (decision.delivery.stand_date if decision.delivery else None)
    rows = (
        [(f.path.name, f.sha256, f.size) for f in decision.delivery.files]
        if decision.delivery
        else [("", "", 0)]
    )
    for name, sha, size in rows:
        con.execute(
            "INSERT INTO meta.delivery VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
            [decision.source, name, stand, sha, size, run_id, decision.note or None],
        )


def refuse(decision: Decision) -> SourceError:
    return SourceError(decision.source, decision.reason)


def plan_archive(generation, landing: Path, decision: Decision) -> None:
    """Add ``decision``'s processed files to the generation's archive plan (moved by ``finish``)."""
    import json

    from pipelines.generation import ARCHIVE_PLAN

    path = generation.db_dir / ARCHIVE_PLAN
    plan = json.loads(path.read_text()) if path.exists() else {"landing": str(landing.resolve()), "files": {}}
    plan["files"][FOLDERS[decision.source]] = [str(p.resolve()) for p in decision.processed]
    path.write_text(json.dumps(plan, indent=2) + "\n")


def archive(plan: dict, run_id: str) -> list[str]:
    """Move the files a promoted run processed to ``<landing>/archive/<run_id>/<folder>/``.

    Returns the files that could not be moved, with the reason.
    """
    landing = Path(plan["landing"])
    problems = []
    for folder, paths in plan["files"].items():
        target = landing / ARCHIVE / run_id / folder
        for name in paths:
            path = Path(name)
            for file in (path, *(path.with_name(f"{path.name}.{s}") for s in ("sha256", "md5"))):
                if file.exists():
                    try:
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.move(str(file), target / file.name)
                    except OSError as exc:
                        problems.append(f"{file}: not archived ({exc})")
    return problems
