"""Near matches for targets not in the release: street + number parsing and fuzzy suggestions."""

from __future__ import annotations

import pytest

from privacy.nearmatch import (
    StreetNumber,
    nearest_numbers,
    one_typo_away,
    similar_streets,
    split_street_number,
)

STREETS = ["Oldekamperweg", "Kerkstraat", "Kerklaan", "Stationsplein", "Plein 1944", "Dorpsstraat"]


@pytest.mark.parametrize(
    ("typed", "parts"),
    [
        ("Oldekamperf 46", StreetNumber("Oldekamperf", 46, "", "")),
        ("Kerkstraat 12a", StreetNumber("Kerkstraat", 12, "A", "")),
        ("Kerkstraat  12 A", StreetNumber("Kerkstraat", 12, "A", "")),
        ("Kerkstraat 12-bis", StreetNumber("Kerkstraat", 12, "", "BIS")),
        ("Kerkstraat 12 2hg", StreetNumber("Kerkstraat", 12, "", "2HG")),
        ("Kerkstraat", None),
        ("1944", None),
    ],
)
def test_split_street_number(typed, parts):
    assert split_street_number(typed) == parts


def test_a_known_street_with_a_number_in_its_name():
    assert split_street_number("plein 1944 3", STREETS) == StreetNumber("Plein 1944", 3, "", "")
    assert split_street_number("Plein 1944 3") == StreetNumber("Plein", 1944, "", "3")  # unknown street


def test_similar_streets_misspelt_partial_and_case():
    assert similar_streets("Oldekamperf", STREETS)[0] == "Oldekamperweg"
    assert similar_streets("oldekamp", STREETS)[0] == "Oldekamperweg"
    assert similar_streets("KERKSTRAT", STREETS)[0] == "Kerkstraat"
    assert similar_streets("Xyzstraat", STREETS) == []
    assert similar_streets("Qqqqqq", STREETS) == []


def test_nearest_numbers_and_one_typo():
    assert nearest_numbers(46, [1, 2, 40, 44, 48, 50, 52, 90]) == [40, 44, 48, 50, 52]
    assert nearest_numbers(3, [1, 2, 3, 4, 5, 6, 7], limit=3) == [2, 3, 4]
    assert one_typo_away("1234 AC", ["1234AB", "1243AC", "9999ZZ", "1234BA"]) == ["1234AB", "1243AC"]
    assert one_typo_away("90000010", ["90000001", "90000011", "12345678"]) == ["90000001", "90000011"]
    assert one_typo_away("12345678", ["87654321"]) == []
