"""KvK readers and ingest: the three Handelsregister API fixtures and our bulk file (CSV/Parquet)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assets.ingest.kvk import kvk_assets, load_kvk
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.warehouse import Warehouse
from sources.errors import SourceError
from sources.kvk import Onderneming, Vestiging, read_kvk
from sources.kvk.api import response_kind
from sources.kvk.bulk import COLUMNS
from sources.kvk.sbi import SbiError, activities, infer_version, validate

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "kvk"
API_FILES = sorted(FIXTURES.glob("*.json"))


def make_bag_adres(warehouse: Warehouse, rows: list[tuple]) -> None:
    con = warehouse.connect()
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS bag")
        con.execute(
            """CREATE TABLE bag.adres (nummeraanduiding_id VARCHAR, postcode VARCHAR, huisnummer INTEGER,
               huisletter VARCHAR, huisnummertoevoeging VARCHAR, adresseerbaar_object_id VARCHAR,
               is_hoofdadres BOOLEAN)"""
        )
        con.executemany("INSERT INTO bag.adres VALUES (?, ?, ?, ?, ?, ?, true)", rows)
    finally:
        con.close()


AMSTERDAM = [
    ("0363200000000017", "1034WL", 17, None, None, "0363010000000017"),
    ("0363200000000018", "1034WL", 17, "M", None, "0363010000000018"),
    ("0221200000000001", "6981AB", 12, "A", "bis", "0221010000000001"),
]


def query(warehouse: Warehouse, sql: str) -> list[tuple]:
    con = warehouse.connect(read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_response_kind_from_content():
    kinds = {p.name: response_kind(json.loads(p.read_text(encoding="utf-8"))) for p in API_FILES}
    assert kinds == {
        "basisprofiel-69599084.json": "basisprofiel",
        "vestigingsprofiel-000038509504.json": "vestigingsprofiel",
        "zoeken-69599084.json": "zoeken",
    }


def test_vestigingsprofiel_five_digit_sbi_codes():
    (vestiging,) = list(read_kvk(FIXTURES / "vestigingsprofiel-000038509504.json"))
    assert isinstance(vestiging, Vestiging)
    assert [(a.sbi_code, a.sbi_versie, a.is_hoofdactiviteit) for a in vestiging.sbi] == [
        ("10110", "2025", True),
        ("10120", "2025", False),
        ("10130", "2025", False),
    ]
    assert vestiging.sbi[0].omschrijving.startswith("Verwerking en conservering van vlees")
    assert (vestiging.postcode, vestiging.huisnummer, vestiging.huisletter) == ("1034WL", 17, "M")
    assert vestiging.datum_aanvang == dt.date(2015, 8, 28)


def test_basisprofiel_reader():
    records = list(read_kvk(FIXTURES / "basisprofiel-69599084.json"))
    onderneming, hoofdvestiging = records
    assert onderneming == Onderneming(
        "69599084",
        "Test EMZ Dagobert",
        "Eenmanszaak",
        dt.date(2017, 1, 8),
        None,
        "basisprofiel 69599084",
        "basisprofiel",
    )
    assert isinstance(hoofdvestiging, Vestiging) and hoofdvestiging.is_hoofdvestiging
    assert (hoofdvestiging.postcode, hoofdvestiging.huisnummer) == ("1034WL", 17)


def test_load_api_fixtures(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    make_bag_adres(warehouse, AMSTERDAM)
    report = load_kvk(warehouse, API_FILES)
    assert report.objects == {"kvk.onderneming": 1, "kvk.vestiging": 2, "kvk.vestiging_sbi": 3}
    assert report.rejects == 0
    # the vestigingsprofiel replaced the basisprofiel's hoofdvestiging and the zoeken result
    assert report.extra["superseded_views"] == 2
    assert report.extra["address_match_rate"] == 0.5  # the nevenvestiging's search result has no postcode
    rows = query(
        warehouse,
        "SELECT vestigingsnummer, datum_aanvang, huisletter, nummeraanduiding_id, verblijfsobject_id, "
        "adres_match "
        "FROM kvk.vestiging ORDER BY 1",
    )
    assert rows == [
        (
            "000038509504",
            dt.date(2015, 8, 28),
            "M",
            "0363200000000018",
            "0363010000000018",
            "postcode_huisnummer",
        ),
        ("000038509520", None, None, None, None, None),
    ]
    assert query(warehouse, "SELECT sbi_code, sbi_versie FROM kvk.vestiging_sbi ORDER BY 1") == [
        ("10110", "2025"),
        ("10120", "2025"),
        ("10130", "2025"),
    ]


@pytest.mark.parametrize(
    ("items", "version", "reason"),
    [
        ([("1011", None), ("10120", None)], "2008", "4-digit code 1011"),
        ([("10110", None)], "2025", "ends in 0"),
        ([("45201", None)], "2008", "division 45 exists only in SBI 2008"),  # car repair, SBI 2008
        ([("62021", None), ("45112", None)], "2008", "division 45"),
        ([("47191", None), ("56101", None)], "2025", "no evidence"),
        # 4781 is market stalls in SBI 2008 and car retail in SBI 2025: the omschrijving decides
        ([("47811", "Markthandel in groente en fruit")], "2008", "omschrijving of 47811 matches SBI 2008"),
        ([("47811", "Detailhandel in personenauto's")], "2025", "omschrijving of 47811 matches SBI 2025"),
        ([("96021", "Kappers")], "2008", "matches SBI 2008 class 9602"),
        ([("47811", None)], "2008", "class 4781 means another sector in each version"),
        ([("62021", "Ontwikkelen van software")], "2025", "no evidence"),  # no known class: default
    ],
)
def test_sbi_version_inference(items, version, reason):
    inferred = infer_version(items)
    assert inferred.version == version
    assert reason in inferred.reason


def test_sbi_2008_code_without_version_is_kept_with_its_reason():
    good, bad = activities("k.csv", "row 2", [("45201", None, True), ("4511", None, False)], None)
    assert bad == []
    assert [(a.sbi_code, a.sbi_versie) for a in good] == [("45201", "2008"), ("4511", "2008")]
    assert all(a.sbi_versie_reden.startswith("4-digit code 4511") for a in good)
    good, bad = activities("k.csv", "row 3", [("45201", None, True)], None)
    assert bad == [] and good[0].sbi_versie == "2008"
    assert good[0].sbi_versie_reden == "code 45201: division 45 exists only in SBI 2008"
    good, bad = activities("k.csv", "row 4", [("45201", None, True)], "2025")  # delivered: not overridden
    assert good == [] and "division 45 does not exist in SBI 2025" in bad[0].reason


@pytest.mark.parametrize(
    ("code", "version", "message"),
    [
        ("12", "2008", "malformed"),
        ("1O11", "2008", "malformed"),
        ("4000", "2008", "division 40 does not exist"),
        ("0011", "2008", "division 00 does not exist"),
        ("1011", "2025", "4 digits"),
        ("45110", "2025", "division 45 does not exist in SBI 2025"),
    ],
)
def test_invalid_sbi(code, version, message):
    with pytest.raises(SbiError, match=message):
        validate(code, version)


def test_valid_sbi():
    validate("4511", "2008")
    validate("47191", "2008")
    validate("96022", "2025")


def bulk_rows() -> list[dict[str, str]]:
    base = dict.fromkeys(COLUMNS, "")
    base |= {
        "kvk_nummer": "12345678",
        "naam": "Kapsalon Test BV",
        "rechtsvorm": "Besloten Vennootschap",
        "is_hoofdvestiging": "Ja",
        "is_commercieel": "Ja",
        "datum_aanvang": "20200101",
        "straatnaam": "Dorpsstraat",
    }
    return [
        base
        | {
            "vestigingsnummer": "000000000001",
            "huisnummer": "12",
            "huisletter": "a",
            "huisnummertoevoeging": "Bis",
            "postcode": "6981 ab",
            "sbi_codes": "9602|4775",
        },
        base
        | {
            "vestigingsnummer": "000000000002",
            "bag_nummeraanduiding_id": "0221200000000001",
            "sbi_codes": "96022",
            "sbi_versie": "2025",
            "datum_einde": "20240630",
        },
        base | {"vestigingsnummer": "000000000003", "huisnummer": "12", "postcode": "69811AB"},
        base | {"vestigingsnummer": "000000000001", "huisnummer": "14", "postcode": "6981AB"},
        base
        | {
            "vestigingsnummer": "000000000004",
            "huisnummer": "99",
            "postcode": "6981AB",
            "sbi_codes": "4000|9602|12",
            "is_hoofdvestiging": "Nee",
        },
        base | {"vestigingsnummer": "000000000005", "datum_aanvang": "20201301"},
        base | {"vestigingsnummer": "00000000006", "kvk_nummer": "1234"},
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


@pytest.mark.parametrize("writer", [write_csv, write_parquet], ids=["csv", "parquet"])
def test_bulk_file(tmp_path, writer):
    path = writer(tmp_path / f"bulk{'.csv' if writer is write_csv else '.parquet'}", bulk_rows())
    warehouse = Warehouse(tmp_path / "wh")
    make_bag_adres(warehouse, AMSTERDAM)
    report = load_kvk(warehouse, [path])
    assert report.objects == {"kvk.onderneming": 1, "kvk.vestiging": 3, "kvk.vestiging_sbi": 4}
    rejects = dict(query(warehouse, "SELECT record_ref, reason FROM rejects.kvk"))
    ref = "line" if writer is write_csv else "row"
    n = 2 if writer is write_csv else 1  # CSV refs are file lines (header = line 1); Parquet rows
    assert rejects == {
        f"{ref} {2 + n} vestiging 000000000003": "malformed postcode '69811AB'",
        f"{ref} {3 + n} vestiging 000000000001": (
            f"duplicate vestigingsnummer (also {ref} {n} vestiging 000000000001)"
        ),
        f"{ref} {4 + n} vestiging 000000000004 sbi 4000": (
            "unknown SBI code '4000': division 40 does not exist in SBI 2008"
        ),
        f"{ref} {4 + n} vestiging 000000000004 sbi 12": "malformed SBI code '12' (expected 4 or 5 digits)",
        f"{ref} {5 + n} vestiging 000000000005": "bad datum_aanvang '20201301' (no such date)",
        f"{ref} {6 + n}": "malformed or missing vestigingsnummer '00000000006' (expected 12 digits)",
    }
    assert report.rejects == 6
    rows = query(
        warehouse,
        "SELECT vestigingsnummer, postcode, huisletter, huisnummertoevoeging, nummeraanduiding_id, "
        "adres_match, "
        "datum_einde FROM kvk.vestiging ORDER BY 1",
    )
    assert rows == [
        ("000000000001", "6981AB", "A", "BIS", "0221200000000001", "postcode_huisnummer", None),
        ("000000000002", None, None, None, "0221200000000001", "bag_id", dt.date(2024, 6, 30)),
        ("000000000004", "6981AB", None, None, None, None, None),
    ]
    assert report.extra["address_match_rate"] == round(2 / 3, 4)
    sbi = query(
        warehouse,
        "SELECT vestigingsnummer, sbi_code, sbi_versie, is_hoofdactiviteit FROM kvk.vestiging_sbi "
        "ORDER BY 1, 2",
    )
    assert sbi == [
        ("000000000001", "4775", "2008", False),
        ("000000000001", "9602", "2008", True),
        ("000000000002", "96022", "2025", True),
        ("000000000004", "9602", "2008", False),
    ]


def test_bad_files(tmp_path):
    cut = tmp_path / "cut.json"
    cut.write_text(
        (FIXTURES / "basisprofiel-69599084.json").read_text(encoding="utf-8")[:300], encoding="utf-8"
    )
    with pytest.raises(SourceError, match=r"cut\.json: invalid JSON"):
        list(read_kvk(cut))
    latin = tmp_path / "latin.csv"
    rows = bulk_rows()[:1]
    rows[0]["naam"] = "Café Ümlaut"
    write_csv(latin, rows)
    latin.write_bytes(latin.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(SourceError, match=r"latin\.csv.*not valid UTF-8"):
        list(read_kvk(latin))
    missing = tmp_path / "missing.csv"
    missing.write_text("kvk_nummer,vestigingsnummer\n12345678,000000000001\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"missing\.csv, record header: missing column\(s\) naam"):
        list(read_kvk(missing))
    for name, body, kind in [
        ("other.json", {"foo": 1}, "not a KvK basisprofiel, vestigingsprofiel or zoeken response"),
        ("lijst.json", {"kvkNummer": "69599084", "vestigingen": []}, "a vestigingenlijst"),
    ]:
        (tmp_path / name).write_text(json.dumps(body), encoding="utf-8")
        (reject,) = read_kvk(tmp_path / name)  # refused as one reject: the other files still load
        assert reject.record_ref == "response" and reject.reason.startswith(f"implausible response: {kind}")


def test_duplicate_api_profile_is_rejected(tmp_path):
    copy = tmp_path / "vestigingsprofiel-copy.json"
    copy.write_bytes((FIXTURES / "vestigingsprofiel-000038509504.json").read_bytes())
    report = load_kvk(Warehouse(tmp_path / "wh"), [*API_FILES, copy])
    assert report.rejects == 1
    assert query(Warehouse(tmp_path / "wh"), "SELECT reason FROM rejects.kvk")[0][0].startswith(
        "duplicate vestigingsnummer"
    )


def test_failed_load_leaves_previous_tables(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    load_kvk(warehouse, API_FILES)
    cut = tmp_path / "cut.json"
    cut.write_text("{", encoding="utf-8")
    with pytest.raises(SourceError):
        load_kvk(warehouse, [write_csv(tmp_path / "bulk.csv", bulk_rows()), cut])
    assert query(warehouse, "SELECT count(*) FROM kvk.vestiging")[0][0] == 2
    assert query(warehouse, "SELECT count(*) FROM rejects.kvk")[0][0] == 0


def test_failure_inside_the_transaction_rolls_back(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "wh")
    load_kvk(warehouse, API_FILES)

    def fail(*args, **kwargs):
        raise RuntimeError("injected failure after the tables were replaced")

    monkeypatch.setattr("assets.ingest.kvk.match_to_bag", fail)
    with pytest.raises(RuntimeError, match="injected"):
        load_kvk(warehouse, [write_csv(tmp_path / "bulk.csv", bulk_rows())])
    assert query(warehouse, "SELECT vestigingsnummer FROM kvk.vestiging ORDER BY 1") == [
        ("000038509504",),
        ("000038509520",),
    ]
    assert query(warehouse, "SELECT count(*) FROM kvk.vestiging_sbi")[0][0] == 3


def test_dagster_materialize(tmp_path):
    delivery = tmp_path / "delivery"
    (delivery / "kvk").mkdir(parents=True)
    for path in API_FILES:
        (delivery / "kvk" / path.name).write_bytes(path.read_bytes())
    write_csv(delivery / "kvk" / "bulk.csv", bulk_rows())
    warehouse = Warehouse(tmp_path / "wh")
    make_bag_adres(warehouse, AMSTERDAM)
    result = dg.materialize(
        kvk_assets,
        resources={
            "warehouse": WarehouseResource(root=str(warehouse.root)),
            "delivery": DeliveryResource(data_dir=str(delivery)),
        },
    )
    assert result.success
    metadata = {
        tuple(e.asset_key.path): e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert set(metadata) == {("kvk", "onderneming"), ("kvk", "vestiging"), ("kvk", "vestiging_sbi")}
    vestiging = metadata[("kvk", "vestiging")]
    assert vestiging["dagster/row_count"].value == 5
    assert vestiging["rejects"].value == 6
    assert vestiging["address_match_rate"].value == 0.6
    assert [c.name for c in vestiging["dagster/column_schema"].value.columns][:2] == [
        "vestigingsnummer",
        "kvk_nummer",
    ]
