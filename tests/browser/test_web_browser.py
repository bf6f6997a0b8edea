"""End to end in headless chromium: sign-in, hit then details, front line, refusals, privacy log, export."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from conftest import Address, shot, sign_in

pytestmark = pytest.mark.browser


PSEUDONYM = re.compile(r"P[0-9a-f]{24}")


def search(
    page, address: Address, purpose: str | None, case: str = "BIB-2026-0142", postcode: str = ""
) -> None:
    if purpose is not None:
        page.select_option("#doel", purpose)
    page.fill("#zaak", case)
    page.fill("#postcode", postcode or address.postcode)
    page.fill("#huisnummer", address.huisnummer)
    page.fill("#huisletter", address.huisletter)
    page.fill("#toevoeging", address.toevoeging)
    page.click("[data-testid=zoeken]")


def test_sign_in_page_and_wrong_password(page, base_url):
    page.goto(base_url)
    assert page.url.endswith("/aanmelden")
    assert page.locator("h1").inner_text() == "Aanmelden"
    shot(page, "01-aanmelden")
    sign_in(page, base_url, "bibob", "niet-het-wachtwoord")
    assert "Gebruikersnaam of wachtwoord onjuist" in page.locator("[data-testid=foutmelding]").inner_text()


def test_bibob_officer_hit_then_details(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    assert page.url.endswith("/zoeken")
    shot(page, "02-zoeken")
    # The search kinds other than address are hidden by the page's script until chosen.
    assert not page.locator("#kvk").is_visible()
    page.check("input[name=soort][value=kvk]")
    assert page.locator("#kvk").is_visible()
    page.check("input[name=soort][value=address]")
    search(page, demo.hit, "bibob_screening")
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Treffer"
    assert page.url.endswith("/zoeken") and demo.hit.postcode not in page.url
    shot(page, "03-treffer")
    page.click("[data-testid=details-opvragen]")
    assert page.locator("[data-testid=signaal]").count() >= 1
    assert page.get_by_role("heading", name="Handhavingsverleden").first.is_visible()
    assert page.locator("text=Familieleden elders in de gemeente").first.is_visible()
    page.wait_for_selector("[data-kaart][data-geladen]")  # the base layer from the release loaded
    assert page.locator("path.kaart-pand-signaal").count() >= 1
    assert page.locator("path.kaart-pand").count() > 3  # the neighbours too
    page.locator("[data-testid=herkomst] summary").first.click()
    assert page.locator("text=Berekend op").first.is_visible()  # the gated run that wrote the flag
    shot(page, "04-details")


def test_no_hit(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.no_hit, "bibob_screening")
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Geen treffer"
    assert page.locator("[data-testid=details-opvragen]").count() == 0
    shot(page, "05-geen-treffer")


def test_frontline_sees_only_the_caution(page, base_url, demo):
    sign_in(page, base_url, "balie")
    assert page.locator("h1").inner_text() == "Veiligheidscheck voor een huisbezoek"
    assert page.locator("#kvk").count() == 0
    search(page, demo.safety, "veiligheid_medewerkers", "VPD-2026-0007")
    page.click("[data-testid=details-opvragen]")
    text = page.locator("main").inner_text()
    assert f"Let op: neem contact op met {demo.safety_team}" in text
    assert "Herkomst" not in text and "Z-20" not in text and "agressie" not in text.lower()
    assert page.locator("svg").count() == 0
    shot(page, "06-frontoffice")


def test_lookup_without_purpose_is_refused(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.hit, None)
    assert "Kies een doel" in page.locator("[data-testid=foutmelding]").inner_text()
    shot(page, "07-geweigerd-zonder-doel")


def test_malformed_postcode_and_forged_csrf(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.hit, "bibob_screening", postcode="12345")
    assert "De postcode is ongeldig" in page.locator("[data-testid=foutmelding]").inner_text()
    page.evaluate("document.querySelector('#zoekformulier input[name=csrf_token]').value = 'vervalst'")
    search(page, demo.hit, "bibob_screening")
    assert "Formulier geweigerd" in page.locator("h1").inner_text()
    assert "CSRF" in page.locator("[data-testid=foutmelding]").inner_text()


def test_privacy_officer_log_and_anomalies(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.hit, "bibob_screening", "BIB-2026-0999")
    page.click("[data-testid=details-opvragen]")
    page.click("[data-testid=afmelden]")
    sign_in(page, base_url, "privacy")
    assert page.url.endswith("/privacy/log")
    assert "keten intact" in page.locator("[data-testid=ketenstatus]").inner_text()
    table = page.locator("[data-testid=logtabel]").inner_text()
    assert "BIB-2026-0999" in table and "Raadplegen details" in table
    assert not PSEUDONYM.search(page.content())  # persons in the evidence are not shown
    shot(page, "08-verwerkingslog")
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    assert "BIB-2026-0999" in download.value.path().read_text(encoding="utf-8-sig")
    page.click("text=Afwijkende raadplegingen")
    assert page.locator("[data-testid=afwijkingen]").is_visible()
    shot(page, "09-afwijkingen")
    page.click("text=Register")
    assert page.locator("[data-testid=doel]").count() >= 3
    shot(page, "10-register")


def test_export_geopackage(page, base_url, tmp_path):
    sign_in(page, base_url, "analist")
    page.click("text=Exporteren")
    page.select_option("#doel", "signaalanalyse_ondermijning")
    page.fill("#zaak", "ANA-2026-0003")
    shot(page, "11-export")
    with page.expect_download() as download:
        page.click("[data-testid=exporteren]")
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert target.suffix == ".gpkg"
    frame = gpd.read_file(target, layer="gemarkeerde_adressen")
    assert frame.crs.to_epsg() == 28992 and len(frame) >= 3
    assert frame.geometry.notna().sum() >= 1 and "enforcement_history" in set(frame["flag"])


def test_admin_adds_an_account_that_can_sign_in(page, base_url):
    sign_in(page, base_url, "beheer")
    assert page.url.endswith("/beheer")
    page.fill("#gebruiker", "nieuwe.analist")
    page.fill("#naam", "Nieuwe Analist")
    page.select_option("#rol", "analyst")
    page.click("[data-testid=account-toevoegen]")
    notice = page.locator("[data-testid=nieuw-account]").inner_text()
    password = notice.rsplit(": ", 1)[1].strip()
    shot(page, "12-accounts")
    page.click("[data-testid=afmelden]")
    sign_in(page, base_url, "nieuwe.analist", password)
    assert page.url.endswith("/zoeken")
