"""Local accounts for the embedded default: argon2-hashed passwords in the warehouse folder.

The store is ``<warehouse>/web/accounts.json`` (never in the repository), written atomically with
mode 0600. Production municipalities normally sign in through their own identity provider
(``web.oidc``); local accounts remain for the demo and for break-glass administration.

Demo accounts get random passwords, generated when they are created and shown once; no password
is ever hard-coded. With ``KNOOPPUNT_ENV=production`` no demo account signs in.

A password an administrator sets (a new account, a reset) is one-time: it must be changed at the
first sign-in. Every block, role change or reset raises the account's ``generation``; sessions
signed in under an older generation end at their next request (``web.app``). Scheduled jobs sign
in with an API token (``issue_token``), stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pipelines.files import private_dir
from privacy.scan import looks_like_bsn

ROLES: dict[str, str] = {
    "bibob_officer": "Bibob-medewerker",
    "analyst": "Analist",
    "frontline": "Frontoffice (VPD)",
    "privacy_officer": "Privacy officer",
    "admin": "Beheerder",
}
ACCOUNTS_FILE = Path("web") / "accounts.json"
USER_ID = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
MIN_PASSWORD_LENGTH = 12

DEMO_ACCOUNTS: dict[str, tuple[str, str]] = {
    "bibob": ("bibob_officer", "Demo Bibob-medewerker"),
    "analist": ("analyst", "Demo analist"),
    "balie": ("frontline", "Demo frontoffice"),
    "privacy": ("privacy_officer", "Demo privacy officer"),
    "beheer": ("admin", "Demo beheerder"),
}

_hasher = PasswordHasher()
# Verifying against this keeps the time of "unknown user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A Dutch message for the operator or administrator."""


@dataclass(frozen=True)
class Account:
    user_id: str
    role: str
    display_name: str
    password_hash: str
    active: bool = True
    team: str = ""
    must_change_password: bool = False
    generation: int = 0
    token_hash: str = ""


class AccountStore:
    """The accounts file of one warehouse folder. Thread-safe; re-reads the file on change."""

    def __init__(self, warehouse_root: str | Path):
        self.path = Path(warehouse_root) / ACCOUNTS_FILE
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int, int], dict[str, Account]] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def _read(self) -> dict[str, Account]:
        """The accounts, parsed again only when the file changed (checked on every web request)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._cache is None or self._cache[0] != version:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self._cache = (version, {a["user_id"]: Account(**a) for a in raw.get("accounts", [])})
        return dict(self._cache[1])

    def _write(self, accounts: dict[str, Account]) -> None:
        self._cache = None
        private_dir(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"accounts": [asdict(a) for a in accounts.values()]}, fh, indent=2)
        os.replace(tmp, self.path)

    def get(self, user_id: str) -> Account | None:
        with self._lock:
            return self._read().get(user_id)

    def all(self) -> list[Account]:
        with self._lock:
            return sorted(self._read().values(), key=lambda a: a.user_id)

    def add(
        self,
        user_id: str,
        role: str,
        password: str,
        display_name: str = "",
        team: str = "",
        *,
        one_time: bool = False,
    ) -> Account:
        """A new account; ``one_time`` for a password generated for someone (changed at sign-in)."""
        if not USER_ID.match(user_id) or looks_like_bsn(user_id):
            raise AccountError(
                "Ongeldige gebruikersnaam: gebruik 2 tot 40 tekens, kleine letters, cijfers, . _ of -."
            )
        if role not in ROLES:
            raise AccountError(f"Onbekende rol {role!r}; kies uit {', '.join(ROLES)}.")
        check_password_strength(password)
        account = Account(
            user_id, role, display_name or user_id, _hasher.hash(password), True, team, one_time
        )
        with self._lock:
            accounts = self._read()
            if user_id in accounts:
                raise AccountError(f"Gebruiker {user_id!r} bestaat al.")
            accounts[user_id] = account
            self._write(accounts)
        return account

    def _update(self, user_id: str, *, new_generation: bool, **changes) -> Account:
        with self._lock:
            accounts = self._read()
            if user_id not in accounts:
                raise AccountError(f"Gebruiker {user_id!r} bestaat niet.")
            old = accounts[user_id]
            generation = old.generation + 1 if new_generation else old.generation
            accounts[user_id] = Account(**{**asdict(old), **changes, "generation": generation})
            self._write(accounts)
            return accounts[user_id]

    def set_password(self, user_id: str, password: str, *, one_time: bool) -> None:
        """A new password; one set by someone else (``one_time``) must be changed at sign-in."""
        check_password_strength(password)
        self._update(
            user_id,
            new_generation=one_time,
            password_hash=_hasher.hash(password),
            must_change_password=one_time,
        )

    def set_active(self, user_id: str, active: bool) -> None:
        self._update(user_id, new_generation=True, active=active)

    def set_role(self, user_id: str, role: str) -> None:
        if role not in ROLES:
            raise AccountError(f"Onbekende rol {role!r}; kies uit {', '.join(ROLES)}.")
        self._update(user_id, new_generation=True, role=role)

    def issue_token(self, user_id: str) -> str:
        """A new API token for scheduled jobs (replacing the previous one); shown once."""
        token = secrets.token_urlsafe(32)
        self._update(user_id, new_generation=False, token_hash=_token_hash(token))
        return token

    def authenticate_token(self, user_id: str, token: str) -> Account | None:
        account = self.get(user_id)
        if account is None or not account.active or not account.token_hash or _is_demo_in_production(account):
            return None
        return account if hmac.compare_digest(account.token_hash, _token_hash(token)) else None

    def current(self, user_id: str, generation: int) -> Account | None:
        """The account if it is still active and unchanged since a session of ``generation`` began."""
        account = self.get(user_id)
        if account is None or not account.active or account.generation != generation:
            return None
        return account

    def authenticate(self, user_id: str, password: str) -> Account | None:
        """The account if the password matches and the account is active; None otherwise."""
        account = self.get(user_id)
        try:
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if account is None or not account.active or _is_demo_in_production(account):
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            self._update(user_id, new_generation=False, password_hash=_hasher.hash(password))
        return account

    def create_demo_accounts(self) -> dict[str, str]:
        """Create the demo accounts that do not exist yet; return {user_id: new random password}."""
        created: dict[str, str] = {}
        for user_id, (role, name) in DEMO_ACCOUNTS.items():
            if self.get(user_id) is None:
                password = generate_password()
                self.add(user_id, role, password, name, team="Team Ondermijning")
                created[user_id] = password
        return created


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _is_demo_in_production(account: Account) -> bool:
    return account.user_id in DEMO_ACCOUNTS and os.environ.get("KNOOPPUNT_ENV") == "production"


def generate_password() -> str:
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Het wachtwoord moet minstens {MIN_PASSWORD_LENGTH} tekens lang zijn.")
    if len(password) > 256:
        raise AccountError("Het wachtwoord is te lang (maximaal 256 tekens).")
