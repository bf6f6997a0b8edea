"""``knooppunt release``: an operator's decision on a run that the plausibility checks blocked.

``list`` shows the kept generations and their findings; ``approve RUN --operator NAME --reason``
publishes a blocked run exactly as the release step would have (promote its generation, publish,
archive its deliveries) and records the approval in the warehouse (``meta.approval``) and in
``generations/decisions.jsonl``; ``discard RUN`` deletes the generation (also recorded there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.environment import current
from pipelines.generation import blocked_report, discard, finish, pending, record_approval, record_decision
from pipelines.lock import warehouse_lock
from pipelines.warehouse import Warehouse
from privacy.lookup import RELEASE_ORDER

release_app = typer.Typer(
    help="Approve or discard a run held by the plausibility checks.", no_args_is_help=True
)
console = Console(stderr=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="Warehouse folder (default: ./warehouse)")
]


def _blocked(root: Path, run_id: str) -> tuple[Warehouse, dict]:
    generation = Warehouse(root, generation=run_id)
    report = blocked_report(generation) if generation.db_dir.is_dir() else None
    if report is None:
        known = ", ".join(r for r in pending(root) if blocked_report(Warehouse(root, generation=r))) or "none"
        console.print(f"[red]error:[/red] no blocked run {run_id} in {root} (blocked runs: {known})")
        raise typer.Exit(2)
    return generation, report


def approve_run(root: Path, run_id: str, operator: str, reason: str) -> Path:
    """Publish blocked run ``run_id``; the approval is stored with its tables and in the decisions log."""
    generation = Warehouse(root, generation=run_id)
    report = blocked_report(generation)
    findings = "; ".join(f["text"] for f in report["findings"]) if report else ""
    record_approval(generation, operator, reason, findings)
    release, problems = finish(generation, order=RELEASE_ORDER)
    for problem in problems:
        console.print(f"[yellow]warning:[/yellow] {problem}")
    decision = {"run_id": run_id, "decision": "approved", "operator": operator, "reason": reason}
    record_decision(root, {**decision, "findings": findings, "release": release.name})
    return release


@release_app.command("list")
def list_blocked(warehouse: WarehouseOpt = None) -> None:
    """The runs held by the plausibility checks, with their findings."""
    root = warehouse or current().warehouse
    runs = [(r, blocked_report(Warehouse(root, generation=r))) for r in pending(root)]
    runs = [(r, report) for r, report in runs if report]
    if not runs:
        Console().print("no blocked runs")
    for run_id, report in runs:
        Console().print(f"[bold]{run_id}[/bold]")
        for finding in report["findings"]:
            Console().print(f"  {finding['text']}")


@release_app.command()
def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The blocked run's id")],
    operator: Annotated[str, typer.Option(help="Your name: who takes responsibility for publishing")],
    reason: Annotated[str, typer.Option(help="Why the findings are right (e.g. 'annexation of Oosterhout')")],
    warehouse: WarehouseOpt = None,
) -> None:
    """Publish a blocked run: its generation becomes the warehouse and is released (logged)."""
    if not operator.strip() or not reason.strip():
        console.print("[red]error:[/red] --operator and --reason must not be empty")
        raise typer.Exit(2)
    root = warehouse or current().warehouse
    _blocked(root, run_id)
    with warehouse_lock(root, f"release-approve-{run_id}"):  # promotion is a write: one writer
        release = approve_run(root, run_id, operator.strip(), reason.strip())
    console.print(f"[green]approved[/green] run {run_id} by {operator}; release {release.name} published")


@release_app.command("discard")
def discard_run(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The blocked run's id")],
    operator: Annotated[str, typer.Option(help="Your name")] = "",
    warehouse: WarehouseOpt = None,
) -> None:
    """Delete a blocked run's generation; the warehouse and release stay as they are."""
    root = warehouse or current().warehouse
    generation, report = _blocked(root, run_id)
    discard(generation)
    findings = "; ".join(f["text"] for f in report["findings"])
    record_decision(
        root, {"run_id": run_id, "decision": "discarded", "operator": operator or None, "findings": findings}
    )
    console.print(f"discarded run {run_id}; the warehouse and release are unchanged")
