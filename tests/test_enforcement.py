"""Enforcement (handhaving) reader and ingest: our CSV/Parquet format, free-text addresses to BAG."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.ingest.enforcement import enforcement_assets, load_enforcement
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.warehouse import Warehouse
from sources.enforcement import COLUMNS, INSTRUMENTS, Zaak, read_enforcement
from sources.errors import SourceError

BAG = [
    ("0221200000000001", "6981AB", 12, "A", "bis", "0221010000000001"),
    ("0221200000000002", "6981AB", 14, None, None, "0221010000000002"),
    ("0221200000000003", "6981AC", 3, None, "2", "0221010000000003"),
]


def make_bag_adres(warehouse: Warehouse) -> None:
    con = warehouse.connect()
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS bag")
        con.execute(
            """CREATE TABLE bag.adres (nummeraanduiding_id VARCHAR, postcode VARCHAR, huisnummer INTEGER,
               huisletter VARCHAR, huisnummertoevoeging VARCHAR, adresseerbaar_object_id VARCHAR,
               is_hoofdadres BOOLEAN)"""
        )
        con.executemany("INSERT INTO bag.adres VALUES (?, ?, ?, ?, ?, ?, true)", BAG)
    finally:
        con.close()


def cases() -> list[dict[str, str]]:
    base = dict.fromkeys(COLUMNS, "") | {
        "instrument": "opiumwet_13b",
        "datum_start": "2024-03-01",
        "status": "open",
    }
    return [
        base
        | {"zaak_id": "Z1", "adres": "Dorpsstraat 12 A-bis, 6981 AB Doesburg", "team": "Team Ondermijning"},
        base
        | {
            "zaak_id": "Z2",
            "bag_nummeraanduiding_id": "0221200000000002",
            "instrument": "agressie_incident",
            "status": "afgerond",
            "datum_einde": "2024-03-02",
        },
        base | {"zaak_id": "Z3", "adres": "Kerkstraat 3-2, 6981AC"},
        base | {"zaak_id": "Z4", "adres": "Kerkstraat 99, 6981AC Doesburg"},
        base | {"zaak_id": "Z1", "adres": "Kerkstraat 3-2, 6981AC"},
        base | {"zaak_id": "Z5", "instrument": "sluiting"},
        base | {"zaak_id": "Z6", "datum_start": "01-03-2024", "adres": "Kerkstraat 3, 6981AC"},
        base
        | {
            "zaak_id": "Z7",
            "datum_start": "2024-03-01",
            "datum_einde": "2024-02-01",
            "adres": "Kerkstraat 3, 6981AC",
        },
        base | {"zaak_id": "Z8"},
        base | {"zaak_id": "Z9", "adres": "Kerkstraat 3, 698 AC"},
        base | {"zaak_id": "Z10", "status": ""},
        base | {"zaak_id": ""},
        base | {"zaak_id": "Z11", "bag_verblijfsobject_id": "221010000000003"},
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    con = warehouse.connect(read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_instrument_codes_match_the_format():
    formats = (Path(__file__).resolve().parents[1] / "docs" / "FORMATS.md").read_text(encoding="utf-8")
    section = formats.split("Instrument codes:")[1].split("These are")[0]
    assert set(re.findall(r"`([a-z0-9_]+)`", section)) == INSTRUMENTS


def test_reader_parses_free_text(tmp_path):
    path = write_csv(tmp_path / "z.csv", cases()[:1])
    (zaak,) = list(read_enforcement(path))
    assert isinstance(zaak, Zaak)
    assert (zaak.postcode, zaak.huisnummer, zaak.huisletter, zaak.huisnummertoevoeging) == (
        "6981AB",
        12,
        "A",
        "BIS",
    )
    assert zaak.datum_start == dt.date(2024, 3, 1) and zaak.team == "Team Ondermijning"


@pytest.mark.parametrize("writer", [write_csv, write_parquet], ids=["csv", "parquet"])
def test_load(tmp_path, writer):
    path = writer(tmp_path / ("zaken.csv" if writer is write_csv else "zaken.parquet"), cases())
    warehouse = Warehouse(tmp_path / "wh")
    make_bag_adres(warehouse)
    report = load_enforcement(warehouse, [path])
    rows = query(
        warehouse,
        "SELECT zaak_id, instrument, datum_einde, status, nummeraanduiding_id, verblijfsobject_id, "
        "adres_match "
        "FROM handhaving.zaak ORDER BY 1",
    )
    assert rows == [
        ("Z1", "opiumwet_13b", None, "open", "0221200000000001", "0221010000000001", "postcode_huisnummer"),
        (
            "Z2",
            "agressie_incident",
            dt.date(2024, 3, 2),
            "afgerond",
            "0221200000000002",
            "0221010000000002",
            "bag_id",
        ),
        ("Z3", "opiumwet_13b", None, "open", "0221200000000003", "0221010000000003", "postcode_huisnummer"),
        ("Z4", "opiumwet_13b", None, "open", None, None, None),
    ]
    assert report.extra["address_match_rate"] == 0.75
    assert report.extra["address_matched_by_bag_id"] == 1
    reasons = sorted(r for (r,) in query(warehouse, "SELECT reason FROM rejects.handhaving"))
    assert report.rejects == len(reasons) == 9
    assert reasons == sorted(
        [
            f"duplicate zaak_id (first at {'line 2' if writer is write_csv else 'row 1'} zaak Z1)",
            "unknown instrument 'sluiting'",
            "bad datum_start '01-03-2024' (expected YYYY-MM-DD)",
            "datum_einde 2024-02-01 before datum_start 2024-03-01",
            "no address: give bag_nummeraanduiding_id, bag_verblijfsobject_id or adres",
            "adres: no postcode in address text",
            "missing required field(s) status",
            "missing zaak_id",
            "malformed bag_verblijfsobject_id '221010000000003' (expected 16 digits)",
        ]
    )


def test_bad_files(tmp_path):
    latin = tmp_path / "latin.csv"
    rows = cases()[:1]
    rows[0]["team"] = "Team Zuid-Oost É"
    write_csv(latin, rows)
    latin.write_bytes(latin.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.csv.*not valid UTF-8"):
        list(read_enforcement(latin))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError, match=r"broken\.parquet: unreadable Parquet"):
        list(read_enforcement(broken))
    xlsx = tmp_path / "zaken.xlsx"
    xlsx.write_bytes(b"")
    with pytest.raises(SourceError, match="unsupported file type"):
        list(read_enforcement(xlsx))


def test_failed_load_leaves_previous_tables(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    load_enforcement(warehouse, [write_csv(tmp_path / "good.csv", cases())])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError):
        load_enforcement(warehouse, [write_csv(tmp_path / "other.csv", cases()[:1]), broken])
    assert query(warehouse, "SELECT count(*) FROM handhaving.zaak")[0][0] == 4
    assert query(warehouse, "SELECT count(*) FROM rejects.handhaving")[0][0] == 9


def test_failure_inside_the_transaction_rolls_back(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "wh")
    load_enforcement(warehouse, [write_csv(tmp_path / "good.csv", cases())])

    def fail(*args, **kwargs):
        raise RuntimeError("injected failure while writing rejects")

    monkeypatch.setattr("assets.ingest.enforcement.replace_rejects", fail)
    with pytest.raises(RuntimeError, match="injected"):
        load_enforcement(warehouse, [write_csv(tmp_path / "other.csv", cases()[:1])])
    assert query(warehouse, "SELECT count(*) FROM handhaving.zaak")[0][0] == 4


def test_dagster_materialize(tmp_path):
    delivery = tmp_path / "delivery"
    (delivery / "handhaving").mkdir(parents=True)
    write_csv(delivery / "handhaving" / "zaken.csv", cases())
    warehouse = Warehouse(tmp_path / "wh")
    make_bag_adres(warehouse)
    result = dg.materialize(
        enforcement_assets,
        resources={
            "warehouse": WarehouseResource(root=str(warehouse.root)),
            "delivery": DeliveryResource(data_dir=str(delivery)),
        },
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key.path == ["handhaving", "zaak"]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == 4
    assert metadata["rejects"].value == 9
    assert metadata["address_match_rate"].value == 0.75
