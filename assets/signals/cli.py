"""``knooppunt flags``: export the flags a purpose may see (mounted by ``pipelines/cli.py``)."""

from __future__ import annotations

import getpass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from assets.signals.export import ExportRefused, export_flags
from pipelines.environment import current
from pipelines.warehouse import Warehouse

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
) -> None:
    """Write the flags PURPOSE may see, one row per flag occurrence with its evidence (logged)."""
    root = Warehouse(warehouse or current().warehouse)
    try:
        rows = export_flags(root, purpose, format.value, out, user=getpass.getuser())
    except ExportRefused as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(2) from exc
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"[green]exported[/green] {rows} flags for purpose {purpose} to {out} ({format.value})")
