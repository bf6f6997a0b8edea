"""Invented, Dutch-sounding names: streets, persons, companies. No real street or person lists."""

from __future__ import annotations

import random

GEMEENTENAAM = "Zwalmerwaard"
WOONPLAATSNAAM = "Zwalmerhaven"

_STREET_HEADS = [
    "Aelver", "Bromme", "Dalke", "Eevel", "Fliete", "Gorre", "Hulve", "Jaske", "Kreve", "Lommel",
    "Mirre", "Noest", "Olde", "Prinse", "Quaal", "Ruyve", "Swelle", "Tjalle", "Uyt", "Velde",
    "Wiere", "Ysel", "Zaande", "Borne", "Cleyn", "Dwaer", "Elsker", "Fenne", "Gaaste", "Hoeve",
    "Ilpe", "Kaaie", "Lieme", "Moerle", "Nolle", "Oeste", "Pelle", "Rieme", "Sloe", "Teppe",
]  # fmt: skip
_STREET_MIDS = [
    "kamp", "waard", "gors", "hoek", "dijk", "brink", "meer", "veen", "horst", "wiel",
    "laar", "stee", "drecht", "sloot", "akker", "geest", "dam", "kolk", "rade", "zicht",
    "bosch", "weide", "riet", "wold", "burg",
]  # fmt: skip
_STREET_TAILS = ["straat", "laan", "weg", "hof", "kade", "singel", "dreef", "pad", "plein", "erf"]

STREET_NAME_CAPACITY = len(_STREET_HEADS) * len(_STREET_MIDS) * len(_STREET_TAILS)
_STREET_STRIDE = 7_703  # coprime with the capacity (10,000): neighbouring streets get unrelated names


def street_name(index: int) -> str:
    """A unique invented street name for street ``index`` (< STREET_NAME_CAPACITY)."""
    k = (index * _STREET_STRIDE + 17) % STREET_NAME_CAPACITY
    k, tail = divmod(k, len(_STREET_TAILS))
    head, mid = divmod(k, len(_STREET_MIDS))
    return f"{_STREET_HEADS[head]}{_STREET_MIDS[mid]}{_STREET_TAILS[tail]}"


_FIRST_M = [
    "Aarnout", "Bartel", "Corneel", "Dirkjan", "Evert", "Fokko", "Gerolf", "Harmen", "Ids", "Jelte",
    "Klaasje", "Lammert", "Marten", "Nanning", "Obbe", "Pieke", "Reinout", "Sjoerd", "Tjeerd", "Wessel",
    "Auke", "Bouke", "Douwe", "Eelke", "Freark", "Gosse", "Hidde", "Jurre", "Lieuwe", "Minne",
]  # fmt: skip
_FIRST_V = [
    "Aaltje", "Berber", "Cato", "Dieuwke", "Elske", "Femke", "Geeske", "Hiske", "Ilse", "Jeltje",
    "Klazien", "Liesje", "Marrit", "Nynke", "Oetske", "Pietje", "Rixt", "Sietske", "Tjitske", "Wietske",
    "Anouk", "Brecht", "Dorien", "Eline", "Froukje", "Griet", "Hanneke", "Joke", "Lotte", "Mirte",
]  # fmt: skip
_SURNAME_HEADS = [
    "Brom", "Dalk", "Eev", "Gor", "Hulv", "Kreef", "Lom", "Mir", "Noes", "Pril",
    "Ruyf", "Swel", "Tjal", "Veld", "Wier", "Zaan", "Borg", "Kley", "Moer", "Stee",
]  # fmt: skip
_SURNAME_TAILS = [
    "hoven",
    "kamp",
    "stra",
    "ma",
    "inga",
    "sma",
    "meijer",
    "berg",
    "man",
    "veld",
    "dijk",
    "ens",
]
_VOORVOEGSELS = ["", "", "", "", "van", "de", "van der", "ter", "van den"]


def first_name(rng: random.Random, geslacht: str) -> str:
    names = _FIRST_M if geslacht == "M" else _FIRST_V
    if rng.random() < 0.3:
        return f"{rng.choice(names)} {rng.choice(names)}"
    return rng.choice(names)


def surname(rng: random.Random) -> tuple[str, str]:
    """(voorvoegsel, geslachtsnaam)."""
    return rng.choice(_VOORVOEGSELS), rng.choice(_SURNAME_HEADS) + rng.choice(_SURNAME_TAILS)


_TRADE_WORDS = {
    "9602": "Kapsalon",
    "9609": "Nagelstudio",
    "4742": "Telecomwinkel",
    "4711": "Buurtsuper",
    "4511": "Autohandel",
    "5229": "Expeditie",
    "5610": "Eethuis",
}
_GENERIC_WORDS = ["Advies", "Bouw", "Holding", "Diensten", "Techniek", "Handel", "Studio", "Groep"]


def company_name(rng: random.Random, sbi_class: str) -> str:
    word = _TRADE_WORDS.get(sbi_class) or rng.choice(_GENERIC_WORDS)
    stem = rng.choice(_SURNAME_HEADS) + rng.choice(_STREET_MIDS)
    return f"{word} {stem}" if word in _TRADE_WORDS.values() else f"{stem} {word}"
