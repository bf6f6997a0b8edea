"""A small published warehouse for the web tests: one street of panden with hand-made flags.

``build_warehouse(root)`` writes the tables ``privacy.lookup`` and the map read (BAG staging subset
with real pand polygons in RD New, ``kvk.vestiging``, ``signals.flags``), publishes a release and
records the gated run for the flags' lineage the way ``privacy.gate`` does. The web tests import it;
the test below checks the fixture itself.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipelines.warehouse import Warehouse, current_release, publish
from privacy.log import LogEntry, ProcessingLog
from privacy.register import load_register

POSTCODE = "1234AB"
STREET = "Kerkstraat"
STREET_ID = "9999300000000001"
X0, Y0 = 155000.0, 463000.0  # RD New, central Netherlands
REFERENCE = dt.date(2026, 10, 1)


def _id(kind: str, n: int) -> str:
    return f"9999{kind}{n:010d}"


def pand_id(n: int) -> str:
    return _id("10", n)


def num_id(n: int, suffix: str = "") -> str:
    return _id("20", n * 10 + (ord(suffix) - 64 if suffix else 0))


def _box(x: float, y: float, w: float, h: float) -> str:
    return f"POLYGON (({x} {y}, {x + w} {y}, {x + w} {y + h}, {x} {y + h}, {x} {y}))"


def build_warehouse(root: Path, houses: int = 12) -> Warehouse:
    """Kerkstraat 1..houses in one row of 10 x 12 m panden; number 5 has 5A and 5B."""
    warehouse = Warehouse(root)
    addresses: list[tuple[str, int, str, str]] = []  # nummeraanduiding, huisnummer, letter, pand
    panden: list[tuple[str, str]] = []
    for n in range(1, houses + 1):
        x = X0 + (n - 1) * 11
        panden.append(
            (pand_id(n), f"POLYGON (({x} {Y0}, {x + 10} {Y0}, {x + 10} {Y0 + 12}, {x} {Y0 + 12}, {x} {Y0}))")
        )
        letters = ["A", "B"] if n == 5 else [""]
        for letter in letters:
            addresses.append((num_id(n, letter), n, letter, pand_id(n)))
    # A second row of buildings behind the street, as neighbours on the map.
    for n in range(1, houses + 1):
        x = X0 + (n - 1) * 11
        panden.append((pand_id(100 + n), _box(x, Y0 + 20, 9, 10)))
    with warehouse.transaction() as con:
        for schema in ("bag", "kvk", "signals"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute("CREATE TABLE bag.openbare_ruimte (openbare_ruimte_id VARCHAR, naam VARCHAR)")
        con.execute("INSERT INTO bag.openbare_ruimte VALUES (?, ?)", [STREET_ID, STREET])
        con.execute(
            """CREATE TABLE bag.nummeraanduiding (nummeraanduiding_id VARCHAR, huisnummer INTEGER,
               huisletter VARCHAR, huisnummertoevoeging VARCHAR, postcode VARCHAR,
               openbare_ruimte_id VARCHAR)"""
        )
        con.execute(
            """CREATE TABLE bag.adres (nummeraanduiding_id VARCHAR, postcode VARCHAR, huisnummer INTEGER,
               huisletter VARCHAR, huisnummertoevoeging VARCHAR, openbare_ruimte_naam VARCHAR,
               woonplaats_naam VARCHAR)"""
        )
        con.execute(
            """CREATE TABLE bag.verblijfsobject (verblijfsobject_id VARCHAR, hoofdadres_id VARCHAR,
               oppervlakte INTEGER, x DOUBLE, y DOUBLE)"""
        )
        con.execute("CREATE TABLE bag.verblijfsobject_pand (verblijfsobject_id VARCHAR, pand_id VARCHAR)")
        con.execute("CREATE TABLE bag.pand (pand_id VARCHAR, geometry GEOMETRY)")
        for num, n, letter, pid in addresses:
            vbo = "9999010" + num[7:]
            x = X0 + (n - 1) * 11 + 5
            con.execute(
                "INSERT INTO bag.nummeraanduiding VALUES (?, ?, ?, NULL, ?, ?)",
                [num, n, letter or None, POSTCODE, STREET_ID],
            )
            con.execute(
                "INSERT INTO bag.adres VALUES (?, ?, ?, ?, NULL, ?, 'Voorbeeldstad')",
                [num, POSTCODE, n, letter or None, STREET],
            )
            con.execute("INSERT INTO bag.verblijfsobject VALUES (?, ?, 40, ?, ?)", [vbo, num, x, Y0 + 6])
            con.execute("INSERT INTO bag.verblijfsobject_pand VALUES (?, ?)", [vbo, pid])
        for pid, wkt in panden:
            con.execute("INSERT INTO bag.pand VALUES (?, ST_GeomFromText(?))", [pid, wkt])
        con.execute(
            """CREATE TABLE kvk.vestiging (vestigingsnummer VARCHAR, kvk_nummer VARCHAR,
               eerste_handelsnaam VARCHAR, nummeraanduiding_id VARCHAR, verblijfsobject_id VARCHAR)"""
        )
        vestigingen = [(f"0000000{i:05d}", f"{90000000 + i}") for i in range(12)]
        for i, (vnr, kvk) in enumerate(vestigingen):
            con.execute(
                "INSERT INTO kvk.vestiging VALUES (?, ?, ?, ?, ?)",
                [vnr, kvk, f"Fictieve Holding {i}", num_id(3), "9999010" + num_id(3)[7:]],
            )
        con.execute(
            """CREATE TABLE signals.flags (flag VARCHAR, nummeraanduiding_id VARCHAR,
               verblijfsobject_id VARCHAR, pand_id VARCHAR, openbare_ruimte_id VARCHAR, evidence JSON,
               x DOUBLE, y DOUBLE, reference_date DATE)"""
        )
        flags = [
            (
                "many_companies_in_building",
                None,
                None,
                pand_id(3),
                None,
                {
                    "establishments": 12,
                    "min_establishments": 10,
                    "vestigingsnummers": [v for v, _ in vestigingen],
                    "verblijfsobject_ids": ["9999010" + num_id(3)[7:]],
                },
                3,
            ),
            (
                "overcrowding",
                num_id(7),
                "9999010" + num_id(7)[7:],
                pand_id(7),
                None,
                {
                    "adults": 6,
                    "oppervlakte_m2": 40,
                    "m2_per_adult": 6.67,
                    "min_adults": 4,
                    "max_m2_per_adult": 12,
                },
                7,
            ),
            (
                "staff_safety",
                num_id(7),
                "9999010" + num_id(7)[7:],
                pand_id(7),
                None,
                {"message": "caution, contact Team Handhaving Centrum"},
                7,
            ),
            (
                "enforcement_history",
                num_id(9),
                "9999010" + num_id(9)[7:],
                pand_id(9),
                None,
                {
                    "zaken": [
                        {
                            "zaak_id": "HH-2024-017",
                            "instrument": "opiumwet_13b",
                            "datum_start": "2024-03-01",
                            "datum_einde": "2024-09-01",
                            "status": "afgesloten",
                        }
                    ],
                    "window_years": 5,
                    "residents": 2,
                    "family_elsewhere": [
                        {
                            "persoon_id": "P0123456789abcdef01234567",
                            "relatie": "ouder",
                            "nummeraanduiding_id": num_id(2),
                        }
                    ],
                },
                9,
            ),
            (
                "identical_businesses_in_street",
                None,
                None,
                None,
                STREET_ID,
                {
                    "sector": "9602",
                    "omschrijving": "Kappers",
                    "establishments": 6,
                    "min_establishments": 5,
                    "vestigingsnummers": [v for v, _ in vestigingen[:6]],
                },
                None,
            ),
        ]
        for flag, num, vbo, pid, opr, evidence, house in flags:
            x = X0 + (house - 1) * 11 + 5 if house else None
            con.execute(
                "INSERT INTO signals.flags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [flag, num, vbo, pid, opr, json.dumps(evidence), x, Y0 + 6 if house else None, REFERENCE],
            )
    publish(warehouse)
    register = load_register()
    ProcessingLog(warehouse).append(
        LogEntry.under(
            register,
            register.get("signaalanalyse_ondermijning"),
            "gated_join",
            "pipeline",
            run_id="test-run-0001",
            inputs={"kvk.vestiging": ["vestigingsnummer", "verblijfsobject_id"]},
            output="signals.many_companies_in_building",
            row_counts={"signals.many_companies_in_building": 1},
            details={
                "lineage": {
                    "evidence": ["kvk.vestiging.vestigingsnummer"],
                    "pand_id": ["bag.verblijfsobject_pand.pand_id"],
                }
            },
        )
    )
    return warehouse


def test_the_fixture_warehouse_is_published_and_read_only_for_readers(tmp_path):
    import duckdb

    warehouse = build_warehouse(tmp_path)
    con = duckdb.connect(str(current_release(warehouse)), read_only=True)
    assert con.execute("SELECT count(*) FROM signals.flags").fetchone()[0] == 5
    assert con.execute("SELECT count(*) FROM bag.adres WHERE huisnummer = 5").fetchone()[0] == 2
