"""Runtime guard of the boundary: every module imports without opening a database, and while the web
interface answers lookups, every DuckDB connection is opened by the privacy module's factory (the
lookup's shared release connection), never by web/ itself."""

from __future__ import annotations

import inspect
import re
import secrets
import subprocess
import sys
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient
from test_web_warehouse import build_warehouse

from web.accounts import AccountStore
from web.app import create_app
from web.config import WebSettings

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = secrets.token_urlsafe(16)
IMPORT_ALL = """
import importlib, pkgutil, duckdb
opened = []
real = duckdb.connect
duckdb.connect = lambda *a, **k: opened.append(repr(a)) or real(*a, **k)
names = []
for package in ("pipelines", "assets", "sources", "privacy", "web"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(len(names), len(opened))
"""


def test_every_module_imports_and_none_opens_a_database():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    modules, opened = map(int, done.stdout.split())
    assert modules > 80 and opened == 0


def _opener() -> str:
    """The module that asked for the connection: the first caller outside DuckDB and the
    connection helper of pipelines.warehouse."""
    for frame in inspect.stack()[2:]:
        name = frame.frame.f_globals.get("__name__", "")
        if name not in ("pipelines.warehouse",) and not name.startswith("duckdb"):
            return name
    return "?"


def test_web_lookups_open_connections_only_through_privacy(tmp_path, monkeypatch):
    build_warehouse(tmp_path)
    AccountStore(tmp_path).add("bibob", "bibob_officer", PASSWORD)
    openers: list[str] = []
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: openers.append(_opener()) or real(*a, **k))
    c = TestClient(create_app(WebSettings(warehouse_root=tmp_path)), follow_redirects=False)

    def token(path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)

    login = {"csrf_token": token("/aanmelden"), "gebruiker": "bibob", "wachtwoord": PASSWORD}
    assert c.post("/aanmelden", data=login).status_code == 303
    form = {"csrf_token": token("/zoeken"), "soort": "address", "doel": "bibob_screening", "zaak": "BIB-1"}
    answered = c.post("/zoeken", data={**form, "postcode": "1234AB", "huisnummer": "3"})
    assert answered.status_code == 303  # post/redirect/get
    hit = c.get(answered.headers["location"])
    assert "Treffer" in hit.text
    rid = re.search(r'name="verzoek" value="([^"]+)"', hit.text).group(1)
    details = c.post("/details", data={"csrf_token": token("/zoeken"), "verzoek": rid})
    assert details.status_code == 303 and c.get(details.headers["location"]).status_code == 200
    export = {"csrf_token": token("/export"), "doel": "bibob_screening", "zaak": "BIB-1", "formaat": "csv"}
    assert c.post("/export", data=export).status_code == 200
    assert openers, "the lookups opened no connection at all: the guard saw nothing"
    assert all(name.startswith("privacy.") for name in openers), openers
