"""The nightly refresh."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, ScheduleDefinition

from pipelines.jobs import knooppunt_job

nightly_refresh = ScheduleDefinition(
    name="nightly_refresh",
    job=knooppunt_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Amsterdam",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Full refresh every night at 02:00 Amsterdam time (switch on in the Dagster UI).",
)
