"""The flag SQL on hand-made rows: known inputs, exact expected flags, edges at the thresholds.

Each test builds a DuckDB holding only the columns the flag declares in ``READS`` (what the
privacy gate will expose), so a query that uses an undeclared column fails here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from assets.signals.config import load_config
from assets.signals.sql import (
    FLAG_SQL,
    READS,
    RESULT_COLUMNS,
    establishment_match_sql,
)
from pipelines.warehouse import connect

REF = dt.date(2026, 1, 1)
TYPES = {
    "stand_technische_datum": "DATE",
    "x": "DOUBLE",
    "y": "DOUBLE",
    "oppervlakte": "INTEGER",
    "huisnummer": "INTEGER",
    "geometry": "GEOMETRY",
    "datum_aanvang": "DATE",
    "datum_einde": "DATE",
    "datum_start": "DATE",
    "is_hoofdactiviteit": "BOOLEAN",
    "meerderjarig": "BOOLEAN",
    "overleden": "BOOLEAN",
}


def vbo(n: int) -> str:
    return f"09990100000{n:05d}"


def num(n: int) -> str:
    return f"09992000000{n:05d}"


def pnd(n: int) -> str:
    return f"09991000000{n:05d}"


def opr(n: int) -> str:
    return f"09993000000{n:05d}"


class Town:
    """Rows for the staging tables, added object by object."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {t: [] for t in {t for r in READS.values() for t in r}}
        self.rows["bag.levering"].append({"stand_technische_datum": REF})
        self._vestiging = 0
        self._persoon = 0

    def address(
        self,
        n: int,
        *,
        panden: tuple[int, ...] = (1,),
        doelen: tuple[str, ...] = ("woonfunctie",),
        oppervlakte: int = 100,
        street: int = 1,
        xy: tuple[float, float] | None = None,
        status: str = "Naamgeving uitgegeven",
        postcode: str = "9999AA",
    ) -> None:
        """A verblijfsobject ``n`` with hoofdadres ``n`` on street ``street``."""
        x, y = xy or (100000.0 + 10 * n, 400000.0)
        self.rows["bag.verblijfsobject"].append(
            {
                "verblijfsobject_id": vbo(n),
                "hoofdadres_id": num(n),
                "x": x,
                "y": y,
                "oppervlakte": oppervlakte,
            }
        )
        self.nummeraanduiding(n, street=street, status=status, postcode=postcode)
        for p in panden:
            self.rows["bag.verblijfsobject_pand"].append({"verblijfsobject_id": vbo(n), "pand_id": pnd(p)})
            if not any(r["pand_id"] == pnd(p) for r in self.rows["bag.pand"]):
                self.rows["bag.pand"].append(
                    {"pand_id": pnd(p), "geometry": "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))"}
                )
        for d in doelen:
            self.rows["bag.verblijfsobject_gebruiksdoel"].append(
                {"verblijfsobject_id": vbo(n), "gebruiksdoel": d}
            )

    def nummeraanduiding(
        self, n: int, *, street: int = 1, status: str = "Naamgeving uitgegeven", postcode: str = "9999AA"
    ) -> None:
        self.rows["bag.nummeraanduiding"].append(
            {
                "nummeraanduiding_id": num(n),
                "openbare_ruimte_id": opr(street),
                "postcode": postcode,
                "huisnummer": n,
                "huisletter": None,
                "huisnummertoevoeging": None,
                "status": status,
            }
        )

    def nevenadres(self, vbo_n: int, num_n: int, street: int = 1) -> None:
        self.nummeraanduiding(num_n, street=street)
        self.rows["bag.nevenadres"].append(
            {"object_type": "VBO", "object_id": vbo(vbo_n), "nummeraanduiding_id": num(num_n)}
        )

    def vestiging(
        self,
        *,
        vbo_n: int | None = None,
        num_n: int | None = None,
        sbi: str = "6201",
        sbi_versie: str = "2008",
        neven_sbi: tuple[str, ...] = (),
        start: dt.date = dt.date(2015, 1, 1),
        end: dt.date | None = None,
        postcode: str | None = None,
        huisnummer: int | None = None,
    ) -> str:
        self._vestiging += 1
        nr = f"{self._vestiging:012d}"
        self.rows["kvk.vestiging"].append(
            {
                "vestigingsnummer": nr,
                "verblijfsobject_id": vbo(vbo_n) if vbo_n is not None else None,
                "nummeraanduiding_id": num(num_n) if num_n is not None else None,
                "datum_aanvang": start,
                "datum_einde": end,
                "postcode": postcode,
                "huisnummer": huisnummer,
                "huisletter": None,
                "huisnummertoevoeging": None,
            }
        )
        for i, code in enumerate((sbi, *neven_sbi)):
            self.rows["kvk.vestiging_sbi"].append(
                {
                    "vestigingsnummer": nr,
                    "sbi_code": code,
                    "sbi_versie": sbi_versie,
                    "is_hoofdactiviteit": i == 0,
                }
            )
        return nr

    def persoon(
        self,
        *,
        vbo_n: int | None = None,
        num_n: int | None = None,
        adult: bool = True,
        dead: bool = False,
        postcode: str | None = None,
        huisnummer: int | None = None,
    ) -> str:
        self._persoon += 1
        pid = f"P{self._persoon:024x}"
        self.rows["brp.persoon"].append(
            {
                "persoon_id": pid,
                "meerderjarig": adult,
                "overleden": dead,
                "verblijfsobject_id": vbo(vbo_n) if vbo_n is not None else None,
                "nummeraanduiding_id": num(num_n) if num_n is not None else None,
                "postcode": postcode,
                "huisnummer": huisnummer,
                "huisletter": None,
                "huisnummertoevoeging": None,
            }
        )
        return pid

    def relatie(self, a: str, b: str, relatie: str) -> None:
        self.rows["brp.relatie"].append({"persoon_id": a, "gerelateerde_id": b, "relatie": relatie})

    def zaak(
        self, zaak_id: str, instrument: str, start: dt.date, *, num_n: int, team: str | None = None
    ) -> None:
        self.rows["handhaving.zaak"].append(
            {
                "zaak_id": zaak_id,
                "instrument": instrument,
                "datum_start": start,
                "datum_einde": None,
                "status": "afgerond",
                "team": team,
                "nummeraanduiding_id": num(num_n),
                "verblijfsobject_id": None,
            }
        )

    def build(self, code: str) -> duckdb.DuckDBPyConnection:
        """A DuckDB with exactly the columns flag ``code`` declares, filled with the rows."""
        con = connect(":memory:")
        for table, columns in READS[code].items():
            schema = table.split(".")[0]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            ddl = ", ".join(f"{c} {TYPES.get(c, 'VARCHAR')}" for c in columns)
            con.execute(f"CREATE TABLE {table} ({ddl})")
            for row in self.rows[table]:
                values = [row.get(c) for c in columns]
                params = ", ".join("ST_GeomFromText(?)" if c == "geometry" else "?" for c in columns)
                con.execute(f"INSERT INTO {table} VALUES ({params})", values)
        return con


@pytest.fixture
def cfg():
    return load_config()


def run(town: Town, code: str, cfg) -> list[dict]:
    con = town.build(code)
    try:
        cur = con.execute(FLAG_SQL[code](cfg))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
    assert tuple(names) == RESULT_COLUMNS
    for r in rows:
        assert r["flag"] == code
        assert r["reference_date"] == REF
        r["evidence"] = json.loads(r["evidence"])
    return rows


def offices(town: Town, first: int, count: int, pand: int) -> Iterator[int]:
    for n in range(first, first + count):
        town.address(n, panden=(pand,), doelen=("kantoorfunctie",))
        yield n


# -- many_companies_in_building ------------------------------------------------------------------


def test_many_companies_fires_at_threshold_not_below(cfg):
    town = Town()
    for n in offices(town, 1, 10, pand=1):  # pand 1: exactly 10 active vestigingen
        town.vestiging(vbo_n=n)
    for n in offices(town, 11, 9, pand=2):  # pand 2: 9 active ...
        town.vestiging(vbo_n=n)
    town.vestiging(vbo_n=11, end=dt.date(2025, 6, 1))  # ... plus one ended: still 9
    town.vestiging(vbo_n=12, start=dt.date(2026, 3, 1))  # ... plus one starting after the stand date
    rows = run(town, "many_companies_in_building", cfg)
    assert [r["pand_id"] for r in rows] == [pnd(1)]
    ev = rows[0]["evidence"]
    assert ev["establishments"] == 10 and ev["min_establishments"] == 10
    assert len(ev["vestigingsnummers"]) == 10
    assert rows[0]["nummeraanduiding_id"] is None and rows[0]["openbare_ruimte_id"] is None
    assert rows[0]["x"] == pytest.approx(5.0) and rows[0]["y"] == pytest.approx(5.0)


def test_many_companies_matches_by_address_and_counts_each_vestiging_once(cfg):
    town = Town()
    # one VBO lying in panden 1 and 2 holds 6 vestigingen; 4 more in pand 1 only.
    town.address(1, panden=(1, 2), doelen=("kantoorfunctie",))
    town.nevenadres(1, 500)
    for i in range(6):
        # matched on the VBO id, on the hoofdadres and on the nevenadres: all the same VBO
        town.vestiging(**[{"vbo_n": 1}, {"num_n": 1}, {"num_n": 500}][i % 3])
    for n in offices(town, 2, 4, pand=1):
        town.vestiging(num_n=n)
    town.vestiging(vbo_n=1, num_n=1)  # both ids given: still one vestiging
    rows = run(town, "many_companies_in_building", cfg)
    assert [(r["pand_id"], r["evidence"]["establishments"]) for r in rows] == [(pnd(1), 11)]


def test_many_companies_in_building_shows_the_pands_units_and_gebruiksdoelen(cfg):
    town = Town()
    for n in offices(town, 1, 10, pand=1):  # a business centre: 10 office units, one company each
        town.vestiging(vbo_n=n)
    town.address(11, panden=(1,), doelen=("woonfunctie",))
    town.address(12, panden=(1,), doelen=("winkelfunctie", "woonfunctie"))
    rows = run(town, "many_companies_in_building", cfg)
    ev = rows[0]["evidence"]
    assert ev["verblijfsobjecten_in_pand"] == 12
    assert ev["gebruiksdoelen_in_pand"] == [
        {"gebruiksdoel": "kantoorfunctie", "verblijfsobjecten": 10},
        {"gebruiksdoel": "winkelfunctie", "verblijfsobjecten": 1},
        {"gebruiksdoel": "woonfunctie", "verblijfsobjecten": 2},
    ]


def test_many_companies_at_address_is_one_verblijfsobject_not_a_building(cfg):
    town = Town()
    town.address(1, panden=(1,), doelen=("kantoorfunctie",))  # a letterbox: 5 companies in one unit
    for k in range(4):
        town.vestiging(vbo_n=1, start=dt.date(2025, 1, 1) + dt.timedelta(days=30 * k))
    town.vestiging(num_n=1, start=dt.date(2025, 6, 1))  # located through its nummeraanduiding
    town.vestiging(vbo_n=1, end=dt.date(2025, 6, 1))  # ended: not counted
    for n in offices(town, 2, 12, pand=2):  # a business centre: 12 companies, 12 units
        town.vestiging(vbo_n=n)
    town.address(20, panden=(3,), doelen=("kantoorfunctie",))  # 4 active: below the threshold
    for _ in range(4):
        town.vestiging(vbo_n=20)
    rows = run(town, "many_companies_at_address", cfg)
    assert [(r["nummeraanduiding_id"], r["verblijfsobject_id"], r["pand_id"]) for r in rows] == [
        (num(1), vbo(1), pnd(1))
    ]
    ev = rows[0]["evidence"]
    assert (ev["establishments"], ev["min_establishments"]) == (5, 5)
    assert [v["datum_aanvang"] for v in ev["vestigingen"]] == [
        "2025-01-01",
        "2025-01-31",
        "2025-03-02",
        "2025-04-01",
        "2025-06-01",
    ]
    assert ev["gebruiksdoelen"] == ["kantoorfunctie"]
    assert [r["pand_id"] for r in run(town, "many_companies_in_building", cfg)] == [pnd(2)]


def test_establishment_match_rate(cfg):
    town = Town()
    town.address(1)
    town.vestiging(vbo_n=1)
    town.vestiging(num_n=1)
    town.vestiging(num_n=777)  # unknown address
    town.vestiging(postcode="9999ZZ", huisnummer=1)  # never matched
    con = town.build("many_companies_in_building")
    assert con.execute(establishment_match_sql()).fetchone() == (4, 2)


# -- identical businesses ------------------------------------------------------------------------


def test_identical_businesses_in_street(cfg):
    town = Town()
    for n in range(1, 6):  # street 1: 5 barbers (one registered with an SBI 2025 code)
        town.address(n, street=1, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi="96210" if n == 1 else "96021", sbi_versie="2025" if n == 1 else "2008")
    for n in range(11, 15):  # street 2: 4 phone shops + 1 ended
        town.address(n, street=2, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi="4742")
    town.vestiging(vbo_n=11, sbi="4742", end=dt.date(2025, 1, 1))
    for n in range(21, 27):  # street 3: 6 IT companies (not a vulnerable sector)
        town.address(n, street=3)
        town.vestiging(vbo_n=n, sbi="6201")
    for n in range(31, 35):  # street 4: 4 mini-markets + 1 with the sector only as side activity
        town.address(n, street=4)
        town.vestiging(vbo_n=n, sbi="4711")
    town.vestiging(vbo_n=31, sbi="6201", neven_sbi=("4711",))
    rows = run(town, "identical_businesses_in_street", cfg)
    assert [(r["openbare_ruimte_id"], r["evidence"]["sector"]) for r in rows] == [(opr(1), "9602")]
    assert rows[0]["evidence"]["establishments"] == 5
    assert rows[0]["nummeraanduiding_id"] is None

    all_activities = cfg.model_copy(
        update={
            "identical_businesses": cfg.identical_businesses.model_copy(update={"main_activity_only": False})
        }
    )
    rows = run(town, "identical_businesses_in_street", all_activities)
    assert [(r["openbare_ruimte_id"], r["evidence"]["sector"]) for r in rows] == [
        (opr(1), "9602"),
        (opr(4), "4711"),
    ]


def test_vulnerable_sectors_read_both_sbi_versions(cfg):
    town = Town()
    # car trade on street 1 in both versions: SBI 2025 retail (4781x) and wholesale (4671x) of
    # cars stand for SBI 2008 4511
    codes = [("4511", "2008"), ("45112", "2008"), ("47810", "2025"), ("46710", "2025"), ("47811", "2025")]
    for n, (code, versie) in enumerate(codes, start=1):
        town.address(n, street=1, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi=code, sbi_versie=versie)
    # street 2: SBI 2008 4781 is market stalls (food), not car trade; 45201 is repair, not trade
    for n, (code, versie) in enumerate([("4781", "2008"), ("47811", "2008"), ("45201", "2008")], start=11):
        town.address(n, street=2, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi=code, sbi_versie=versie)
    town.address(14, street=2, doelen=("winkelfunctie",))
    town.vestiging(vbo_n=14, sbi="4511")
    town.address(15, street=2, doelen=("winkelfunctie",))
    town.vestiging(vbo_n=15, sbi="96220", sbi_versie="2025")  # nail studio: SBI 2008 9602
    rows = run(town, "identical_businesses_in_street", cfg)
    assert [(r["openbare_ruimte_id"], r["evidence"]["sector"]) for r in rows] == [(opr(1), "4511")]
    assert rows[0]["evidence"]["establishments"] == 5


def test_identical_businesses_nearby_one_flag_per_cluster(cfg):
    town = Town()
    # a cluster of 5 nail studios within 100 m of address 3 (spread over four streets),
    # address 3 has two of them; 1 and 2 reach 4 studios, 4 reaches 3
    cluster = {1: (1000.0, 1000.0), 2: (1050.0, 1000.0), 3: (1090.0, 1000.0), 4: (1180.0, 1000.0)}
    for n, xy in cluster.items():
        town.address(n, street=n, xy=xy, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi="9609")
    town.vestiging(vbo_n=3, sbi="9609")
    # 4 car dealers close together plus a fifth 150 m away: no cluster
    for n, xy in {
        11: (5000.0, 5000.0),
        12: (5010.0, 5000.0),
        13: (5020.0, 5000.0),
        14: (5030.0, 5000.0),
        15: (5180.0, 5000.0),
    }.items():
        town.address(n, street=n, xy=xy, doelen=("winkelfunctie",))
        town.vestiging(vbo_n=n, sbi="4511")
    rows = run(town, "identical_businesses_nearby", cfg)
    assert [r["nummeraanduiding_id"] for r in rows] == [num(3)]
    ev = rows[0]["evidence"]
    assert ev["establishments"] == 5 and ev["radius_m"] == 100
    assert ev["nummeraanduiding_ids"] == [num(n) for n in (1, 2, 3, 4)]
    assert rows[0]["x"] == 1090.0
    # neither group is a street flag: every address is on its own street
    assert run(town, "identical_businesses_in_street", cfg) == []


# -- residents -----------------------------------------------------------------------------------


def test_overcrowding_laa_example_and_edges(cfg):
    town = Town()
    town.address(1, oppervlakte=40)  # 6 adults in 40 m2: fires (6.67 m2 each)
    for _ in range(6):
        town.persoon(vbo_n=1)
    town.address(2, oppervlakte=48)  # 4 adults in 48 m2: exactly 12 m2 each, does not fire
    for _ in range(4):
        town.persoon(vbo_n=2)
    town.address(3, oppervlakte=47)  # 4 adults in 47 m2: fires; registered via the nummeraanduiding
    for _ in range(4):
        town.persoon(num_n=3)
    town.persoon(num_n=3, adult=False)  # children do not count
    town.address(4, oppervlakte=20)  # 3 adults + 1 deceased in 20 m2: below min_adults
    for _ in range(3):
        town.persoon(vbo_n=4)
    town.persoon(vbo_n=4, dead=True)
    town.address(5, oppervlakte=20, doelen=("kantoorfunctie",))  # no woonfunctie: other flag
    for _ in range(5):
        town.persoon(vbo_n=5)
    rows = run(town, "overcrowding", cfg)
    assert [r["nummeraanduiding_id"] for r in rows] == [num(1), num(3)]
    assert rows[0]["evidence"]["adults"] == 6 and rows[0]["evidence"]["m2_per_adult"] == 6.67
    assert rows[0]["verblijfsobject_id"] == vbo(1) and rows[0]["pand_id"] == pnd(1)


def test_residents_at_non_residential(cfg):
    town = Town()
    town.address(1, doelen=("kantoorfunctie", "winkelfunctie"))
    town.persoon(vbo_n=1, adult=False)
    town.address(2, doelen=("woonfunctie", "winkelfunctie"))
    town.persoon(vbo_n=2)
    town.address(3, doelen=("industriefunctie",))
    town.persoon(vbo_n=3, dead=True)
    town.address(4, doelen=())
    town.nevenadres(4, 400)
    town.persoon(num_n=400)
    rows = run(town, "residents_at_non_residential", cfg)
    assert [r["nummeraanduiding_id"] for r in rows] == [num(1), num(4)]
    assert rows[0]["evidence"] == {
        "persons": 1,
        "gebruiksdoelen": ["kantoorfunctie", "winkelfunctie"],
        "min_persons": 1,
    }
    assert rows[1]["evidence"]["gebruiksdoelen"] == []


# -- company churn -------------------------------------------------------------------------------


def test_company_churn_fires_on_turnover_not_on_growth(cfg):
    town = Town()
    for n in (1, 2, 3, 4):
        town.address(n, doelen=("kantoorfunctie",))
    # 1: a short-lived cluster: 3 vestigingen started and ended within the 24 months before
    #    2026-01-01 (the rule "at least 3 short-lived"), plus one still active
    town.vestiging(vbo_n=1, start=dt.date(2024, 3, 1), end=dt.date(2024, 6, 1))
    town.vestiging(vbo_n=1, start=dt.date(2024, 7, 1), end=dt.date(2024, 9, 30))
    town.vestiging(num_n=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 1))
    town.vestiging(vbo_n=1, start=dt.date(2025, 3, 1))
    # 2: growth: a new business centre where 12 companies registered and none left
    for k in range(12):
        town.vestiging(vbo_n=2, start=dt.date(2024, 2, 1) + dt.timedelta(days=40 * k))
    # 3: four long-established vestigingen that all ended in the window ("at least 4 ended")
    for k in range(4):
        town.vestiging(
            vbo_n=3, start=dt.date(2012, 1, 1), end=dt.date(2024, 5, 1) + dt.timedelta(days=90 * k)
        )
    # 4: ordinary succession: two ended, two short-lived at the edge of the window: no flag
    town.vestiging(vbo_n=4, start=dt.date(2015, 1, 1), end=dt.date(2024, 2, 1))
    town.vestiging(vbo_n=4, start=dt.date(2024, 1, 1), end=dt.date(2024, 8, 1))  # started outside
    town.vestiging(vbo_n=4, start=dt.date(2024, 9, 1), end=dt.date(2025, 3, 1))
    town.vestiging(vbo_n=4, start=dt.date(2025, 4, 1), end=dt.date(2026, 1, 2))  # ends after ref
    rows = run(town, "company_churn", cfg)
    assert [r["nummeraanduiding_id"] for r in rows] == [num(1), num(3)]
    ev = rows[0]["evidence"]
    assert (ev["registrations"], ev["deregistrations"], ev["short_lived"]) == (4, 3, 3)
    assert (ev["min_ended"], ev["min_short_lived"], ev["window_months"]) == (4, 3, 24)
    assert ev["window_start"] == "2024-01-01" and ev["window_end"] == "2026-01-01"
    assert [(v["datum_aanvang"], v["datum_einde"], v["lifetime_days"]) for v in ev["vestigingen"]] == [
        ("2024-03-01", "2024-06-01", 92),
        ("2024-07-01", "2024-09-30", 91),
        ("2025-01-01", "2025-02-01", 31),
        ("2025-03-01", None, None),
    ]
    ev = rows[1]["evidence"]
    assert (ev["registrations"], ev["deregistrations"], ev["short_lived"]) == (0, 4, 0)
    assert all(v["lifetime_days"] > 4000 for v in ev["vestigingen"])


def test_company_churn_thresholds_are_configurable(cfg):
    town = Town()
    town.address(1, doelen=("kantoorfunctie",))
    for k in range(12):  # growth
        town.vestiging(vbo_n=1, start=dt.date(2024, 2, 1) + dt.timedelta(days=40 * k))
    town.vestiging(vbo_n=1, start=dt.date(2024, 2, 1), end=dt.date(2024, 4, 1))
    strict = cfg.model_copy(
        update={"company_churn": cfg.company_churn.model_copy(update={"min_short_lived": 2})}
    )
    assert run(town, "company_churn", strict) == []
    loose = cfg.model_copy(
        update={"company_churn": cfg.company_churn.model_copy(update={"min_short_lived": 1})}
    )
    assert [r["nummeraanduiding_id"] for r in run(town, "company_churn", loose)] == [num(1)]


# -- addresses not in BAG ------------------------------------------------------------------------


def test_address_not_in_bag(cfg):
    town = Town()
    town.address(1)
    town.address(2, status="Naamgeving ingetrokken")
    town.nummeraanduiding(3, status="Niet gerealiseerd adres")
    town.rows["bag.ligplaats"].append({"ligplaats_id": "0999020000000001", "hoofdadres_id": num(1)})
    town.vestiging(num_n=1)  # fine
    town.vestiging(vbo_n=1, postcode="0000XX", huisnummer=1)  # fine: checked on the VBO id
    kvk_bad = town.vestiging(num_n=888)  # id unknown in BAG
    town.vestiging(num_n=999, end=dt.date(2025, 1, 1))  # ended vestiging: not checked
    town.vestiging(postcode="9999 aa", huisnummer=1)  # fine, by postcode (normalised)
    town.vestiging(postcode="9999AA", huisnummer=77)  # no such address
    town.persoon(num_n=2)  # withdrawn
    town.persoon(num_n=888)  # same unknown id as the vestiging: one row, both sources
    town.persoon(num_n=3, dead=True)  # deceased: not checked
    town.rows["brp.persoon"][-1]["verblijfsobject_id"] = None
    town.persoon()  # no address at all: not checked
    town.persoon(postcode="9999AA", huisnummer=3)  # only a withdrawn address matches
    town.rows["brp.persoon"].append({**town.rows["brp.persoon"][0], "verblijfsobject_id": "0999020000000001"})
    rows = run(town, "address_not_in_bag", cfg)
    got = {
        (r["nummeraanduiding_id"], r["evidence"]["postcode"], r["evidence"]["huisnummer"]): r["evidence"]
        for r in rows
    }
    assert set(got) == {(num(2), "", None), (num(888), "", None), (None, "9999AA", 77), (None, "9999AA", 3)}
    assert got[(num(888), "", None)]["reason"] == "not_in_bag"
    assert got[(num(888), "", None)]["kvk_vestigingsnummers"] == [kvk_bad]
    assert got[(num(888), "", None)]["brp_persons"] == 1
    assert got[(num(2), "", None)]["reason"] == "withdrawn"
    assert got[(num(2), "", None)]["bag_status"] == "Naamgeving ingetrokken"
    assert got[(None, "9999AA", 3)]["reason"] == "withdrawn"
    assert got[(None, "9999AA", 77)]["reason"] == "not_in_bag"


# -- enforcement ---------------------------------------------------------------------------------


def test_enforcement_history_with_family_elsewhere(cfg):
    town = Town()
    for n in (1, 2, 3, 4):
        town.address(n)
    town.zaak("Z1", "opiumwet_13b", dt.date(2022, 5, 1), num_n=1)
    town.zaak("Z2", "wet_victor", dt.date(2020, 12, 31), num_n=2)  # more than 5 years ago
    town.zaak("Z3", "last_onder_dwangsom", dt.date(2025, 5, 1), num_n=3)  # other instrument
    town.zaak("Z4", "wet_victor", dt.date(2021, 1, 2), num_n=4)  # just inside the window
    resident = town.persoon(vbo_n=1)
    partner = town.persoon(vbo_n=1)  # lives at the same address: not "elsewhere"
    parent = town.persoon(vbo_n=2)
    emigrated = town.persoon()  # no address in the municipality
    town.relatie(resident, partner, "partner")
    town.relatie(resident, parent, "ouder")
    town.relatie(resident, emigrated, "kind")
    rows = run(town, "enforcement_history", cfg)
    case_rows = [r for r in rows if r["evidence"]["via"] == "case"]
    assert [r["nummeraanduiding_id"] for r in case_rows] == [num(1), num(4)]
    ev = case_rows[0]["evidence"]
    assert [z["zaak_id"] for z in ev["zaken"]] == ["Z1"]
    assert ev["residents"] == 2
    assert ev["family_elsewhere"] == [
        {"persoon_id": parent, "relatie": "ouder", "nummeraanduiding_id": num(2)}
    ]
    assert case_rows[1]["evidence"]["family_elsewhere"] == []


def test_enforcement_history_flags_a_relatives_address_two_streets_away(cfg):
    town = Town()
    town.address(1, street=1, panden=(1,))  # the closed address
    town.address(2, street=3, panden=(2,), xy=(100500.0, 400300.0))  # two streets away: a parent
    town.address(3, street=5, panden=(3,))  # an adult child and a sibling of the resident
    town.address(4, street=7, panden=(4,))  # an unrelated neighbour of the parent
    town.zaak("Z1", "opiumwet_13b", dt.date(2024, 5, 1), num_n=1)
    resident = town.persoon(vbo_n=1)
    parent = town.persoon(vbo_n=2)
    child = town.persoon(vbo_n=3)
    sibling = town.persoon(vbo_n=3)
    dead_child = town.persoon(vbo_n=4, dead=True)
    town.persoon(vbo_n=4)
    town.relatie(resident, parent, "ouder")
    town.relatie(resident, child, "kind")
    town.relatie(resident, sibling, "broer")  # not a first-degree relation in brp.relatie
    town.relatie(resident, dead_child, "kind")  # deceased: not followed
    town.address(5, street=9, panden=(5,))
    partner = town.persoon(vbo_n=5)
    town.relatie(partner, resident, "partner")  # recorded on the partner's person list only
    rows = run(town, "enforcement_history", cfg)
    family = {r["nummeraanduiding_id"]: r for r in rows if r["evidence"]["via"] == "family"}
    assert set(family) == {num(2), num(3), num(5)}
    assert family[num(5)]["evidence"]["family"][0]["relatie"] == "partner"
    parent_row = family[num(2)]
    assert (parent_row["verblijfsobject_id"], parent_row["pand_id"]) == (vbo(2), pnd(2))
    assert (parent_row["x"], parent_row["y"]) == (100500.0, 400300.0)
    assert parent_row["evidence"] == {
        "via": "family",
        "family": [
            {
                "relatie": "ouder",
                "case_nummeraanduiding_id": num(1),
                "zaak_ids": ["Z1"],
                "instruments": ["opiumwet_13b"],
            }
        ],
        "window_years": 5,
    }
    # no person appears in a family row: only the relation and the case
    assert all(parent not in json.dumps(r["evidence"]) for r in family.values())
    assert family[num(3)]["evidence"]["family"][0]["relatie"] == "kind"

    only_parents = cfg.model_copy(
        update={
            "enforcement_history": cfg.enforcement_history.model_copy(update={"family_relations": ["ouder"]})
        }
    )
    rows = run(town, "enforcement_history", only_parents)
    assert [r["nummeraanduiding_id"] for r in rows if r["evidence"]["via"] == "family"] == [num(2)]
    town.relatie(child, resident, "ouder")  # the child's list names the resident as parent: still a child
    rows = run(town, "enforcement_history", only_parents)
    assert [r["nummeraanduiding_id"] for r in rows if r["evidence"]["via"] == "family"] == [num(2)]
    none = cfg.model_copy(
        update={"enforcement_history": cfg.enforcement_history.model_copy(update={"family_relations": []})}
    )
    assert [r["evidence"]["via"] for r in run(town, "enforcement_history", none)] == ["case"]


def test_family_relations_must_be_first_degree(tmp_path):
    text = (Path(__file__).parents[1] / "assets/signals/config.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "signals.yaml"
    bad.write_text(text.replace("family_relations: [ouder, kind, partner]", "family_relations: [ouder, oom]"))
    with pytest.raises(ValueError, match="'oom' is not a first-degree relation"):
        load_config(bad)


def test_staff_safety_discloses_only_whom_to_call(cfg):
    town = Town()
    town.address(1)
    town.address(2)
    town.zaak("A1", "agressie_incident", dt.date(2025, 3, 1), num_n=1, team="Team Wijkzorg")
    town.zaak("A2", "agressie_incident", dt.date(2025, 9, 1), num_n=1)
    town.zaak("A3", "agressie_incident", dt.date(2025, 1, 1), num_n=2)  # exactly 12 months: outside
    rows = run(town, "staff_safety", cfg)
    assert [r["nummeraanduiding_id"] for r in rows] == [num(1)]
    assert rows[0]["evidence"] == {
        "message": "caution, contact Team Wijkzorg, Veilige Publieke Dienstverlening"
    }


def test_every_flag_runs_on_an_empty_warehouse(cfg):
    town = Town()
    for code in FLAG_SQL:
        assert run(town, code, cfg) == []
