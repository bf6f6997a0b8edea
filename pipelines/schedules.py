"""The nightly refresh."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition

from pipelines.environment import is_production
from pipelines.jobs import knooppunt_job

nightly_refresh = ScheduleDefinition(
    name="nightly_refresh",
    job=knooppunt_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Amsterdam",
    default_status=DefaultScheduleStatus.RUNNING if is_production() else DefaultScheduleStatus.STOPPED,
    description="Full refresh every night at 02:00 Amsterdam time (on in production; in the demo, "
    "switch it on in the Dagster UI).",
)
