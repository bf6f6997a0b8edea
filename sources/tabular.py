"""Row reader for our own tabular delivery formats (KvK bulk file, enforcement cases).

CSV (UTF-8, ``,``, header row, RFC 4180 quoting) or Parquet with the same column names; see
docs/FORMATS.md.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

from sources.errors import SourceError
from sources.fields import FieldError, text

Row = dict[str, str | None]
MAX_LINE_BYTES = 1 << 20  # one CSV line (record) longer than this refuses the file
_BOM = b"\xef\xbb\xbf"


def decoded_lines(fh: BinaryIO, file: str, hint: str = "") -> Iterator[str]:
    """The lines of a binary file decoded as UTF-8 (a BOM dropped), for :func:`csv.reader`.

    Decoding line by line names the physical line of an undecodable byte exactly (a text-mode
    file decodes ahead in blocks, so its errors point past the line). A line longer than
    :data:`MAX_LINE_BYTES` is refused without reading it whole.
    """
    number = 0
    while raw := fh.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise SourceError(
                file, f"line longer than {MAX_LINE_BYTES:,} bytes (limit per record)", f"line {number}"
            )
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f" ({hint})" if hint else ""
            raise SourceError(
                file,
                f"not valid UTF-8: byte {exc.start + 1} of the line cannot be decoded{detail}",
                f"line {number}",
            ) from None


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
    with path.open("rb") as fh:
        reader = csv.reader(decoded_lines(fh, file))
        try:
            first = next(reader, None)
            if first is None:
                raise SourceError(file, "empty file: no header row")
            header = [h.strip() for h in first]
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
        except csv.Error as exc:
            raise SourceError(file, f"unreadable CSV: {exc}", f"line {reader.line_num}") from None


def _check_columns(file: str, found: list[str], columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in found]
    if missing and len(found) == 1 and ";" in found[0]:
        raise SourceError(
            file,
            "the header is separated by ';' but this format is ','-separated (see docs/FORMATS.md)",
            "header",
        )
    if missing:
        raise SourceError(file, f"missing column(s) {', '.join(missing)}", "header")


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def text_problem(row: Row) -> str | None:
    """Why a row's text breaks the field rules (:func:`sources.fields.text`), or None."""
    try:
        for column, value in row.items():
            text(value, column)
    except FieldError as exc:
        return str(exc)
    return None
