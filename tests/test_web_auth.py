"""Sign-in, sessions, CSRF, security headers and rate limiting of the web interface."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi.testclient import TestClient

from web.accounts import AccountError, AccountStore
from web.app import create_app
from web.config import WebSettings
from web.events import SecurityEvents
from web.security import RateLimiter, SessionStore

PASSWORD = secrets.token_urlsafe(16)
WRONG = secrets.token_urlsafe(16)


@pytest.fixture
def root(tmp_path):
    store = AccountStore(tmp_path)
    store.add("bibob", "bibob_officer", PASSWORD, "Bea Bibob")
    store.add("beheer", "admin", PASSWORD, "Ben Beheer")
    return tmp_path


def client(root, **settings) -> TestClient:
    return TestClient(create_app(WebSettings(warehouse_root=root, **settings)), follow_redirects=False)


def csrf(c: TestClient, path: str = "/aanmelden") -> str:
    page = c.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(c: TestClient, user: str = "bibob", password: str = PASSWORD):
    return c.post("/aanmelden", data={"csrf_token": csrf(c), "gebruiker": user, "wachtwoord": password})


def test_accounts_store_hashes_with_argon2_and_lives_in_the_warehouse(root):
    raw = (root / "web" / "accounts.json").read_text()
    assert PASSWORD not in raw
    assert "$argon2id$" in raw
    store = AccountStore(root)
    assert store.authenticate("bibob", PASSWORD).role == "bibob_officer"
    assert store.authenticate("bibob", WRONG) is None
    assert store.authenticate("nobody", PASSWORD) is None
    with pytest.raises(AccountError, match="minstens"):
        store.add("kort", "analyst", "short")
    with pytest.raises(AccountError, match="Onbekende rol"):
        store.add("iemand", "superuser", PASSWORD)
    store.set_active("bibob", False)
    assert store.authenticate("bibob", PASSWORD) is None


def test_demo_accounts_get_random_passwords(tmp_path):
    first = AccountStore(tmp_path / "a").create_demo_accounts()
    second = AccountStore(tmp_path / "b").create_demo_accounts()
    assert set(first) == {"bibob", "analist", "balie", "privacy", "beheer"}
    assert all(first[u] != second[u] for u in first)
    assert AccountStore(tmp_path / "a").create_demo_accounts() == {}


def test_sign_in_sets_a_fresh_http_only_session_and_redirects_by_role(root):
    c = client(root)
    before = c.get("/aanmelden").cookies.get("knooppunt_sessie") or c.cookies.get("knooppunt_sessie")
    r = sign_in(c)
    assert r.status_code == 303 and r.headers["location"] == "/zoeken"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert c.cookies.get("knooppunt_sessie") != before
    assert sign_in(client(root), "beheer").headers["location"] == "/beheer"


def test_wrong_password_is_refused_in_dutch_and_recorded(root):
    c = client(root)
    r = sign_in(c, password=WRONG)
    assert r.status_code == 401
    assert "Gebruikersnaam of wachtwoord onjuist" in r.text
    assert [e.event for e in SecurityEvents(root).recent()] == ["login_failed"]


def test_forged_csrf_token_is_refused_and_recorded(root):
    c = client(root)
    c.get("/aanmelden")
    r = c.post("/aanmelden", data={"csrf_token": "forged", "gebruiker": "bibob", "wachtwoord": PASSWORD})
    assert r.status_code == 403
    assert "CSRF" in r.text and "Traceback" not in r.text
    assert SecurityEvents(root).recent()[0].event == "csrf"
    r = c.post("/aanmelden", data={"gebruiker": "bibob", "wachtwoord": PASSWORD})
    assert r.status_code == 403


def test_pages_need_sign_in_and_the_right_role(root):
    c = client(root)
    assert c.get("/beheer").headers["location"] == "/aanmelden"
    sign_in(c)
    r = c.get("/beheer")
    assert r.status_code == 403 and "Geen toegang" in r.text
    assert SecurityEvents(root).recent()[0].event == "forbidden"


def test_expired_session_redirects_with_a_dutch_message(root):
    c = client(root, idle_timeout=60)
    sign_in(c)
    session, _ = c.app.state.ctx.sessions.get(c.cookies.get("knooppunt_sessie"))
    session.last_seen -= 61  # an hour of coffee
    r = c.get("/beheer")
    assert r.headers["location"] == "/aanmelden"
    page = c.get("/aanmelden")
    assert "Uw sessie is verlopen" in page.text
    assert "session_expired" in [e.event for e in SecurityEvents(root).recent()]


def test_logout_ends_the_session(root):
    c = client(root)
    sign_in(c, "beheer")
    token = csrf(c, "/beheer")
    old_cookie = c.cookies.get("knooppunt_sessie")
    assert c.post("/afmelden", data={"csrf_token": token}).headers["location"] == "/aanmelden"
    c.cookies.set("knooppunt_sessie", old_cookie)
    assert c.get("/beheer").headers["location"] == "/aanmelden"


def test_security_headers_on_every_page(root):
    c = client(root, https=True)
    for path in ("/aanmelden", "/bestaat-niet", "/static/knooppunt.css"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "max-age" in r.headers["strict-transport-security"]
    assert "Pagina niet gevonden" in c.get("/bestaat-niet").text


def test_no_inline_script_or_style_in_templates():
    from pathlib import Path

    for template in (Path(__file__).resolve().parents[1] / "web" / "templates").glob("*.html"):
        text = template.read_text()
        assert "<script>" not in text and "<style" not in text and " style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_oversized_request_is_refused_in_dutch(root):
    c = client(root)
    token = csrf(c)
    r = c.post("/aanmelden", data={"csrf_token": token, "gebruiker": "x" * 70_000, "wachtwoord": "y"})
    assert r.status_code == 413 and "te groot" in r.text
    chunks = iter([b"csrf_token=" + token.encode(), b"&gebruiker=" + b"x" * 70_000])
    r = c.post("/aanmelden", content=chunks, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "Traceback" not in r.text


def test_login_attempts_are_rate_limited(root):
    c = client(root, logins_per_minute=3)  # per client address, whatever the user name
    for user in ("bibob", "iemand", "anders"):
        assert sign_in(c, user, password=WRONG).status_code == 401
    r = sign_in(c)
    assert r.status_code == 429 and "Te veel aanmeldpogingen" in r.text


def test_admin_adds_and_blocks_an_account(root):
    c = client(root)
    sign_in(c, "beheer")
    r = c.post(
        "/beheer/account", data={"csrf_token": csrf(c, "/beheer"), "gebruiker": "nieuw", "rol": "analyst"}
    )
    password = re.search(r"Eenmalig wachtwoord: <code>([^<]+)</code>", r.text).group(1)
    assert AccountStore(root).authenticate("nieuw", password).role == "analyst"
    c.post("/beheer/status", data={"csrf_token": csrf(c, "/beheer"), "gebruiker": "nieuw", "actief": "0"})
    assert AccountStore(root).authenticate("nieuw", password) is None


def test_session_store_expiry_and_rate_limiter_with_a_clock():
    now = [0.0]
    store = SessionStore(idle_timeout=10, absolute_timeout=25, clock=lambda: now[0])
    s = store.sign_in(store.new(), "u", "analyst", "U", "lokaal")
    for t in (5, 14, 23):
        now[0] = t
        assert store.get(s.session_id)[0] is s
    now[0] = 26
    assert store.get(s.session_id) == (None, True)
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.allow("u") and limiter.allow("u") and not limiter.allow("u")
    assert limiter.allow("v")
    now[0] += 61
    assert limiter.allow("u")


def test_the_admins_row_buttons_name_the_account_they_act_on(root):
    c = client(root)
    sign_in(c, "beheer")
    page = c.get("/beheer").text
    for action in ("Blokkeren", "Rol wijzigen", "Nieuw wachtwoord"):
        assert f'aria-label="{action}: bibob"' in page
