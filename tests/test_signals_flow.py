"""End to end on a generated municipality: real-format files, real loaders, the gate, Dagster.

Measures precision and recall per flag against the generator's ground truth (target: 1.0 with
the default thresholds), checks what every flag row carries, and exports through the CLI.
"""

from __future__ import annotations

import csv
import json

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from assets.signals.cli import flags_app
from assets.signals.evaluation import found_keys, ingest_delivery, materialise_signals, score, truth_keys
from assets.signals.sql import FLAG_SQL, RESULT_COLUMNS
from pipelines.warehouse import Warehouse, publish
from privacy.log import ProcessingLog
from privacy.register import load_register
from sources.synthetic import generate
from web.accounts import AccountStore

HISTORY = ("flag_history", "flag_evidence", "flag_counts", "flag_runs")  # assets/signals/history.py


def _town(tmp_path_factory, name: str, seed: int, shape: str = "standard"):
    """A generated municipality, ingested, its signals materialised and published."""
    root = tmp_path_factory.mktemp(name)
    summary = generate(root / "data", 3000, seed, shape=shape)
    warehouse = Warehouse(root / "warehouse")
    ingest_delivery(root / "data", warehouse)
    result = materialise_signals(warehouse)
    assert result.success
    publish(warehouse)
    return root / "data", warehouse, summary, result


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    return _town(tmp_path_factory, "town", 20201)


@pytest.fixture(scope="module")
def dense_town(tmp_path_factory):
    """The second, differently shaped municipality (sources/synthetic/shapes.py)."""
    return _town(tmp_path_factory, "dense", 20202, shape="dense")


@pytest.mark.parametrize("municipality", ["town", "dense_town"])
def test_precision_and_recall_are_one_on_planted_patterns(municipality, request):
    data, warehouse, _, _ = request.getfixturevalue(municipality)
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        found = found_keys(con)
    finally:
        con.close()
    scores = score(truth_keys(data / "ground_truth.csv"), found, list(FLAG_SQL))
    report = {s.flag: (s.planted, s.found, s.true_positives) for s in scores}
    assert all(s.planted >= 1 for s in scores), report  # every flag has something to find
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores), report


def test_every_flag_row_says_why_and_names_its_bag_ids(town):
    _, warehouse, summary, _ = town
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        overview = con.execute("SELECT * FROM signals.flags").df()
        per_flag = sum(con.execute(f"SELECT count(*) FROM signals.{c}").fetchone()[0] for c in FLAG_SQL)
    finally:
        con.close()
    assert tuple(overview.columns) == RESULT_COLUMNS
    assert len(overview) == per_flag
    assert set(overview["flag"]) == set(FLAG_SQL)
    assert (overview["reference_date"] == pd.Timestamp(summary.stand_date)).all()
    for row in overview.itertuples():
        evidence = json.loads(row.evidence)
        assert evidence, row.flag
        if row.flag == "many_companies_in_building":
            assert row.pand_id and evidence["establishments"] >= evidence["min_establishments"]
        elif row.flag == "identical_businesses_in_street":
            assert row.openbare_ruimte_id and len(evidence["vestigingsnummers"]) == evidence["establishments"]
        elif row.flag == "staff_safety":
            assert set(evidence) == {"message"} and evidence["message"].startswith("caution, contact ")
        elif row.flag == "address_not_in_bag":
            assert row.nummeraanduiding_id or (evidence["postcode"] and evidence["huisnummer"])
        else:
            assert row.nummeraanduiding_id and row.verblijfsobject_id and row.pand_id
            assert row.x > 0 and row.y > 0
    # evidence names persons only by pseudonym
    family = [m for e in overview["evidence"] for m in json.loads(e).get("family_elsewhere", [])]
    assert family and all(m["persoon_id"].startswith("P") and len(m["persoon_id"]) == 25 for m in family)


def test_signal_assets_report_purpose_and_lineage(town):
    _, warehouse, _, result = town
    materialisations = {
        m.materialization.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert set(materialisations) == {f"signals/{c}" for c in [*FLAG_SQL, "flags", *HISTORY]}
    assert materialisations["signals/overcrowding"]["purpose"].value == "adreskwaliteit"
    assert materialisations["signals/staff_safety"]["purpose"].value == "veiligheid_medewerkers"
    building = materialisations["signals/many_companies_in_building"]
    assert 0 < building["located_in_pand"].value <= building["active_vestigingen"].value
    assert building["match_rate"].value == pytest.approx(
        building["located_in_pand"].value / building["active_vestigingen"].value, abs=1e-4
    )
    for meta in materialisations.values():
        assert {"dagster/row_count", "dagster/column_schema", "dagster/column_lineage"} <= set(meta)
    outputs = [e.output for e in ProcessingLog(warehouse).entries() if e.action == "gated_join"]
    assert sorted(outputs) == sorted(f"signals.{c}" for c in [*FLAG_SQL, "flags", *HISTORY])


def test_export_writes_only_the_purposes_flags_and_logs_it(town, tmp_path):
    _, warehouse, _, _ = town
    register = load_register()
    password = "analyst-password-for-tests"  # noqa: S105 - a test account
    if AccountStore(warehouse.root).get("ana") is None:
        AccountStore(warehouse.root).add("ana", "analyst", password)
    runner = CliRunner(env={"KNOOPPUNT_PASSWORD": password})
    signed_in = ["--warehouse", str(warehouse.root), "--user", "ana", "--case", "ANA-2026-1"]
    unsigned = runner.invoke(
        flags_app,
        [
            "export",
            "--purpose",
            "adreskwaliteit",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x.csv"),
            "--warehouse",
            str(warehouse.root),
        ],
    )
    assert unsigned.exit_code == 2 and not (tmp_path / "x.csv").exists()  # no sign-in, no export
    before = len(list(ProcessingLog(warehouse).entries()))
    for purpose, fmt in (("adreskwaliteit", "csv"), ("signaalanalyse_ondermijning", "geojson")):
        out = tmp_path / f"{purpose}.{fmt}"
        args = ["export", "--purpose", purpose, "--format", fmt, "--out", str(out)]
        result = runner.invoke(flags_app, [*args, *signed_in])
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(out, dtype=str, sep=";") if fmt == "csv" else gpd.read_file(out)
        assert {"flag", "nummeraanduiding_id", "pand_id", "openbare_ruimte_id", "evidence"} <= set(
            frame.columns
        )
        assert set(frame["flag"]) == set(register.get(purpose).flags)
    assert str(gpd.read_file(tmp_path / "signaalanalyse_ondermijning.geojson").crs) == "EPSG:28992"

    out = tmp_path / "safety.gpkg"
    args = ["export", "--purpose", "veiligheid_medewerkers", "--format", "gpkg", "--out", str(out)]
    result = runner.invoke(flags_app, [*args, *signed_in])
    # The staff-safety purpose's register sources hold no street or place names: no list export.
    assert result.exit_code == 2 and "not allowed for purpose 'veiligheid_medewerkers'" in result.output
    assert not out.exists()

    refused = tmp_path / "branche.csv"
    args = ["export", "--purpose", "brancheanalyse", "--format", "csv", "--out", str(refused)]
    result = runner.invoke(flags_app, [*args, *signed_in])
    assert result.exit_code == 2 and "aggregated-only" in result.output
    assert not refused.exists()

    entries = list(ProcessingLog(warehouse).entries())[before:]
    assert [(e.action, e.purpose) for e in entries] == [
        ("export", "adreskwaliteit"),
        ("export", "signaalanalyse_ondermijning"),
        ("refusal", "veiligheid_medewerkers"),
        ("refusal", "brancheanalyse"),
    ]
    assert (entries[0].gebruiker, entries[0].role, entries[0].details["format"]) == ("ana", "analyst", "csv")
    assert entries[0].row_counts["rows"] == len(pd.read_csv(tmp_path / "adreskwaliteit.csv", sep=";"))


def test_a_relatives_address_is_a_hit_under_a_purpose_that_shows_enforcement(town):
    from privacy.lookup import Actor, Lookup, Target

    data, warehouse, _, _ = town
    with open(data / "ground_truth.csv", encoding="utf-8", newline="") as fh:
        family = [
            r for r in csv.DictReader(fh) if r["flag"] == "enforcement_history" and "via=family" in r["note"]
        ]
    assert family
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        target = con.execute(
            "SELECT postcode, huisnummer, huisletter, huisnummertoevoeging FROM bag.nummeraanduiding "
            "WHERE nummeraanduiding_id = ?",
            [family[0]["nummeraanduiding_id"]],
        ).fetchone()
        evidence = json.loads(
            con.execute(
                "SELECT CAST(evidence AS VARCHAR) FROM signals.enforcement_history "
                "WHERE nummeraanduiding_id = ?",
                [family[0]["nummeraanduiding_id"]],
            ).fetchone()[0]
        )
    finally:
        con.close()
    assert evidence["via"] == "family" and evidence["family"][0]["relatie"] == "kind"
    assert "persoon_id" not in json.dumps(evidence)
    address = "|".join("" if v is None else str(v) for v in target)
    lookup = Lookup(warehouse)
    officer = Actor("bibob1", "bibob_officer")
    assert lookup.hit(officer, "bibob_screening", "BIBOB-2026-0001", Target("address", address)).hit
    # the front line's purpose does not show enforcement_history: no hit there
    frontline = Actor("balie1", "frontline")
    assert not lookup.hit(
        frontline, "veiligheid_medewerkers", "VMW-2026-0001", Target("address", address)
    ).hit
