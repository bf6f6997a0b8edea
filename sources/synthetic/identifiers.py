"""Identifier allocators for the synthetic municipality: BAG ids, BSNs, A-nummers, postcodes.

Every allocator is a plain counter, so the same generation order gives the same identifiers.
"""

from __future__ import annotations

import functools

GEMEENTECODE = "9901"
WOONPLAATS_ID = "9901"

# Object type codes at positions 5-6 of a 16-digit BAG id.
TYPE_CODES = {"VBO": "01", "LIG": "02", "STA": "03", "PND": "10", "NUM": "20", "OPR": "30"}

# The BSN test range: 9 digits starting with 999 that pass the elfproef. Only 90,909 exist.
_BSN_PREFIXES = 100_000  # 999 + five digits; the ninth digit is the check digit
_BSN_STRIDE = 7_919  # coprime with 100,000: spreads consecutive persons over the range

# Postcode letter pairs in use (SA, SD and SS are never issued).
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_POSTCODE_LETTER_PAIRS = [a + b for a in _LETTERS for b in _LETTERS if a + b not in {"SA", "SD", "SS"}]
POSTCODE_FIRST_NUMBER = 9900


class BagIds:
    """16-digit BAG ids ``<gemeentecode><type code><10-digit counter>``, one counter per type."""

    def __init__(self, gemeentecode: str = GEMEENTECODE):
        self._gem = gemeentecode
        self._next = dict.fromkeys(TYPE_CODES, 1)

    def new(self, object_type: str) -> str:
        n = self._next[object_type]
        self._next[object_type] = n + 1
        return f"{self._gem}{TYPE_CODES[object_type]}{n:010d}"


def bsn_from_prefix(prefix: int) -> str | None:
    """The test-range BSN ``999`` + 5 digits + check digit, or None when no check digit fits."""
    total = 9 * 9 + 8 * 9 + 7 * 9  # the leading 999
    rest = prefix
    for weight in (2, 3, 4, 5, 6):
        rest, digit = divmod(rest, 10)
        total += weight * digit
    check = total % 11
    return f"999{prefix:05d}{check}" if check <= 9 else None


class BsnPool:
    """Hands out test-range BSNs: unique ones for planted persons, the rest for everybody else.

    The prefixes are split in two: a block reserved for persons in planted patterns (sized by the
    caller, so they stay unique however large the municipality) and the rest for background
    persons, which wraps around (BSNs then repeat, and ``background_wrapped`` is set) once
    about 90,000 minus the reserve have been handed out.
    """

    def __init__(self, planted_reserve: int):
        # ~10 in 11 prefixes have a valid check digit; keep a margin.
        self._split = _BSN_PREFIXES - min(_BSN_PREFIXES // 2, planted_reserve * 12 // 10 + 200)
        self._planted = self._split
        self._background = 0
        self.background_wrapped = False

    @staticmethod
    def _at(k: int) -> str | None:
        return bsn_from_prefix((k * _BSN_STRIDE) % _BSN_PREFIXES)

    def planted(self) -> str:
        while self._planted < _BSN_PREFIXES:
            bsn = self._at(self._planted)
            self._planted += 1
            if bsn:
                return bsn
        raise RuntimeError("the BSN test range has no unique numbers left for planted persons")

    def background(self) -> str:
        while True:
            if self._background == self._split:
                self._background = 0
                self.background_wrapped = True
            bsn = self._at(self._background)
            self._background += 1
            if bsn:
                return bsn


@functools.cache
def _digit_runs(first: bool) -> dict[int, list[tuple[str, int, int, int] | None]]:
    """For 4 digits written as base-9 values: previous digit -> per value (digits, sum, weighted
    sum with weights 8..1, last digit), each digit skipping its predecessor (no equal neighbours)."""
    table: dict[int, list[tuple[str, int, int, int] | None]] = {}
    for prev in range(-1, 10) if not first else (-1,):
        runs: list[tuple[str, int, int, int] | None] = []
        for value in range(9**4):
            values = [(value // 9**k) % 9 for k in (3, 2, 1, 0)]
            digits, last = [], prev
            for i, v in enumerate(values):
                d = v + 1 if first and i == 0 else (v if v < last else v + 1)
                digits.append(d)
                last = d
            weighted = sum(d * w for d, w in zip(digits, (8, 4, 2, 1), strict=True))
            runs.append(("".join(map(str, digits)), sum(digits), weighted, last))
        table[prev] = runs
    return table


class ANummers:
    """LO3 A-nummers: 10 digits, no equal neighbours, digit sum = 5 (mod 11), weighted sum
    (weights 512, 256, ..., 2, 1) = 0 (mod 11).

    The first 8 digits come from a counter written in base 9, each digit skipping its
    predecessor's value (looked up 4 digits at a time); the last two are solved from the two
    congruences.
    """

    def __init__(self) -> None:
        self._counter = 0
        self._high = _digit_runs(first=True)[-1]
        self._low = _digit_runs(first=False)

    def new(self) -> str:
        while True:
            high, low = divmod(self._counter, 9**4)
            self._counter += 1
            h = self._high[high % 9**4]
            lo = self._low[h[3]][low]
            assert h is not None and lo is not None
            s1 = h[1] + lo[1]
            s2 = h[2] * 16 * 4 + lo[2] * 4  # digits 1-4 weigh 512..64, digits 5-8 weigh 32..4
            d9 = (-s2 - (5 - s1)) % 11
            d10 = (5 - s1 - d9) % 11
            if d9 <= 9 and d10 <= 9 and d9 != lo[3] and d10 != d9:
                return f"{h[0]}{lo[0]}{d9}{d10}"


def is_valid_a_nummer(a: str) -> bool:
    if len(a) != 10 or not a.isdigit() or a[0] == "0":
        return False
    d = [int(c) for c in a]
    if any(d[i] == d[i + 1] for i in range(9)):
        return False
    return sum(d) % 11 == 5 and sum(x * 2 ** (9 - i) for i, x in enumerate(d)) % 11 == 0


def postcode(k: int) -> str:
    """The k-th postcode of the municipality: 9900AA, 9900AB, ..."""
    number, pair = divmod(k, len(_POSTCODE_LETTER_PAIRS))
    if number > 99:
        raise ValueError("postcode range 9900-9999 exhausted")
    return f"{POSTCODE_FIRST_NUMBER + number}{_POSTCODE_LETTER_PAIRS[pair]}"
