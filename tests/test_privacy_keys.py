"""Keys come from the environment or secret files; only the demo creates its own."""

from __future__ import annotations

import secrets

import pytest

from privacy.pseudonym import ENV_KEY, ENV_KEY_FILE, Pseudonymiser


def test_production_never_creates_a_demo_key(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    monkeypatch.delenv(ENV_KEY_FILE, raising=False)
    monkeypatch.setenv("KNOOPPUNT_ENV", "production")
    with pytest.raises(RuntimeError, match=ENV_KEY):
        Pseudonymiser.from_environment(tmp_path / "secrets")
    assert not (tmp_path / "secrets").exists()

    monkeypatch.setenv(ENV_KEY, "k" * 40)  # long enough, but not random: refused in production
    with pytest.raises(RuntimeError, match="not random"):
        Pseudonymiser.from_environment(tmp_path / "secrets")
    monkeypatch.setenv(ENV_KEY, secrets.token_hex(32))
    assert Pseudonymiser.from_environment(tmp_path / "secrets")("999990019").startswith("P")
