"""``knooppunt serve``, ``lookup``, ``accounts`` and ``cases``: mounted by ``register(app)``.

``lookup`` gives the same answers as the web interface and goes through the same
``privacy.lookup`` calls, so it is logged the same way: the officer signs in with their account
(``pipelines.signin``: password asked on the terminal, ``KNOOPPUNT_PASSWORD``, or a token file for
a scheduled job), the role comes from the account, and details are a second, logged request
(``--details``). ``accounts`` and ``cases`` sign in the same way: accounts are the administrator's
(the very first account, an administrator, can be added without signing in), cases the
administrator's and the Bibob officers'.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.environment import current
from pipelines.files import write_private
from pipelines.signin import TokenOpt, UserOpt, refuse_exposed_secrets, sign_in
from web.accounts import ROLES, AccountError, AccountStore, generate_password
from web.validation import InvalidInput, parse_case, parse_target

console = Console()
err = Console(stderr=True, soft_wrap=True)
# The contract for scripts: the first word of ``knooppunt lookup`` and its exit status.
ANSWERS = {
    "treffer": ("bold orange3", "TREFFER"),
    "geen_treffer": ("bold green", "GEEN TREFFER"),
    "onbekend": ("bold red", "ONBEKEND"),
}
EXIT_UNKNOWN = 3

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse folder (default: ./warehouse)")
]
LOOKUP_ROLES = ("bibob_officer", "analyst", "frontline")
CASE_ROLES = ("admin", "bibob_officer")
DEMO_ACCOUNTS_FILE = Path("secrets") / "demo-accounts.txt"


def _root(warehouse: Path | None) -> Path:
    return Path(warehouse or current().warehouse)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    warehouse: WarehouseOpt = None,
) -> None:
    """Serve the officers' web interface (on the embedded demo warehouse by default)."""
    import uvicorn

    from web.app import create_app
    from web.config import from_environment

    try:
        settings = from_environment(_root(warehouse))
    except RuntimeError as exc:
        err.print(f"[red]fout:[/red] {exc}")
        raise typer.Exit(2) from None
    refuse_exposed_secrets(settings.warehouse_root)
    store = AccountStore(settings.warehouse_root)
    if not store.exists() and current().is_demo and settings.local_accounts:
        _save_demo_accounts(store.create_demo_accounts(), settings.warehouse_root)
    if not store.exists() and settings.oidc is None:
        err.print(
            "[red]fout:[/red] er zijn geen accounts en geen identity provider ingesteld; "
            "maak een account met `knooppunt accounts add`"
        )
        raise typer.Exit(2)
    err.print(f"Knooppunt op http://{host}:{port}/  (warehouse: {settings.warehouse_root})")
    uvicorn.run(create_app(settings), host=host, port=port, workers=1, log_level="info", server_header=False)


def lookup(
    purpose: Annotated[str, typer.Option("--purpose", help="Registered purpose (doel)")] = "",
    case: Annotated[str, typer.Option("--case", help="Case number (zaaknummer)")] = "",
    postcode: Annotated[str, typer.Option(help="Postcode, e.g. 1234AB")] = "",
    huisnummer: Annotated[str, typer.Option(help="House number")] = "",
    huisletter: Annotated[str, typer.Option(help="House letter")] = "",
    toevoeging: Annotated[str, typer.Option(help="House number addition")] = "",
    street: Annotated[str, typer.Option("--street", help="Street name")] = "",
    kvk: Annotated[str, typer.Option(help="KvK number (8 digits)")] = "",
    vestiging: Annotated[str, typer.Option(help="Vestigingsnummer (12 digits)")] = "",
    pand: Annotated[str, typer.Option(help="Pand id (16 digits)")] = "",
    details: Annotated[bool, typer.Option("--details", help="Also request the details (logged)")] = False,
    user: UserOpt = "",
    token_file: TokenOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Look up an address, street, KvK number, vestiging or pand: hit/no-hit first, details on request.

    Prints TREFFER, GEEN TREFFER or ONBEKEND (not in the BAG or KvK, with near matches) as the first
    word and exits 0, 0 or 3; a refusal exits 1, invalid input 2.
    """
    from web.lookups import UNKNOWN_MESSAGE, LookupService

    root = _root(warehouse)
    chosen = [
        k
        for k, v in {
            "address": postcode or huisnummer,
            "street": street,
            "kvk": kvk,
            "vestiging": vestiging,
            "pand": pand,
        }.items()
        if v
    ]
    if len(chosen) != 1:
        err.print(
            "[red]fout:[/red] geef precies één zoekvraag: --postcode en --huisnummer, --street, --kvk, "
            "--vestiging of --pand"
        )
        raise typer.Exit(2)
    form = {
        "soort": chosen[0],
        "postcode": postcode,
        "huisnummer": huisnummer,
        "huisletter": huisletter,
        "toevoeging": toevoeging,
        "straat": street,
        "kvk": kvk,
        "vestiging": vestiging,
        "pand": pand,
        "zaak": case,
    }
    try:
        target = parse_target(form)
        case_number = parse_case(form)
    except InvalidInput as exc:
        err.print(f"[red]fout:[/red] {exc.message}")
        raise typer.Exit(2) from None
    account = sign_in(root, user, LOOKUP_ROLES, token_file, "lookup")
    service = LookupService(root)
    outcome = service.hit(account.user_id, account.role, purpose, case_number, target)
    if outcome.refused:
        err.print(f"[red]geweigerd:[/red] {outcome.refused}")
        raise typer.Exit(1)
    style, word = ANSWERS[outcome.outcome]
    console.print(f"[{style}]{word}[/{style}]  {outcome.target_label}", highlight=False)
    console.print(f"verzoek: {outcome.request_id}  doel: {purpose}  zaak: {case_number}", soft_wrap=True)
    if outcome.outcome == "onbekend":
        console.print(f"{UNKNOWN_MESSAGE}. Er is niets gecontroleerd.", highlight=False)
        for s in outcome.suggestions:
            console.print(f"  bedoelt u: {s.label}", highlight=False, markup=False)
        raise typer.Exit(EXIT_UNKNOWN)
    if not (details and outcome.hit):
        if outcome.hit:
            console.print("Details opvragen (wordt vastgelegd): herhaal met --details")
        return
    detail = service.detail(account.user_id, account.role, outcome.request_id)
    if detail.refused:
        err.print(f"[red]geweigerd:[/red] {detail.refused}")
        raise typer.Exit(1)
    for line in detail.as_text():
        console.print(line, highlight=False, markup=False, soft_wrap=True)


accounts_app = typer.Typer(
    help="Local accounts of the web interface (stored in the warehouse folder).", no_args_is_help=True
)


def _admin(warehouse: Path | None, user: str, token_file: Path | None, action: str) -> None:
    sign_in(_root(warehouse), user, ("admin",), token_file, action)


@accounts_app.command("add")
def accounts_add(
    user_id: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    team: Annotated[str, typer.Option(help="Team")] = "",
    warehouse: WarehouseOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Add an account with a random one-time password (printed once, changed at first sign-in).

    Administrators only; the very first account, when there are none yet, must be an
    administrator and needs no sign-in.
    """
    store = AccountStore(_root(warehouse))
    if store.exists() or role != "admin":
        _admin(warehouse, user, token_file, "accounts add")
    password = generate_password()
    try:
        store.add(user_id, role, password, name, team, one_time=True)
    except AccountError as exc:
        err.print(f"[red]fout:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"account {user_id} ({role}) aangemaakt; wachtwoord: {password}")


@accounts_app.command("demo")
def accounts_demo(warehouse: WarehouseOpt = None, user: UserOpt = "", token_file: TokenOpt = None) -> None:
    """Create the demo accounts (one per role) with random passwords, printed once.

    Never in production (they would not sign in there); an administrator's, once accounts exist.
    """
    if os.environ.get("KNOOPPUNT_ENV") == "production":
        err.print("[red]fout:[/red] geen demo-accounts in productie")
        raise typer.Exit(2)
    store = AccountStore(_root(warehouse))
    if store.exists():
        _admin(warehouse, user, token_file, "accounts demo")
    _print_demo_accounts(store.create_demo_accounts(), store)


@accounts_app.command("list")
def accounts_list(warehouse: WarehouseOpt = None, user: UserOpt = "", token_file: TokenOpt = None) -> None:
    """List the accounts (never their passwords)."""
    _admin(warehouse, user, token_file, "accounts list")
    for a in AccountStore(_root(warehouse)).all():
        console.print(
            f"{a.user_id:<16} {a.role:<16} {'actief' if a.active else 'geblokkeerd':<12} {a.display_name}"
        )


@accounts_app.command("password")
def accounts_password(
    user_id: str, warehouse: WarehouseOpt = None, user: UserOpt = "", token_file: TokenOpt = None
) -> None:
    """Give an account a new random one-time password (printed once, changed at first sign-in)."""
    _admin(warehouse, user, token_file, "accounts password")
    password = generate_password()
    try:
        AccountStore(_root(warehouse)).set_password(user_id, password, one_time=True)
    except AccountError as exc:
        err.print(f"[red]fout:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"nieuw eenmalig wachtwoord voor {user_id}: {password}")


@accounts_app.command("role")
def accounts_role(
    user_id: str,
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}")],
    warehouse: WarehouseOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Change an account's role (its sessions end at once)."""
    _admin(warehouse, user, token_file, "accounts role")
    try:
        AccountStore(_root(warehouse)).set_role(user_id, role)
    except AccountError as exc:
        err.print(f"[red]fout:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"{user_id} heeft nu de rol {ROLES[role]}")


@accounts_app.command("token")
def accounts_token(
    user_id: str,
    out: Annotated[Path, typer.Option("--out", help="Token file to write (mode 0600)")],
    warehouse: WarehouseOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Issue an API token for a scheduled job running as USER_ID (replaces its previous token)."""
    _admin(warehouse, user, token_file, "accounts token")
    try:
        token = AccountStore(_root(warehouse)).issue_token(user_id)
    except AccountError as exc:
        err.print(f"[red]fout:[/red] {exc}")
        raise typer.Exit(2) from None
    write_private(out, f"{user_id}:{token}\n")
    console.print(f"token voor {user_id} geschreven naar {out} (modus 0600)")


cases_app = typer.Typer(
    help="Cases, their members and planned inspections (for the privacy officer's anomaly report).",
    no_args_is_help=True,
)


@cases_app.command("add")
def cases_add(
    case: Annotated[str, typer.Argument(help="Case number (zaaknummer)")],
    member: Annotated[
        list[str] | None, typer.Option("--member", help="User on the case (repeatable)")
    ] = None,
    inspection_address: Annotated[
        str, typer.Option(help="Address of a planned inspection: POSTCODE|HUISNUMMER|HUISLETTER|TOEVOEGING")
    ] = "",
    inspection_date: Annotated[str, typer.Option(help="Date of the planned inspection (YYYY-MM-DD)")] = "",
    warehouse: WarehouseOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Add a case or extend it with members and a planned inspection (administrator, Bibob officer)."""
    import datetime as dt

    sign_in(_root(warehouse), user, CASE_ROLES, token_file, "cases add")
    from web.anomalies import CaseRegistry, Inspection

    inspection = None
    try:
        parse_case({"zaak": case})
        if inspection_address or inspection_date:
            postcode, huisnummer, huisletter, toevoeging = (inspection_address.split("|") + ["", "", ""])[:4]
            target = parse_target(
                {
                    "soort": "address",
                    "postcode": postcode,
                    "huisnummer": huisnummer,
                    "huisletter": huisletter,
                    "toevoeging": toevoeging,
                }
            )
            inspection = Inspection(target.value, dt.date.fromisoformat(inspection_date))
    except InvalidInput as exc:
        err.print(f"[red]fout:[/red] {exc.message}")
        raise typer.Exit(2) from None
    except ValueError:
        err.print("[red]fout:[/red] geef de inspectiedatum als JJJJ-MM-DD")
        raise typer.Exit(2) from None
    saved = CaseRegistry(_root(warehouse)).upsert(case, member or [], inspection)
    console.print(
        f"zaak {saved.number}: leden {', '.join(sorted(saved.members)) or '-'}; "
        f"{len(saved.inspections)} geplande inspectie(s)"
    )


@cases_app.command("list")
def cases_list(warehouse: WarehouseOpt = None, user: UserOpt = "", token_file: TokenOpt = None) -> None:
    """List the cases with their members and planned inspections."""
    from web.anomalies import CaseRegistry

    sign_in(_root(warehouse), user, (*CASE_ROLES, "privacy_officer"), token_file, "cases list")
    for c in CaseRegistry(_root(warehouse)).load().values():
        inspections = ", ".join(f"{i.address} op {i.on.isoformat()}" for i in c.inspections) or "-"
        console.print(
            f"{c.number:<20} leden: {', '.join(sorted(c.members)) or '-':<30} inspecties: {inspections}"
        )


def _print_demo_accounts(created: dict[str, str], store: AccountStore) -> None:
    if not created:
        console.print("de demo-accounts bestaan al (nieuw wachtwoord: `knooppunt accounts password NAAM`)")
        return
    console.print(f"demo-accounts aangemaakt in {store.path} (wachtwoorden worden eenmalig getoond):")
    for user_id, password in created.items():
        console.print(f"  {user_id:<10} {ROLES[store.get(user_id).role]:<20} {password}")


def _save_demo_accounts(created: dict[str, str], root: Path) -> None:
    """Demo passwords go to a private file, never to the service's log (stderr/journal)."""
    if not created:
        return
    path = root / DEMO_ACCOUNTS_FILE
    lines = [f"{user_id}\t{password}" for user_id, password in created.items()]
    write_private(path, "\n".join(lines) + "\n")
    err.print(
        f"demo-accounts aangemaakt; de wachtwoorden staan in {path} (alleen voor deze gebruiker leesbaar)"
    )


def register(app: typer.Typer) -> None:
    """Mount ``serve``, ``lookup`` and the ``accounts`` and ``cases`` groups on the main app."""
    app.command("serve")(serve)
    app.command("lookup")(lookup)
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(cases_app, name="cases")
