"""Column lineage parsed from the gated SELECT (DuckDB's own parser), with a safe fallback."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse import load_spatial
from privacy.lineage import parse_lineage

READS = {
    "bag.verblijfsobject": ["verblijfsobject_id", "hoofdadres_id", "oppervlakte", "x", "y"],
    "bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"],
    "brp.persoon": ["persoon_id", "verblijfsobject_id", "meerderjarig"],
}


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    load_spatial(c)
    yield c
    c.close()


def lineage(con, sql: str) -> list[list[str]] | None:
    return parse_lineage(con, sql, READS)


def test_ctes_joins_and_aggregates(con):
    sql = """WITH adults AS (
                 SELECT verblijfsobject_id, count(*) FILTER (WHERE meerderjarig) AS adults,
                        list(persoon_id) AS ids
                 FROM brp.persoon GROUP BY verblijfsobject_id)
             SELECT 'overcrowding' AS flag, vo.hoofdadres_id AS nummeraanduiding_id, vp.pand_id,
                    json_object('m2_per_adult', vo.oppervlakte / a.adults, 'persons', a.ids) AS evidence,
                    vo.x, count(*) OVER () AS total
             FROM adults a JOIN bag.verblijfsobject vo USING (verblijfsobject_id)
             LEFT JOIN bag.verblijfsobject_pand vp ON vp.verblijfsobject_id = vo.verblijfsobject_id
             WHERE a.adults >= 4"""
    assert lineage(con, sql) == [
        [],
        ["bag.verblijfsobject.hoofdadres_id"],
        ["bag.verblijfsobject_pand.pand_id"],
        # a FILTER decides the count's value, so meerderjarig counts as a source
        ["bag.verblijfsobject.oppervlakte", "brp.persoon.meerderjarig", "brp.persoon.persoon_id"],
        ["bag.verblijfsobject.x"],
        [],
    ]


def test_star_union_values_and_subqueries(con):
    sql = """SELECT * EXCLUDE (hoofdadres_id) FROM bag.verblijfsobject
             UNION ALL
             SELECT p.verblijfsobject_id, (SELECT max(oppervlakte) FROM bag.verblijfsobject), d.dx, 0
             FROM bag.verblijfsobject_pand p, (VALUES (1), (2)) d(dx)"""
    assert lineage(con, sql) == [
        ["bag.verblijfsobject.verblijfsobject_id", "bag.verblijfsobject_pand.verblijfsobject_id"],
        ["bag.verblijfsobject.oppervlakte"],
        ["bag.verblijfsobject.x"],
        ["bag.verblijfsobject.y"],
    ]
    assert lineage(con, "SELECT v.* FROM bag.verblijfsobject_pand v") == [
        ["bag.verblijfsobject_pand.verblijfsobject_id"],
        ["bag.verblijfsobject_pand.pand_id"],
    ]


def test_unknown_constructs_return_none(con):
    assert lineage(con, "SELECT * FROM temp_table_of_the_asset") is None
    assert lineage(con, "SELECT unnest FROM unnest([1, 2])") is None
    assert lineage(con, "SELEC nonsense") is None
    assert lineage(con, "SELECT 1; SELECT 2") is None


def test_every_flag_of_the_signals_catalogue_has_parsed_lineage(con):
    signals = pytest.importorskip("assets.signals.sql")
    config = pytest.importorskip("assets.signals.config")
    cfg = config.load_config()
    for code, build in signals.FLAG_SQL.items():
        result = parse_lineage(con, build(cfg), signals.READS[code])
        assert result is not None, f"{code}: lineage falls back to the coarse rule"
        assert len(result) == len(signals.RESULT_COLUMNS)
        evidence = result[list(signals.RESULT_COLUMNS).index("evidence")]
        assert evidence, f"{code}: evidence derives from no source column"
