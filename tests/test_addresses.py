"""Address normalisation, free-text parsing and SQL matching against a small bag.adres."""

from __future__ import annotations

import duckdb
import pytest

from assets.ingest.addresses import match_to_bag
from sources.addresses import (
    Address,
    AddressError,
    normalise_postcode,
    normalise_toevoeging,
    parse_address,
)

BAG_ADRES = [
    # nummeraanduiding_id, postcode, huisnummer, huisletter, toevoeging, object id, is_hoofdadres
    ("0221200000000001", "6981AB", 12, "A", "bis", "0221010000000001", True),
    ("0221200000000002", "6981AB", 12, None, None, "0221010000000002", True),
    ("0221200000000003", "6981AB", 14, None, "2", "0221010000000003", True),
    ("0221200000000004", "6981AB", 16, "B", None, "0221010000000004", True),
    ("0221200000000005", "6981AB", 18, None, None, "0221010000000004", False),  # nevenadres
]


def make_bag_adres(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS bag")
    con.execute(
        """CREATE TABLE bag.adres (nummeraanduiding_id VARCHAR, postcode VARCHAR, huisnummer INTEGER,
           huisletter VARCHAR, huisnummertoevoeging VARCHAR, adresseerbaar_object_id VARCHAR,
           is_hoofdadres BOOLEAN)"""
    )
    con.executemany("INSERT INTO bag.adres VALUES (?, ?, ?, ?, ?, ?, ?)", BAG_ADRES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1234 ab", "1234AB"), (" 1234AB ", "1234AB"), ("1234  Ab", "1234AB"), ("", None), (None, None)],
)
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["0123AB", "123AB", "1234A", "1234ABC", "ABCD12", "1234-AB"])
def test_malformed_postcode_is_an_error(raw):
    with pytest.raises(AddressError, match="malformed postcode"):
        normalise_postcode(raw)


def test_normalise_toevoeging():
    assert normalise_toevoeging(" -bis ") == "BIS"
    assert normalise_toevoeging("1 hg") == "1HG"
    assert normalise_toevoeging("  ") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dorpsstraat 12 A-bis, 1234 AB Plaats", Address("Dorpsstraat", 12, "A", "BIS", "1234AB", "Plaats")),
        (
            "Abebe Bikilalaan 17 M                         1034WL Amsterdam",
            Address("Abebe Bikilalaan", 17, "M", None, "1034WL", "Amsterdam"),
        ),
        ("Dorpsstraat 12-2, 1234AB", Address("Dorpsstraat", 12, None, "2", "1234AB", None)),
        ("Dorpsstraat 12a, 1234 ab Plaats", Address("Dorpsstraat", 12, "A", None, "1234AB", "Plaats")),
        ("Dorpsstraat 12 hs 1234AB Plaats", Address("Dorpsstraat", 12, None, "HS", "1234AB", "Plaats")),
        (
            "1e Jan Steenstraat 5, 1072 NA Amsterdam",
            Address("1e Jan Steenstraat", 5, None, None, "1072NA", "Amsterdam"),
        ),
        ("Plein 1944 3, 6511 JD Nijmegen", Address("Plein 1944", 3, None, None, "6511JD", "Nijmegen")),
    ],
)
def test_parse_address(text, expected):
    assert parse_address(text) == expected


def test_parse_address_without_postcode_or_number():
    with pytest.raises(AddressError, match="no postcode"):
        parse_address("Dorpsstraat 12, Plaats")
    with pytest.raises(AddressError, match="no huisnummer"):
        parse_address("Dorpsstraat, 1234 AB Plaats")


def _incoming(con, rows):
    con.execute(
        """CREATE TABLE incoming (k VARCHAR, nummeraanduiding_id VARCHAR, verblijfsobject_id VARCHAR,
           postcode VARCHAR, huisnummer INTEGER, huisletter VARCHAR, huisnummertoevoeging VARCHAR,
           adres_match VARCHAR)"""
    )
    con.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", rows)


def test_match_to_bag():
    con = duckdb.connect()
    make_bag_adres(con)
    _incoming(
        con,
        [
            ("exact", None, None, "6981AB", 12, "A", "BIS"),
            ("plain", None, None, "6981AB", 12, None, None),
            ("letter_read_as_toev", None, None, "6981AB", 14, None, "2"),
            ("toev_read_as_letter", None, None, "6981AB", 16, None, "B"),  # free text '16-B'
            ("no_such_number", None, None, "6981AB", 99, None, None),
            ("no_postcode", None, None, None, 12, None, None),
            ("delivered_num", "0221200000000003", None, None, None, None, None),
            ("delivered_vbo", None, "0221010000000004", None, None, None, None),
        ],
    )
    stats = match_to_bag(con, "incoming", "k")
    got = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT k, nummeraanduiding_id, verblijfsobject_id, adres_match FROM incoming"
        ).fetchall()
    }
    assert got["exact"] == ("0221200000000001", "0221010000000001", "postcode_huisnummer")
    assert got["plain"] == ("0221200000000002", "0221010000000002", "postcode_huisnummer")
    assert got["letter_read_as_toev"] == ("0221200000000003", "0221010000000003", "postcode_huisnummer")
    assert got["toev_read_as_letter"] == ("0221200000000004", "0221010000000004", "postcode_huisnummer")
    assert got["no_such_number"] == (None, None, None)
    assert got["no_postcode"] == (None, None, None)
    assert got["delivered_num"] == ("0221200000000003", "0221010000000003", "bag_id")
    # an object id is completed with its hoofdadres, not its nevenadres
    assert got["delivered_vbo"] == ("0221200000000004", "0221010000000004", "bag_id")
    assert (stats.total, stats.by_bag_id, stats.by_postcode_huisnummer) == (8, 2, 4)
    assert stats.rate == 0.75
    assert stats.as_extra()["address_match_rate"] == 0.75


def test_match_without_bag_counts_only_delivered_ids():
    con = duckdb.connect()
    _incoming(
        con,
        [
            ("a", "0221200000000003", None, None, None, None, None),
            ("b", None, None, "6981AB", 12, None, None),
        ],
    )
    stats = match_to_bag(con, "incoming", "k")
    assert not stats.bag_available
    assert (stats.matched, stats.total) == (1, 2)
