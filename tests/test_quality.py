"""Data-quality suites on real deliveries (the registries' own fixtures) and on planted violations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import AssetCheckSeverity, build_asset_check_context

from assets.ingest.bag import load_bag
from assets.ingest.brp import load_brp
from assets.ingest.enforcement import load_enforcement
from assets.ingest.kvk import load_kvk
from assets.quality import quality_checks
from assets.quality.checks import report_markdown, run_suite
from assets.quality.rules import SUITES
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse
from sources.bsn import is_valid_bsn

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
TEST_BSN = "999999990"  # BSN test range, passes the elfproef


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Warehouse:
    """A warehouse loaded from the real fixtures (BAG Doesburg, RvIG GBA-V test set, KvK API)."""
    root = tmp_path_factory.mktemp("real")
    warehouse = Warehouse(root / "wh")
    load_bag(warehouse, FIXTURES / "bag" / "BAGNLDL-15092020-small.zip")
    load_brp(warehouse, [FIXTURES / "brp" / "gba-v-testset-20220502.csv"])
    load_kvk(warehouse, sorted((FIXTURES / "kvk").glob("*.json")))
    con = warehouse.connect(read_only=True)
    num = con.execute("SELECT min(nummeraanduiding_id) FROM bag.nummeraanduiding").fetchone()[0]
    con.close()
    cases = root / "zaken.csv"
    cases.write_text(
        "zaak_id,instrument,datum_start,datum_einde,status,team,bag_nummeraanduiding_id,"
        "bag_verblijfsobject_id,adres\n"
        f"Z-1,opiumwet_13b,2020-03-01,2020-09-01,afgerond,Team Ondermijning,{num},,\n",
        encoding="utf-8",
    )
    load_enforcement(warehouse, [cases])
    return warehouse


def test_real_deliveries_pass_every_blocking_rule(real):
    con = real.connect(read_only=True)
    try:
        reports = [run_suite(con, suite) for suite in SUITES]
    finally:
        con.close()
    assert {r.suite.table for r in reports} == {s.table for s in SUITES}
    for report in reports:
        assert report.rows > 0, report.suite.table
        assert report.blocking_failures == [], report_markdown(report)
    persoon = next(r for r in reports if r.suite.table == "brp.persoon")
    # the RvIG test set's persons live in Rotterdam, not in the Doesburg BAG: reported, not blocking
    address = next(r for r in persoon.results if r.rule.name == "address_in_bag")
    assert address.violations > 0 and not address.passed and not address.rule.blocking
    # the test set's seven living persons born 1898-1904 were refused at the reader: counted here
    implausible = next(r for r in persoon.results if r.rule.name == "implausible_rejects")
    assert implausible.violations == 7 and not implausible.rule.blocking
    assert all(e.startswith("line ") for e in implausible.examples)


def test_planted_violations_are_counted_with_pseudonymised_examples(real, tmp_path):
    assert is_valid_bsn(TEST_BSN)
    copy = Warehouse(tmp_path / "wh")
    copy.root.mkdir()
    shutil.copyfile(real.path, copy.path)
    con = copy.connect()
    try:
        # planted in the history as current voorkomens: the current tables are views of it
        current = "1, DATE '2000-01-01', TIMESTAMP '2000-01-01 00:00:00'"
        con.execute(
            "INSERT INTO bag.history_nummeraanduiding (nummeraanduiding_id, voorkomen_id, begin_geldigheid, "
            "tijdstip_registratie, postcode, huisnummer, openbare_ruimte_id) "
            f"VALUES ('02212000000X', {current}, '0123AB', 1, '0221300000999999'), "
            f"('0221200000999998', {current}, '6981SS', 2, "
            "(SELECT min(openbare_ruimte_id) FROM bag.openbare_ruimte))"
        )
        con.execute(
            "INSERT INTO bag.history_pand (pand_id, voorkomen_id, begin_geldigheid, tijdstip_registratie, "
            f"geometry) VALUES ('0221100000999999', {current}, "
            "ST_GeomFromText('POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))'))"
        )
        con.execute(
            f"INSERT INTO brp.persoon (persoon_id, meerderjarig, leeftijd) VALUES ('{TEST_BSN}', true, 40)"
        )
        con.execute(
            "INSERT INTO rejects.brp VALUES ('x.csv', 'line 3', "
            f"'duplicate person {TEST_BSN}', now()::TIMESTAMP)"
        )
        con.execute(
            "INSERT INTO kvk.vestiging_sbi (vestigingsnummer, sbi_code, sbi_versie, omschrijving, "
            "is_hoofdactiviteit) VALUES ('000000000001', '62A1', '2008', 'x', true)"
        )
        reports = {s.table: run_suite(con, s) for s in SUITES}
    finally:
        con.close()

    def failed(table: str) -> dict[str, int]:
        return {r.rule.name: r.violations for r in reports[table].failures()}

    assert failed("bag.nummeraanduiding") == {
        "nummeraanduiding_id_format": 1,
        "postcode_format": 2,
        "openbare_ruimte_id_exists": 1,
    }
    assert failed("bag.pand") == {"geometry_valid": 1}
    assert reports["bag.pand"].blocking_failures == []
    persoon = failed("brp.persoon")
    assert persoon["persoon_id_pseudonym"] == 1
    assert persoon["no_bsn"] == 1
    assert persoon["no_bsn_in_rejects"] == 1
    assert failed("kvk.vestiging_sbi") == {"sbi_code_valid": 1, "vestigingsnummer_exists": 1}
    # examples never show the BSN: the shape of the value, or the column it was found in
    text = "\n".join(report_markdown(r) for r in reports.values())
    assert TEST_BSN not in text
    examples = {r.rule.name: r.examples for r in reports["brp.persoon"].results}
    assert examples["persoon_id_pseudonym"] == ["999999999"]
    assert examples["no_bsn_in_rejects"] == ["reason"]

    # the Dagster asset checks: ERROR (blocks the flags) for the BSN, WARN for the geometry
    resource = WarehouseResource(root=str(copy.root))
    by_table = {next(iter(c.check_keys)).asset_key.to_user_string(): c for c in quality_checks}
    result = by_table["brp/persoon"](build_asset_check_context(), warehouse=resource)
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["violations/no_bsn"].value == 1
    assert TEST_BSN not in str(result.metadata)
    result = by_table["bag/pand"](build_asset_check_context(), warehouse=resource)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    result = by_table["bag/verblijfsobject"](build_asset_check_context(), warehouse=resource)
    assert result.passed


def test_every_check_is_blocking_and_targets_a_staging_table():
    keys = [next(iter(c.check_keys)) for c in quality_checks]
    assert sorted(k.asset_key.to_user_string() for k in keys) == sorted(
        s.table.replace(".", "/") for s in SUITES
    )
    assert all(spec.blocking for c in quality_checks for spec in c.check_specs)
