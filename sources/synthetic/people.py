"""Synthetic persons and households, written as LO3 rows of the GBA-V test-set layout.

Families are built within one street: parents (02/03), partner (05) and children (09) refer to
each other by BSN both ways. Parents who do not live in the municipality appear by name only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sources.synthetic import lo3, names
from sources.synthetic.identifiers import GEMEENTECODE, ANummers, BsnPool
from sources.synthetic.model import Unit

BIRTH_MUNICIPALITIES = ["0363", "0599", "0518", "0344", "0034", GEMEENTECODE]


def ymd(d: date) -> str:
    return d.isoformat().replace("-", "")


_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december")  # fmt: skip
_GESLACHT = {"M": "man", "V": "vrouw"}


@dataclass(slots=True, eq=False)
class Person:
    bsn: str | None  # None: a parent outside the municipality, known by name only
    a_nummer: str | None
    voornamen: str
    voorvoegsel: str
    geslachtsnaam: str
    geboren: date
    geslacht: str
    unit: Unit | None = None
    # Address as delivered when it is not a generated unit (planted "not in BAG").
    address_override: dict[str, str] | None = None
    sinds: date | None = None
    parents: list[Person] = field(default_factory=list)
    partner: Person | None = None
    partner_sinds: date | None = None
    children: list[Person] = field(default_factory=list)


class People:
    """Creates persons with identifiers from the shared pools."""

    def __init__(self, stand: date, bsns: BsnPool, a_nummers: ANummers):
        self.stand = stand
        self.bsns = bsns
        self.a_nummers = a_nummers

    def birth(self, rng: random.Random, age: int) -> date:
        """A birth date giving exactly ``age`` completed years on the stand date (never near a birthday)."""
        return self.stand - timedelta(days=int(age * 365.25) + rng.randint(20, 340))

    def person(
        self,
        rng: random.Random,
        age: int,
        geslacht: str | None = None,
        family: tuple[str, str] | None = None,
        planted: bool = False,
    ) -> Person:
        geslacht = geslacht or rng.choice("MV")
        voorvoegsel, naam = family or names.surname(rng)
        return Person(
            bsn=self.bsns.planted() if planted else self.bsns.background(),
            a_nummer=self.a_nummers.new(),
            voornamen=names.first_name(rng, geslacht),
            voorvoegsel=voorvoegsel,
            geslachtsnaam=naam,
            geboren=self.birth(rng, age),
            geslacht=geslacht,
        )

    def outside_parent(
        self, rng: random.Random, child: Person, geslacht: str, family: tuple[str, str]
    ) -> Person:
        geboren = child.geboren - timedelta(days=int(rng.randint(22, 38) * 365.25) + rng.randint(0, 300))
        return Person(None, None, names.first_name(rng, geslacht), family[0], family[1], geboren, geslacht)

    def move_in(
        self, rng: random.Random, persons: list[Person], unit: Unit | None, earliest: date | None = None
    ) -> None:
        """Register ``persons`` at ``unit`` from one common date (after the youngest was born)."""
        youngest = max(p.geboren for p in persons)
        start = max(youngest, earliest or youngest, self.stand - timedelta(days=30 * 365))
        latest = self.stand - timedelta(days=40)
        span = max(0, (latest - start).days)
        sinds = start + timedelta(days=rng.randint(0, span)) if span else start
        for p in persons:
            p.unit = unit
            p.sinds = max(sinds, p.geboren)

    def couple(self, rng: random.Random, age: int, planted: bool = False) -> tuple[Person, Person]:
        man = self.person(rng, age, "M", planted=planted)
        vrouw = self.person(rng, max(19, age + rng.randint(-4, 3)), "V", planted=planted)
        if rng.random() < 0.7:  # married or registered partners; otherwise just living together
            youngest = max(man.geboren, vrouw.geboren)
            earliest = youngest + timedelta(days=int(20 * 365.25))
            days = max(1, (self.stand - timedelta(days=60) - earliest).days)
            since = earliest + timedelta(days=rng.randint(0, days))
            marry(man, vrouw, since)
        return man, vrouw

    def children_of(
        self, rng: random.Random, parents: list[Person], count: int, max_age: int, planted: bool = False
    ) -> list[Person]:
        youngest_parent = min(self.age(p) for p in parents)
        father = next((p for p in parents if p.geslacht == "M"), parents[0])
        kids = []
        for _ in range(count):
            age = rng.randint(0, max(0, min(max_age, youngest_parent - 20)))
            kid = self.person(rng, age, family=(father.voorvoegsel, father.geslachtsnaam), planted=planted)
            link_parents(kid, parents)
            kids.append(kid)
        return kids

    def age(self, p: Person) -> int:
        years = self.stand.year - p.geboren.year
        if (self.stand.month, self.stand.day) < (p.geboren.month, p.geboren.day):
            years -= 1
        return years

    def household(self, rng: random.Random, unit: Unit) -> list[Person]:
        """An ordinary household sized to the dwelling: never more than 3 adults, and at least
        15 m2 per adult, so that background data cannot look overcrowded."""
        max_adults = min(3, unit.oppervlakte // 15)
        r = rng.random()
        if r < 0.05 or max_adults < 1:
            return []
        if r < 0.38 or max_adults < 2:
            members = [self.person(rng, rng.randint(19, 90))]
        elif r < 0.62:
            members = list(self.couple(rng, rng.randint(25, 85)))
        elif r < 0.86:
            parents = list(self.couple(rng, rng.randint(28, 55)))
            members = parents + self.children_of(rng, parents, rng.randint(1, 3), 16)
        elif r < 0.93:
            parent = self.person(rng, rng.randint(26, 55))
            members = [parent, *self.children_of(rng, [parent], rng.randint(1, 2), 16)]
        elif max_adults >= 3:
            parents = list(self.couple(rng, rng.randint(45, 60)))
            kids = self.children_of(rng, parents, 1, 25)
            kids[0].geboren = min(kids[0].geboren, self.birth(rng, 19))  # an adult child living at home
            members = parents + kids
        else:
            members = list(self.couple(rng, rng.randint(25, 85)))
        self.move_in(rng, members, unit)
        return members

    def add_outside_parents(self, rng: random.Random, persons: list[Person]) -> None:
        """Give everyone without parents in the municipality two name-only parents."""
        for p in persons:
            if not p.parents:
                fam = (p.voorvoegsel, p.geslachtsnaam)
                p.parents = [
                    self.outside_parent(rng, p, "V", names.surname(rng)),
                    self.outside_parent(rng, p, "M", fam),
                ]
            elif len(p.parents) == 1:
                other = "M" if p.parents[0].geslacht == "V" else "V"
                p.parents.append(self.outside_parent(rng, p, other, names.surname(rng)))


def marry(a: Person, b: Person, since: date) -> None:
    a.partner, b.partner = b, a
    a.partner_sinds = b.partner_sinds = since


def link_parents(child: Person, parents: list[Person]) -> None:
    for parent in parents:
        child.parents.append(parent)
        parent.children.append(child)


def _related(f: list[str], prefix: str, p: Person) -> None:
    ix = _IX
    f[ix[prefix + ".02.10"]] = p.voornamen
    f[ix[prefix + ".02.30"]] = p.voorvoegsel
    f[ix[prefix + ".02.40"]] = p.geslachtsnaam
    f[ix[prefix + ".03.10"]] = ymd(p.geboren)
    f[ix[prefix + ".03.30"]] = "6030"
    if p.bsn:
        f[ix[prefix + ".01.10"]] = p.a_nummer or ""
        f[ix[prefix + ".01.20"]] = p.bsn


def _document(f: list[str], prefix: str, on: str, kind: str = "PK") -> None:
    ix = _IX
    f[ix[prefix + ".82.10"]] = GEMEENTECODE
    f[ix[prefix + ".82.20"]] = on
    f[ix[prefix + ".82.30"]] = kind
    f[ix[prefix + ".85.10"]] = on
    f[ix[prefix + ".86.10"]] = on


_IX = lo3.INDEX
_STATIC = {
    "01.03.20": GEMEENTECODE, "01.03.30": "6030", "01.61.10": "E", "04.05.10": "0001", "04.63.10": "001",
    "07.70.10": "0", "08.09.10": GEMEENTECODE, "08.10.10": "W", "08.72.10": "I",
}  # fmt: skip
_BLANK = [""] * len(lo3.HEADER)
for _code, _value in _STATIC.items():
    _BLANK[_IX[_code]] = _value


def lo3_rows(label: str, p: Person, street_name: str, woonplaats: str, address: dict[str, str]) -> list[str]:
    """The LO3 rows of one persoonslijst. ``address`` holds the 08.11.xx values of the residence."""
    ix = _IX
    f = _BLANK.copy()
    f[0] = label
    born = ymd(p.geboren)
    since = ymd(p.sinds or p.geboren)
    f[ix["01.01.10"]] = p.a_nummer or ""
    f[ix["01.01.20"]] = p.bsn or ""
    f[ix["01.02.10"]] = p.voornamen
    f[ix["01.02.30"]] = p.voorvoegsel
    f[ix["01.02.40"]] = p.geslachtsnaam
    f[ix["01.03.10"]] = born
    f[ix["01.04.10"]] = p.geslacht
    _document(f, "01", born)
    for code in ("04.85.10", "04.86.10", "07.68.10"):
        f[ix[code]] = born
    for code in ("08.09.20", "08.10.30", "08.85.10", "08.86.10"):
        f[ix[code]] = since
    f[ix["08.11.10"]] = street_name[:24]
    f[ix["08.11.15"]] = street_name
    f[ix["08.11.70"]] = woonplaats
    for code, value in address.items():
        f[ix[code]] = value
    for prefix, parent in zip(("02", "03"), p.parents, strict=False):
        _related(f, prefix, parent)
        f[ix[prefix + ".04.10"]] = parent.geslacht
        f[ix[prefix + ".62.10"]] = born
        _document(f, prefix, born)
    if p.partner is not None and p.partner_sinds is not None:
        _related(f, "05", p.partner)
        married = ymd(p.partner_sinds)
        f[ix["05.04.10"]] = p.partner.geslacht
        f[ix["05.06.10"]] = married
        f[ix["05.06.20"]] = GEMEENTECODE
        f[ix["05.06.30"]] = "6030"
        f[ix["05.15.10"]] = "H"
        _document(f, "05", married, "huw akte")
    rows = [f]
    for i, child in enumerate(sorted(p.children, key=lambda c: c.geboren)):
        if i:
            # "another occurrence of category 09 follows" on the row before each further child
            rows[-1][ix["09.H"]] = "09"
            rows.append([""] * len(lo3.HEADER))
        r = rows[-1]
        _related(r, "09", child)
        r[ix["09.03.20"]] = GEMEENTECODE
        _document(r, "09", ymd(child.geboren))
    return [";".join(r) for r in rows]


def _hc_date(d: date) -> dict[str, str]:
    return {
        "type": "Datum",
        "datum": d.isoformat(),
        "langFormaat": f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
    }


def _hc_naam(p: Person) -> dict[str, str]:
    naam = {"voornamen": p.voornamen, "geslachtsnaam": p.geslachtsnaam}
    if p.voorvoegsel:
        naam["voorvoegsel"] = p.voorvoegsel
    return naam


def _hc_related(p: Person) -> dict[str, object]:
    related: dict[str, object] = {"naam": _hc_naam(p), "geboorte": {"datum": _hc_date(p.geboren)}}
    if p.bsn:
        related["burgerservicenummer"] = p.bsn
    return related


def haal_centraal(p: Person, street_name: str, woonplaats: str, stand: date) -> dict[str, object]:
    """One ``Persoon`` of a Haal Centraal "RaadpleegMetBurgerservicenummer" response."""
    assert p.unit is not None and p.bsn is not None and p.sinds is not None
    a = p.unit.adres
    verblijfadres: dict[str, object] = {
        "officieleStraatnaam": street_name,
        "korteStraatnaam": street_name[:24],
        "huisnummer": a.huisnummer,
        "postcode": a.postcode,
        "woonplaats": woonplaats,
    }
    if a.huisletter:
        verblijfadres["huisletter"] = a.huisletter
    if a.toevoeging:
        verblijfadres["huisnummertoevoeging"] = a.toevoeging
    age = stand.year - p.geboren.year - ((stand.month, stand.day) < (p.geboren.month, p.geboren.day))
    persoon: dict[str, object] = {
        "aNummer": p.a_nummer,
        "burgerservicenummer": p.bsn,
        "geslacht": {"code": p.geslacht, "omschrijving": _GESLACHT[p.geslacht]},
        "leeftijd": age,
        "naam": _hc_naam(p),
        "geboorte": {
            "datum": _hc_date(p.geboren),
            "land": {"code": "6030", "omschrijving": "Nederland"},
        },
        "gemeenteVanInschrijving": {"code": GEMEENTECODE, "omschrijving": names.GEMEENTENAAM},
        "verblijfplaats": {
            "type": "Adres",
            "adresseerbaarObjectIdentificatie": p.unit.vbo_id,
            "nummeraanduidingIdentificatie": a.num_id,
            "datumVan": _hc_date(p.sinds),
            "verblijfadres": verblijfadres,
        },
        "ouders": [
            {
                **_hc_related(parent),
                "ouderAanduiding": str(i),
                "geslacht": {"code": parent.geslacht, "omschrijving": _GESLACHT[parent.geslacht]},
            }  # fmt: skip
            for i, parent in enumerate(p.parents[:2], 1)
        ],
        "kinderen": [_hc_related(child) for child in sorted(p.children, key=lambda c: c.geboren)],
    }
    if p.partner is not None and p.partner_sinds is not None:
        persoon["partners"] = [
            {
                **_hc_related(p.partner),
                "soortVerbintenis": {"code": "H", "omschrijving": "huwelijk"},
                "aangaanHuwelijkPartnerschap": {"datum": _hc_date(p.partner_sinds)},
            }
        ]
    return persoon
