"""Sign-in on the command line: the web interface's accounts and roles, for every command that
reads or exports personal data, manages accounts or cases, or works on the processing log.

``--user NAME`` with the password from ``KNOOPPUNT_PASSWORD`` or asked on the terminal; a scheduled
job instead names a per-account API token file (``--token-file`` or ``KNOOPPUNT_TOKEN_FILE``,
``NAME:TOKEN``, made by ``knooppunt accounts token``) that only its owner may read. The role always
comes from the account, never from the command. Sign-ins and refusals are security events, like
the web's. :func:`refuse_exposed_secrets` keeps ``serve`` and ``run`` from starting on secrets
that others can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.environment import current
from pipelines.files import exposed, secret_paths
from web.accounts import ROLES, Account, AccountStore
from web.events import SecurityEvents

ENV_PASSWORD = "KNOOPPUNT_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_TOKEN_FILE = "KNOOPPUNT_TOKEN_FILE"  # noqa: S105

UserOpt = Annotated[str, typer.Option("--user", help="Your account (password: KNOOPPUNT_PASSWORD or asked)")]
TokenOpt = Annotated[
    Path | None,
    typer.Option("--token-file", help="Token file of a scheduled job (mode 0600), or KNOOPPUNT_TOKEN_FILE"),
]

err = Console(stderr=True, soft_wrap=True)


def _refuse(message: str, code: int) -> typer.Exit:
    err.print(f"[red]geweigerd:[/red] {message}")
    return typer.Exit(code)


def refuse_exposed_secrets(warehouse_root: Path) -> None:
    """Exit 2 when a key, token or the accounts file can be read or written by group or others."""
    if problems := exposed(secret_paths(Path(warehouse_root))):
        for problem in problems:
            err.print(f"[red]refused:[/red] {problem}")
        err.print("make secrets private (chmod 600 for files, 700 for folders) and start again")
        raise typer.Exit(2)


def _read_token(path: Path) -> tuple[str, str]:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise _refuse(f"het tokenbestand {path} is niet leesbaar", 2) from None
    if mode & 0o077:
        raise _refuse(f"het tokenbestand {path} is leesbaar voor anderen (modus {mode:o}); maak het 0600", 2)
    user_id, _, token = text.partition(":")
    return user_id, token


def sign_in(
    warehouse: Path | None,
    user: str,
    roles: tuple[str, ...],
    token_file: Path | None = None,
    action: str = "",
) -> Account:
    """The signed-in account, if its role is one of ``roles``; otherwise exit (2 sign-in, 1 role)."""
    root = Path(warehouse or current().warehouse)
    store = AccountStore(root)
    events = SecurityEvents(root)
    token_path = token_file or (Path(os.environ[ENV_TOKEN_FILE]) if os.environ.get(ENV_TOKEN_FILE) else None)
    if token_path is not None:
        user_id, token = _read_token(token_path)
        account = store.authenticate_token(user_id, token)
        method = "cli token"
    else:
        if not user:
            raise _refuse("meld u aan met --user NAAM (wachtwoord via KNOOPPUNT_PASSWORD of de prompt)", 2)
        user_id = user.strip().lower()
        password = os.environ.get(ENV_PASSWORD) or typer.prompt(
            f"Wachtwoord voor {user_id}", hide_input=True, err=True
        )
        account = store.authenticate(user_id, password)
        method = "cli"
    if account is None:
        events.record("login_failed", user_id if store.get(user_id) else None, method)
        raise _refuse("aanmelden mislukt: onbekend of geblokkeerd account of wachtwoord onjuist", 2)
    if account.must_change_password:
        events.record("login_failed", account.user_id, f"{method}: eenmalig wachtwoord")
        raise _refuse("wijzig eerst uw eenmalige wachtwoord (aanmelden in de webinterface)", 2)
    if roles and account.role not in roles:
        events.record("forbidden", account.user_id, f"{method}: {action}")
        allowed = ", ".join(ROLES[r] for r in roles)
        raise _refuse(f"{action or 'dit commando'} is voor: {allowed}; u bent {ROLES[account.role]}", 1)
    events.record("login", account.user_id, f"{method}: {action}")
    return account
