"""``knooppunt flags``: export the flags a purpose may see (mounted by ``pipelines/cli.py``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.environment import current
from pipelines.signin import TokenOpt, UserOpt, sign_in
from privacy.exportfiles import export_flags
from privacy.lookup import Actor, LookupRefused, LookupUnavailable

flags_app = typer.Typer(
    name="flags",
    help="Flags (signals for a human to weigh, never verdicts).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@flags_app.callback()
def flags() -> None:
    """Flags (signals for a human to weigh, never verdicts)."""


class Format(StrEnum):
    csv = "csv"
    geojson = "geojson"
    gpkg = "gpkg"


@flags_app.command("export")
def export(
    purpose: Annotated[str, typer.Option(help="A purpose of privacy/register.yaml, e.g. adreskwaliteit")],
    format: Annotated[Format, typer.Option("--format", help="csv, geojson or gpkg (RD New points)")],
    out: Annotated[Path, typer.Option(help="File to write")],
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="Warehouse folder (default: ./warehouse)")
    ] = None,
    case: Annotated[str, typer.Option(help="Case number (zaaknummer) the export is for")] = "",
    user: UserOpt = "",
    token_file: TokenOpt = None,
    new: Annotated[
        bool, typer.Option("--new", help="Only flags first seen in the latest published run")
    ] = False,
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Only flags that stopped firing in the latest published run")
    ] = False,
) -> None:
    """Write the flags PURPOSE may see, one row per flag occurrence with its evidence (logged).

    Signs in with a web account (``--user`` or ``--token-file``); the role is the account's and
    the purpose must allow it. The export and any refusal are in the processing log with user,
    purpose, case number, format and the places exported.
    """
    if new and resolved:
        console.print("[red]error:[/red] choose --new or --resolved, not both")
        raise typer.Exit(2)
    change = "new" if new else "resolved" if resolved else None
    root = Path(warehouse or current().warehouse)
    account = sign_in(root, user, (), token_file, "flags export")
    actor = Actor(account.user_id, account.role)
    case_number = case
    try:
        rows = export_flags(root, actor, purpose, case_number, format.value, out, change)
    except LookupRefused as exc:
        console.print(f"[red]refused (logged):[/red] {exc}")
        raise typer.Exit(2) from exc
    except (FileNotFoundError, LookupUnavailable) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    what = {"new": "new ", "resolved": "resolved "}.get(change or "", "")
    console.print(
        f"[green]exported[/green] {rows} {what}flags for purpose {purpose} to {out} ({format.value})"
    )
