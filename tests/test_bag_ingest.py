"""``load_bag`` and the Dagster BAG assets on the real Doesburg extract."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from dagster import AssetKey, materialize

from assets.ingest.bag import BAG_TABLES, bag_assets, load_bag
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.warehouse import Warehouse
from sources.bag.objects import ID_COLUMNS, TABLES
from sources.errors import SourceError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
CURRENT = {"WPL": 1, "OPR": 198, "NUM": 8, "VBO": 2, "PND": 2, "LIG": 2, "STA": 2}


def _counts(warehouse: Warehouse) -> dict[str, int]:
    con = warehouse.connect(read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in [*BAG_TABLES, "rejects.bag"]
        }
    finally:
        con.close()


def test_load_bag_with_two_processes(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    report = load_bag(warehouse, EXTRACT, processes=2)
    assert report.objects == CURRENT
    assert report.rejects == 2  # the fixture's two nummeraanduidingen with two current voorkomens
    assert report.bytes > 37_000_000  # uncompressed XML, InOnderzoek included
    assert report.extra["stand_technische_datum"] == "2020-09-15"
    con = warehouse.connect(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM bag.history_verblijfsobject").fetchone()[0] == 5
        assert con.execute("SELECT record_ref FROM rejects.bag ORDER BY 1").fetchall() == [
            ("NUM 0221200000330998 voorkomen 1",),
            ("NUM 0221200000330999 voorkomen 1",),
        ]
        assert con.execute("SELECT stand_technische_datum, source_file FROM bag.levering").fetchone() == (
            dt.date(2020, 9, 15),
            EXTRACT.name,
        )
    finally:
        con.close()


# The documented rule (docs/BAG.md, "Current voorkomen"), written out here with a window over the
# whole history: the implementation uses a filter and resolves only the objects with duplicates.
REFERENCE = """SELECT * EXCLUDE (_rank) FROM (
    SELECT * {exclude}, row_number() OVER (
        PARTITION BY {ident} ORDER BY tijdstip_registratie DESC, voorkomen_id DESC, rowid) AS _rank
    FROM bag.history_{table}
    WHERE begin_geldigheid <= DATE '{day}' AND coalesce(eind_geldigheid > DATE '{day}', true)
      AND CAST(tijdstip_registratie AS DATE) <= DATE '{day}'
      AND coalesce(CAST(eind_registratie AS DATE) > DATE '{day}', true))
WHERE _rank = 1"""
LISTS = {"VBO": "gebruiksdoelen, pand_ids, nevenadres_ids", "LIG": "nevenadres_ids", "STA": "nevenadres_ids"}


@pytest.mark.parametrize("as_of", [None, dt.date(2019, 2, 1), dt.date(2012, 6, 1)])
def test_current_tables_are_views_equal_to_the_rule(tmp_path, as_of):
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, EXTRACT, processes=1, as_of=as_of)
    day = (as_of or dt.date(2020, 9, 15)).isoformat()
    con = warehouse.connect(read_only=True)
    try:
        kinds = dict(
            con.execute(
                "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'bag'"
            ).fetchall()
        )
        for kind, table in TABLES.items():
            assert kinds[table] == "VIEW"
            exclude = f"EXCLUDE ({LISTS[kind]})" if kind in LISTS else ""
            reference = REFERENCE.format(exclude=exclude, ident=ID_COLUMNS[kind], table=table, day=day)
            view = f"SELECT * FROM bag.{table}"
            for a, b in ((view, reference), (reference, view)):
                assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0] == 0, table
        resolved = con.execute(
            "SELECT nummeraanduiding_id, voorkomen_id FROM bag.resolved_nummeraanduiding ORDER BY 1"
        ).fetchall()
        if as_of is None:  # the fixture's two nummeraanduidingen with two current voorkomens
            assert resolved == [("0221200000330998", 3), ("0221200000330999", 3)]
    finally:
        con.close()


def test_failed_second_load_keeps_the_first(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, EXTRACT, processes=1)
    before = _counts(warehouse)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(EXTRACT) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            if info.filename != "9999STA15092020.zip":
                dst.writestr(info, src.read(info))
    with pytest.raises(SourceError, match="missing STA"):
        load_bag(warehouse, broken, as_of=dt.date(2015, 1, 1), processes=1)
    assert _counts(warehouse) == before
    assert before["bag.verblijfsobject"] == 2


def test_dagster_assets_materialize(tmp_path):
    data = tmp_path / "delivery"
    (data / "bag").mkdir(parents=True)
    (data / "bag" / EXTRACT.name).symlink_to(EXTRACT)
    result = materialize(
        bag_assets,
        resources={
            "warehouse": WarehouseResource(root=str(tmp_path / "wh")),
            "delivery": DeliveryResource(data_dir=str(data)),
        },
    )
    assert result.success
    materializations = {
        m.asset_key: m.metadata
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
    }
    assert set(materializations) == {AssetKey(t.split(".")) for t in BAG_TABLES}
    meta = materializations[AssetKey(["bag", "verblijfsobject"])]
    assert meta["dagster/row_count"].value == 2
    assert meta["rejects"].value == 2
    assert "verblijfsobject_id" in [c.name for c in meta["dagster/column_schema"].schema.columns]
    assert meta["mb_per_s"].value > 0


def test_error_in_a_worker_process_names_the_file(tmp_path):
    delivery = tmp_path / "bag"
    delivery.mkdir()
    with zipfile.ZipFile(EXTRACT) as outer:
        for object_type in ("NUM", "OPR"):
            (delivery / f"9999{object_type}15092020.zip").write_bytes(
                outer.read(f"9999{object_type}15092020.zip")
            )
    good = zipfile.ZipFile(delivery / "9999NUM15092020.zip").read("0221NUM15092020-000001.xml")
    (delivery / "0221NUM15092020-000002.xml").write_bytes(good[:5000])
    with pytest.raises(SourceError) as err:
        load_bag(Warehouse(tmp_path / "wh"), delivery, processes=2)
    assert err.value.file == "0221NUM15092020-000002.xml"
    assert "truncated" in err.value.reason
