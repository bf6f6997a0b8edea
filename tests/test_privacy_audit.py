"""The audit and privacy commands (typer apps) and the privacy officer's HTML report."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dagster import materialize
from typer.testing import CliRunner

from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse, publish
from privacy.cli import audit_app, privacy_app
from privacy.gate import gated_asset
from privacy.log import ProcessingLog
from privacy.lookup import Actor, Lookup, Target
from privacy.register import load_register
from web.accounts import AccountStore

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "officer-password-for-tests"  # noqa: S105 - test account only
OFFICER = ["--user", "pia"]
runner = CliRunner(env={"KNOOPPUNT_PASSWORD": PASSWORD})


@gated_asset(
    key=["signals", "staff_safety"],
    purpose="veiligheid_medewerkers",
    reads={"handhaving.zaak": ["zaak_id", "instrument", "datum_start", "team", "nummeraanduiding_id"]},
)
def staff_safety(context, gated):
    return """SELECT 'staff_safety' AS flag, nummeraanduiding_id,
                     json_object('message', 'caution, contact ' || any_value(team)) AS evidence
              FROM handhaving.zaak WHERE instrument = 'agressie_incident' GROUP BY nummeraanduiding_id"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Warehouse:
    w = Warehouse(tmp_path_factory.mktemp("audit"))
    with w.transaction() as con:
        con.execute("CREATE SCHEMA handhaving")
        con.execute(
            """CREATE TABLE handhaving.zaak AS SELECT * FROM (VALUES
               ('Z1', 'agressie_incident', DATE '2026-06-01', 'Team Wijkzaken', '0363200000000001', 'geheim'),
               ('Z2', 'apv', DATE '2026-06-01', 'Team APV', '0363200000000002', 'geheim'))
               t(zaak_id, instrument, datum_start, team, nummeraanduiding_id, notitie)"""
        )
        con.execute("CREATE SCHEMA bag; CREATE SCHEMA signals")
        con.execute("CREATE TABLE bag.verblijfsobject_pand (verblijfsobject_id VARCHAR, pand_id VARCHAR)")
        con.execute("CREATE TABLE bag.pand (pand_id VARCHAR)")  # a pand lookup first checks it exists
        con.execute(
            """CREATE TABLE signals.flags (flag VARCHAR, nummeraanduiding_id VARCHAR,
               verblijfsobject_id VARCHAR, pand_id VARCHAR, openbare_ruimte_id VARCHAR, evidence JSON,
               x DOUBLE, y DOUBLE)"""
        )
    result = materialize([staff_safety], resources={"warehouse": WarehouseResource(root=str(w.root))})
    assert result.success
    return w


@pytest.fixture
def warehouse(built, tmp_path) -> Warehouse:
    target = tmp_path / "wh"
    shutil.copytree(built.root, target)
    AccountStore(target).add("pia", "privacy_officer", PASSWORD)
    AccountStore(target).add("ana", "analyst", PASSWORD)
    return Warehouse(target)


def test_verify_exit_codes(warehouse):
    ok = runner.invoke(audit_app, ["verify", "--warehouse", str(warehouse.root)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 2 lines verified" in ok.output  # the genesis entry and the gated join
    log = ProcessingLog(warehouse)
    log.path.write_text(log.path.read_text().replace("veiligheid_medewerkers", "brancheanalyse", 1))
    bad = runner.invoke(audit_app, ["verify", "--warehouse", str(warehouse.root)])
    assert bad.exit_code == 1
    assert "entry 1 (line 2) was edited" in bad.output


def test_exports(warehouse, tmp_path):
    out = tmp_path / "log.json"
    args = ["export", "--out", str(out), "--warehouse", str(warehouse.root)]
    refused = runner.invoke(audit_app, [*args, "--user", "ana"])
    assert refused.exit_code == 1 and not out.exists()
    assert runner.invoke(audit_app, args, input="\n").exit_code == 2  # no sign-in
    res = runner.invoke(audit_app, [*args, *OFFICER])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["count"] == 1 and data["results"][0]["knooppunt"]["output"] == "signals.staff_safety"
    empty = tmp_path / "empty.json"
    res = runner.invoke(
        audit_app,
        ["export", "--out", str(empty), "--warehouse", str(warehouse.root), "--from", "2099-01-01", *OFFICER],
    )
    assert json.loads(empty.read_text())["count"] == 0
    reg = tmp_path / "register.json"
    res = runner.invoke(
        privacy_app, ["register", "--out", str(reg), "--warehouse", str(warehouse.root), *OFFICER]
    )
    assert res.exit_code == 0, res.output
    assert {r["naam"] for r in json.loads(reg.read_text())["results"]} == {
        p.naam for p in load_register().purposes.values()
    }
    bad = runner.invoke(
        audit_app,
        ["export", "--out", str(empty), "--from", "gisteren", "--warehouse", str(warehouse.root), *OFFICER],
    )
    assert bad.exit_code == 2 and "is not a date" in bad.output


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)


def test_report(warehouse, tmp_path):
    publish(warehouse)
    lookup = Lookup(warehouse)
    # (A front-line account may search only by address; this warehouse has panden only.)
    lookup.hit(Actor("ana1", "analyst"), "veiligheid_medewerkers", "HB-1", Target("pand", "0363100000000009"))
    with pytest.raises(Exception, match="role 'frontline'"):
        lookup.hit(
            Actor("balie1", "frontline"), "bibob_screening", "HB-2", Target("pand", "0363100000000009")
        )

    out = tmp_path / "report.html"
    res = runner.invoke(
        privacy_app, ["report", "--out", str(out), "--warehouse", str(warehouse.root), *OFFICER]
    )
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    parser = _Parser()
    parser.feed(html)
    assert parser.external == [], "the report must be self-contained"
    assert "script" not in parser.tags
    assert "@media print" in html
    assert "Intact: 4 regels gecontroleerd" in html
    for purpose in load_register().purposes.values():
        assert purpose.naam in html
    # Lineage of the flag, from the gate's declaration: flag columns back to the source columns.
    section = html.split('id="herkomst"')[1].split('id="bewaartermijn"')[0]
    assert "<code>signals.staff_safety</code>" in section
    assert "handhaving.zaak.nummeraanduiding_id" in section and "handhaving.zaak.team" in section
    assert "handhaving.zaak.notitie" not in html
    # Processing by purpose and actor, and the refusal with its reason.
    assert "balie1" in html and "Zoeken (hit/no-hit)" in html
    assert "role &#x27;frontline&#x27; may not use purpose &#x27;bibob_screening&#x27;" in html

    res = runner.invoke(
        privacy_app,
        ["report", "--out", str(out), "--warehouse", str(warehouse.root), "--from", "2099-01-01", *OFFICER],
    )
    assert res.exit_code == 0
    assert "Verwerkingen in de periode (0)" in out.read_text(encoding="utf-8")


def test_purge_command_refuses_a_future_date_and_is_idempotent(warehouse):
    # Removal itself (with tables) is tested in test_privacy_purge and test_privacy_witness: here
    # nothing is old enough, and a future date that would make it so is refused.
    log = ProcessingLog(warehouse)
    before = log.path.read_bytes()
    args = ["purge", "--warehouse", str(warehouse.root), *OFFICER]
    future = runner.invoke(privacy_app, [*args, "--as-of", "2040-01-01"])
    assert future.exit_code == 1 and "in the future" in future.output
    assert log.path.read_bytes() == before
    for _ in range(2):
        run = runner.invoke(privacy_app, args)
        assert run.exit_code == 0 and "nothing past retention" in run.output
    assert log.path.read_bytes() == before
    assert runner.invoke(audit_app, ["verify", "--warehouse", str(warehouse.root)]).exit_code == 0


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_report_opens_in_a_browser(warehouse, tmp_path):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    assert (
        runner.invoke(
            privacy_app, ["report", "--out", str(out), "--warehouse", str(warehouse.root), *OFFICER]
        ).exit_code
        == 0
    )

    def open_in_browser() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(out.as_uri())
                assert page.title() == "Privacyrapportage knooppunt"
                assert page.locator("#herkomst").is_visible()
                assert page.get_by_text("handhaving.zaak.team").first.is_visible()
                pdf = page.pdf()  # the print layout renders
                assert pdf.startswith(b"%PDF")
            finally:
                browser.close()

    # Playwright's sync API refuses to start on a thread where an earlier test (Dagster, the
    # Starlette test client) left an asyncio loop behind; a fresh thread has none.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(open_in_browser).result()
