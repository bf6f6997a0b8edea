"""Row reader for our own tabular delivery formats (KvK bulk file, enforcement cases).

CSV (UTF-8, ``,``, header row, RFC 4180 quoting) or Parquet with the same column names; see
docs/FORMATS.md.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from sources.errors import SourceError

Row = dict[str, str | None]


def iter_table(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, Row]]:
    """(record ref, row) per data row of a CSV (UTF-8, ``,``, header) or Parquet file.

    Values are stripped strings or None. A missing column, an undecodable byte or a broken
    file raises :class:`SourceError`.
    """
    file = path.name
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _iter_csv(path, columns)
    elif suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise SourceError(file, f"unreadable Parquet file: {exc}") from None
        _check_columns(file, parquet.schema_arrow.names, columns)
        row_number = 0
        for batch in parquet.iter_batches(columns=list(columns)):
            for row in batch.to_pylist():
                row_number += 1
                yield f"row {row_number}", {k: _clean(v) for k, v in row.items()}
    else:
        raise SourceError(file, f"unsupported file type {suffix!r} (expected .csv or .parquet)")


def _iter_csv(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, Row]]:
    file = path.name
    with path.open(encoding="utf-8-sig", errors="strict", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader, [])]
            _check_columns(file, header, columns)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise SourceError(
                        file,
                        f"{len(row)} cells where the header has {len(header)}",
                        f"line {reader.line_num}",
                    )
                values = dict(zip(header, row, strict=True))
                yield f"line {reader.line_num}", {c: _clean(values[c]) for c in columns}
        except UnicodeDecodeError:
            raise SourceError(file, "not valid UTF-8", f"after line {reader.line_num}") from None
        except csv.Error as exc:
            raise SourceError(file, f"unreadable CSV: {exc}", f"line {reader.line_num}") from None


def _check_columns(file: str, found: list[str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in found]
    if missing:
        raise SourceError(file, f"missing column(s) {', '.join(missing)}", "header")


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
