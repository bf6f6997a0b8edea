"""The person record both BRP readers produce, before pseudonymisation.

It holds direct identifiers (BSN, names, birth date): it only lives in memory between a reader and
ingest, which splits it into the pseudonymised ``brp.persoon`` row and the identity-store row.
Never log or print one; ``repr`` is masked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A BRP date whose month and/or day may be unknown (LO3 ``00``, Haal Centraal JaarDatum)."""

    year: int | None
    month: int | None = None
    day: int | None = None

    def as_date(self) -> dt.date | None:
        """The full date, or None when any part is unknown."""
        if self.year and self.month and self.day:
            return dt.date(self.year, self.month, self.day)
        return None

    def age_range(self, on: dt.date) -> tuple[int, int] | None:
        """(youngest, oldest) possible age in whole years on ``on``; None if the year is unknown."""
        if not self.year:
            return None
        months = [self.month] if self.month else list(range(1, 13))
        ages = []
        for month in months:
            if self.day:
                days = [self.day]
            else:
                days = [1, 31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2 else 28]
            for day in days:
                had_birthday = (on.month, on.day) >= (month, day)
                ages.append(on.year - self.year - (0 if had_birthday else 1))
        return min(ages), max(ages)


@dataclass(frozen=True, slots=True, repr=False)
class Relation:
    relatie: str  # 'ouder', 'partner', 'kind'
    bsn: str | None  # None when the BRP holds no BSN for the related person
    ref: str  # where in the delivery, e.g. 'line 12 category 09 stapel 1'

    def __repr__(self) -> str:
        return f"Relation({self.relatie!r}, ref={self.ref!r})"


@dataclass(frozen=True, slots=True, repr=False)
class BrpPerson:
    ref: str  # file position, e.g. 'line 3' or 'personen[2]': never an identifier
    bsn: str
    voornamen: str | None
    voorvoegsel: str | None
    geslachtsnaam: str | None
    geboortedatum: PartialDate | None
    geslacht: str | None
    overleden: bool
    gemeente_van_inschrijving: str | None
    verblijfsobject_id: str | None
    nummeraanduiding_id: str | None
    postcode: str | None
    huisnummer: int | None
    huisletter: str | None
    huisnummertoevoeging: str | None
    datum_aanvang_adreshouding: dt.date | None
    adres_in_onderzoek: bool
    bron: str  # 'lo3' or 'haal_centraal'
    leeftijd_geleverd: int | None = None  # Haal Centraal's own leeftijd (on the query date)
    relaties: list[Relation] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"BrpPerson(ref={self.ref!r}, bron={self.bron!r})"


def leeftijd(person: BrpPerson, peildatum: dt.date) -> tuple[int | None, bool | None]:
    """(leeftijd, meerderjarig) on ``peildatum``.

    With a partial birth date the age is given when every possible birth date yields the same age;
    ``meerderjarig`` is given when every possible age is on the same side of 18. Without a usable
    birth date, Haal Centraal's delivered ``leeftijd`` is used when present.
    """
    rng = person.geboortedatum.age_range(peildatum) if person.geboortedatum else None
    if rng is None:
        if person.leeftijd_geleverd is None:
            return None, None
        return person.leeftijd_geleverd, person.leeftijd_geleverd >= 18
    low, high = rng
    if high < 0:  # born after a peildatum in the past: the person had no age on that day
        return None, None
    age = low if low == high else None
    adult = True if low >= 18 else False if high < 18 else None
    return age, adult
