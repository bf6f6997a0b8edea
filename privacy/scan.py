"""Find plain BSNs where none may be: the warehouse, logs, exports and Dagster's event storage.

A *BSN-like value* is a run of exactly nine digits that passes the elfproef and stands alone: not
part of a longer number (BAG ids have 16 digits, vestigingsnummers 12), not glued to letters
(pseudonyms are ``P`` + hex and may contain nine digits in a row) and not the decimals of a
number (``155000.123456789``). A BSN glued to letters (``bsn999990019``) is therefore not found:
the scanner looks for values, not for every conceivable spelling.

Scanned per file type: DuckDB databases (every column of every table, except geometry, blob and
floating-point columns), SQLite databases (Dagster's run and event storage), Parquet files, and any
other file that is text (JSON Lines logs, JSON, CSV, HTML, Markdown, ...). Other binary files are
skipped and reported in :func:`find_plain_bsns`'s ``skipped`` list.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.bsn import is_valid_bsn

CANDIDATE = re.compile(r"(?<![\w.,])\d{9}(?![\w]|[.,]\d)")
DUCKDB_MAGIC = b"DUCK"
SQLITE_MAGIC = b"SQLite format 3\x00"
PARQUET_MAGIC = b"PAR1"
SKIPPED_TYPES = ("GEOMETRY", "BLOB", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
INTEGER_TYPES = ("INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")


@dataclass(frozen=True)
class Finding:
    path: str
    location: str  # "schema.table.column" or "line N"
    masked: str  # the first three digits and the length, never the BSN itself: "999******"

    def __str__(self) -> str:
        return f"{self.path}: {self.location}: BSN-like value {self.masked}"


def bsns_in_text(text: str) -> list[str]:
    """The BSN-like values in a string (see the module docstring for what counts)."""
    return [m for m in CANDIDATE.findall(text) if is_valid_bsn(m)]


# Nine digits, possibly split by separators people type (999-99-0019, 999.990.019, 999 99 0019,
# bsn_999990019), for free-text fields where nothing but a case number or a street belongs.
SPELLED = re.compile(r"\d(?:[\s.\-_/:,]*\d)*")


def looks_like_bsn(text: str) -> bool:
    """Whether free text holds a BSN in any spelling, for what officers type.

    Stricter than :func:`bsns_in_text` (which looks for values in data): consecutive groups of
    digits, split by separators, that together make nine digits passing the elfproef, glued to
    letters or not. A longer unbroken number (a 16-digit BAG id) is not split up.
    """
    for match in SPELLED.finditer(text):
        groups = re.findall(r"\d+", match.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) >= 9:
                    break
            if len(digits) == 9 and is_valid_bsn(digits):
                return True
    return False


def mask(bsn: str) -> str:
    return bsn[:3] + "*" * (len(bsn) - 3)


def find_plain_bsns(paths: Iterable[str | Path], skipped: list[str] | None = None) -> list[Finding]:
    """Every BSN-like value in the given files and folders (folders are searched recursively).

    ``skipped`` (optional) collects binary files that were not scanned.
    """
    findings: list[Finding] = []
    for path in _files(paths):
        kind = _kind(path)
        if kind == "duckdb":
            findings.extend(_scan_duckdb(path))
        elif kind == "sqlite":
            findings.extend(_scan_sqlite(path))
        elif kind == "parquet":
            findings.extend(_scan_parquet(path))
        elif kind == "text":
            findings.extend(_scan_text(path))
        elif skipped is not None:
            skipped.append(str(path))
    return findings


def _files(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".wal"))
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"cannot scan {path}: no such file or folder")


def _kind(path: Path) -> str:
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head[8:12] == DUCKDB_MAGIC:
        return "duckdb"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if b"\x00" in head:
        return "binary"
    return "text"


def _scan_text(path: Path) -> Iterator[Finding]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            for bsn in bsns_in_text(line):
                yield Finding(str(path), f"line {number}", mask(bsn))


def _scan_duckdb(path: Path) -> Iterator[Finding]:
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
    try:
        con.execute(f"ATTACH '{path}' AS scanned (READ_ONLY)")
        columns = con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = 'scanned' ORDER BY ALL"
        ).fetchall()
        for schema, table, column, data_type in columns:
            qualified = f'scanned."{schema}"."{table}"'
            yield from _scan_column(con, str(path), qualified, f"{schema}.{table}", column, data_type)
    finally:
        con.close()


def _scan_parquet(path: Path) -> Iterator[Finding]:
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"CREATE VIEW scanned AS SELECT * FROM read_parquet('{path}')")
        for column, data_type in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'scanned'"
        ).fetchall():
            yield from _scan_column(con, str(path), "scanned", "parquet", column, data_type)
    finally:
        con.close()


def _scan_column(
    con: duckdb.DuckDBPyConnection, path: str, qualified: str, label: str, column: str, data_type: str
) -> Iterator[Finding]:
    if data_type.upper().startswith(SKIPPED_TYPES):
        return
    quoted = '"' + column.replace('"', '""') + '"'
    if data_type.upper() in INTEGER_TYPES:
        query = (
            f"SELECT DISTINCT CAST({quoted} AS VARCHAR) FROM {qualified} "
            f"WHERE {quoted} BETWEEN 100000000 AND 999999999"
        )
    else:
        query = (
            f"SELECT DISTINCT CAST({quoted} AS VARCHAR) AS v FROM {qualified} "
            f"WHERE regexp_matches(CAST({quoted} AS VARCHAR), '[0-9]{{9}}')"
        )
    for (value,) in con.execute(query).fetchall():
        for bsn in bsns_in_text(value):
            yield Finding(path, f"{label}.{column}", mask(bsn))


def _scan_sqlite(path: Path) -> Iterator[Finding]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            quoted_table = '"' + table.replace('"', '""') + '"'
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({quoted_table})")]
            for column in columns:
                quoted = '"' + column.replace('"', '""') + '"'
                rows = con.execute(
                    f"SELECT DISTINCT CAST({quoted} AS TEXT) FROM {quoted_table} "
                    f"WHERE CAST({quoted} AS TEXT) GLOB '*[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*'"
                )
                for (value,) in rows:
                    for bsn in bsns_in_text(value or ""):
                        yield Finding(str(path), f"{table}.{column}", mask(bsn))
    finally:
        con.close()
