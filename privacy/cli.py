"""``knooppunt audit ...`` and ``knooppunt privacy ...`` (mounted in ``pipelines/cli.py``).

Every command but ``audit verify`` and ``audit head`` (which show no personal data) signs in with
a web account (``--user``, or ``--token-file`` for a scheduled job; see ``pipelines.signin``) and
checks its role: the processing log's export, the report and the purge are the privacy officer's.

Exit codes: 0 success; 1 the log does not verify (``audit verify``) or the operation was refused;
2 bad input (an invalid register, an unreadable date) or a failed sign-in.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.environment import current
from pipelines.signin import TokenOpt, UserOpt, sign_in
from pipelines.warehouse import Warehouse
from privacy import witness
from privacy.log import LogError, ProcessingLog
from privacy.lookup import Actor
from privacy.purge import PURGE_ROLE
from privacy.purge import purge as run_purge
from privacy.register import RegisterError, load_register
from privacy.report import write_report

audit_app = typer.Typer(
    help="Verify and export the processing log (verwerkingenlogging).", no_args_is_help=True
)
privacy_app = typer.Typer(
    help="The processing register, the privacy officer's report and retention.", no_args_is_help=True
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse folder (default: ./warehouse)")
]
RegisterOpt = Annotated[
    Path | None, typer.Option("--register", help="Register file (default: privacy/register.yaml)")
]


def _warehouse(path: Path | None) -> Warehouse:
    return Warehouse(path or current().warehouse)


def _date(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        err.print(f"[red]error:[/red] {option} {value!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None


def _register(path: Path | None):
    try:
        return load_register(path)
    except RegisterError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


@audit_app.command("verify")
def verify(
    warehouse: WarehouseOpt = None,
    seq: Annotated[int | None, typer.Option("--seq", help="A head seen elsewhere (Dagster metadata)")] = None,
    hash_: Annotated[str | None, typer.Option("--hash", help="The hash of that head")] = None,
) -> None:
    """Check the log from its genesis entry against its head and witnesses: exit 0 when intact.

    Exit 1, naming the first problem, when an entry was edited, inserted or removed, or the log
    was wiped, truncated or rolled back to an earlier copy. ``--seq``/``--hash`` add a head
    recorded elsewhere, such as the ``log_head_seq``/``log_head_hash`` of a run's release asset.
    """
    if (seq is None) != (hash_ is None):
        err.print("[red]error:[/red] give --seq and --hash together")
        raise typer.Exit(2)
    try:
        result = ProcessingLog(_warehouse(warehouse)).verify(None if seq is None else (seq, str(hash_)))
    except LogError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if result.ok:
        out.print(f"processing log intact: {result.entries} lines verified")
        return
    err.print(f"[red]processing log NOT intact ({result.kind}):[/red] {result.problem}")
    raise typer.Exit(1)


@audit_app.command("head")
def head(warehouse: WarehouseOpt = None) -> None:
    """Print the log's head and the witness public key as JSON, to keep outside this host."""
    w = _warehouse(warehouse)
    seq, last = ProcessingLog(w).head()
    print(json.dumps({"seq": seq, "hash": last, "witness_public_key": witness.public_key_hex(w)}))


@audit_app.command("export")
def export(
    out_file: Annotated[Path, typer.Option("--out", help="JSON file to write")],
    warehouse: WarehouseOpt = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Export the processing log in the shape of VNG's Verwerkingenlogging API (privacy officer)."""
    sign_in(warehouse, user, (PURGE_ROLE,), token_file, "audit export")
    data = ProcessingLog(_warehouse(warehouse)).export_vng(_date(from_, "--from"), _date(to, "--to"))
    _write_json(out_file, data)
    out.print(f"wrote {data['count']} verwerkingsacties to {out_file}")


@privacy_app.command("register")
def register(
    out_file: Annotated[Path, typer.Option("--out", help="JSON file to write")],
    register_file: RegisterOpt = None,
    warehouse: WarehouseOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Validate the processing register and export it in the shape of VNG's VAR API."""
    sign_in(warehouse, user, (PURGE_ROLE, "admin"), token_file, "privacy register")
    data = _register(register_file).export_vng()
    _write_json(out_file, data)
    out.print(f"wrote {data['count']} verwerkingsactiviteiten to {out_file}")


@privacy_app.command("report")
def report(
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")],
    warehouse: WarehouseOpt = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD)")] = None,
    register_file: RegisterOpt = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Write the privacy officer's audit report (self-contained, printable HTML)."""
    sign_in(warehouse, user, (PURGE_ROLE,), token_file, "privacy report")
    path = write_report(
        out_file,
        _warehouse(warehouse),
        from_=_date(from_, "--from"),
        to=_date(to, "--to"),
        register=_register(register_file),
    )
    out.print(f"wrote {path}")


@privacy_app.command("purge")
def purge(
    warehouse: WarehouseOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference day, not after today")] = None,
    user: UserOpt = "",
    token_file: TokenOpt = None,
) -> None:
    """Remove data and log entries past their bewaartermijn (privacy officer; logged in their name).

    Always under the register in force; a second run on the same day changes nothing.
    """
    account = sign_in(warehouse, user, (PURGE_ROLE,), token_file, "privacy purge")
    try:
        result = run_purge(
            _warehouse(warehouse), Actor(account.user_id, account.role), _date(as_of, "--as-of")
        )
    except LogError as exc:
        err.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None
    if not result.changed:
        out.print(f"nothing past retention on {result.as_of.isoformat()}")
        return
    out.print(
        f"purged on {result.as_of.isoformat()}: {result.log_entries_removed} log entries, "
        f"{len(result.tables_dropped)} tables ({', '.join(result.tables_dropped) or 'none'})"
    )
