"""Run the full job in process (``knooppunt run``) and summarise what it did."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance
from rich.console import Console
from rich.table import Table

from pipelines.alerts import run_alert
from pipelines.jobs import WAREHOUSE_TAG
from pipelines.lock import warehouse_lock
from pipelines.notify import Alert


@dataclass
class Outcome:
    success: bool
    run_id: str
    materialized: dict[str, int | None] = field(default_factory=dict)  # asset -> row count
    checks: dict[str, str] = field(default_factory=dict)  # check -> "passed" | "WARN" | "ERROR"
    failures: list[str] = field(default_factory=list)  # step -> error message
    alert: Alert | None = None  # what `knooppunt run --alert` sends (pipelines.alerts)
    blocked: list[str] = field(default_factory=list)  # plausibility findings that held the run
    unchanged: bool = True  # False only if a failure came after the generation was promoted
    release: str | None = None  # the published release's file name
    deliveries: dict[str, str] = field(default_factory=dict)  # source -> loaded / skipped, and why

    def print(self, console: Console) -> None:
        table = Table(title=f"knooppunt run {self.run_id[:8]}")
        table.add_column("asset")
        table.add_column("rows", justify="right")
        for key, rows in sorted(self.materialized.items()):
            table.add_row(key, "" if rows is None else f"{rows:,}")
        console.print(table)
        for source, reason in sorted(self.deliveries.items()):
            console.print(f"{source}: {reason}")
        for outcome in ("passed", "WARN", "ERROR"):
            names = sorted(name for name, result in self.checks.items() if result == outcome)
            if names:
                shown = "" if outcome == "passed" else f": {', '.join(names)}"
                console.print(f"checks {outcome}: {len(names)}{shown}")
        for failure in self.failures:
            console.print(f"[red]failed:[/red] {failure}")
        if self.success:
            console.print(
                f"[green]run succeeded; release {self.release} published[/green] "
                "(the web interface, `knooppunt serve`, reads it)"
            )
        elif self.blocked:
            console.print(
                f"[yellow]run blocked by plausibility checks; nothing published, the warehouse is "
                f"unchanged; generation {self.run_id} kept for inspection:[/yellow] "
                f"knooppunt release approve {self.run_id} --operator NAME --reason TEXT | "
                f"knooppunt release discard {self.run_id}"
            )
        elif self.unchanged:
            console.print(
                "[red]run failed; the warehouse's tables, the identity store and the release are "
                "unchanged (this run's generation was discarded)[/red]"
            )
        else:
            console.print(
                f"[red]run failed after its generation was promoted; check releases/CURRENT and "
                f"warehouse/generations/{self.run_id}[/red]"
            )


def _instance() -> DagsterInstance:
    # With DAGSTER_HOME set (dagster dev, production) runs are recorded there; else ephemeral.
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def _root_cause(error) -> str:
    """The innermost error's message: the reader's own words, not Dagster's wrapper."""
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_pipeline(
    data_dir: Path, warehouse: Path, *, wait: float = 0, landing: bool = False, force: bool = False
) -> Outcome:
    """Run ``knooppunt_job`` in its own generation of ``warehouse``.

    Raises ``pipelines.lock.WarehouseBusy`` if another writer holds the warehouse for longer than
    ``wait`` seconds.

    ``landing``: ``data_dir`` is the landing folder (processed deliveries are archived); a folder
    given with ``--data`` is not. ``force``: load a delivery older than the loaded one.
    """
    from pipelines.definitions import build_definitions
    from pipelines.generation import blocked_report, discard, untouched
    from pipelines.warehouse import Warehouse

    defs = build_definitions(data_dir, warehouse, landing=landing, force=force)
    job = defs.resolve_job_def("knooppunt_job")
    run_id = str(uuid.uuid4())  # a Dagster run id, known before the run starts
    instance = _instance()
    with warehouse_lock(warehouse, run_id, wait=wait):  # the run's resource re-enters it
        result = job.execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            instance=instance,
            raise_on_error=False,
            run_id=run_id,
            tags={WAREHOUSE_TAG: str(Path(warehouse).resolve())},  # this run's, not the environment's
        )
    alert = run_alert(instance, instance.get_run_by_id(run_id))
    outcome = Outcome(success=result.success, run_id=result.run_id, alert=alert)
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            rows = mat.metadata.get("dagster/row_count")
            outcome.materialized[mat.asset_key.to_user_string()] = rows.value if rows else None
            if "release" in mat.metadata:
                outcome.release = mat.metadata["release"].value
            if "delivery" in mat.metadata:
                outcome.deliveries[mat.asset_key.path[0]] = mat.metadata["delivery"].value
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            result = "passed" if ev.passed else ev.severity.value
            outcome.checks[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = result
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            outcome.failures.append(f"{event.step_key}: {_root_cause(event.event_specific_data.error)}")
    if not outcome.success:
        generation = Warehouse(warehouse, generation=outcome.run_id)
        report = blocked_report(generation) if generation.db_dir.exists() else None
        if report:
            outcome.blocked = [f["text"] for f in report["findings"]]
        elif generation.db_dir.exists() and not untouched(generation):
            outcome.unchanged = False  # kept: the evidence of what happened
        else:
            discard(generation)
    return outcome
