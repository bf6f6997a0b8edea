"""A run's generation: its own copy of the warehouse's database files, promoted only when it passed.

A run of ``knooppunt_job`` (``knooppunt run``, the schedule, the sensor) never writes
``knooppunt.duckdb`` or ``identity.duckdb`` in place. When the run starts, :func:`create` copies
both files to ``<warehouse>/generations/<run_id>/``; every asset and check of the run reads and
writes that copy (``WarehouseResource`` with ``generations=True``). At the end the release step
checks plausibility (``pipelines.plausibility``) and then :func:`finish`:

1. builds the release copy from the generation (not yet visible),
2. replaces the warehouse's two files by the generation's with ``os.replace`` (atomic each),
3. points ``releases/CURRENT`` at the new release,
4. moves the processed deliveries out of the landing folder (:func:`pipelines.deliveries.archive`).

Step 2 is refused when the warehouse's files changed after the generation was copied (a
``knooppunt ingest`` or another run in between): publishing would silently undo that change.
A run that fails anywhere before step 2 leaves the warehouse's files and the release byte for
byte as they were; its generation is deleted (:func:`discard`). A run blocked by a plausibility
check keeps its generation with ``BLOCKED.json`` for inspection until an operator approves it
(``knooppunt release approve``, which runs :func:`finish`) or discards it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from pipelines.warehouse import (
    GENERATIONS,
    IDENTITY_DB,
    MAIN_DB,
    Warehouse,
    build_release,
    connect,
    switch_release,
)

BLOCKED = "BLOCKED.json"
BASE = "BASE.json"  # size and mtime of the warehouse's files the generation was copied from
ARCHIVE_PLAN = "archive.json"
DECISIONS = "decisions.jsonl"  # approvals and discards, one JSON object per line


class GenerationError(RuntimeError):
    pass


def _settle_wal(path: Path) -> None:
    """A write-ahead log beside a database file means a writer stopped early: fold it in first."""
    if Path(f"{path}.wal").exists():
        con = connect(path)
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def create(root: Path, run_id: str) -> Warehouse:
    """The generation of ``run_id``: copies of the warehouse's database files (idempotent)."""
    generation = Warehouse(root, generation=run_id)
    if generation.db_dir.exists():
        return generation
    parent = Path(root) / GENERATIONS
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{run_id}.copying"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in (MAIN_DB, IDENTITY_DB):
        source = Path(root) / name
        if source.exists():
            _settle_wal(source)
            shutil.copyfile(source, staging / name)
    (staging / BASE).write_text(json.dumps(_base(Path(root))))
    os.replace(staging, generation.db_dir)
    return generation


def _base(root: Path) -> dict[str, list[int] | None]:
    paths = {name: root / name for name in (MAIN_DB, IDENTITY_DB)}
    return {n: [p.stat().st_size, p.stat().st_mtime_ns] if p.exists() else None for n, p in paths.items()}


def pending(root: Path) -> list[str]:
    """Run ids of the generations on disk (blocked ones and any left by a crashed process)."""
    parent = Path(root) / GENERATIONS
    if not parent.is_dir():
        return []
    return sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))


def blocked_report(generation: Warehouse) -> dict | None:
    path = generation.db_dir / BLOCKED
    return json.loads(path.read_text()) if path.exists() else None


def block(generation: Warehouse, report: Mapping) -> None:
    (generation.db_dir / BLOCKED).write_text(json.dumps(report, indent=2, default=str) + "\n")


def discard(generation: Warehouse) -> None:
    shutil.rmtree(generation.db_dir, ignore_errors=True)


def discard_stale(root: Path, keep: str) -> list[str]:
    """Delete generations that are neither ``keep`` nor blocked (left by a failed or killed run)."""
    removed = []
    for run_id in pending(root):
        generation = Warehouse(root, generation=run_id)
        if run_id != keep and blocked_report(generation) is None:
            discard(generation)
            removed.append(run_id)
    return removed


def record_decision(root: Path, decision: Mapping) -> None:
    """Append an approval or discard to ``generations/decisions.jsonl`` (who, when, why)."""
    parent = Path(root) / GENERATIONS
    parent.mkdir(parents=True, exist_ok=True)
    entry = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **decision}
    with open(parent / DECISIONS, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def untouched(generation: Warehouse) -> bool:
    """True while the warehouse's files are the ones this generation was copied from."""
    base = generation.db_dir / BASE
    return base.exists() and json.loads(base.read_text()) == _base(generation.root)


APPROVAL_DDL = """CREATE TABLE IF NOT EXISTS meta.approval (
    run_id VARCHAR, operator VARCHAR, reason VARCHAR, findings VARCHAR, approved_at TIMESTAMP)"""


def record_approval(generation: Warehouse, operator: str, reason: str, findings: str) -> None:
    """Store an operator's approval in the blocked generation itself (``meta.approval``)."""
    with generation.transaction() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        con.execute(APPROVAL_DDL)
        con.execute(
            "INSERT INTO meta.approval VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
            [generation.generation, operator, reason, findings],
        )


def _checkpoint(path: Path) -> None:
    if path.exists():
        con = connect(path)
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def finish(generation: Warehouse, *, order: Mapping[str, str] | None = None) -> tuple[Path, list[str]]:
    """Publish the generation: build its release, promote its files, switch the release, archive.

    Returns the release and the deliveries that could not be archived (the run is published by
    then; a file left in the landing folder is skipped as unchanged by the next run).
    """
    from pipelines.deliveries import archive

    if generation.generation is None:
        raise GenerationError("finish() needs a generation, not the warehouse itself")
    if not generation.db_dir.is_dir():
        raise GenerationError(f"no generation {generation.generation} in {generation.root / GENERATIONS}")
    if not untouched(generation):
        raise GenerationError(
            f"the warehouse changed after run {generation.generation} copied it (another run or "
            "knooppunt ingest); publishing it would undo that change: discard it and run again"
        )
    built = build_release(generation, order=order)
    try:
        _checkpoint(generation.identity_path)
        _checkpoint(generation.path)
    except BaseException:
        built.unlink(missing_ok=True)
        raise
    for name in (IDENTITY_DB, MAIN_DB):
        if (generation.db_dir / name).exists():
            os.replace(generation.db_dir / name, generation.root / name)
    release = switch_release(generation.root, built)
    plan = generation.db_dir / ARCHIVE_PLAN
    problems = archive(json.loads(plan.read_text()), generation.generation) if plan.exists() else []
    discard(generation)
    return release, problems
