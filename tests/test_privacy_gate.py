"""The join gate: permitted columns only, refusals with reasons, a locked sandbox, aggregation."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, materialize

from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse, publish
from privacy.gate import GateRefused, aggregated_reader, gated_asset
from privacy.log import ProcessingLog
from privacy.register import DEFAULT_PATH

READS = {
    "bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"],
    "kvk.vestiging": ["vestigingsnummer", "verblijfsobject_id", "datum_einde"],
}
JOIN = """SELECT p.pand_id, count(DISTINCT v.vestigingsnummer) AS vestigingen
          FROM bag.verblijfsobject_pand p JOIN kvk.vestiging v USING (verblijfsobject_id)
          WHERE v.datum_einde IS NULL GROUP BY p.pand_id"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    w = Warehouse(tmp_path_factory.mktemp("template"))
    with w.transaction() as con:
        con.execute("CREATE SCHEMA bag; CREATE SCHEMA kvk")
        con.execute(
            """CREATE TABLE bag.verblijfsobject_pand AS
               SELECT printf('0363010000%06d', i) AS verblijfsobject_id,
                      printf('0363100000%06d', i % 3) AS pand_id
               FROM range(24) t(i)"""
        )
        con.execute(
            """CREATE TABLE kvk.vestiging AS
               SELECT printf('%012d', i) AS vestigingsnummer, printf('%08d', i) AS kvk_nummer,
                      'Handelsnaam ' || i AS eerste_handelsnaam,
                      printf('0363010000%06d', i) AS verblijfsobject_id,
                      printf('0363200000%06d', i) AS nummeraanduiding_id,
                      CASE WHEN i < 20 THEN NULL ELSE DATE '2024-01-01' END AS datum_einde,
                      DATE '2020-01-01' AS datum_aanvang, true AS is_commercieel,
                      CASE WHEN i < 12 THEN '1011AB' WHEN i < 14 THEN '1012CD' ELSE '1013EF' END AS postcode
               FROM range(24) t(i)"""
        )
        con.execute(
            """CREATE TABLE kvk.vestiging_sbi AS
               SELECT printf('%012d', i) AS vestigingsnummer, CASE WHEN i % 2 = 0 THEN '9602' ELSE '4711' END
                      AS sbi_code, '2008' AS sbi_versie, true AS is_hoofdactiviteit
               FROM range(24) t(i)"""
        )
    return w.path


@pytest.fixture
def warehouse(template, tmp_path) -> Warehouse:
    w = Warehouse(tmp_path / "wh")
    w.root.mkdir()
    shutil.copyfile(template, w.path)
    return w


def run(asset, warehouse: Warehouse):
    return materialize(
        [asset], resources={"warehouse": WarehouseResource(root=str(warehouse.root))}, raise_on_error=False
    )


def failure_message(result) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "expected the asset to fail"
    return str(failures[0].event_specific_data.error.message)


def register_variant(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def table_names(warehouse: Warehouse) -> set[str]:
    con = warehouse.connect(read_only=True)
    try:
        return {
            f"{s}.{t}"
            for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
    finally:
        con.close()


def test_gated_join_writes_the_result_with_lineage_and_log(warehouse):
    seen = {}

    @gated_asset(
        key=["signals", "test_companies"], purpose="signaalanalyse_ondermijning", reads=READS, group_name="t"
    )
    def companies(context, gated):
        seen["tables"] = gated.tables()
        seen["rows"] = gated.fetchall("SELECT count(*) FROM kvk.vestiging")
        try:
            gated.execute("SELECT eerste_handelsnaam FROM kvk.vestiging")
        except Exception as exc:  # the column was never copied into the sandbox
            seen["hidden"] = type(exc).__name__
        return JOIN

    spec = companies.specs_by_key[AssetKey(["signals", "test_companies"])]
    assert spec.metadata["purpose"] == "signaalanalyse_ondermijning"
    assert "Gemeentewet" in spec.metadata["grondslag"]
    assert {d.asset_key for d in spec.deps} == {
        AssetKey(["bag", "verblijfsobject_pand"]),
        AssetKey(["kvk", "vestiging"]),
    }

    result = run(companies, warehouse)
    assert result.success
    assert seen["tables"] == READS
    assert seen["rows"] == [(24,)]
    assert seen["hidden"] == "BinderException"

    con = warehouse.connect(read_only=True)
    rows = con.execute("SELECT pand_id, vestigingen FROM signals.test_companies ORDER BY 1").fetchall()
    con.close()
    assert rows == [("0363100000000000", 7), ("0363100000000001", 7), ("0363100000000002", 6)]

    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["dagster/row_count"].value == 3
    assert meta["purpose"].value == "signaalanalyse_ondermijning"
    assert "Publieke taak" in meta["grondslag"].value
    lineage = meta["dagster/column_lineage"].value.deps_by_column
    assert [(d.asset_key, d.column_name) for d in lineage["pand_id"]] == [
        (AssetKey(["bag", "verblijfsobject_pand"]), "pand_id")
    ]
    assert [(d.asset_key, d.column_name) for d in lineage["vestigingen"]] == [
        (AssetKey(["kvk", "vestiging"]), "vestigingsnummer")
    ]

    (entry,) = list(ProcessingLog(warehouse).entries())
    assert entry.action == "gated_join" and entry.output == "signals.test_companies"
    assert entry.inputs == READS
    assert entry.row_counts == {
        "bag.verblijfsobject_pand": 24,
        "kvk.vestiging": 24,
        "signals.test_companies": 3,
    }
    assert entry.run_id == result.run_id and entry.code_version
    assert "Subsidiariteit" in entry.justification
    assert entry.details["lineage"]["pand_id"] == ["bag.verblijfsobject_pand.pand_id"]
    assert entry.details["lineage_method"] == "parsed"


def test_lineage_falls_back_to_every_declared_column(warehouse):
    @gated_asset(key=["signals", "test_temp"], purpose="signaalanalyse_ondermijning", reads=READS)
    def via_temp_table(context, gated):
        gated.execute("CREATE TEMP TABLE t AS " + JOIN)
        return "SELECT pand_id, vestigingen * 2 AS double FROM t"

    result = run(via_temp_table, warehouse)
    assert result.success
    (entry,) = list(ProcessingLog(warehouse).entries())
    assert entry.details["lineage_method"] == "coarse"
    assert entry.details["lineage"]["pand_id"] == ["bag.verblijfsobject_pand.pand_id"]
    assert len(entry.details["lineage"]["double"]) == 5  # every declared column: never missing a source


def test_the_sandbox_cannot_reach_files_or_change_its_configuration(warehouse):
    attempts = {
        "attach": f"ATTACH '{warehouse.path}' AS escape (READ_ONLY)",
        "read_csv": "SELECT * FROM read_csv('/etc/hostname')",
        "read_parquet": f"SELECT * FROM read_parquet('{warehouse.root}/*.parquet')",
        "copy": f"COPY kvk.vestiging TO '{warehouse.root}/leak.csv'",
        "unlock": "SET enable_external_access = true",
        "install": "INSTALL httpfs",
    }
    outcomes = {}

    @gated_asset(key=["signals", "test_escape"], purpose="signaalanalyse_ondermijning", reads=READS)
    def escape(context, gated):
        for name, sql in attempts.items():
            try:
                gated.execute(sql)
                outcomes[name] = "allowed"
            except Exception as exc:
                outcomes[name] = type(exc).__name__
        return "SELECT pand_id FROM bag.verblijfsobject_pand"

    assert run(escape, warehouse).success
    assert "allowed" not in outcomes.values(), outcomes
    assert not (warehouse.root / "leak.csv").exists()


def test_a_column_outside_the_register_is_refused(warehouse):
    # straatnaam: the delivered street of a vestiging; the purpose reads addresses from BAG only.
    reads = {"kvk.vestiging": ["vestigingsnummer", "straatnaam"]}

    @gated_asset(key=["signals", "test_names"], purpose="signaalanalyse_ondermijning", reads=reads)
    def names(context, gated):
        raise AssertionError("the gate must refuse before calling the asset")

    result = run(names, warehouse)
    assert not result.success
    message = failure_message(result)
    assert "gate refused signals.test_names" in message
    assert "straatnaam of kvk.vestiging are not allowed for purpose 'signaalanalyse_ondermijning'" in message
    assert "signals.test_names" not in table_names(warehouse)
    (entry,) = list(ProcessingLog(warehouse).entries())
    assert entry.action == "refusal" and entry.outcome == "geweigerd" and "straatnaam" in entry.reason


def test_a_table_outside_the_register_is_refused(warehouse):
    @gated_asset(
        key=["signals", "test_safety"],
        purpose="veiligheid_medewerkers",
        reads={"kvk.vestiging": ["vestigingsnummer"]},
    )
    def safety(context, gated):
        return "SELECT 1"

    message = failure_message(run(safety, warehouse))
    assert "table kvk.vestiging is not a source of purpose 'veiligheid_medewerkers'" in message


def test_an_unknown_purpose_is_refused(warehouse):
    @gated_asset(key=["signals", "test_unknown"], purpose="curiosity", reads=READS)
    def unknown(context, gated):
        return "SELECT 1"

    assert "purpose 'curiosity' is not in the processing register" in failure_message(run(unknown, warehouse))


def test_an_expired_purpose_is_refused(warehouse, tmp_path):
    yesterday = dt.date.today() - dt.timedelta(days=1)

    def expire(doc):
        doc["purposes"]["signaalanalyse_ondermijning"]["approved_on"] = yesterday - dt.timedelta(days=400)
        doc["purposes"]["signaalanalyse_ondermijning"]["valid_until"] = yesterday

    path = register_variant(tmp_path, expire)

    @gated_asset(
        key=["signals", "test_expired"],
        purpose="signaalanalyse_ondermijning",
        reads=READS,
        register_path=path,
    )
    def expired(context, gated):
        return JOIN

    assert f"expired on {yesterday.isoformat()}" in failure_message(run(expired, warehouse))


def test_a_purpose_without_justification_is_refused(warehouse, tmp_path):
    path = register_variant(
        tmp_path, lambda d: d["purposes"]["signaalanalyse_ondermijning"].pop("proportionaliteit")
    )

    @gated_asset(
        key=["signals", "test_unjustified"],
        purpose="signaalanalyse_ondermijning",
        reads=READS,
        register_path=path,
    )
    def unjustified(context, gated):
        return JOIN

    message = failure_message(run(unjustified, warehouse))
    assert "signaalanalyse_ondermijning" in message and "proportionaliteit" in message


SECTOR_READS = {
    "kvk.vestiging": ["vestigingsnummer", "postcode", "datum_einde"],
    "kvk.vestiging_sbi": ["vestigingsnummer", "sbi_code"],
}
SECTOR_ROWS = (
    """SELECT v.postcode, s.sbi_code FROM kvk.vestiging v JOIN kvk.vestiging_sbi s USING (vestigingsnummer)"""
)


def test_aggregated_purpose_gets_only_cells_of_the_minimum_size(warehouse):
    fetched = {}

    @gated_asset(
        key=["sector", "test_branches"],
        purpose="brancheanalyse",
        reads=SECTOR_READS,
        group_by=["postcode", "sbi_code"],
        count_column="vestigingen",
    )
    def branches(context, gated):
        try:
            gated.fetchall("SELECT * FROM kvk.vestiging")
        except GateRefused as exc:
            fetched["refused"] = str(exc)
        # Even a query that tries to return single rows is grouped and suppressed by the gate.
        return SECTOR_ROWS.replace("SELECT v.postcode,", "SELECT v.vestigingsnummer, v.postcode,")

    result = run(branches, warehouse)
    assert result.success
    assert "aggregated-only" in fetched["refused"]
    con = warehouse.connect(read_only=True)
    rows = con.execute("SELECT * FROM sector.test_branches ORDER BY ALL").fetchall()
    columns = [d[0] for d in con.description]
    con.close()
    # 1011AB: 12 vestigingen (6 + 6); 1012CD: 2 (suppressed); 1013EF: 10 (5 + 5).
    assert columns == ["postcode", "sbi_code", "vestigingen"]
    assert rows == [
        ("1011AB", "4711", 6),
        ("1011AB", "9602", 6),
        ("1013EF", "4711", 5),
        ("1013EF", "9602", 5),
    ]
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["suppressed_cells"].value == 2 and meta["min_cell_size"].value == 5


def test_aggregated_purpose_without_group_by_is_refused(warehouse):
    @gated_asset(key=["sector", "test_rows"], purpose="brancheanalyse", reads=SECTOR_READS)
    def rows(context, gated):
        return SECTOR_ROWS

    assert "declare group_by" in failure_message(run(rows, warehouse))


def test_gate_works_while_this_process_has_the_warehouse_open(warehouse):
    @gated_asset(key=["signals", "test_open"], purpose="signaalanalyse_ondermijning", reads=READS)
    def still_open(context, gated):
        assert gated.tables() == READS
        return JOIN

    holder = warehouse.connect()  # DuckDB refuses a second ATTACH of an open file: the gate streams instead
    try:
        assert run(still_open, warehouse).success
        assert holder.execute("SELECT count(*) FROM signals.test_open").fetchone()[0] == 3
    finally:
        holder.close()


def test_aggregated_reader_for_notebooks(warehouse):
    publish(warehouse)
    reader = aggregated_reader(warehouse, "brancheanalyse", SECTOR_READS, user="analist1")
    try:
        table = reader.counts(SECTOR_ROWS, group_by=["postcode"])
    finally:
        reader.close()
    assert sorted(zip(table["postcode"].to_pylist(), table["n"].to_pylist(), strict=True)) == [
        ("1011AB", 12),
        ("1013EF", 10),
    ]
    entry = list(ProcessingLog(warehouse).entries())[-1]
    assert entry.action == "aggregated_read" and entry.gebruiker == "analist1"
    assert entry.details["suppressed_cells"] == 1

    with pytest.raises(GateRefused, match="not aggregated-only"):
        aggregated_reader(
            warehouse, "bibob_screening", {"kvk.vestiging": ["vestigingsnummer"]}, user="analist1"
        )
    with pytest.raises(GateRefused, match="role 'frontline'"):
        aggregated_reader(warehouse, "brancheanalyse", SECTOR_READS, user="x", role="frontline")
    refusals = [e for e in ProcessingLog(warehouse).entries() if e.action == "refusal"]
    assert len(refusals) == 2
