"""Files, keys and transport: private files whatever the umask, no start on exposed secrets, and in
production strong keys, no demo accounts, Secure cookies, HSTS and a trusted-host list."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pipelines.cli import app as cli
from pipelines.warehouse import Warehouse, publish
from privacy.identity import IDENTITY_SCHEMA, IdentityStore
from privacy.log import LogEntry, ProcessingLog
from privacy.pseudonym import Pseudonymiser, key_problem, load_key
from privacy.register import load_register
from web.accounts import AccountStore
from web.anomalies import CaseRegistry
from web.app import create_app
from web.config import from_environment
from web.events import SecurityEvents

PASSWORD = secrets.token_urlsafe(16)
KNOOPPUNT = Path(sys.executable).parent / "knooppunt"


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, str]:
    """Every file and folder under root that group or others may use, with its mode."""
    found = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found[str(path.relative_to(root))] = oct(mode)
    return found


def test_everything_in_the_warehouse_folder_is_private_under_umask_022(tmp_path, umask_022):
    w = Warehouse(tmp_path / "wh")
    with w.transaction() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    publish(w)
    rows = pa.table(
        {
            "persoon_id": ["P" + "0" * 24],
            "bsn": ["999990019"],
            "voornamen": ["Jan"],
            "voorvoegsel": [None],
            "geslachtsnaam": ["Fictief"],
            "geboortedatum": [dt.date(1980, 1, 1)],
        },
        schema=IDENTITY_SCHEMA,
    )
    IdentityStore(w).replace("brp", rows)
    Pseudonymiser.from_environment(w.secrets_dir)
    register = load_register()
    ProcessingLog(w).append(LogEntry.under(register, None, "refusal", "tester", outcome="geweigerd"))
    ProcessingLog(w).witness_release(publish(w))
    AccountStore(w.root).add("beheer", "admin", PASSWORD)
    CaseRegistry(w.root).upsert("BIB-1", ["beheer"])
    SecurityEvents(w.root).record("login", "beheer", "test")
    expected = {"knooppunt.duckdb", "identity.duckdb", "releases", "log", "witness", "secrets", "web"}
    assert expected <= {p.name for p in w.root.iterdir()}
    assert modes(w.root) == {}
    assert stat.S_IMODE(w.root.stat().st_mode) == 0o700


def test_the_command_line_writes_private_files_under_umask_022(tmp_path):
    root = tmp_path / "wh"
    done = subprocess.run(
        ["sh", "-c", f"umask 022; {KNOOPPUNT} accounts add beheer --role admin --warehouse {root}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert modes(root) == {}


def exposed_warehouse(tmp_path) -> Path:
    root = tmp_path / "wh"
    w = Warehouse(root)
    ProcessingLog(w).append(LogEntry.under(load_register(), None, "refusal", "t", outcome="geweigerd"))
    AccountStore(root).add("beheer", "admin", PASSWORD)
    return root


@pytest.mark.parametrize("exposed", ["secrets/log.key", "secrets", "web/accounts.json"])
def test_run_and_serve_refuse_to_start_on_exposed_secrets(tmp_path, exposed):
    root = exposed_warehouse(tmp_path)
    (root / exposed).chmod(0o755 if (root / exposed).is_dir() else 0o644)
    runner = CliRunner()
    for args in (
        ["run", "--data", str(tmp_path), "--warehouse", str(root)],
        ["serve", "--warehouse", str(root)],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2 and "readable or writable by group or others" in result.output, args


def test_a_configured_key_file_that_others_can_read_is_refused(tmp_path, monkeypatch):
    root = exposed_warehouse(tmp_path)
    key = tmp_path / "pseudonym.key"
    key.write_text(secrets.token_hex(32))
    key.chmod(0o640)
    monkeypatch.setenv("KNOOPPUNT_PSEUDONYM_KEY_FILE", str(key))
    result = CliRunner().invoke(cli, ["serve", "--warehouse", str(root)])
    assert result.exit_code == 2 and "pseudonym.key" in result.output


@pytest.mark.parametrize(
    "key,ok",
    [
        (b"x", False),
        (b"a" * 64, False),
        (b"0123456789abcdef" * 2, False),  # hex: 16 bytes
        (secrets.token_hex(32).encode(), True),
        (secrets.token_urlsafe(32).encode(), True),
    ],
)
def test_production_keys_need_32_bytes_of_entropy(tmp_path, monkeypatch, key, ok):
    monkeypatch.setenv("KNOOPPUNT_ENV", "production")
    monkeypatch.setenv("KNOOPPUNT_LOG_KEY", key.decode())
    assert (key_problem(key) is None) == ok
    if ok:
        assert load_key("KNOOPPUNT_LOG_KEY", "KNOOPPUNT_LOG_KEY_FILE", "log.key", tmp_path) == key
    else:
        with pytest.raises(RuntimeError, match="KNOOPPUNT_LOG_KEY"):
            load_key("KNOOPPUNT_LOG_KEY", "KNOOPPUNT_LOG_KEY_FILE", "log.key", tmp_path)


def test_no_demo_account_signs_in_in_production(tmp_path, monkeypatch):
    store = AccountStore(tmp_path)
    passwords = store.create_demo_accounts()
    store.add("echt", "analyst", PASSWORD)
    token = store.issue_token("bibob")
    assert store.authenticate("bibob", passwords["bibob"]) is not None
    monkeypatch.setenv("KNOOPPUNT_ENV", "production")
    assert store.authenticate("bibob", passwords["bibob"]) is None
    assert store.authenticate_token("bibob", token) is None
    assert store.authenticate("echt", PASSWORD) is not None


def production(monkeypatch, tmp_path, hosts: str | None) -> None:
    monkeypatch.setenv("KNOOPPUNT_ENV", "production")
    monkeypatch.setenv("KNOOPPUNT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KNOOPPUNT_WAREHOUSE", str(tmp_path))
    monkeypatch.delenv("KNOOPPUNT_HTTPS", raising=False)
    if hosts is None:
        monkeypatch.delenv("KNOOPPUNT_TRUSTED_HOSTS", raising=False)
    else:
        monkeypatch.setenv("KNOOPPUNT_TRUSTED_HOSTS", hosts)


def test_production_needs_a_trusted_host_list(tmp_path, monkeypatch):
    for hosts in (None, "*", ""):
        production(monkeypatch, tmp_path, hosts)
        with pytest.raises(RuntimeError, match="KNOOPPUNT_TRUSTED_HOSTS"):
            from_environment(tmp_path)


def test_production_has_secure_cookies_hsts_and_refuses_other_hosts(tmp_path, monkeypatch):
    production(monkeypatch, tmp_path, "knooppunt.gemeente.example")
    settings = from_environment(tmp_path)
    assert settings.https
    app = create_app(settings)
    good = TestClient(app, base_url="https://knooppunt.gemeente.example").get("/aanmelden")
    assert good.status_code == 200
    assert "secure" in good.headers["set-cookie"].lower()
    assert good.headers["strict-transport-security"].startswith("max-age=")
    evil = TestClient(app, base_url="https://evil.example", follow_redirects=False).get("/")
    assert evil.status_code == 400 and "evil.example" not in evil.headers.get("location", "")
    assert "set-cookie" not in evil.headers  # refused before any session was made


def test_a_demo_answers_only_on_loopback_names(tmp_path, monkeypatch):
    monkeypatch.delenv("KNOOPPUNT_ENV", raising=False)
    monkeypatch.delenv("KNOOPPUNT_TRUSTED_HOSTS", raising=False)
    app = create_app(from_environment(tmp_path))
    assert TestClient(app, base_url="http://127.0.0.1:8000").get("/aanmelden").status_code == 200
    assert TestClient(app, base_url="http://attacker.example").get("/aanmelden").status_code == 400
