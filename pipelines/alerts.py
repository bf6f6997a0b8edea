"""Someone hears about it: alerts for failed runs, failed or blocking checks, and stale data.

Three sensors, run by the dagster-daemon, send an :class:`pipelines.notify.Alert`:

* ``run_failure_alert``: a run of any job of knooppunt failed (a step, or before any step, e.g.
  another run held the warehouse), or plausibility checks blocked it (its release step fails
  with "blocked by plausibility checks");
* ``check_failure_alert``: a run succeeded, but some of its checks failed (warnings, or errors
  that do not block);
* ``release_freshness_sensor`` evaluates ``release_freshness``, which fails when no run published
  a release for 26 hours; its failure reaches ``check_failure_alert``.

All three are on by default in production (``KNOOPPUNT_ENV=production``). The alert lists steps,
checks and error types only (see :mod:`pipelines.notify`).
"""

from __future__ import annotations

import datetime as dt
import warnings

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SkipReason,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    run_failure_sensor,
    run_status_sensor,
)

from pipelines.environment import is_production
from pipelines.jobs import WAREHOUSE_TAG
from pipelines.lock import WarehouseBusy
from pipelines.notify import Alert, send

STALE_AFTER = dt.timedelta(hours=26)
# How the release step says that plausibility checks held the run (its Failure's description).
BLOCKED = "blocked by plausibility checks"
DEFAULT_STATUS = DefaultSensorStatus.RUNNING if is_production() else DefaultSensorStatus.STOPPED

# Dagster now prefers FreshnessPolicy, but in open-source Dagster only a freshness *check* ends up
# in a run's check results, where check_failure_alert sees it; so the checks, on purpose.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)
    release_freshness = build_last_update_freshness_checks(
        assets=[AssetKey(["release"])], lower_bound_delta=STALE_AFTER
    )
    release_freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=release_freshness,
        name="release_freshness_sensor",
        minimum_interval_seconds=15 * 60,
        default_status=DEFAULT_STATUS,
    )
FRESHNESS_CHECK = "freshness_check"  # the name Dagster gives the check above


def _error_type(error) -> str:
    """The innermost error's class name (e.g. SourceError), never its message."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error.cls_name if error is not None and error.cls_name else "error"


def run_alert(instance: DagsterInstance, run: DagsterRun) -> Alert | None:
    """The alert for a finished run: failed steps and checks; ``None`` for a clean success."""
    steps, checks, run_error, stale, blocked = [], [], None, False, False
    types = {
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_CHECK_EVALUATION,
        DagsterEventType.RUN_FAILURE,
    }
    for entry in instance.all_logs(run.run_id, of_type=types):
        event = entry.dagster_event
        data = event.event_specific_data
        if event.event_type == DagsterEventType.STEP_FAILURE:
            steps.append(f"{event.step_key} ({_error_type(data.error)})")
            blocked = blocked or BLOCKED in (data.error.message if data.error else "")
        elif event.event_type == DagsterEventType.RUN_FAILURE and data is not None and data.error:
            run_error = _error_type(data.error)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION and not data.passed:
            blocking = " blocking" if data.blocking else ""
            checks.append(
                f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value}{blocking})"
            )
            stale = stale or data.check_name == FRESHNESS_CHECK
    failed = run.status == DagsterRunStatus.FAILURE
    if not failed and not checks:
        return None
    if blocked:
        subject = f"run blocked, nothing published: {run.job_name} {run.run_id[:8]}"
    elif failed:
        subject = f"run failed: {run.job_name} {run.run_id[:8]}"
    elif stale:
        subject = (
            f"stale: no run published a release in the last {STALE_AFTER.total_seconds() / 3600:.0f} hours"
        )
    else:
        subject = f"checks failed: {run.job_name} {run.run_id[:8]}"
    lines = [f"job: {run.job_name}", f"run: {run.run_id}"]
    if run.tags.get(WAREHOUSE_TAG):
        lines.append(f"warehouse: {run.tags[WAREHOUSE_TAG]}")
    if steps:
        lines.append("failed steps: " + ", ".join(steps))
    if run_error and not steps:
        lines.append(f"failed before any step: {run_error}")
    if checks:
        lines.append("failed checks: " + ", ".join(checks))
    if blocked:
        lines.append(
            f"decide: knooppunt release approve {run.run_id} ... | knooppunt release discard {run.run_id}"
        )
    lines.append("Errors and records are in the Dagster UI under this run, not in this message.")
    return Alert(subject, tuple(lines))


def busy_alert(busy: WarehouseBusy) -> Alert:
    """``knooppunt run --alert`` refused because another run held the warehouse."""
    held = f"{busy.holder.get('id', 'unknown')} since {busy.holder.get('since', 'unknown')}"
    return Alert(
        "run refused: another run holds the warehouse", (f"warehouse: {busy.root}", f"held by: {held}")
    )


@run_failure_sensor(
    name="run_failure_alert",
    default_status=DEFAULT_STATUS,
    description="Sends an alert (e-mail and/or webhook, pipelines.notify) when a run fails.",
)
def run_failure_alert(context: RunFailureSensorContext):
    send(run_alert(context.instance, context.dagster_run))


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="check_failure_alert",
    default_status=DEFAULT_STATUS,
    description="Sends an alert when a successful run had failed checks (incl. release freshness).",
)
def check_failure_alert(context: RunStatusSensorContext):
    alert = run_alert(context.instance, context.dagster_run)
    if alert is None:
        return SkipReason("every check passed")
    send(alert)


alert_sensors = [run_failure_alert, check_failure_alert, release_freshness_sensor]
