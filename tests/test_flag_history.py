"""Flag history, triage and the analysts' overview over three runs of a changing municipality.

The municipality is generated once; between runs its enforcement delivery changes the way a real
one does (a case is withdrawn, a case is closed, a new case is opened, the withdrawn case comes
back), so enforcement_history flags start, change their evidence, stop and fire again:

* run 1: the generated delivery;
* run 2: the Opiumwet case at address A is gone (A resolved), the Wet Victor case at B is closed
  (B's evidence changes), a new Opiumwet case at C (C new);
* run 3: A's case is back (A fires again: a new episode), C's case is gone (C resolved).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil

import duckdb
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assets.ingest.enforcement import load_enforcement
from assets.signals.cli import flags_app
from assets.signals.evaluation import ingest_delivery, materialise_signals
from pipelines.warehouse import Warehouse, publish
from privacy.log import ProcessingLog
from privacy.lookup import Actor, Lookup, LookupRefused
from privacy.overview import Filters, Overview
from privacy.purge import purge
from privacy.triage import TriageStore
from sources.synthetic import generate
from web.accounts import AccountStore

ANALYST = Actor("analist1", "analyst")
PURPOSE = "signaalanalyse_ondermijning"
CASE = "ANA-2026-0007"


def _zaken(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _run(data, warehouse: Warehouse) -> None:
    load_enforcement(warehouse, [data / "handhaving" / "zaken.csv"])
    assert materialise_signals(warehouse).success
    publish(warehouse)


def _enforcement_key(warehouse: Warehouse, zaak_id: str) -> tuple[str, str]:
    """The nummeraanduiding of a case and the identity of its enforcement_history flag."""
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        num = con.execute(
            "SELECT nummeraanduiding_id FROM handhaving.zaak WHERE zaak_id = ?", [zaak_id]
        ).fetchone()[0]
        key = con.execute(
            """SELECT DISTINCT flag_key FROM signals.flag_history
               WHERE flag = 'enforcement_history' AND nummeraanduiding_id = ?""",
            [num],
        ).fetchall()
    finally:
        con.close()
    assert num and len(key) == 1, (zaak_id, key)
    return num, key[0][0]


def _export(warehouse: Warehouse, tmp_path, *flags: str) -> list[dict[str, str]]:
    out = tmp_path / f"export{'-'.join(flags)}.csv"
    args = ["export", "--purpose", PURPOSE, "--format", "csv", "--out", str(out)]
    args += ["--warehouse", str(warehouse.root), "--case", CASE, "--user", "analist1", *flags]
    # The command line signs in with a web account (pipelines.signin); the role is the account's.
    password = "analist1-password-for-tests"  # noqa: S105 - a test account
    if AccountStore(warehouse.root).get("analist1") is None:
        AccountStore(warehouse.root).add("analist1", "analyst", password)
    result = CliRunner(env={"KNOOPPUNT_PASSWORD": password}).invoke(flags_app, args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig")), delimiter=";"))


def _nums(rows: list[dict[str, str]]) -> set[str]:
    """The case addresses of the enforcement_history flags in an export (not relatives' addresses)."""
    return {
        r["nummeraanduiding_id"]
        for r in rows
        if r["flag"] == "enforcement_history" and json.loads(r["evidence"]).get("via", "case") == "case"
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("history")
    data, warehouse = base / "data", Warehouse(base / "warehouse")
    generate(data, 600, 7)
    ingest_delivery(data, warehouse)
    zaken_path = data / "handhaving" / "zaken.csv"
    original = _zaken(zaken_path)
    withdrawn = next(z for z in original if z["instrument"] == "opiumwet_13b" and not z["datum_einde"])
    closing = next(z for z in original if z["instrument"] == "wet_victor" and not z["datum_einde"])
    new_case = {**withdrawn, "zaak_id": "Z-2026-0000999", "datum_start": "2026-06-01", "adres": ""}
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:  # a new case at the municipality's last address (by BAG id): no case there yet
        new_case["bag_nummeraanduiding_id"], new_case["bag_verblijfsobject_id"] = con.execute(
            """SELECT v.hoofdadres_id, v.verblijfsobject_id FROM bag.verblijfsobject v
               ORDER BY v.hoofdadres_id DESC LIMIT 1"""
        ).fetchone()
    finally:
        con.close()
    closed = {**closing, "datum_einde": "2026-09-30", "status": "afgerond"}
    captured: dict = {"base": base, "data": data, "warehouse": warehouse}

    _run(data, warehouse)  # run 1
    num_a, key_a = _enforcement_key(warehouse, withdrawn["zaak_id"])
    num_b, key_b = _enforcement_key(warehouse, closing["zaak_id"])
    triage = TriageStore(Lookup(warehouse))
    triage.record(
        ANALYST, PURPOSE, CASE, key_a, "geen_actie", "Zaak loopt al bij het Bibob-team, geen nieuw signaal."
    )
    captured["run1_export"] = _export(warehouse, base, "--new")

    _write(zaken_path, [closed if z is closing else z for z in original if z is not withdrawn] + [new_case])
    _run(data, warehouse)  # run 2
    num_c, key_c = _enforcement_key(warehouse, "Z-2026-0000999")
    captured["run2_new"] = _export(warehouse, base, "--new")
    captured["run2_resolved"] = _export(warehouse, base, "--resolved")
    triage.record(
        ANALYST, PURPOSE, CASE, key_b, "doorverwezen", "Overdracht aan RIEC-casusoverleg.", partner="RIEC"
    )

    _write(zaken_path, [closed if z is closing else z for z in original])
    _run(data, warehouse)  # run 3
    captured.update(key_a=key_a, key_b=key_b, key_c=key_c, num_a=num_a, num_c=num_c)
    return captured


def test_history_has_episodes_runs_and_evidence_at_each_change(runs):
    warehouse = runs["warehouse"]
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        assert [r[0] for r in con.execute("SELECT run_seq FROM signals.flag_runs ORDER BY 1").fetchall()] == [
            1,
            2,
            3,
        ]
        episodes = {
            (r[0], r[1]): r[2:]
            for r in con.execute(
                """SELECT flag_key, first_run_seq, last_run_seq, resolved_run_seq, first_stand
                   FROM signals.flag_history"""
            ).fetchall()
        }
        evidence = dict(
            con.execute(
                "SELECT flag_key, count(*) FROM signals.flag_evidence WHERE flag_key = ? GROUP BY 1",
                [runs["key_b"]],
            ).fetchall()
        )
        unchanged = con.execute(
            """SELECT count(*) FROM signals.flag_history WHERE first_run_seq = 1 AND last_run_seq = 3
               AND resolved_run_seq IS NULL"""
        ).fetchone()[0]
        current = con.execute("SELECT count(*) FROM signals.flags").fetchone()[0]
        open_now = con.execute(
            "SELECT count(*) FROM signals.flag_history WHERE resolved_run_seq IS NULL"
        ).fetchone()[0]
    finally:
        con.close()
    a, b, c = runs["key_a"], runs["key_b"], runs["key_c"]
    assert episodes[(a, 1)][:2] == (1, 2)  # fired in run 1, resolved by run 2
    assert episodes[(a, 3)][:2] == (3, None)  # fires again: a new episode
    assert episodes[(c, 2)][:2] == (2, 3)  # new in run 2, resolved by run 3
    assert episodes[(b, 1)][:2] == (3, None)  # still firing since run 1
    assert evidence[b] == 2  # its case was closed: the evidence changed once
    assert unchanged > 5  # the other flags simply continue
    assert open_now == current  # one open episode per current flag


def test_cli_exports_new_and_resolved_flags(runs):
    assert _nums(runs["run2_new"]) == {runs["num_c"]}
    assert _nums(runs["run2_resolved"]) == {runs["num_a"]}
    assert all(r["status"] == "opgelost" for r in runs["run2_resolved"])
    assert len(runs["run1_export"]) > 5  # on the first run everything is new
    assert all(r["status"] == "nieuw" for r in runs["run1_export"])
    warehouse = runs["warehouse"]
    assert _nums(_export(warehouse, runs["base"], "--new")) == {runs["num_a"]}
    resolved = _export(warehouse, runs["base"], "--resolved")
    assert _nums(resolved) == {runs["num_c"]}
    assert resolved[0]["sinds"] and resolved[0]["evidence"]
    logged = [
        e for e in ProcessingLog(warehouse).entries() if e.action == "export" and e.details.get("change")
    ]
    assert {e.details["change"] for e in logged} == {"new", "resolved"}


def test_triage_decision_survives_the_next_run_and_is_logged(runs):
    warehouse = runs["warehouse"]
    result = Overview(Lookup(warehouse)).rows(ANALYST, PURPOSE, CASE, Filters(flag="enforcement_history"))
    rows = {r.flag_key: r for r in result.rows}
    b = rows[runs["key_b"]]
    assert b.status == "in_triage"
    assert [d.label for d in b.decisions] == ["Doorverwezen naar RIEC"]
    # A fired again after "geen actie": its card shows the earlier decision, not a blank one.
    a = rows[runs["key_a"]]
    assert a.status == "nieuw" and a.episode == 3
    assert [(d.kind, d.episode) for d in a.decisions] == [("geen_actie", 1)]
    assert rows[runs["key_c"]].status == "opgelost"
    entries = [e for e in ProcessingLog(warehouse).entries() if e.action == "triage"]
    assert [(e.gebruiker, e.purpose, e.details["case_number"], e.details["decision"]) for e in entries] == [
        ("analist1", PURPOSE, CASE, "geen_actie"),
        ("analist1", PURPOSE, CASE, "doorverwezen"),
    ]
    assert entries[0].objects[0]["objectId"] == runs["key_a"]


def test_triage_refuses_without_reason_other_purposes_flags_and_bsns(runs):
    warehouse = runs["warehouse"]
    triage = TriageStore(Lookup(warehouse))
    key = runs["key_b"]
    with pytest.raises(LookupRefused, match="needs its reason"):
        triage.record(ANALYST, PURPOSE, CASE, key, "geen_actie", "")
    with pytest.raises(LookupRefused, match="may show"):
        triage.record(ANALYST, "adreskwaliteit", CASE, key, "in_behandeling", "")
    with pytest.raises(LookupRefused, match="BSN"):
        triage.record(ANALYST, PURPOSE, CASE, key, "in_behandeling", "bewoner 999990019")
    with pytest.raises(LookupRefused, match="may not use"):
        triage.record(Actor("balie", "frontline"), PURPOSE, CASE, key, "in_behandeling", "")
    # roles that may not see the flag do not see the decision either
    assert TriageStore(Lookup(warehouse)).for_flags("frontline", {key}) == {}
    refusals = [
        e for e in ProcessingLog(warehouse).entries() if e.action == "refusal" and e.details.get("triage")
    ]
    assert len(refusals) == 4


def test_overview_filters_and_counts_match_the_export(runs, tmp_path):
    warehouse = runs["warehouse"]
    overview = Overview(Lookup(warehouse))
    everything = overview.rows(ANALYST, PURPOSE, CASE, Filters())
    export = _export(warehouse, tmp_path)
    current = [r for r in everything.rows if r.status != "opgelost"]
    per_flag_export: dict[str, int] = {}
    for row in export:
        per_flag_export[row["flag"]] = per_flag_export.get(row["flag"], 0) + 1
    per_flag_overview: dict[str, int] = {}
    for row in current:
        per_flag_overview[row.flag] = per_flag_overview.get(row.flag, 0) + 1
    assert per_flag_overview == per_flag_export
    assert everything.by_status["nieuw"] == len(_export(warehouse, tmp_path, "--new"))
    assert everything.by_status["opgelost"] >= len(_export(warehouse, tmp_path, "--resolved"))
    assert sum(everything.by_status.values()) == len(everything.rows)
    # filters narrow the same rows
    woonplaats = everything.options["woonplaats"][0]
    in_place = overview.rows(ANALYST, PURPOSE, CASE, Filters(woonplaats=woonplaats))
    assert len(in_place.rows) == sum(r.woonplaats == woonplaats for r in everything.rows)
    street = next(r.straat for r in current if r.straat)
    on_street = overview.rows(ANALYST, PURPOSE, CASE, Filters(straat=street.lower()))
    assert on_street.rows and all(street.lower() in (r.straat or "").lower() for r in on_street.rows)
    new = overview.rows(ANALYST, PURPOSE, CASE, Filters(status="nieuw"))
    assert {r.flag_key for r in new.rows} == {r.flag_key for r in everything.rows if r.status == "nieuw"}
    later = overview.rows(ANALYST, PURPOSE, CASE, Filters(sinds_van=dt.date(2100, 1, 1)))
    assert later.rows == []
    logged = [e for e in ProcessingLog(warehouse).entries() if e.action == "overview"]
    assert logged and logged[-1].details["filters"] == {"sinds_van": "2100-01-01"}


def test_aggregated_purposes_see_counts_never_rows(runs):
    warehouse = runs["warehouse"]
    overview = Overview(Lookup(warehouse))
    with pytest.raises(LookupRefused, match="aggregated-only"):
        overview.rows(ANALYST, "brancheanalyse", CASE, Filters())
    counts = overview.counts(ANALYST, "brancheanalyse")
    assert counts.min_cell_size == 5
    assert all(n >= 5 for _, _, n in counts.cells)
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        cells = con.execute(
            """SELECT flag, woonplaats, sum(n) FROM signals.flag_counts
               WHERE run_seq = 3 AND flag <> 'staff_safety' GROUP BY ALL"""
        ).fetchall()
    finally:
        con.close()
    assert counts.suppressed == sum(1 for c in cells if c[2] < 5)
    assert len(counts.cells) + counts.suppressed == len(cells)


def test_web_overview_shows_new_resolved_and_since(runs):
    from web.accounts import AccountStore
    from web.app import create_app
    from web.config import WebSettings

    warehouse = runs["warehouse"]
    AccountStore(warehouse.root).add("analist2", "analyst", "een-lang-wachtwoord-1", "Analist", team="T")
    client = TestClient(create_app(WebSettings(warehouse_root=warehouse.root)))
    page = client.get("/aanmelden").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/aanmelden",
        data={"gebruiker": "analist2", "wachtwoord": "een-lang-wachtwoord-1", "csrf_token": token},
    )
    page = client.get("/signalen").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    html = client.post(
        "/signalen", data={"csrf_token": token, "doel": PURPOSE, "zaak": CASE, "flag": "enforcement_history"}
    ).text
    assert 'data-status="nieuw"' in html and 'data-status="opgelost"' in html
    assert 'data-status="in_triage"' in html
    assert "sinds 20" in html and "Eerder besluit" in html
    trend = client.post(
        "/trends", data={"csrf_token": token, "doel": PURPOSE, "zaak": CASE, "run_a": "1", "run_b": "3"}
    ).text
    assert 'src="data:image/svg+xml;base64,' in trend and "tegenover run 3" in trend
    download = client.post(
        "/trends/csv", data={"csrf_token": token, "doel": PURPOSE, "zaak": CASE, "run_a": "1", "run_b": "3"}
    )
    assert download.headers["content-type"].startswith("text/csv") and b"verschil (B - A)" in download.content
    branche = client.post("/trends", data={"csrf_token": token, "doel": "brancheanalyse"}).text
    assert 'data-testid="brancheanalyse"' in branche and "alleen aantallen" in branche.lower()


def test_purge_removes_history_and_decisions_past_retention(runs, tmp_path):
    copy = tmp_path / "warehouse"
    shutil.copytree(runs["warehouse"].root, copy)
    warehouse = Warehouse(copy)
    # a decision on a flag that no longer fires expires with it; the others stay (they still fire)
    TriageStore(Lookup(warehouse)).record(
        ANALYST, PURPOSE, CASE, runs["key_c"], "maatregel", "", instrument="13b"
    )
    # Age the resolved episodes and the decisions by 400 days (the tables themselves stay fresh).
    con = duckdb.connect(str(warehouse.path))
    try:
        con.execute(
            "UPDATE signals.flag_history SET resolved_at = resolved_at - INTERVAL 400 DAY "
            "WHERE resolved_run_seq IS NOT NULL"
        )
        resolved = con.execute(
            "SELECT count(*) FROM signals.flag_history WHERE resolved_run_seq IS NOT NULL"
        ).fetchone()[0]
        open_before = con.execute(
            "SELECT count(*) FROM signals.flag_history WHERE resolved_run_seq IS NULL"
        ).fetchone()[0]
    finally:
        con.close()
    store = copy / "triage" / "besluiten.jsonl"
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=400)).isoformat()
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    store.write_text("".join(json.dumps({**d, "at": old}) + "\n" for d in lines))
    assert resolved >= 2 and len(lines) == 3

    result = purge(warehouse, Actor("privacy1", "privacy_officer"))  # a named privacy officer
    assert result.tables_dropped == []
    assert result.history_rows_removed["signals.flag_history"] == resolved
    assert result.decisions_removed == 1
    left = TriageStore(Lookup(warehouse)).for_flags("analyst", [runs["key_a"], runs["key_b"], runs["key_c"]])
    assert set(left) == {runs["key_a"], runs["key_b"]}
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        closed = con.execute(
            "SELECT count(*) FROM signals.flag_history WHERE resolved_run_seq IS NOT NULL"
        ).fetchone()[0]
        open_after = con.execute(
            "SELECT count(*) FROM signals.flag_history WHERE resolved_run_seq IS NULL"
        ).fetchone()[0]
        orphans = con.execute(
            """SELECT count(*) FROM signals.flag_evidence e WHERE NOT EXISTS (
                   SELECT 1 FROM signals.flag_history h
                   WHERE h.flag_key = e.flag_key AND h.first_run_seq = e.first_run_seq)"""
        ).fetchone()[0]
    finally:
        con.close()
    assert (closed, open_after, orphans) == (0, open_before, 0)
    purged = [e for e in ProcessingLog(warehouse).entries() if e.action == "purge"]
    assert purged[-1].details["history_rows_removed"]["signals.flag_history"] == resolved
    assert purged[-1].details["triage_decisions_removed"] == 1
    again = purge(warehouse, Actor("privacy1", "privacy_officer"))  # nothing left: nothing changes
    assert (again.history_rows_removed, again.decisions_removed) == ({}, 0)


def test_trends_compare_two_runs_as_chart_and_csv(runs):
    from web.trends import compare, to_csv

    warehouse = runs["warehouse"]
    trend = Overview(Lookup(warehouse)).trend(ANALYST, PURPOSE, CASE)
    assert [r for r, _ in trend.runs] == [1, 2, 3]
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        active = {
            run: con.execute(
                """SELECT count(*) FROM signals.flag_history WHERE flag = 'enforcement_history'
                   AND first_run_seq <= ? AND (resolved_run_seq IS NULL OR resolved_run_seq > ?)""",
                [run, run],
            ).fetchone()[0]
            for run in (1, 2, 3)
        }
    finally:
        con.close()
    comparison = compare(trend, 1, 2, "flag")
    row = next(r for r in comparison.rows if r[0] == "Handhavingsverleden (Opiumwet 13b / Wet Victor)")
    assert row == (row[0], active[1], active[2], active[2] - active[1])
    lines = to_csv(comparison).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Signaal;A: run 1") and len(lines) == len(comparison.rows) + 1
    assert f"{row[0]};{active[1]};{active[2]};{active[2] - active[1]}" in lines
    # aggregated-only: counts of at least the minimum cell size, no sector split
    counts = Overview(Lookup(warehouse)).trend(ANALYST, "brancheanalyse", "")
    assert counts.min_cell_size == 5 and all(c.n >= 5 and c.sector == "" for c in counts.cells)
