"""Apply LVBAG daily mutation deliveries on top of the loaded BAG stand (see docs/BAG.md).

:func:`apply_bag_mutations` takes one mutation file or a folder of them, reads each
(``sources.bag.mutations``) in MutatiedatumVanaf order and applies each in its own
transaction (``sources.bag.apply``): a file that does not fit (a gap, out of order, a ``was`` that
is not in the loaded BAG) raises ``SourceError`` and leaves the tables as the files before it left
them. ``rejects.bag`` keeps the stand's record rejects, gets each file's invalid records, and its
duplicate-current-voorkomen rows are replaced by those of the new day.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from assets.ingest.common import REJECTS_DDL, IngestReport
from pipelines.warehouse import Warehouse
from sources.bag.apply import ApplyStats, apply_into
from sources.bag.load import DUPLICATE_REASON
from sources.bag.mutations import mutation_period, read_mutations
from sources.errors import Reject, SourceError


def mutation_files(path: Path) -> list[Path]:
    """The mutation files at ``path``: the file itself, or the ``*.zip``/``*.xml`` in a folder."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".zip", ".xml") and p.is_file())
        if not files:
            raise SourceError(str(path), "no mutation files (*.zip, *.xml) in the folder")
        return [
            p
            for p in files
            if not p.name.startswith(".") and not p.name.lower().startswith("leveringsdocument")
        ]
    if not path.is_file():
        raise SourceError(str(path), "no such file or folder")
    return [path]


def _update_rejects(con: duckdb.DuckDBPyConnection, stats: ApplyStats) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS rejects")
    con.execute(REJECTS_DDL.format(source="bag"))
    con.execute("DELETE FROM rejects.bag WHERE starts_with(reason, ?)", [DUPLICATE_REASON])
    rows: list[Reject] = [*stats.rejects, *stats.duplicates]
    if rows:
        con.executemany(
            "INSERT INTO rejects.bag VALUES (?, ?, ?, now()::TIMESTAMP)",
            [(r.source_file, r.record_ref, r.reason) for r in rows],
        )


def apply_bag_mutations(warehouse: Warehouse, path: Path) -> IngestReport:
    """Apply the mutation file(s) at ``path`` in date order; one transaction per file.

    ``objects`` in the report counts the current objects per type after the last file;
    ``extra`` lists the files applied and skipped (already applied) and the mutations by kind.
    """
    started = time.perf_counter()
    # Ordered by their headers; each file is read just before it is applied (memory: one file).
    files = sorted(mutation_files(Path(path)), key=lambda p: (*mutation_period(p), p.name))
    applied: list[str] = []
    skipped: list[str] = []
    counts = {"toevoeging": 0, "wijziging": 0, "verwijdering": 0}
    current: dict[str, int] = {}
    rejects = 0
    xml_bytes = 0
    as_of = ""
    for file in files:
        delivery = read_mutations(file)
        xml_bytes += delivery.xml_bytes
        with warehouse.transaction() as con:
            stats = apply_into(con, delivery)
            if stats.applied:
                _update_rejects(con, stats)
        if not stats.applied:
            skipped.append(delivery.name)
            continue
        applied.append(delivery.name)
        as_of = str(delivery.tot)
        current = stats.current
        rejects += len(stats.rejects)
        for kind, n in stats.counts.items():
            counts[kind] += n
    return IngestReport(
        objects=current,
        rejects=rejects,
        seconds=time.perf_counter() - started,
        bytes=xml_bytes,
        extra={
            "applied": ",".join(applied),
            "skipped_already_applied": ",".join(skipped),
            "as_of": as_of,
            **counts,
        },
    )
