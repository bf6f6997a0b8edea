"""Reader for the KvK bulk file of establishments (CSV or Parquet, docs/FORMATS.md).

Also home of :func:`iter_table`, the row reader for our own tabular delivery formats (the
enforcement file uses it too).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from sources.addresses import (
    AddressError,
    normalise_bag_id,
    normalise_huisletter,
    normalise_huisnummer,
    normalise_postcode,
    normalise_toevoeging,
)
from sources.errors import Reject, SourceError
from sources.kvk.api import KVK_NUMMER_RE, VESTIGINGSNUMMER_RE
from sources.kvk.model import Onderneming, Vestiging, ja_nee, kvk_date
from sources.kvk.sbi import activities

COLUMNS = (
    "kvk_nummer",
    "vestigingsnummer",
    "naam",
    "rechtsvorm",
    "eerste_handelsnaam",
    "is_hoofdvestiging",
    "is_commercieel",
    "datum_aanvang",
    "datum_einde",
    "straatnaam",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "postcode",
    "plaats",
    "bag_nummeraanduiding_id",
    "bag_verblijfsobject_id",
    "sbi_codes",
    "sbi_versie",
)
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


def read_bulk(path: Path) -> Iterator[Onderneming | Vestiging | Reject]:
    """Per row: the onderneming (kvk_nummer, naam, rechtsvorm), then the vestiging or a reject."""
    file = path.name
    for ref, row in iter_table(path, COLUMNS):
        kvk_nummer = row["kvk_nummer"] or ""
        nummer = row["vestigingsnummer"] or ""
        if not VESTIGINGSNUMMER_RE.match(nummer):
            yield Reject(file, ref, f"malformed or missing vestigingsnummer {nummer!r} (expected 12 digits)")
            continue
        ref = f"{ref} vestiging {nummer}"
        if not KVK_NUMMER_RE.match(kvk_nummer):
            yield Reject(file, ref, f"malformed or missing kvk_nummer {kvk_nummer!r} (expected 8 digits)")
            continue
        if row["datum_aanvang"] is None:
            yield Reject(file, ref, "missing datum_aanvang")
            continue
        versie = row["sbi_versie"]
        if versie not in (None, "2008", "2025"):
            yield Reject(file, ref, f"bad sbi_versie {versie!r} (expected 2008, 2025 or empty)")
            continue
        try:
            vestiging = Vestiging(
                vestigingsnummer=nummer,
                kvk_nummer=kvk_nummer,
                eerste_handelsnaam=row["eerste_handelsnaam"],
                is_hoofdvestiging=ja_nee(row["is_hoofdvestiging"], "is_hoofdvestiging"),
                is_commercieel=ja_nee(row["is_commercieel"], "is_commercieel"),
                datum_aanvang=kvk_date(row["datum_aanvang"], "datum_aanvang"),
                datum_einde=kvk_date(row["datum_einde"], "datum_einde"),
                straatnaam=row["straatnaam"],
                huisnummer=normalise_huisnummer(row["huisnummer"]),
                huisletter=normalise_huisletter(row["huisletter"]),
                huisnummertoevoeging=normalise_toevoeging(row["huisnummertoevoeging"]),
                postcode=normalise_postcode(row["postcode"]),
                plaats=row["plaats"],
                nummeraanduiding_id=normalise_bag_id(
                    row["bag_nummeraanduiding_id"], "bag_nummeraanduiding_id"
                ),
                verblijfsobject_id=normalise_bag_id(row["bag_verblijfsobject_id"], "bag_verblijfsobject_id"),
                ref=ref,
                kind="bulk",
            )
        except (ValueError, AddressError) as exc:
            yield Reject(file, ref, str(exc))
            continue
        codes = [c.strip() for c in (row["sbi_codes"] or "").split("|")] if row["sbi_codes"] else []
        items = [(code, None, i == 0) for i, code in enumerate(codes)]
        sbi, rejects = activities(file, ref, items, versie)
        yield from rejects
        vestiging.sbi.extend(sbi)
        yield Onderneming(kvk_nummer, row["naam"], row["rechtsvorm"], None, None, ref, "bulk")
        yield vestiging
