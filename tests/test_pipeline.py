"""The main job end to end: a generated municipality through every asset, into a release."""

from __future__ import annotations

import shutil
import zipfile

import duckdb
import pytest

from pipelines.runner import run_pipeline
from pipelines.warehouse import Warehouse, current_release
from privacy.log import ProcessingLog
from privacy.scan import bsns_in_text, find_plain_bsns
from sources.synthetic import generate

STAGING = [
    "bag.verblijfsobject",
    "bag.pand",
    "bag.nummeraanduiding",
    "bag.openbare_ruimte",
    "bag.woonplaats",
    "bag.adres",
    "brp.persoon",
    "brp.relatie",
    "kvk.vestiging",
    "kvk.vestiging_sbi",
    "handhaving.zaak",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    data, warehouse, dagster_home = root / "data", root / "warehouse", root / "dagster"
    dagster_home.mkdir()
    generate(data, 2000, 7)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(dagster_home))  # keep Dagster's event storage, to scan it
        outcome = run_pipeline(data, warehouse)
    return data, Warehouse(warehouse), outcome, dagster_home


def test_the_main_job_materialises_every_source_and_the_signals(demo):
    _, warehouse, outcome, _ = demo
    assert outcome.success, outcome.failures
    # Checks ran; none failed with ERROR (which blocks the flags). WARN marks data that is itself
    # a signal, e.g. the planted addresses that are not in BAG.
    assert outcome.checks and "ERROR" not in outcome.checks.values(), outcome.checks
    con = duckdb.connect(str(current_release(warehouse)), read_only=True)
    for table in STAGING:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0, table
    flags = dict(con.execute("SELECT flag, count(*) FROM signals.flags GROUP BY flag").fetchall())
    assert set(flags) >= {
        "many_companies_in_building",
        "identical_businesses_in_street",
        "overcrowding",
        "residents_at_non_residential",
        "company_churn",
        "address_not_in_bag",
        "enforcement_history",
        "staff_safety",
    }


def test_every_gated_join_is_in_an_intact_processing_log(demo):
    _, warehouse, outcome, _ = demo
    log = ProcessingLog(warehouse)
    assert log.verify().ok
    run_entries = [e for e in log.entries() if e.run_id == outcome.run_id]
    assert len(run_entries) >= 8  # at least one per flag


def test_no_plain_bsn_anywhere_after_a_full_run(demo):
    data, warehouse, _, dagster_home = demo
    delivered = bsns_in_text((data / "brp" / "personen.csv").read_text(encoding="utf-8-sig"))
    assert len(delivered) > 1000  # the scanner does find the BSNs where they are
    # The whole warehouse folder (tables, identity store with encrypted BSNs, processing log,
    # releases) and Dagster's run and event storage, metadata included.
    assert find_plain_bsns([warehouse.root, dagster_home]) == []


def test_a_broken_delivery_fails_the_run_and_keeps_the_last_good_state(demo, tmp_path):
    data, warehouse, _, _ = demo
    before = current_release(warehouse)
    broken = tmp_path / "data"
    shutil.copytree(data, broken)
    extract = next((broken / "bag").glob("*.zip"))
    with zipfile.ZipFile(extract) as zf:
        names = [n for n in zf.namelist() if "VBO" not in n]
        contents = {n: zf.read(n) for n in names}
    with zipfile.ZipFile(extract, "w") as zf:  # the VBO part is missing
        for name, content in contents.items():
            zf.writestr(name, content)

    outcome = run_pipeline(broken, warehouse.root)

    assert not outcome.success
    assert any("VBO" in failure for failure in outcome.failures), outcome.failures
    assert current_release(warehouse) == before
    con = duckdb.connect(str(warehouse.path), read_only=True)
    assert con.execute("SELECT count(*) FROM bag.verblijfsobject").fetchone()[0] > 0
