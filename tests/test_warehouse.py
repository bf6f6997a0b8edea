"""The warehouse: spatial from the wheel, atomic transactions, published releases."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.warehouse import Warehouse, current_release, publish


def test_spatial_is_loaded_from_the_wheel_without_downloads(tmp_path):
    con = Warehouse(tmp_path).connect()
    area = con.execute("SELECT ST_Area(ST_GeomFromText('POLYGON((0 0, 10 0, 10 5, 0 5, 0 0))'))").fetchone()[
        0
    ]
    assert area == 50.0
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] is False


def test_failed_transaction_keeps_the_last_good_table(tmp_path):
    wh = Warehouse(tmp_path)
    with wh.transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS v")
    with pytest.raises(RuntimeError), wh.transaction() as con:
        con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS v")
        raise RuntimeError("load failed half-way")
    assert wh.connect(read_only=True).execute("SELECT v FROM t").fetchall() == [(1,)]


def test_read_only_connect_refuses_a_missing_warehouse(tmp_path):
    with pytest.raises(FileNotFoundError, match="no warehouse"):
        Warehouse(tmp_path / "nowhere").connect(read_only=True)


def test_a_reader_keeps_its_release_while_a_new_one_is_published(tmp_path):
    wh = Warehouse(tmp_path)
    with wh.transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS v")
    first = publish(wh)
    reader = duckdb.connect(str(current_release(wh)), read_only=True)

    with wh.transaction() as con:  # the nightly run writes while the reader is open
        con.execute("CREATE OR REPLACE TABLE t AS SELECT 2 AS v")
    second = publish(wh)

    assert first != second
    assert reader.execute("SELECT v FROM t").fetchall() == [(1,)]
    fresh = duckdb.connect(str(current_release(wh)), read_only=True)
    assert fresh.execute("SELECT v FROM t").fetchall() == [(2,)]


def test_current_release_without_a_run_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="knooppunt run"):
        current_release(Warehouse(tmp_path))


def test_source_errors_survive_a_process_pool():
    import pickle

    from sources.errors import SourceError

    pickled = pickle.dumps(SourceError("0221VBO.xml", "truncated XML", "byte 120"))
    error = pickle.loads(pickled)  # noqa: S301 - our own bytes, as a process pool does
    assert (error.file, error.reason, error.record) == ("0221VBO.xml", "truncated XML", "byte 120")
    assert str(error) == "0221VBO.xml, record byte 120: truncated XML"


def test_a_release_stores_search_tables_sorted_on_their_keys(tmp_path):
    wh = Warehouse(tmp_path)
    with wh.transaction() as con:
        con.execute("CREATE SCHEMA bag")
        con.execute("CREATE TABLE bag.t AS SELECT (1000 - i) AS k, i AS v FROM range(1000) r(i)")
    release = publish(wh, order={"bag.t": "k", "bag.missing": "k"})
    con = duckdb.connect(str(release), read_only=True)
    stored = [k for (k,) in con.execute("SELECT k FROM bag.t").fetchall()]  # storage order
    assert stored == sorted(stored) and len(stored) == 1000
    # the warehouse itself is left as it was
    source = duckdb.connect(str(wh.path), read_only=True)
    assert source.execute("SELECT k FROM bag.t LIMIT 1").fetchone()[0] == 1000


def test_a_release_stores_a_searched_view_as_a_sorted_table(tmp_path):
    # BAG's current tables are views of the history; the release stores the searched ones sorted
    wh = Warehouse(tmp_path)
    with wh.transaction() as con:
        con.execute("CREATE SCHEMA bag")
        con.execute(
            "CREATE TABLE bag.h AS SELECT (1000 - i) AS k, i % 2 = 0 AS current FROM range(1000) r(i)"
        )
        con.execute("CREATE VIEW bag.v AS SELECT k FROM bag.h WHERE current")
        con.execute("CREATE VIEW bag.w AS SELECT k FROM bag.h WHERE NOT current")
    release = publish(wh, order={"bag.v": "k"})
    con = duckdb.connect(str(release), read_only=True)
    kinds = dict(
        con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'bag'"
        ).fetchall()
    )
    assert kinds == {"h": "BASE TABLE", "v": "BASE TABLE", "w": "VIEW"}
    stored = [k for (k,) in con.execute("SELECT k FROM bag.v").fetchall()]
    assert stored == sorted(stored) == list(range(2, 1001, 2))
    source = duckdb.connect(str(wh.path), read_only=True)
    assert source.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'v'"
    ).fetchone() == ("VIEW",)
