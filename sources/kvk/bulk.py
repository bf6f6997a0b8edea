"""Reader for the KvK bulk file of establishments (CSV or Parquet, docs/FORMATS.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sources.addresses import (
    AddressError,
    normalise_bag_id,
    normalise_huisletter,
    normalise_huisnummer,
    normalise_postcode,
    normalise_toevoeging,
)
from sources.errors import Reject
from sources.kvk.api import KVK_NUMMER_RE, VESTIGINGSNUMMER_RE
from sources.kvk.model import Onderneming, Vestiging, ja_nee, kvk_date
from sources.kvk.sbi import activities
from sources.tabular import iter_table, text_problem

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
        if problem := text_problem(row):
            yield Reject(file, ref, problem)
            continue
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
