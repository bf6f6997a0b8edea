"""Reader for LO3-coded BRP extracts in the layout of RvIG's GBA-V test set.

File layout (see docs/READERS.md for the full description):

* UTF-8 (a BOM is accepted), ``;``-separated, a header row whose first cell is empty and whose
  other cells are LO3 element codes ``CC.GG.EE`` (category, group, element), plus one ``CC.H``
  column per category. Element columns may repeat (``06.88.10`` twice): the first non-empty one
  counts.
* A persoonslijst starts at a row with a non-empty first cell (the test set's label, e.g.
  ``Lg01_716``; not stored) and continues over the following rows whose first cell is empty.
* Per category the occurrences are stacked top-down from the persoonslijst's first row: row k
  holds the k-th occurrence of that category. The first occurrence is the current voorkomen of the
  first stapel. ``CC.H`` on an occurrence gives the category code of the *next* occurrence:
  ``CC+50`` (e.g. ``58``) = a historical voorkomen of the same stapel, ``CC`` (e.g. ``09``) = the
  current voorkomen of a new stapel (another child, partner, nationality, travel document). A
  missing marker is read as history (no extra relation is invented).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from sources.addresses import AddressError, normalise_bag_id, normalise_huisnummer, normalise_postcode
from sources.brp.model import BrpPerson, PartialDate, Relation
from sources.bsn import bsn_problem
from sources.errors import Reject, SourceError
from sources.fields import FieldError, not_in_future, plausible_birth, text
from sources.tabular import decoded_lines

Voorkomen = dict[str, str]  # element code (e.g. '01.20') -> value
Stapel = list[Voorkomen]  # current voorkomen first, then history
RELATION_CATEGORIES = {"02": "ouder", "03": "ouder", "05": "partner", "09": "kind"}


class Lo3Header:
    """Column positions per category and element code."""

    def __init__(self, file: str, header: list[str]):
        if not header or header[0].strip():
            raise SourceError(file, "not an LO3 extract: the header's first cell must be empty", "line 1")
        self.elements: dict[str, dict[str, list[int]]] = {}
        self.markers: dict[str, int] = {}
        for i, code in enumerate(header[1:], start=1):
            code = code.strip()
            if not code:
                continue
            cat, _, rest = code.partition(".")
            if rest == "H":
                self.markers[cat] = i
            elif len(cat) == 2 and cat.isdigit() and len(rest) == 5:
                self.elements.setdefault(cat, {}).setdefault(rest, []).append(i)
            else:
                raise SourceError(file, f"not an LO3 element code in the header: {code!r}", "line 1")
        if "01.20" not in self.elements.get("01", {}):
            raise SourceError(file, "not an LO3 extract: no column 01.01.20 (burgerservicenummer)", "line 1")
        self.width = len(header)

    def stapels(self, rows: list[list[str]], cat: str) -> list[Stapel]:
        elements = self.elements.get(cat, {})
        singles = [(code, idxs[0]) for code, idxs in elements.items() if len(idxs) == 1]
        repeated = [(code, idxs) for code, idxs in elements.items() if len(idxs) > 1]
        marker = self.markers.get(cat)
        result: list[Stapel] = []
        new_stapel = True
        for row in rows:
            occurrence = {code: value for code, i in singles if row[i] and (value := row[i].strip())}
            for code, idxs in repeated:
                if value := next((row[i].strip() for i in idxs if row[i].strip()), ""):
                    occurrence[code] = value
            mark = row[marker].strip() if marker is not None else ""
            if not occurrence and not mark:
                continue
            if new_stapel or not result:
                result.append([occurrence])
            else:
                result[-1].append(occurrence)
            new_stapel = mark == cat
        return result


def lo3_date(value: str | None, element: str) -> PartialDate | None:
    """``YYYYMMDD`` with ``00`` for unknown parts; ``00000000`` = unknown."""
    if not value:
        return None
    if len(value) != 8 or not value.isdigit():
        raise ValueError(f"bad date in element {element}")
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    if year == 0:
        return None
    if month > 12 or (month == 0 and day != 0):
        raise ValueError(f"bad date in element {element}")
    if month and day:
        try:
            dt.date(year, month, day)
        except ValueError:
            raise ValueError(f"bad date in element {element}") from None
    return PartialDate(year, month or None, day or None)


def read_lo3(path: Path) -> Iterator[BrpPerson | Reject]:
    """Stream the persons of an LO3 extract; invalid persoonslijsten come out as :class:`Reject`."""
    file = path.name
    with path.open("rb") as fh:
        reader = csv.reader(
            decoded_lines(fh, file, hint="LO3 extracts are UTF-8; was it saved as Latin-1?"), delimiter=";"
        )
        try:
            first = next(reader, None)
            if first is None:
                raise SourceError(file, "empty file: no header row and no persoonslijsten")
            header = Lo3Header(file, first)
            current: list[list[str]] = []
            start_line = 0
            for row in reader:
                if len(row) != header.width:
                    raise SourceError(
                        file,
                        f"{len(row)} cells where the header has {header.width}",
                        f"line {reader.line_num}",
                    )
                if row[0].strip():
                    if current:
                        yield from _person(file, header, current, start_line)
                    current, start_line = [row], reader.line_num
                elif not current:
                    raise SourceError(
                        file, "continuation row before any persoonslijst", f"line {reader.line_num}"
                    )
                else:
                    current.append(row)
            if current:
                yield from _person(file, header, current, start_line)
        except csv.Error as exc:
            raise SourceError(file, f"unreadable CSV: {exc}", f"line {reader.line_num}") from None


def _person(file: str, header: Lo3Header, rows: list[list[str]], line: int) -> Iterator[BrpPerson | Reject]:
    ref = f"line {line}"

    def current(cat: str) -> Voorkomen:
        stapels = header.stapels(rows, cat)
        return stapels[0][0] if stapels else {}

    persoon = current("01")
    bsn = persoon.get("01.20", "")
    if not bsn:
        yield Reject(file, ref, "missing BSN (element 01.01.20)")
        return
    if problem := bsn_problem(bsn):
        yield Reject(file, ref, problem)
        return
    verblijf = current("08")
    overlijden = current("06")
    inschrijving = current("07")
    overleden = bool(overlijden.get("08.10")) or inschrijving.get("67.20") == "O"
    try:
        geboortedatum = lo3_date(persoon.get("03.10"), "01.03.10")
        if geboortedatum and geboortedatum.year:
            plausible_birth(
                geboortedatum.year,
                geboortedatum.month,
                geboortedatum.day,
                "geboortedatum (01.03.10)",
                living=not overleden,
            )
        aanvang = lo3_date(verblijf.get("10.30"), "08.10.30")
        postcode = _address(
            normalise_postcode, verblijf.get("11.60"), "postcode (08.11.60)", "4 digits, 2 letters"
        )
        huisnummer = _address(normalise_huisnummer, verblijf.get("11.20"), "huisnummer (08.11.20)", "1-99999")
        vbo = _address(_bag_id, verblijf.get("11.80"), "adresseerbaar object id (08.11.80)", "16 digits")
        num = _address(_bag_id, verblijf.get("11.90"), "nummeraanduiding id (08.11.90)", "16 digits")
        names = {e: text(persoon.get(e), f"element 01.{e}") for e in ("02.10", "02.30", "02.40", "04.10")}
        huisletter = text(verblijf.get("11.30"), "element 08.11.30")
        toevoeging = text(verblijf.get("11.40"), "element 08.11.40")
        gemeente = text(verblijf.get("09.10"), "element 08.09.10")
        datum_aanvang = not_in_future(
            aanvang.as_date() if aanvang else None, "datum aanvang adreshouding (08.10.30)"
        )
    except ValueError as exc:  # FieldError, or lo3_date's bad date
        yield Reject(file, ref, str(exc))
        return
    relaties: list[Relation] = []
    for cat, relatie in RELATION_CATEGORIES.items():
        for n, stapel in enumerate(header.stapels(rows, cat), start=1):
            voorkomen = stapel[0]
            if cat == "05" and voorkomen.get("07.10"):
                continue  # dissolved marriage/partnership: not a current partner
            related = voorkomen.get("01.20")
            rel_ref = f"{ref} category {cat} stapel {n}"
            if related and (problem := bsn_problem(related)):
                yield Reject(file, rel_ref, f"{problem} of related person; relation not loaded")
                continue
            if voorkomen:
                relaties.append(Relation(relatie, related or None, rel_ref))
    yield BrpPerson(
        ref=ref,
        bsn=bsn,
        voornamen=names["02.10"],
        voorvoegsel=names["02.30"],
        geslachtsnaam=names["02.40"],
        geboortedatum=geboortedatum,
        geslacht=names["04.10"],
        overleden=overleden,
        gemeente_van_inschrijving=gemeente,
        verblijfsobject_id=vbo,
        nummeraanduiding_id=num,
        postcode=postcode,
        huisnummer=huisnummer,
        huisletter=huisletter or None,
        huisnummertoevoeging=toevoeging or None,
        datum_aanvang_adreshouding=datum_aanvang,
        adres_in_onderzoek=bool(verblijf.get("83.10")) and not verblijf.get("83.30"),
        bron="lo3",
        relaties=relaties,
    )


def _bag_id(value: str | None) -> str | None:
    """A 16-digit BAG id; LO3 writes an unknown one as sixteen zeros (the standaardwaarde): None."""
    if value is not None and value.strip() == "0" * 16:
        return None
    return normalise_bag_id(value, "BAG id")


def _address(normalise, value: str | None, element: str, rule: str):
    """A normalised address part; a malformed one names the element and rule, never the value."""
    try:
        return normalise(value)
    except AddressError:
        raise FieldError(f"malformed {element} (expected {rule})") from None
