"""Lookups, details, front-line restriction, refusals, bad input, exports and the privacy officer's pages."""

from __future__ import annotations

import io
import re
import secrets

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from test_web_warehouse import POSTCODE, build_warehouse, num_id

from privacy.log import ProcessingLog
from web.accounts import AccountStore
from web.anomalies import CaseRegistry, Inspection
from web.app import create_app
from web.config import WebSettings
from web.events import SecurityEvents

PASSWORD = secrets.token_urlsafe(16)
USERS = {
    "bibob": "bibob_officer",
    "analist": "analyst",
    "balie": "frontline",
    "privacy": "privacy_officer",
    "collega": "bibob_officer",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    build_warehouse(root)
    store = AccountStore(root)
    for user, role in USERS.items():
        store.add(user, role, PASSWORD, user.title())
    return root


@pytest.fixture(scope="module")
def bibob(root):
    return signed_in(root, "bibob")


def signed_in(root, user: str, **settings) -> TestClient:
    c = TestClient(create_app(WebSettings(warehouse_root=root, **settings)), follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/aanmelden").text).group(1)
    r = c.post("/aanmelden", data={"csrf_token": token, "gebruiker": user, "wachtwoord": PASSWORD})
    assert r.status_code == 303, r.text
    return c


def csrf(c: TestClient, path: str = "/zoeken") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def search(c: TestClient, **fields) -> object:
    data = {"csrf_token": csrf(c), "soort": "address", "doel": "bibob_screening", "zaak": "BIB-2026-0001"}
    data.update(fields)
    return c.post("/zoeken", data=data, follow_redirects=True)


def request_id(page: str) -> str:
    return re.search(r'name="verzoek" value="([^"]+)"', page).group(1)


def test_hit_first_then_details_with_evidence_map_and_lineage(root):
    c = signed_in(root, "bibob")
    r = search(c, postcode="1234 ab", huisnummer="3")
    assert r.status_code == 200
    assert "<h1>Treffer</h1>" in r.text and "Kerkstraat 3, 1234 AB Voorbeeldstad" in r.text
    assert "Veel bedrijven" not in r.text  # no details before the second request
    rid = request_id(r.text)
    d = c.post("/details", data={"csrf_token": csrf(c), "verzoek": rid}, follow_redirects=True)
    assert d.status_code == 200
    assert "Veel bedrijven in één pand" in d.text
    assert "Drempel: minimaal aantal vestigingen" in d.text and "<td>12</td>" in d.text
    assert "data-kaart" in d.text and '"flag": "many_companies_in_building"' in d.text  # the map's data
    assert "test-run-0001" in d.text and "kvk.vestiging" in d.text  # lineage from the gate's log entry
    # Readable: the evidence as a sentence, the pand as its address, every vestiging with its name.
    assert "In dit pand zijn 12 actieve vestigingen ingeschreven; het signaal geldt vanaf 10." in d.text
    assert "<strong>Pand:</strong> Kerkstraat 3, 1234 AB Voorbeeldstad" in d.text
    assert d.text.count("Fictieve Holding") == 12 and "Fictieve Holding 11, Kerkstraat 3, 1234 AB" in d.text
    assert "Bronnen: Handelsregister (KvK). Stand van de gegevens: 01-10-2026." in d.text
    actions = [e.action for e in ProcessingLog(root).entries() if e.gebruiker == "bibob"]
    assert actions[-2:] == ["hit", "detail"]


def test_no_hit_and_unknown_address(root):
    c = signed_in(root, "bibob")
    r = search(c, postcode="1234AB", huisnummer="1")
    assert "<h1>Geen treffer</h1>" in r.text and "Details opvragen" not in r.text
    r = search(c, postcode="1234AC", huisnummer="3")
    assert "<h1>Onbekend</h1>" in r.text and "Geen treffer" not in r.text
    assert "Onbekend: komt niet voor in de BAG (of KvK)" in r.text
    assert 'aria-label="Zoek Kerkstraat 3, 1234 AB Voorbeeldstad"' in r.text  # the near match
    r = search(c, soort="street", straat="Kerkstrat")
    assert "<h1>Onbekend</h1>" in r.text and 'aria-label="Zoek Kerkstraat"' in r.text
    r = search(c, soort="street", straat="kerkstraat 3")
    assert "<h1>Treffer</h1>" in r.text and "Kerkstraat 3, 1234 AB Voorbeeldstad" in r.text


def test_address_with_letters_asks_which_one_before_looking_up(root):
    c = signed_in(root, "bibob")
    before = sum(1 for _ in ProcessingLog(root).entries())
    r = search(c, postcode="1234AB", huisnummer="5")
    assert "Kies het adres" in r.text and "Kerkstraat 5A" in r.text and "Kerkstraat 5B" in r.text
    assert sum(1 for _ in ProcessingLog(root).entries()) == before  # nothing looked up yet
    r = search(c, postcode="1234AB", huisnummer="5", huisletter="B")
    assert "Geen treffer" in r.text and "Kerkstraat 5B, 1234 AB Voorbeeldstad" in r.text


def test_street_kvk_and_pand_lookups(root):
    c = signed_in(root, "analist")
    r = search(c, soort="street", straat="Kerkstraat", doel="signaalanalyse_ondermijning")
    assert "<h1>Treffer</h1>" in r.text
    r = search(c, soort="kvk", kvk="90000001", doel="signaalanalyse_ondermijning")
    assert "<h1>Treffer</h1>" in r.text
    r = search(c, soort="pand", pand="9999100000000003", doel="signaalanalyse_ondermijning")
    assert "<h1>Treffer</h1>" in r.text
    # Pand 7 only has overcrowding, which this purpose may not show: need-to-know gives no hit.
    r = search(c, soort="pand", pand="9999100000000007", doel="signaalanalyse_ondermijning")
    assert "<h1>Geen treffer</h1>" in r.text


def test_frontline_sees_only_caution_and_whom_to_call(root):
    c = signed_in(root, "balie")
    page = c.get("/zoeken").text
    assert "Veiligheidscheck" in page and 'name="kvk"' not in page
    assert 'type="hidden" name="doel" value="veiligheid_medewerkers"' in page  # the only purpose
    assert 'name="zaak"' not in page  # the register makes the case number optional here
    before = [e.action for e in ProcessingLog(root).entries()]
    # One step: address in, the warning with the team and its phone number out.
    r = c.post(
        "/zoeken",
        data={"csrf_token": csrf(c), "postcode": "1234AB", "huisnummer": "7"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/antwoord/")
    d = c.get(r.headers["location"])
    assert "Let op: neem contact op met Team Handhaving Centrum" in d.text
    assert "14 099, toestel 2102 (fictief)" in d.text and 'href="tel:14099"' in d.text
    for hidden in ("overbewoning", "Volwassenen", "data-kaart", "Herkomst", num_id(7), "9999100000000007"):
        assert hidden not in d.text
    after = [e.action for e in ProcessingLog(root).entries()]
    assert after[len(before) :] == ["hit", "detail"]  # both requests logged, no case number needed
    assert list(ProcessingLog(root).entries())[-1].details["case_number"] == ""
    r = search(c, postcode="1234AB", huisnummer="1", doel="")
    assert "Geen signaal bekend — dit zegt niets over veiligheid" in r.text and "Let op" not in r.text
    r = search(c, postcode="1234AB", huisnummer="99", doel="")
    assert "Onbekend: komt niet voor in de BAG" in r.text and "Geen signaal" not in r.text
    # Front-line staff may not use a Bibob purpose, and cannot open the export.
    r = search(c, postcode="1234AB", huisnummer="7", doel="bibob_screening")
    assert r.status_code == 403 and "Uw rol mag dit doel niet gebruiken" in r.text
    assert c.get("/export").status_code == 403


def test_lookup_without_purpose_or_case_is_refused_and_logged(root):
    c = signed_in(root, "bibob")
    r = search(c, postcode="1234AB", huisnummer="3", doel="")
    assert r.status_code == 403 and "Kies een doel" in r.text
    last = list(ProcessingLog(root).entries())[-1]
    assert last.action == "refusal" and last.gebruiker == "bibob" and last.outcome == "geweigerd"
    r = search(c, postcode="1234AB", huisnummer="3", zaak="")
    assert r.status_code == 403 and "zaaknummer" in r.text
    r = search(c, postcode="1234AB", huisnummer="3", zaak="999999990")
    assert r.status_code == 400 and "lijkt op een BSN" in r.text  # refused by the form's validation
    assert "999999990" not in ProcessingLog(root).path.read_text()


def test_details_need_your_own_request(root):
    mine = signed_in(root, "bibob")
    rid = request_id(search(mine, postcode="1234AB", huisnummer="3").text)
    other = signed_in(root, "collega")
    d = other.post("/details", data={"csrf_token": csrf(other), "verzoek": rid})
    assert d.status_code == 403 and "andere gebruiker" in d.text
    d = other.post("/details", data={"csrf_token": csrf(other), "verzoek": "' OR 1=1 --"})
    assert d.status_code == 403 and "bestaat niet" in d.text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"postcode": "12345"}, "De postcode is ongeldig"),
        ({"postcode": "0123AB"}, "De postcode is ongeldig"),
        ({"postcode": ""}, "Vul een postcode in"),
        ({"postcode": "1234AB' OR '1'='1"}, "De postcode is ongeldig"),
        ({"huisnummer": "3; DROP TABLE bag.pand"}, "Het huisnummer is ongeldig"),
        ({"huisnummer": "0"}, "Het huisnummer is ongeldig"),
        ({"huisletter": "<script>"}, "De huisletter is ongeldig"),
        ({"toevoeging": "../../etc"}, "De toevoeging is ongeldig"),
        ({"zaak": "<img src=x onerror=alert(1)>"}, "Het zaaknummer is ongeldig"),
        ({"zaak": "Z" * 500}, "te lang"),
        ({"soort": "street", "straat": "Kerkstraat'; --"}, "De straatnaam is ongeldig"),
        ({"soort": "kvk", "kvk": "1234"}, "Het KvK-nummer is ongeldig"),
        ({"soort": "vestiging", "vestiging": "abc"}, "Het vestigingsnummer is ongeldig"),
        ({"soort": "pand", "pand": "9999200000000001"}, "Het pand-id is ongeldig"),
        ({"soort": "bsn"}, "Kies waarop u wilt zoeken"),
    ],
)
def test_bad_input_gets_a_dutch_message_and_a_security_event(root, bibob, fields, message):
    c = bibob
    data = {"postcode": "1234AB", "huisnummer": "3"} | fields
    r = search(c, **data)
    assert r.status_code == 400
    assert message in r.text
    assert "Traceback" not in r.text and "<script>" not in r.text and "<img src=x" not in r.text
    event = SecurityEvents(root).recent()[0]
    assert event.event == "invalid_input" and event.user_id == "bibob"
    for key, value in fields.items():
        if key != "soort" and len(value) > 3:
            assert value not in SecurityEvents(root).path.read_text()


def test_lookups_are_rate_limited_per_user(root):
    c = signed_in(root, "analist", lookups_per_minute=2)
    for _ in range(2):
        assert (
            search(c, postcode="1234AB", huisnummer="1", doel="signaalanalyse_ondermijning").status_code
            == 200
        )
    r = search(c, postcode="1234AB", huisnummer="1", doel="signaalanalyse_ondermijning")
    assert r.status_code == 429 and "te veel raadplegingen" in r.text
    assert SecurityEvents(root).recent()[0].event == "rate_limited"


def test_post_redirect_get_never_repeats_a_logged_request(root):
    c = signed_in(root, "bibob")
    r = search(c, postcode="1234AB", huisnummer="3")
    count = sum(1 for _ in ProcessingLog(root).entries())
    d = c.post("/details", data={"csrf_token": csrf(c), "verzoek": request_id(r.text)})
    assert d.status_code == 303 and d.headers["location"].endswith("-details")
    first = c.get(d.headers["location"])
    again = c.get(d.headers["location"])  # reload, or back and forward
    assert "Veel bedrijven in één pand" in first.text and again.text.count("Veel bedrijven in één pand") >= 1
    assert sum(1 for _ in ProcessingLog(root).entries()) == count + 1  # only the one detail request
    other = signed_in(root, "collega")
    assert other.get(d.headers["location"]).status_code == 404  # answers stay with their session


def test_purpose_and_case_stay_chosen_for_the_session(root):
    c = signed_in(root, "bibob")
    search(c, postcode="1234AB", huisnummer="1", zaak="BIB-2026-0777")
    page = c.get("/zoeken").text
    assert '<option value="bibob_screening" selected>' in page and 'value="BIB-2026-0777"' in page
    assert 'value="BIB-2026-0777"' in c.get("/export").text


def test_no_personal_data_or_target_in_urls(root):
    c = signed_in(root, "bibob")
    c.follow_redirects = True
    r = search(c, postcode="1234AB", huisnummer="3")
    assert re.fullmatch(r"http://testserver/antwoord/[0-9a-f-]{36}", str(r.url))  # an opaque id only
    hrefs = re.findall(r'(?:href|action)="([^"]+)"', r.text)
    assert all("1234" not in h and "verzoek" not in h for h in hrefs)


def test_a_list_for_one_case_then_the_case_export_holds_exactly_its_addresses(root):
    c = signed_in(root, "analist", lookups_per_minute=3)
    doel, zaak = "signaalanalyse_ondermijning", "ANA-2026-7"
    search(c, postcode="1234AB", huisnummer="9", doel=doel, zaak="ANA-2026-8")  # another case
    before = sum(1 for _ in ProcessingLog(root).entries())
    lijst = "1234 AB 3\n1234ab 1\n\nKerkstraat 12\nKerkstrat 4\n1234AB 99\nnot an address!"
    r = c.post(
        "/zoeken/lijst",
        data={"csrf_token": csrf(c, "/zoeken/lijst"), "doel": doel, "zaak": zaak, "lijst": lijst},
        follow_redirects=True,
    )
    assert r.status_code == 200, r.text
    rows = re.findall(r'<tr data-uitkomst="([a-z_]+)">', r.text)
    assert rows == ["treffer", "geen_treffer", "geen_treffer", "onbekend", "onbekend", "ongeldig"]
    assert "bedoelt u Kerkstraat 4, 1234 AB Voorbeeldstad?" in r.text
    assert 'aria-label="Details opvragen voor Kerkstraat 3, 1234 AB Voorbeeldstad"' in r.text
    new = list(ProcessingLog(root).entries())[before:]
    assert [e.action for e in new] == ["hit"] * 5  # each valid line its own logged request
    assert {e.details["case_number"] for e in new} == {zaak}
    # The list counted once against the limit of 3 a minute: one more lookup is still allowed.
    assert search(c, postcode="1234AB", huisnummer="3", doel=doel, zaak=zaak).status_code == 200
    token = csrf(c, "/export")
    r = c.post("/export", data={"csrf_token": token, "doel": doel, "zaak": zaak, "formaat": "gpkg"})
    assert r.status_code == 429  # the export is a request too
    c = signed_in(root, "analist")
    token = csrf(c, "/export")
    r = c.post("/export", data={"csrf_token": token, "doel": doel, "zaak": zaak, "formaat": "gpkg"})
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.gpkg"')
    frame = gpd.read_file(io.BytesIO(r.content), layer="zaak_adressen")
    assert frame.crs.to_epsg() == 28992
    found = {(a, u) for a, u in zip(frame["Adres"], frame["uitkomst_code"], strict=True)}
    assert found == {
        ("Kerkstraat 1, 1234 AB Voorbeeldstad", "geen_treffer"),
        ("Kerkstraat 3, 1234 AB Voorbeeldstad", "treffer"),
        ("Kerkstraat 12, 1234 AB Voorbeeldstad", "geen_treffer"),
        ("Kerkstrat 4", "onbekend"),
        ("1234 AB 99", "onbekend"),
    }
    known = frame[frame["uitkomst_code"] != "onbekend"]
    assert known.geometry.notna().all() and known["Postcode"].notna().all()
    assert set(frame.loc[frame["Adres"].str.startswith("Kerkstraat 3,"), "signaal_codes"]) == {
        "many_companies_in_building"
    }
    entry = list(ProcessingLog(root).entries())[-1]
    assert (entry.action, entry.gebruiker, entry.outcome) == ("export", "analist", "uitgevoerd")
    assert entry.details["case_number"] == zaak and entry.details["case_export"] is True
    r = c.post("/export", data={"csrf_token": token, "doel": doel, "zaak": zaak, "formaat": "csv"})
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Adres;Straat;Huisnummer;Huisletter;Toevoeging;Postcode;Woonplaats;Uitkomst")
    assert lines[0].endswith(";uitkomst_code;signaal_codes") and len(lines) == len(frame) + 1
    assert "Kerkstraat 3, 1234 AB Voorbeeldstad;Kerkstraat;3;;;1234AB;Voorbeeldstad;Treffer;" in r.text
    r = c.post("/export", data={"csrf_token": token, "doel": "", "zaak": zaak, "formaat": "csv"})
    assert r.status_code == 403 and "Kies een doel" in r.text and 'aria-invalid="true"' in r.text


def test_privacy_officer_sees_the_log_without_personal_data(root):
    bibob = signed_in(root, "bibob")
    rid = request_id(search(bibob, postcode="1234AB", huisnummer="9", zaak="BIB-2026-0009").text)
    bibob.post("/details", data={"csrf_token": csrf(bibob), "verzoek": rid})
    c = signed_in(root, "privacy")
    page = c.get("/privacy/log").text
    assert "keten intact" in page
    assert "BIB-2026-0009" in page and f"adres, BAG {num_id(9)}" in page
    assert "P0123456789abcdef01234567" not in page  # the pseudonym in the evidence
    assert "1234AB|9" not in page and "1234 AB 9" not in page
    filtered = c.get("/privacy/log", params={"zaak": "BIB-2026-0009"}).text
    assert filtered.count("BIB-2026-0009") >= 2 and "ANA-2026-7" not in filtered
    export = c.get("/privacy/log/export", params={"formaat": "csv", "zaak": "BIB-2026-0009"})
    assert "BIB-2026-0009" in export.content.decode("utf-8-sig")
    vng = c.get("/privacy/log/export", params={"formaat": "vng"}).json()
    assert vng["count"] > 0 and "P0123456789abcdef01234567" not in export.text + str(vng)
    assert "Bibob-screening" in c.get("/privacy/register").text
    assert c.get("/zoeken").status_code == 403  # the privacy officer does not look up


def test_privacy_officer_finds_who_looked_up_an_address(root):
    bibob = signed_in(root, "bibob")
    r = search(bibob, postcode="1234AB", huisnummer="3", zaak="BIB-2026-0333")
    bibob.post("/details", data={"csrf_token": csrf(bibob), "verzoek": request_id(r.text)})
    search(bibob, postcode="1234AB", huisnummer="4", zaak="BIB-2026-0444")  # another address
    c = signed_in(root, "privacy")
    for typed in ("1234 ab 3", "Kerkstraat 3"):
        page = c.get("/privacy/log", params={"adres": typed}).text
        assert "Regels over Kerkstraat 3, 1234 AB Voorbeeldstad" in page
        assert "BIB-2026-0333" in page and "BIB-2026-0444" not in page
    rows = re.findall(r'<tr id="r(\d+)">(.*?)</tr>', page, re.S)
    detail = next(body for _, body in rows if "Raadplegen details" in body)
    hit_seq = re.search(r"bij zoekvraag #(\d+)", detail).group(1)
    hit = dict(rows)[hit_seq]
    assert "BIB-2026-0333" in hit and '<span class="label label-let-op">treffer</span>' in hit
    # The link of a detail request shows its hit and nothing else.
    link = re.search(r'href="(/privacy/log\?verzoek=[^"]+)" data-testid="bij-zoekvraag"', detail).group(1)
    linked = re.findall(r'<tr id="r(\d+)">', c.get(link).text)
    assert hit_seq in linked and len(linked) == 2
    # Local time, and an unknown address is said to be unknown rather than matching nothing.
    assert "Tijdstip (Amsterdam)" in page
    page = c.get("/privacy/log", params={"adres": "Kerkstraat 99"}).text
    assert "komt niet voor in de BAG" in page and 'aria-invalid="true"' in page
    export = c.get("/privacy/log/export", params={"formaat": "csv", "adres": "1234AB 3"})
    header = export.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Regel;Tijdstip (Amsterdam);Gebruiker") and header.endswith(";uitkomst_code")


def test_privacy_officer_flag_page_sources_purposes_and_who_saw_it(root):
    bibob = signed_in(root, "bibob")
    r = search(bibob, postcode="1234AB", huisnummer="3", zaak="BIB-2026-0555")
    bibob.post("/details", data={"csrf_token": csrf(bibob), "verzoek": request_id(r.text)})
    c = signed_in(root, "privacy")
    assert 'href="/privacy/signaal/many_companies_in_building"' in c.get("/privacy/register").text
    page = c.get("/privacy/signaal/many_companies_in_building").text
    assert "<h1>Veel bedrijven in één pand</h1>" in page
    assert "<code>kvk.vestiging</code>" in page and "test-run-0001" in page  # sources and columns
    assert "Bibob-screening van aanvragers en zakenpartners" in page and "Publieke taak" in page
    seen = page[page.index('data-testid="gezien"') :]
    assert "BIB-2026-0555" in seen and "<td>bibob</td>" in seen and "bij zoekvraag #" in seen
    assert c.get("/privacy/signaal/no_such_flag").status_code == 404
    assert signed_in(root, "bibob").get("/privacy/signaal/overcrowding").status_code == 403


def test_privacy_log_pages(root):
    analyst = signed_in(root, "analist", lookups_per_minute=100)
    for n in range(51):
        number = (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)[n % 11]  # 5 asks for 5A or 5B first
        search(analyst, postcode="1234AB", huisnummer=str(number), doel="signaalanalyse_ondermijning")
    c = signed_in(root, "privacy")
    total = sum(1 for _ in ProcessingLog(root).entries())
    assert total > 50
    first = c.get("/privacy/log").text
    assert f"pagina 1 van {-(-total // 50)}" in first and first.count('<tr id="r') == 50
    last = c.get("/privacy/log", params={"pagina": "999"}).text
    assert last.count('<tr id="r') == total - 50 * (-(-total // 50) - 1)


def test_anomaly_report_flags_a_lookup_before_a_planned_inspection(root):
    import datetime as dt

    privacy = signed_in(root, "privacy")
    inspection = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    token = csrf(privacy, "/privacy/zaken")
    # Cases and their members are managed in the web interface.
    r = privacy.post(
        "/privacy/zaken",
        data={
            "csrf_token": token,
            "zaak": "BIB-2026-0100",
            "leden": "bibob",
            "postcode": "1234 AB",
            "huisnummer": "9",
            "datum": inspection,
        },
    )
    assert r.status_code == 303
    r = privacy.post(
        "/privacy/zaken", data={"csrf_token": token, "zaak": "BIB-2026-0200", "leden": "collega"}
    )
    assert r.status_code == 303
    r = privacy.post("/privacy/zaken", data={"csrf_token": token, "zaak": "BIB-2026-0300", "leden": "a b"})
    assert r.status_code == 400 and 'id="leden" name="leden"' in r.text and 'aria-invalid="true"' in r.text
    cases = CaseRegistry(root).load()
    assert cases["BIB-2026-0100"].members == {"bibob"}
    assert cases["BIB-2026-0100"].inspections == (
        Inspection(f"{POSTCODE}|9||", dt.date.fromisoformat(inspection)),
    )
    assert "BIB-2026-0200" in privacy.get("/privacy/zaken").text
    insider = signed_in(root, "bibob")
    search(insider, postcode="1234AB", huisnummer="9", zaak="BIB-2026-0100")
    outsider = signed_in(root, "collega")
    search(outsider, postcode="1234AB", huisnummer="9", zaak="BIB-2026-0200")
    page = privacy.get("/privacy/afwijkingen").text
    assert "kort vóór een geplande inspectie" in page
    row = re.search(
        r'<tr data-testid="afwijking">\s*<td><span class="label label-fout">hoog</span>.*?</tr>', page, re.S
    )
    row = row.group(0)
    assert "collega" in row and "BIB-2026-0200" in row and num_id(9) in row
    # Marked handled with a note: shown with who and when, and recorded as a security event.
    form = dict(re.findall(r'name="(regel|verzoek)" value="([^"]+)"', row))
    r = privacy.post(
        "/privacy/afwijkingen/afgehandeld", data={"csrf_token": token, **form, "toelichting": ""}
    )
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text
    r = privacy.post(
        "/privacy/afwijkingen/afgehandeld",
        data={"csrf_token": token, **form, "toelichting": "Nagevraagd: collega verving de casemanager."},
    )
    assert r.status_code == 303
    page = privacy.get("/privacy/afwijkingen").text
    assert "door privacy op" in page and "collega verving de casemanager" in page
    assert SecurityEvents(root).recent()[0].event == "anomaly_handled"


def test_a_nightly_run_writing_and_publishing_never_blocks_lookups(tmp_path):
    import json

    from pipelines.warehouse import Warehouse, publish

    build_warehouse(tmp_path)
    AccountStore(tmp_path).add("bibob", "bibob_officer", PASSWORD, "Bea")
    c = signed_in(tmp_path, "bibob")
    assert "<h1>Geen treffer</h1>" in search(c, postcode="1234AB", huisnummer="1").text
    warehouse = Warehouse(tmp_path)
    with warehouse.transaction() as writer:  # the nightly run holds the write lock ...
        writer.execute(
            "INSERT INTO signals.flags (flag, nummeraanduiding_id, evidence) VALUES ('company_churn', ?, ?)",
            [num_id(1), json.dumps({"events": 7, "min_events": 6})],
        )
        # ... while officers keep looking up on the published release.
        assert "<h1>Geen treffer</h1>" in search(c, postcode="1234AB", huisnummer="1").text
    publish(warehouse)
    assert (
        "<h1>Treffer</h1>" in search(c, postcode="1234AB", huisnummer="1").text
    )  # next request, new release
