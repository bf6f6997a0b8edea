"""Real-browser harness: the app under uvicorn on 127.0.0.1 and Debian's chromium via Playwright.

No browser download is possible, so Playwright drives ``/usr/bin/chromium`` (``apt-get install
chromium``). Screenshots of the main pages go to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from test_web_warehouse import build_warehouse  # noqa: E402

from web.accounts import AccountStore  # noqa: E402
from web.app import create_app  # noqa: E402
from web.config import WebSettings  # noqa: E402

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
PASSWORD = secrets.token_urlsafe(16)
USERS = {"bibob": "bibob_officer", "analist": "analyst", "balie": "frontline", "privacy": "privacy_officer"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def warehouse_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser-warehouse")
    build_warehouse(root)
    store = AccountStore(root)
    for user, role in USERS.items():
        store.add(user, role, PASSWORD, f"Demo {user}", team="Team Ondermijning")
    return root


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
