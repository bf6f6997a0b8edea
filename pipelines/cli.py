"""The `knooppunt` command line.

Stable contract (scripts and operators depend on it):

* ``knooppunt generate --out DIR --addresses N --seed S``
* ``knooppunt run [--data DIR] [--warehouse DIR] [--wait SECONDS] [--alert] [--force]``
* ``knooppunt ingest {bag,bag-mutaties,brp,kvk,enforcement} PATH [--warehouse DIR] [--json] [--wait SECONDS]
  [--partial]``
* ``knooppunt fetch [--url URL [--sha256 HEX | --checksum-url URL]] [--mutaties FOLDER_OR_URL] [--data DIR]``
* ``knooppunt release {list,approve,discard}``

Exit codes: 0 done, 1 failed (the last good state is unchanged), 2 bad arguments, 3 another run
holds the warehouse (``pipelines.lock``; ``--wait`` waits that long for it first).

plus the sub-commands mounted from their own modules (audit, privacy, flags, serve, lookup).
"""

from __future__ import annotations

import json
import sys
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assets.signals.cli import flags_app
from pipelines.environment import DEMO_ADDRESSES, DEMO_SEED, current
from pipelines.files import private_umask
from pipelines.release import release_app
from pipelines.signin import refuse_exposed_secrets
from pipelines.warehouse import Warehouse
from privacy.cli import audit_app, privacy_app
from sources.errors import SourceError
from web.cli import register as register_web

app = typer.Typer(
    name="knooppunt",
    help="Link BAG, BRP, KvK and enforcement data VIK-style, every join gated and logged.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse folder (default: ./warehouse)")
]
WaitOpt = Annotated[
    float,
    typer.Option("--wait", min=0, help="Seconds to wait while another run holds the warehouse (exit 3)"),
]
EXIT_BUSY = 3


def _warehouse(path: Path | None) -> Warehouse:
    return Warehouse(path or current().warehouse)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the municipality to")],
    addresses: Annotated[int, typer.Option(min=1, help="Number of addresses")] = DEMO_ADDRESSES,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = DEMO_SEED,
) -> None:
    """Write a synthetic municipality in the registries' real formats."""
    from sources.synthetic import generate as generate_municipality

    summary = generate_municipality(out, addresses, seed)
    console.print(f"[green]generated[/green] {summary}")


@app.command()
def run(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Delivery folder (bag/, brp/, kvk/, handhaving/), left as it is; default: the "
            "landing folder (KNOOPPUNT_DATA; demo: ./demo-data), whose processed deliveries are archived"
        ),
    ] = None,
    warehouse: WarehouseOpt = None,
    wait: WaitOpt = 0,
    alert: Annotated[
        bool, typer.Option("--alert", help="Send the alert itself (cron without the Dagster daemon)")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Load a delivery older than the loaded one (logged)")
    ] = False,
) -> None:
    """The main job: every source and signal in a new generation, published only if all of it passed."""
    from pipelines.alerts import busy_alert
    from pipelines.lock import WarehouseBusy
    from pipelines.notify import send
    from pipelines.runner import run_pipeline

    env = current()
    landing = data is None
    if data is None:
        data = env.data_dir
        if env.is_demo and not (data / "manifest.json").exists():
            from sources.synthetic import generate as generate_municipality

            console.print(f"generating the demo municipality in {data} ...")
            generate_municipality(data, DEMO_ADDRESSES, DEMO_SEED)
    elif not data.is_dir():
        console.print(f"[red]error:[/red] delivery folder {data} does not exist")
        raise typer.Exit(2)
    refuse_exposed_secrets(Path(warehouse or env.warehouse))
    try:
        outcome = run_pipeline(data, warehouse or env.warehouse, wait=wait, landing=landing, force=force)
    except WarehouseBusy as exc:
        console.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
        if alert:
            send(busy_alert(exc))
        raise typer.Exit(EXIT_BUSY) from None
    outcome.print(Console())
    if alert and outcome.alert is not None:
        send(outcome.alert)
    if not outcome.success:
        raise typer.Exit(1)


class Source(StrEnum):
    bag = "bag"
    bag_mutaties = "bag-mutaties"  # LVBAG daily mutations on top of the loaded stand
    brp = "brp"
    kvk = "kvk"
    enforcement = "enforcement"


@app.command()
def ingest(
    source: Annotated[Source, typer.Argument(help="Which registration")],
    path: Annotated[Path, typer.Argument(help="A delivery file or folder")],
    warehouse: WarehouseOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    wait: WaitOpt = 0,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="BAG: load a part of an extract (e.g. one object-type zip) anyway"),
    ] = False,
) -> None:
    """Operator action: load one delivery in place (that source's tables in one transaction)."""
    from pipelines.ingest import ingest_delivery
    from pipelines.lock import WarehouseBusy, warehouse_lock

    if not path.exists():
        console.print(f"[red]error:[/red] {path}: no such file or folder")
        raise typer.Exit(2)
    try:
        target = _warehouse(warehouse)
        with warehouse_lock(target.root, f"ingest-{source.value}-{uuid.uuid4().hex[:8]}", wait=wait):
            report = ingest_delivery(source.value, path, target, partial=partial)
    except SourceError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except WarehouseBusy as exc:
        console.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    if as_json:
        sys.stdout.write(json.dumps(report.as_json()) + "\n")
        return
    table = Table(title=f"{source.value}: {path}")
    table.add_column("objects")
    table.add_column("rows", justify="right")
    for name, count in report.objects.items():
        table.add_row(name, f"{count:,}")
    Console().print(table)
    Console().print(f"rejects: {report.rejects:,}  seconds: {report.seconds:.2f}  bytes: {report.bytes:,}")


@app.command()
def fetch(
    url: Annotated[
        str | None, typer.Option(help="URL of the BAG extract (default: KNOOPPUNT_BAG_URL)")
    ] = None,
    sha256: Annotated[str | None, typer.Option(help="Expected sha256 of the extract")] = None,
    checksum_url: Annotated[str | None, typer.Option(help="URL of a sha256sum file for the extract")] = None,
    mutaties: Annotated[
        str | None, typer.Option(help="Folder or URL of mutation files (default: KNOOPPUNT_BAG_MUTATIES)")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Landing folder (default: the delivery folder)")] = None,
) -> None:
    """Download the BAG extract into <data>/bag/ and mutation files into <data>/bag-mutaties/."""
    from pipelines.fetch import FetchError, download, fetch_configured, fetch_mutations

    landing = data or current().data_dir
    shown = {"step": -1}

    def progress(done: int, total: int | None) -> None:
        step = done * 10 // total if total else done >> 28
        if step != shown["step"]:
            shown["step"] = step
            console.print(f"  {done / 1e6:,.1f} MB" + (f" of {total / 1e6:,.1f} MB" if total else ""))

    try:
        results = []
        if url:
            results.append(
                download(url, landing / "bag", sha256=sha256, checksum_url=checksum_url, progress=progress)
            )
        if mutaties:
            results += fetch_mutations(mutaties, landing / "bag-mutaties", progress=progress)
        if not (url or mutaties):
            results = fetch_configured(landing, progress=progress)
    except FetchError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if not results:
        console.print(
            "nothing to fetch: set KNOOPPUNT_BAG_URL / KNOOPPUNT_BAG_MUTATIES or pass --url / --mutaties"
        )
    for r in results:
        console.print(f"{r.status}: {r.path} ({r.size:,} bytes, sha256 {r.sha256})")


@app.callback()
def main() -> None:
    """Link BAG, BRP, KvK and enforcement data VIK-style, every join gated and logged."""
    private_umask()  # everything knooppunt writes is for this service's user only (pipelines.files)


# Sub-commands that live next to their concern.
app.add_typer(audit_app, name="audit")
app.add_typer(privacy_app, name="privacy")
app.add_typer(flags_app, name="flags")
app.add_typer(release_app, name="release")
register_web(app)  # serve, lookup, accounts, cases
