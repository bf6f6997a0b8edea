"""The analysts' overview in headless chromium: counts, filters, triage, and the Leaflet map offline.

Screenshots of these pages go to ``docs/screens/`` (they document the pages in docs/ANALYSE.md).
"""

from __future__ import annotations

import base64
import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from conftest import ADDRESSES, PASSWORD, SEED, _free_port, sign_in

from pipelines.runner import run_pipeline
from pipelines.warehouse import Warehouse, connect, current_release
from sources.synthetic import generate
from web.accounts import AccountStore
from web.app import create_app
from web.config import WebSettings

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
PURPOSE = "bibob_screening"
RESULT = "[data-testid=overzicht], [data-testid=aantallen], [data-testid=foutmelding]"


def screen(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def show(page, base_url: str, **filters: str) -> None:
    page.goto(f"{base_url}/signalen")
    page.select_option("#doel", PURPOSE)
    page.fill("#zaak", "ANA-2026-0101")
    for field, value in filters.items():
        if field in ("flag", "status", "woonplaats", "sector"):
            page.select_option(f"#{field}", value)
        else:
            page.fill(f"#{field}", value)
    page.click("[data-testid=tonen]")
    page.wait_for_selector(RESULT)


def zoom(page) -> int:
    return int(page.get_attribute("[data-kaart]", "data-zoom"))


def loads(page) -> int:
    return int(page.get_attribute("[data-kaart]", "data-geladen") or 0)


def loaded_after(page, seen: int) -> None:
    """Wait until the base layer has loaded more often than ``seen`` times (polled from Python:
    the page's CSP forbids the eval that Playwright's wait_for_function would need)."""
    for _ in range(300):
        if loads(page) > seen:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the base layer did not load again after {seen} loads")


def test_overview_counts_filters_and_triage(page, base_url):
    sign_in(page, base_url, "analist")
    show(page, base_url)
    rows = page.locator("[data-testid=signaalrij]")
    total = rows.count()
    assert total > 3
    # one published run: every flag is new, since the stand date of that run
    assert int(page.inner_text("[data-testid=teller-nieuw]")) == total
    assert "sinds 20" in rows.first.inner_text()
    per_flag = {
        el.get_attribute("data-flag"): int(el.get_attribute("data-n"))
        for el in page.locator("[data-testid=per-signaal]").all()
    }
    assert sum(per_flag.values()) == total
    flag, n = max(per_flag.items(), key=lambda item: item[1])
    show(page, base_url, flag=flag)
    assert page.locator("[data-testid=signaalrij]").count() == n
    # triage: a decision with its reason, logged, and the row is now "in triage"
    row = page.locator("[data-testid=signaalrij]").first
    row.locator("summary").click()
    row.locator("select[name=besluit]").select_option("geen_actie")
    row.locator("input[name=toelichting]").fill("Bekend bij het team, reguliere bedrijfsvoering.")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=triage-vastgelegd]")
    assert page.locator("[data-testid=signaalrij][data-status=in_triage]").count() == 1
    assert "Geen actie — Bekend bij het team" in page.locator("[data-testid=besluit]").first.inner_text()
    screen(page, "signalen-overzicht")
    show(page, base_url, status="in_triage")
    assert page.locator("[data-testid=signaalrij]").count() == 1


def test_aggregated_purpose_sees_counts_only(page, base_url):
    sign_in(page, base_url, "analist")
    page.goto(f"{base_url}/signalen")
    page.select_option("#doel", "brancheanalyse")
    page.click("[data-testid=tonen]")
    page.wait_for_selector(RESULT)
    assert page.locator("[data-testid=aantallen]").is_visible()
    assert page.locator("[data-testid=signaalrij]").count() == 0
    assert "minder dan 5 plaatsen" in page.inner_text("[data-testid=aantallen]")


def test_map_renders_offline_zooms_and_shows_a_flagged_pand(page, base_url):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, base_url, "analist")
    show(page, base_url, flag="many_companies_in_building")
    loaded_after(page, 0)
    assert page.locator("[data-testid=kaart] .leaflet-map-pane").count() == 1
    assert page.locator("path.kaart-pand").count() > 3  # the base layer: pand outlines from the release
    assert page.locator("path.kaart-pand-signaal").count() >= 1  # the flagged pand stands out
    assert page.locator(".kaart-straat").count() >= 1  # street names
    before, seen = zoom(page), loads(page)
    page.click(".leaflet-control-zoom-in")
    loaded_after(page, seen)
    assert zoom(page) == before + 1
    while zoom(page) < 18:
        seen = loads(page)
        page.click(".leaflet-control-zoom-in")
        loaded_after(page, seen)
    assert page.locator(".kaart-huisnummer").count() >= 1  # house numbers at high zoom
    assert page.locator("path.kaart-pand-signaal").count() >= 1
    page.locator("path.kaart-punt").first.click()
    assert page.locator(".kaart-signaal h3").inner_text() == "Veel bedrijven in één pand"
    screen(page, "signalen-kaart")
    assert requests and all(url.startswith(base_url) for url in requests), "the map must work offline"


def test_lookup_details_use_the_same_map(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    page.select_option("#doel", "bibob_screening")
    page.fill("#zaak", "BIB-2026-0142")
    page.fill("#postcode", demo.hit.postcode)
    page.fill("#huisnummer", demo.hit.huisnummer)
    page.fill("#huisletter", demo.hit.huisletter)
    page.fill("#toevoeging", demo.hit.toevoeging)
    page.click("[data-testid=zoeken]")
    page.click("[data-testid=details-opvragen]")
    page.wait_for_selector("[data-kaart]")
    loaded_after(page, 0)
    assert page.locator("path.kaart-pand-signaal").count() >= 1
    assert page.locator("path.kaart-pand").count() > 3
    screen(page, "details-kaart")


def test_trend_page_draws_the_chart(page, base_url):
    sign_in(page, base_url, "analist")
    page.goto(f"{base_url}/trends")
    page.select_option("#doel", "signaalanalyse_ondermijning")
    page.fill("#zaak", "ANA-2026-0101")
    page.click("[data-testid=vergelijken]")
    page.wait_for_selector("[data-testid=vergelijking], [data-testid=foutmelding]")
    assert page.locator("[data-testid=trendrij]").count() >= 1
    grafiek = page.locator("[data-testid=grafiek]")
    assert grafiek.is_visible() and grafiek.bounding_box()["height"] > 100
    svg = base64.b64decode(grafiek.get_attribute("src").removeprefix("data:image/svg+xml;base64,"))
    assert b"<svg" in svg and b"Handhavingsverleden" in svg
    with page.expect_download() as download:
        page.click("[data-testid=csv]")
    assert download.value.suggested_filename.endswith(".csv")
    screen(page, "trends")


@pytest.fixture(scope="module")
def changed_town(tmp_path_factory) -> Iterator[str]:
    """A second municipality, run twice through the main job with a changed enforcement delivery
    (one Opiumwet case withdrawn, one opened elsewhere), served on its own port."""
    base = tmp_path_factory.mktemp("twee-runs")
    data, root = base / "data", base / "warehouse"
    generate(data, ADDRESSES, SEED)
    assert run_pipeline(data, root).success
    path = data / "handhaving" / "zaken.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        zaken = list(csv.DictReader(fh))
    withdrawn = next(z for z in zaken if z["instrument"] == "opiumwet_13b" and not z["datum_einde"])
    opened = {**withdrawn, "zaak_id": "Z-2026-0000999", "datum_start": "2026-06-01", "adres": ""}
    con = connect(current_release(Warehouse(root)), read_only=True)
    try:  # a new case at the municipality's last address (by BAG id): no case there yet
        opened["bag_nummeraanduiding_id"], opened["bag_verblijfsobject_id"] = con.execute(
            "SELECT hoofdadres_id, verblijfsobject_id FROM bag.verblijfsobject ORDER BY 1 DESC LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(zaken[0]))
        writer.writeheader()
        writer.writerows([z for z in zaken if z is not withdrawn] + [opened])
    assert run_pipeline(data, root).success
    AccountStore(root).add("analist", "analyst", PASSWORD, "Demo analist", team="Team Ondermijning")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(WebSettings(warehouse_root=root)), host="127.0.0.1", port=(port := _free_port())
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_two_runs_show_new_and_resolved_flags_and_the_trend(page, changed_town):
    sign_in(page, changed_town, "analist")
    show(page, changed_town, flag="enforcement_history")
    # the opened case (and any relatives' addresses it flags) is new, the withdrawn one resolved
    for status in ("nieuw", "opgelost", "open"):
        rows = page.locator(f"[data-testid=signaalrij][data-status={status}]").count()
        assert rows >= 1 and int(page.inner_text(f"[data-testid=teller-{status}]")) == rows
    loaded_after(page, 0)  # the base layer, for the screenshot
    screen(page, "signalen-twee-runs")
    page.goto(f"{changed_town}/trends")
    page.select_option("#doel", PURPOSE)
    page.fill("#zaak", "ANA-2026-0101")
    page.select_option("#groep", "woonplaats")
    page.click("[data-testid=vergelijken]")
    page.wait_for_selector("[data-testid=vergelijking], [data-testid=foutmelding]")
    assert "Run 1" in page.inner_text("[data-testid=vergelijking] h2")
    assert "run 2" in page.inner_text("[data-testid=vergelijking] h2")
    assert page.locator("[data-testid=trendrij]").count() >= 1
    screen(page, "trends-twee-runs")
