"""Records the KvK readers produce (Handelsregister data is public; no personal-data masking)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# How complete a source's view of a vestiging is; a fuller view replaces a thinner one.
COMPLETENESS = {"zoeken": 1, "basisprofiel": 2, "vestigingsprofiel": 3, "bulk": 3}


@dataclass(frozen=True, slots=True)
class Onderneming:
    kvk_nummer: str
    naam: str | None
    rechtsvorm: str | None
    datum_aanvang: dt.date | None
    datum_einde: dt.date | None
    ref: str
    kind: str  # 'basisprofiel' or 'bulk'


@dataclass(frozen=True, slots=True)
class SbiActiviteit:
    sbi_code: str
    sbi_versie: str
    omschrijving: str | None
    is_hoofdactiviteit: bool
    sbi_versie_reden: str = (
        "delivered"  # why this version: delivered, or the inference rule (sources.kvk.sbi)
    )


@dataclass(frozen=True, slots=True)
class Vestiging:
    vestigingsnummer: str
    kvk_nummer: str
    eerste_handelsnaam: str | None
    is_hoofdvestiging: bool | None
    is_commercieel: bool | None
    datum_aanvang: dt.date | None
    datum_einde: dt.date | None
    straatnaam: str | None
    huisnummer: int | None
    huisletter: str | None
    huisnummertoevoeging: str | None
    postcode: str | None
    plaats: str | None
    nummeraanduiding_id: str | None
    verblijfsobject_id: str | None
    ref: str
    kind: str  # key of COMPLETENESS
    sbi: list[SbiActiviteit] = field(default_factory=list)


def kvk_date(value: object, what: str) -> dt.date | None:
    """A KvK date ``YYYYMMDD``; ``00000000``/empty -> None.

    An unknown month or day (``00``) gives the first day of the known period (``19900000`` ->
    1990-01-01): the registration started no earlier than that.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"bad {what} {text!r} (expected YYYYMMDD)")
    if text == "00000000":
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]) or 1, int(text[6:]) or 1)
    except ValueError:
        raise ValueError(f"bad {what} {text!r} (no such date)") from None


def ja_nee(value: object, what: str) -> bool | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    if text in ("ja", "true"):
        return True
    if text in ("nee", "false"):
        return False
    raise ValueError(f"bad {what} {str(value)!r} (expected Ja or Nee)")
