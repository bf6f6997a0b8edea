"""The light screening of a business: tiers, the one-page result, logging and the HTML download."""

from __future__ import annotations

import pytest
from test_web_lookup import csrf, root, signed_in  # noqa: F401  (the module's warehouse fixture)

from privacy.log import ProcessingLog
from web.screening import Tiers, advice, tier_for

TIERS = Tiers(50_000, 1_000_000)


@pytest.mark.parametrize(
    ("value", "risk", "tier"),
    [
        (0, False, "basis"),
        (49_999, False, "basis"),
        (50_000, False, "screening"),
        (1_000_000, False, "screening"),
        (1_000_001, False, "escalatie"),
        (10, True, "escalatie"),
    ],
)
def test_tier_follows_value_and_risk(value, risk, tier):
    assert tier_for(value, risk, TIERS).key == tier


def test_signals_raise_the_advice_never_lower_it():
    basis = tier_for(1_000, False, TIERS)
    assert "niet nodig" in advice(basis, 0) and "Bespreek de uitslag met het Bibob-team" in advice(basis, 2)
    assert "Bibob-/screeningsteam" in advice(tier_for(5_000_000, False, TIERS), 0)


def screen(c, **fields):
    data = {
        "csrf_token": csrf(c, "/screening"),
        "soort": "kvk",
        "kvk": "90000001",
        "waarde": "75000",
        "relatie": "opdracht",
        "zaak": "INK-2026-0012",
    }
    data.update(fields)
    return c.post("/screening", data=data, follow_redirects=True)


@pytest.mark.parametrize(
    ("value", "risk", "tier", "title"),
    [
        ("10000", "", "basis", "Basischeck (niet verplicht)"),
        ("75.000", "", "screening", "Screening verplicht"),
        ("2000000", "", "escalatie", "Doorverwijzen naar het Bibob-team"),
        ("10000", "ja", "escalatie", "Doorverwijzen naar het Bibob-team"),
    ],
)
def test_screening_page_at_each_tier_is_logged_and_downloads(root, value, risk, tier, title):  # noqa: F811
    c = signed_in(root, "bibob")
    r = screen(c, waarde=value, risico=risk)
    assert r.status_code == 200, r.text
    assert f'data-trede="{tier}"' in r.text and title in r.text
    assert "KvK-nummer 90000001: Fictieve Holding 1" in r.text
    assert "000000000001</td><td>Fictieve Holding 1</td><td>Kerkstraat 3, 1234 AB Voorbeeldstad" in r.text
    assert "In dit pand zijn 12 actieve vestigingen ingeschreven" in r.text  # the flag at its address
    hit, detail = list(ProcessingLog(root).entries())[-2:]
    assert (hit.action, hit.purpose, detail.action) == (
        "hit",
        "integriteitstoets_zakelijke_relaties",
        "detail",
    )
    assert detail.details["screening"]["tier"] == tier
    download = c.get(f"/screening/screening-{hit.actie_id}/html")
    assert download.headers["content-disposition"].startswith('attachment; filename="screening-INK-2026-0012')
    assert title in download.text and "<style>" in download.text and "/static/" not in download.text


def test_screening_input_and_refusals(root):  # noqa: F811
    c = signed_in(root, "bibob")
    r = screen(c, waarde="veel")
    assert r.status_code == 400 and 'id="waarde" name="waarde"' in r.text and 'aria-invalid="true"' in r.text
    r = screen(c, kvk="90000099")
    assert "Onbekend: komt niet voor in de BAG (of KvK)" in r.text and "Vestigingen" not in r.text
    r = screen(c, zaak="")
    assert r.status_code == 403 and "zaaknummer" in r.text
    assert signed_in(root, "analist").get("/screening").status_code == 403
