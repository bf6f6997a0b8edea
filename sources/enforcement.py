"""Reader for enforcement and incident cases (``handhaving``; CSV or Parquet, docs/FORMATS.md).

These are criminal-law-like data (AVG art. 10): the format carries no names, BSNs or narrative,
and rejects name a case by its position and ``zaak_id`` only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sources.addresses import AddressError, normalise_bag_id, parse_address
from sources.errors import Reject
from sources.fields import not_in_future
from sources.tabular import iter_table, text_problem

COLUMNS = (
    "zaak_id",
    "instrument",
    "datum_start",
    "datum_einde",
    "status",
    "team",
    "bag_nummeraanduiding_id",
    "bag_verblijfsobject_id",
    "adres",
)
INSTRUMENTS = frozenset(
    {
        "opiumwet_13b",
        "wet_victor",
        "last_onder_dwangsom",
        "bestuurlijke_boete",
        "apv",
        "bibob_advies",
        "gemeentewet_174a",
        "agressie_incident",
    }
)
STATUSES = frozenset({"open", "lopend", "afgerond", "ingetrokken"})


@dataclass(frozen=True, slots=True)
class Zaak:
    zaak_id: str
    instrument: str
    datum_start: dt.date
    datum_einde: dt.date | None
    status: str
    team: str | None
    nummeraanduiding_id: str | None
    verblijfsobject_id: str | None
    postcode: str | None  # parsed from ``adres`` when no BAG id is delivered
    huisnummer: int | None
    huisletter: str | None
    huisnummertoevoeging: str | None
    ref: str


def iso_date(value: str | None, what: str) -> dt.date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad {what} {value!r} (expected YYYY-MM-DD)") from None


def read_enforcement(path: Path) -> Iterator[Zaak | Reject]:
    file = path.name
    for ref, row in iter_table(path, COLUMNS):
        zaak_id = row["zaak_id"]
        if zaak_id is None:
            yield Reject(file, ref, "missing zaak_id")
            continue
        if problem := text_problem(row):
            yield Reject(file, ref, problem)
            continue
        ref = f"{ref} zaak {zaak_id}"
        missing = [c for c in ("instrument", "datum_start", "status") if row[c] is None]
        if missing:
            yield Reject(file, ref, f"missing required field(s) {', '.join(missing)}")
            continue
        if row["instrument"] not in INSTRUMENTS:
            yield Reject(file, ref, f"unknown instrument {row['instrument']!r}")
            continue
        if row["status"] not in STATUSES:
            yield Reject(file, ref, f"unknown status {row['status']!r}")
            continue
        try:
            start = not_in_future(iso_date(row["datum_start"], "datum_start"), "datum_start")
            einde = iso_date(row["datum_einde"], "datum_einde")
            if einde is not None and start is not None and einde < start:
                raise ValueError(f"datum_einde {einde} before datum_start {start}")
            num = normalise_bag_id(row["bag_nummeraanduiding_id"], "bag_nummeraanduiding_id")
            vbo = normalise_bag_id(row["bag_verblijfsobject_id"], "bag_verblijfsobject_id")
            if num is None and vbo is None and row["adres"] is None:
                raise ValueError("no address: give bag_nummeraanduiding_id, bag_verblijfsobject_id or adres")
        except ValueError as exc:
            yield Reject(file, ref, str(exc))
            continue
        parsed = None
        if num is None and vbo is None:
            try:
                parsed = parse_address(row["adres"] or "")
            except AddressError as exc:
                yield Reject(file, ref, f"adres: {exc}")
                continue
        assert start is not None
        yield Zaak(
            zaak_id=zaak_id,
            instrument=row["instrument"],
            datum_start=start,
            datum_einde=einde,
            status=row["status"],
            team=row["team"],
            nummeraanduiding_id=num,
            verblijfsobject_id=vbo,
            postcode=parsed.postcode if parsed else None,
            huisnummer=parsed.huisnummer if parsed else None,
            huisletter=parsed.huisletter if parsed else None,
            huisnummertoevoeging=parsed.huisnummertoevoeging if parsed else None,
            ref=ref,
        )
