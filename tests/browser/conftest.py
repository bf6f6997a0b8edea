"""Real-browser harness: the app under uvicorn on 127.0.0.1 and Debian's chromium via Playwright.

The warehouse is a real one: a generated municipality run through the main job (``run_pipeline``),
published as a release; the targets the tests look up are picked from its flags. No browser
download is possible, so Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``).
Screenshots of the main pages go to ``artifacts/screenshots/`` (gitignored); ``screen()`` saves the
ones docs/WEB.md shows to ``docs/screens/``.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from pipelines.runner import run_pipeline
from pipelines.warehouse import Warehouse, connect, current_release
from privacy.lookup import format_address
from sources.synthetic import generate
from web.accounts import AccountStore
from web.app import create_app
from web.config import WebSettings

ROOT = Path(__file__).resolve().parents[2]
ADDRESSES, SEED = 600, 7

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SCREENS = ROOT / "docs" / "screens"
PHONE = {"width": 375, "height": 740}
PASSWORD = secrets.token_urlsafe(16)
USERS = {
    "bibob": "bibob_officer",
    "analist": "analyst",
    "balie": "frontline",
    "privacy": "privacy_officer",
    "beheer": "admin",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Address:
    postcode: str
    huisnummer: str
    huisletter: str
    toevoeging: str


@dataclass(frozen=True)
class Demo:
    root: Path
    hit: Address  # an address with a flag the Bibob purpose may show
    no_hit: Address  # an address in a street and pand without any flag
    safety: Address  # an address with the staff_safety flag
    safety_team: str
    hit_street: str  # the street of ``hit``
    hit_label: str  # ``hit`` written out: "Straat 12, 1234 AB Woonplaats"
    safety_label: str
    kvk: str  # a KvK number with a vestiging at an address with a Bibob flag


ADDRESS_SQL = """SELECT a.postcode, CAST(a.huisnummer AS VARCHAR), coalesce(a.huisletter, ''),
       coalesce(a.huisnummertoevoeging, '') FROM bag.adres a"""


def _label(con, a: Address) -> str:
    row = con.execute(
        """SELECT openbare_ruimte_naam, huisnummer, huisletter, huisnummertoevoeging, postcode,
                  woonplaats_naam FROM bag.adres WHERE postcode = ? AND huisnummer = ?
             AND coalesce(huisletter, '') = ? AND coalesce(huisnummertoevoeging, '') = ? LIMIT 1""",
        [a.postcode, int(a.huisnummer), a.huisletter, a.toevoeging],
    ).fetchone()
    return format_address(*row)


def _address(con, where: str) -> Address:
    row = con.execute(f"{ADDRESS_SQL} WHERE {where} ORDER BY a.nummeraanduiding_id LIMIT 1").fetchone()
    assert row is not None, f"the demo municipality has no address where {where}"
    return Address(*row)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    base = tmp_path_factory.mktemp("browser-demo")
    generate(base / "data", ADDRESSES, SEED)
    outcome = run_pipeline(base / "data", base / "warehouse")
    assert outcome.success, outcome.failures
    root = base / "warehouse"
    store = AccountStore(root)
    for user, role in USERS.items():
        store.add(user, role, PASSWORD, f"Demo {user}", team="Team Ondermijning")
    con = connect(current_release(Warehouse(root)), read_only=True)
    try:
        flagged = "SELECT nummeraanduiding_id FROM signals.flags WHERE flag = '{}'"
        hit = _address(con, f"a.nummeraanduiding_id IN ({flagged.format('enforcement_history')})")
        safety = _address(con, f"a.nummeraanduiding_id IN ({flagged.format('staff_safety')})")
        no_hit = _address(
            con,
            """a.nummeraanduiding_id NOT IN (SELECT nummeraanduiding_id FROM signals.flags
                                             WHERE nummeraanduiding_id IS NOT NULL)
               AND a.openbare_ruimte_id NOT IN (SELECT openbare_ruimte_id FROM signals.flags
                                               WHERE openbare_ruimte_id IS NOT NULL)
               AND a.adresseerbaar_object_id NOT IN (
                   SELECT vp.verblijfsobject_id FROM bag.verblijfsobject_pand vp
                   JOIN signals.flags f ON f.pand_id = vp.pand_id)""",
        )
        street = con.execute(
            "SELECT openbare_ruimte_naam FROM bag.adres WHERE postcode = ? AND huisnummer = ?",
            [hit.postcode, int(hit.huisnummer)],
        ).fetchone()[0]
        message = con.execute(
            "SELECT evidence->>'message' FROM signals.flags WHERE flag = 'staff_safety' LIMIT 1"
        ).fetchone()[0]
        labels = (_label(con, hit), _label(con, safety))
        kvk = con.execute(
            """SELECT v.kvk_nummer FROM kvk.vestiging v JOIN signals.flags f USING (nummeraanduiding_id)
               WHERE f.flag IN ('enforcement_history', 'company_churn', 'address_not_in_bag')
               ORDER BY v.kvk_nummer LIMIT 1"""
        ).fetchone()
        assert kvk is not None, "the demo municipality has no company at a flagged address"
    finally:
        con.close()
    return Demo(root, hit, no_hit, safety, message.removeprefix("caution, contact "), street, *labels, kvk[0])


@pytest.fixture(scope="session")
def warehouse_root(demo) -> Path:
    return demo.root


@pytest.fixture(scope="session")
def base_url(warehouse_root) -> Iterator[str]:
    port = _free_port()
    app = create_app(WebSettings(warehouse_root=warehouse_root))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone(browser):
    """A 375 px wide phone viewport."""
    context = browser.new_context(viewport=PHONE, locale="nl-NL", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def fits(page) -> bool:
    """Whether the page fits its viewport's width (no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def screen(page, name: str) -> Path:
    """A screenshot for docs/WEB.md (kept in the repository, so keep the page small)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def page(browser):
    context = browser.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="nl-NL"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base_url: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/aanmelden")
    page.fill("#gebruiker", user)
    page.fill("#wachtwoord", password)
    page.click("button[type=submit]")
