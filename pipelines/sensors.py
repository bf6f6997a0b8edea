"""A sensor on the landing folder: a new or changed delivery starts a refresh.

A file counts as delivered once its size and modification time are unchanged between two
evaluations (a file still being copied is not picked up half-way). The cursor holds a
fingerprint of the complete deliveries, so each new state of the folder starts one run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from pipelines.environment import current, is_production
from pipelines.jobs import knooppunt_job

SOURCES = ("bag", "brp", "kvk", "handhaving")


def snapshot(folder: Path) -> dict[str, list[int]]:
    """Relative path -> [size, mtime_ns] of every delivery file under the source folders."""
    files: dict[str, list[int]] = {}
    for source in SOURCES:
        for path in sorted((folder / source).glob("*")):
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                files[str(path.relative_to(folder))] = [stat.st_size, stat.st_mtime_ns]
    return files


def evaluate(folder: Path, cursor: str | None) -> tuple[str | None, str]:
    """(run_key or None, new cursor) for the folder's state against the previous cursor."""
    state = json.loads(cursor) if cursor else {"pending": {}, "delivered": ""}
    now = snapshot(folder)
    stable = bool(now) and now == state["pending"]
    fingerprint = hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16]
    new_cursor = json.dumps({"pending": now, "delivered": fingerprint if stable else state["delivered"]})
    if stable and fingerprint != state["delivered"]:
        return fingerprint, new_cursor
    return None, new_cursor


@sensor(
    job=knooppunt_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING if is_production() else DefaultSensorStatus.STOPPED,
    description="Starts a refresh when a complete new delivery lands in the landing folder "
    "(KNOOPPUNT_DATA): bag/, brp/, kvk/, handhaving/. On by default in production.",
)
def landing_folder_sensor(context: SensorEvaluationContext):
    folder = current().data_dir
    if not folder.exists():
        return SkipReason(f"landing folder {folder} does not exist")
    run_key, cursor = evaluate(folder, context.cursor)
    context.update_cursor(cursor)
    if run_key is None:
        return SkipReason("no new complete delivery")
    return RunRequest(run_key=run_key, tags={"knooppunt/delivery": run_key})
