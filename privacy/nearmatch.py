"""Near matches for a search target that is not in the release: "did you mean …".

Pure functions over open registry values (street names, house numbers, postcodes, KvK and
vestiging numbers, pand ids): no personal data goes in or comes out. ``privacy.lookup`` feeds them
the municipality's values from the published release and turns the answers into suggestions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import Levenshtein

# "Kerkstraat 12", "Kerkstraat 12a", "Kerkstraat 12 A", "Kerkstraat 12-bis", "Kerkstraat 12 2hg"
STREET_NUMBER = re.compile(
    r"^(?P<straat>.*?[^\d\s].*?)\s+(?P<huisnummer>\d{1,5})\s*(?P<huisletter>[A-Za-z](?![A-Za-z0-9]))?"
    r"(?:\s*[-\s]\s*(?P<toevoeging>[A-Za-z0-9]{1,4}))?$"
)
STREET_SCORE = 75.0  # WRatio from which a street name counts as a near match (0-100)
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class StreetNumber:
    straat: str
    huisnummer: int
    huisletter: str
    toevoeging: str


def split_street_number(text: str, streets: Iterable[str] = ()) -> StreetNumber | None:
    """The parts of "straat huisnummer[letter][-toevoeging]"; ``None`` for a bare street name.

    A known street name the text starts with wins ("Plein 1944 3" is Plein 1944, number 3);
    otherwise the first number after a word is the house number.
    """
    text = " ".join(text.split())
    for name in sorted(streets, key=len, reverse=True):
        if text.lower().startswith(name.lower() + " "):
            rest = STREET_NUMBER.match("x " + text[len(name) + 1 :])
            if rest is not None:
                return _parts(name, rest)
    m = STREET_NUMBER.match(text)
    return None if m is None else _parts(m["straat"].strip(), m)


def _parts(straat: str, m: re.Match[str]) -> StreetNumber:
    return StreetNumber(
        straat, int(m["huisnummer"]), (m["huisletter"] or "").upper(), (m["toevoeging"] or "").upper()
    )


def similar_streets(typed: str, names: Iterable[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """The street names most like ``typed`` (misspelt, partial, other case or accents), best first."""
    unique = sorted(set(names))
    found = process.extract(
        typed,
        unique,
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=STREET_SCORE,
    )
    return [name for name, _score, _index in found]


def nearest_numbers(wanted: int, numbers: Iterable[int], limit: int = MAX_SUGGESTIONS) -> list[int]:
    """The house numbers closest to ``wanted`` (ties: the lower first), in ascending order."""
    closest = sorted(set(numbers), key=lambda n: (abs(n - wanted), n))[:limit]
    return sorted(closest)


def one_typo_away(typed: str, values: Iterable[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Identifiers (postcode, KvK number, pand id …) one edit or one swap of neighbours away."""
    typed = typed.upper().replace(" ", "")
    found = process.extract(
        typed,
        sorted(set(values)),
        scorer=Levenshtein.distance,
        limit=limit * 4,
        score_cutoff=2,
    )
    near = [v for v, d, _ in found if d == 1 or (d == 2 and _swapped(typed, v))]
    return sorted(near)[:limit]


def _swapped(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with two neighbouring characters swapped (a common typing error)."""
    if len(a) != len(b):
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
