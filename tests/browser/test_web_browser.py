"""End to end in headless chromium: sign-in, hit then details, front line, refusals, privacy log, export."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
from conftest import Address, fits, screen, shot, sign_in

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
    assert page.locator("[data-testid=adres]").inner_text() == demo.hit_label
    assert "/antwoord/" in page.url and demo.hit.postcode not in page.url
    shot(page, "03-treffer")
    page.click("[data-testid=details-opvragen]")
    assert page.locator("[data-testid=signaal]").count() >= 1
    assert page.get_by_role("heading", name="Handhavingsverleden").first.is_visible()
    assert page.locator("text=Familieleden elders in de gemeente").first.is_visible()
    # The relative's address is written out, not a BAG id alone.
    family = page.locator("h4:has-text('Familieleden elders') + .tabel-schuif").first.inner_text()
    assert re.search(r"\d{4} [A-Z]{2} \S+ \(\d{16}\)", family), family
    page.wait_for_selector("[data-kaart][data-geladen]")  # the base layer from the release loaded
    assert page.locator("path.kaart-pand-signaal").count() >= 1
    assert page.locator("path.kaart-pand").count() > 3  # the neighbours too
    page.locator("[data-testid=herkomst] summary").first.click()
    assert page.locator("text=Berekend op").first.is_visible()  # the gated run that wrote the flag
    shot(page, "04-details")
    screen(page, "details")
    page.go_back()  # post/redirect/get: back shows the answer again, nothing is resubmitted
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Treffer"


def test_no_hit(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.no_hit, "bibob_screening")
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Geen treffer"
    assert page.locator("[data-testid=details-opvragen]").count() == 0
    shot(page, "05-geen-treffer")


def test_frontline_one_step_warning_on_a_phone(phone, base_url, demo):
    sign_in(phone, base_url, "balie")
    assert phone.locator("h1").inner_text() == "Veiligheidscheck voor een huisbezoek"
    assert phone.locator("#kvk").count() == 0 and phone.locator("#doel").count() == 0  # purpose implied
    assert fits(phone)
    screen(phone, "frontoffice-telefoon")
    phone.fill("#postcode", demo.safety.postcode)
    phone.fill("#huisnummer", demo.safety.huisnummer)
    phone.fill("#huisletter", demo.safety.huisletter)
    phone.fill("#toevoeging", demo.safety.toevoeging)
    phone.click("[data-testid=zoeken]")  # no case number: the register makes it optional here
    warning = phone.locator("[data-testid=waarschuwing]").inner_text()
    assert f"Let op: neem contact op met {demo.safety_team}" in warning
    assert phone.locator("[data-testid=telefoon]").get_attribute("href").startswith("tel:")
    text = phone.locator("main").inner_text()
    assert "Herkomst" not in text and "Z-20" not in text and "agressie-incident" not in text.lower()
    assert phone.locator("svg").count() == 0 and fits(phone)
    screen(phone, "frontoffice-waarschuwing")
    phone.click("text=Nieuwe veiligheidscheck")
    phone.fill("#postcode", demo.no_hit.postcode)
    phone.fill("#huisnummer", demo.no_hit.huisnummer)
    phone.fill("#huisletter", demo.no_hit.huisletter)
    phone.fill("#toevoeging", demo.no_hit.toevoeging)
    phone.click("[data-testid=zoeken]")
    assert "dit zegt niets over veiligheid" in phone.locator("[data-testid=geen-signaal]").inner_text()
    assert fits(phone)


def test_misspelt_street_is_unknown_with_a_suggestion(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    page.select_option("#doel", "bibob_screening")
    page.fill("#zaak", "BIB-2026-0500")
    page.check("input[name=soort][value=street]")
    typo = demo.hit_street[:-2] + demo.hit_street[-1]  # one letter dropped near the end
    page.fill("#straat", f"{typo} {demo.hit.huisnummer}{demo.hit.huisletter}")
    page.click("[data-testid=zoeken]")
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Onbekend"
    assert (
        "Onbekend: komt niet voor in de BAG (of KvK)" in page.locator("[data-testid=onbekend]").inner_text()
    )
    assert "Geen treffer" not in page.locator("main").inner_text()
    suggestion = page.locator("[data-testid=suggesties] button").first
    assert demo.hit_street in suggestion.inner_text()
    screen(page, "onbekend-met-suggestie")
    page.locator("[data-testid=suggesties] button", has_text=demo.hit_label).first.click()
    assert page.locator("[data-testid=uitslag] h1").inner_text() == "Treffer"
    # Purpose and case number stayed chosen for the session.
    page.goto(f"{base_url}/zoeken")
    assert page.locator("#zaak").input_value() == "BIB-2026-0500"
    assert page.locator("#doel").input_value() == "bibob_screening"


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
    # Who looked up this address, for which case? Typed as an address, found by its BAG id.
    page.fill("#adres", f"{demo.hit.postcode} {demo.hit.huisnummer}{demo.hit.huisletter}")
    page.click("[data-testid=filteren]")
    assert demo.hit_label in page.locator("[data-testid=adresfilter]").inner_text()
    rows = page.locator("[data-testid=logtabel] tbody tr")
    texts = rows.all_inner_texts()
    assert any("BIB-2026-0999" in t and "bibob" in t and "treffer" in t for t in texts)
    assert all(demo.no_hit.postcode not in t for t in texts)
    page.locator("[data-testid=bij-zoekvraag]").first.click()  # the detail request's hit
    assert page.locator("[data-testid=logtabel] tbody tr").count() == 2
    screen(page, "privacy-adres-gezocht")
    page.set_viewport_size({"width": 375, "height": 740})
    assert fits(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    assert "BIB-2026-0999" in download.value.path().read_text(encoding="utf-8-sig")
    page.click("text=Afwijkende raadplegingen")
    assert page.locator("[data-testid=afwijkingen]").is_visible()
    shot(page, "09-afwijkingen")
    page.click("text=Register")
    assert page.locator("[data-testid=doel]").count() >= 3
    shot(page, "10-register")


def test_case_list_then_export_holds_exactly_the_case_addresses(page, base_url, demo, tmp_path):
    sign_in(page, base_url, "analist")
    search(page, demo.no_hit, "signaalanalyse_ondermijning", "ANA-2026-0099")  # another case
    page.click("text=Lijst controleren")
    page.select_option("#doel", "signaalanalyse_ondermijning")
    page.fill("#zaak", "ANA-2026-0003")
    lines = [
        f"{demo.hit.postcode} {demo.hit.huisnummer}{demo.hit.huisletter}"
        + (f"-{demo.hit.toevoeging}" if demo.hit.toevoeging else ""),
        f"{demo.safety.postcode} {demo.safety.huisnummer}{demo.safety.huisletter}"
        + (f"-{demo.safety.toevoeging}" if demo.safety.toevoeging else ""),
        "Xyzstraat 1",
    ]
    page.fill("#lijst", "\n".join(lines))
    page.click("[data-testid=lijst-controleren]")
    outcomes = page.locator("[data-testid=lijst-uitslag] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.uitkomst)"
    )
    assert outcomes[0] == "treffer" and outcomes[2] == "onbekend" and len(outcomes) == 3
    screen(page, "lijst-uitslag")
    page.click("text=Zaak exporteren")
    assert page.locator("#zaak").input_value() == "ANA-2026-0003"  # kept for the session
    shot(page, "11-export")
    with page.expect_download() as download:
        page.click("[data-testid=exporteren]")
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert target.suffix == ".gpkg"
    frame = gpd.read_file(target, layer="zaak_adressen")
    assert frame.crs.to_epsg() == 28992 and len(frame) == 3
    assert set(frame["Adres"]) == {demo.hit_label, demo.safety_label, "Xyzstraat 1"}
    assert frame.loc[frame["Adres"] == demo.hit_label, "uitkomst_code"].item() == "treffer"
    known = frame[frame["uitkomst_code"] != "onbekend"]
    assert known.geometry.notna().all() and known["Postcode"].notna().all()


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
    assert page.url.endswith("/wachtwoord")  # a one-time password: change it first
    page.goto(f"{base_url}/zoeken")
    assert page.url.endswith("/wachtwoord")
    page.fill("#nieuw", "mijn-eigen-wachtwoord-1")
    page.fill("#herhaal", "mijn-eigen-wachtwoord-1")
    shot(page, "13-wachtwoord")
    page.click("[data-testid=wachtwoord-wijzigen]")
    assert page.url.endswith("/zoeken")


@pytest.mark.parametrize(
    ("user", "paths"),
    [
        ("bibob", ["/zoeken", "/zoeken/lijst", "/export"]),
        ("balie", ["/zoeken"]),
        ("privacy", ["/privacy/log", "/privacy/afwijkingen", "/privacy/register", "/privacy/beveiliging"]),
        ("beheer", ["/beheer"]),
    ],
)
def test_every_page_fits_a_375_px_phone(phone, base_url, user, paths):
    sign_in(phone, base_url, user)
    for path in paths:
        phone.goto(base_url + path)
        assert fits(phone), f"{path} is wider than 375 px for {user}"


CONTRAST_JS = """() => {
  const rgba = s => {
    const v = (s.match(/[\\d.]+/g) || []).map(Number);
    return v.length === 3 ? [...v, 1] : v;
  };
  const lum = c => c.slice(0, 3).map(v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((t, v, i) => t + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {  // the layers up to the first opaque one, blended
    const layers = [];
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    return layers.reverse().reduce((b, c) => b.map((v, i) => c[i] * c[3] + v * (1 - c[3])), [255, 255, 255]);
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest('svg')) continue;
    const [a, b] = [lum(rgba(getComputedStyle(el).color)), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)}: ${text}`);
  }
  return low;
}"""


def test_text_contrast_is_at_least_4_5_to_1(page, base_url, demo):
    sign_in(page, base_url, "bibob")
    search(page, demo.hit, "bibob_screening", "BIB-2026-0145")
    assert page.evaluate(CONTRAST_JS) == []
    page.click("[data-testid=details-opvragen]")
    page.locator("[data-testid=herkomst] summary").first.click()
    assert page.evaluate(CONTRAST_JS) == []
    page.goto(f"{base_url}/zoeken/lijst")
    assert page.evaluate(CONTRAST_JS) == []
    page.click("[data-testid=afmelden]")
    sign_in(page, base_url, "privacy")
    assert page.evaluate(CONTRAST_JS) == []


TIERS = [
    ("12000", False, "basis"),
    ("80000", False, "screening"),
    ("2500000", False, "escalatie"),
    ("5000", True, "escalatie"),
]


def test_light_screening_at_each_tier(page, base_url, demo):
    sign_in(page, base_url, "bibob")  # one officer's morning: four relations to screen
    for value, risk, tier in TIERS:
        page.click("text=Lichte screening")
        page.fill("#kvk", demo.kvk)
        page.fill("#waarde", value)
        page.select_option("#relatie", "huur")
        page.fill("#zaak", "INK-2026-0042")
        if risk:
            page.check("input[name=risico]")
        page.click("[data-testid=screenen]")
        assert page.locator("[data-testid=trede]").get_attribute("data-trede") == tier, (value, risk)
        assert demo.kvk in page.locator("[data-testid=onderneming]").inner_text()
        assert page.locator("[data-testid=vestigingen] tbody tr").count() >= 1
        assert page.locator("[data-testid=signaal]").count() >= 1  # the company sits at a flagged address
        assert "Bibob-" in page.locator("[data-testid=advies]").inner_text()  # signals, or escalation
        if tier == "escalatie" and not risk:
            screen(page, "lichte-screening")
            with page.expect_download() as download:
                page.click("[data-testid=download-html]")
            html = download.value.path().read_text(encoding="utf-8")
            assert "Doorverwijzen naar het Bibob-team" in html and "<style>" in html
