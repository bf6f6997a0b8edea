"""Someone hears about it: alerts by e-mail (a real SMTP server on 127.0.0.1) and webhook (a real
HTTP server on 127.0.0.1), the freshness check, retries only for transient I/O, production defaults."""

from __future__ import annotations

import datetime as dt
import errno
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from email import message_from_bytes
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from pipelines.alerts import check_failure_alert, release_freshness, run_alert, run_failure_alert
from pipelines.notify import Alert, Channels, send
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.retries import retry_transient_io
from sources.errors import SourceError

REPO = Path(__file__).resolve().parents[1]
# What a careless error message could carry; an alert must never.
BSN, NAME, BIRTH = "999990019", "Jansen-Pietersma", "1961-07-14"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def webhook_server():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"1")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/dataploeg", received
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def alert_env(monkeypatch, smtp_server, webhook_server):
    controller, inbox = smtp_server
    url, received = webhook_server
    for name, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(controller.port),
        "FROM": "knooppunt@gemeente.example",
        "TO": "dataploeg@gemeente.example, beheer@gemeente.example",
        "WEBHOOK_URL": url,
        "NAME": "productie",
    }.items():
        monkeypatch.setenv(f"KNOOPPUNT_ALERT_{name}", value)
    return inbox, received


@dg.asset(key=["brp", "persoon"])
def _failing_brp() -> None:
    raise SourceError("brp/personen.csv", f"{NAME} born {BIRTH} has no address", record=BSN)


def _body(envelope) -> tuple[str, str]:
    message = message_from_bytes(envelope.content)
    return message["Subject"], message.get_payload(decode=True).decode()


def test_a_failed_run_is_mailed_and_posted_without_personal_data(alert_env):
    inbox, posted = alert_env
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([_failing_brp], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure, dagster_instance=instance, dagster_run=run
    ).for_run_failure()

    run_failure_alert(context)

    (mail,) = inbox.messages
    assert mail.rcpt_tos == ["dataploeg@gemeente.example", "beheer@gemeente.example"]
    subject, body = _body(mail)
    assert subject == f"[knooppunt productie] run failed: {run.job_name} {run.run_id[:8]}"
    assert f"run: {run.run_id}" in body
    assert "failed steps: brp__persoon (SourceError)" in body
    (hook,) = posted
    path, content_type, payload = hook
    assert (path, content_type) == ("/hooks/dataploeg", "application/json")
    assert set(payload) == {"text"} and "brp__persoon (SourceError)" in payload["text"]
    for leaked in (BSN, NAME, BIRTH, "personen.csv"):
        assert leaked not in body and leaked not in payload["text"]


@dg.asset(key=["release"])
def _blocked_release() -> None:
    raise dg.Failure(description="blocked by plausibility checks; nothing published:\n- flags x3")


def test_a_run_blocked_by_plausibility_checks_says_so(alert_env):
    inbox, _ = alert_env
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([_blocked_release], instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    alert = run_alert(instance, run)
    assert alert.subject == f"run blocked, nothing published: {run.job_name} {run.run_id[:8]}"
    assert f"knooppunt release discard {run.run_id}" in alert.text()
    assert "flags x3" not in alert.text()  # the findings stay in the Dagster UI


@dg.asset(key=["signals", "flags"])
def _flags() -> None:
    pass


@dg.asset_check(asset=_flags, name="flag_counts")
def _flag_counts() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


def test_failed_checks_of_a_successful_run_send_an_alert_and_a_clean_run_none(alert_env):
    inbox, _ = alert_env
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([_flags, _flag_counts], instance=instance)
    run = instance.get_run_by_id(result.run_id)
    success = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name="check_failure_alert", dagster_event=success, dagster_instance=instance, dagster_run=run
    )
    check_failure_alert(context)
    subject, body = _body(inbox.messages[0])
    assert subject.endswith(f"checks failed: {run.job_name} {run.run_id[:8]}")
    assert "failed checks: signals/flags:flag_counts (WARN)" in body

    clean = dg.materialize([_flags], instance=instance)
    assert run_alert(instance, instance.get_run_by_id(clean.run_id)) is None


@dg.asset(key=["release"])
def _release() -> None:
    pass


def _freshness_after_release_aged(hours: float) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    updated = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            ["release"], metadata={"dagster/last_updated_timestamp": dg.MetadataValue.timestamp(updated)}
        )
    )
    defs = dg.Definitions(
        assets=[_release],
        asset_checks=release_freshness,
        jobs=[dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*release_freshness))],
    )
    result = defs.resolve_job_def("freshness").execute_in_process(instance=instance)
    return instance, result


def test_freshness_fails_when_no_run_published_for_26_hours():
    instance, result = _freshness_after_release_aged(27)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    alert = run_alert(instance, instance.get_run_by_id(result.run_id))
    assert alert.subject == "stale: no run published a release in the last 26 hours"

    instance, result = _freshness_after_release_aged(25)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert run_alert(instance, instance.get_run_by_id(result.run_id)) is None


def test_one_channel_failing_does_not_stop_the_other(smtp_server):
    controller, inbox = smtp_server
    channels = Channels(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        sender="knooppunt@gemeente.example",
        recipients=("dataploeg@gemeente.example",),
        webhook_url=f"http://127.0.0.1:{_free_port()}/nobody-listens",
    )
    assert send(Alert("run failed: test"), channels) == ["email"]
    assert len(inbox.messages) == 1
    with pytest.raises(OSError):  # every configured channel failed: the sensor's tick shows it
        send(Alert("run failed: test"), Channels(webhook_url=channels.webhook_url))


def test_channels_come_from_the_environment(tmp_path):
    assert Channels.from_env({}).configured == []
    secret = tmp_path / "smtp-password"
    password = "s3cret"  # noqa: S105 (a test value)
    secret.write_text(password + "\n")
    channels = Channels.from_env(
        {
            "KNOOPPUNT_ALERT_SMTP_HOST": "smtp.gemeente.example",
            "KNOOPPUNT_ALERT_SMTP_PORT": "587",
            "KNOOPPUNT_ALERT_SMTP_USER": "knooppunt",
            "KNOOPPUNT_ALERT_SMTP_PASSWORD_FILE": str(secret),
            "KNOOPPUNT_ALERT_FROM": "knooppunt@gemeente.example",
            "KNOOPPUNT_ALERT_TO": "a@gemeente.example,b@gemeente.example",
        }
    )
    assert channels.configured == ["email"]
    assert channels.smtp_starttls and channels.smtp_password == password
    assert password not in repr(channels)
    with pytest.raises(ValueError, match="KNOOPPUNT_ALERT_TO"):
        Channels.from_env({"KNOOPPUNT_ALERT_SMTP_HOST": "smtp.gemeente.example"})


NO_DELAY = dg.RetryPolicy(max_retries=2, delay=0)
attempts: list[str] = []


@dg.asset
@retry_transient_io(policy=NO_DELAY)
def _share_hiccups() -> None:
    attempts.append("share")
    if len(attempts) == 1:
        raise OSError(errno.ESTALE, "Stale file handle", "/mnt/levering/bag")


@dg.asset
@retry_transient_io(policy=NO_DELAY)
def _bad_delivery() -> None:
    attempts.append("bad")
    raise SourceError("kvk/vestigingen.csv", "line 3: 4 fields, expected 9")


def _retries(result) -> int:
    return sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


def test_a_transient_io_error_is_retried_and_a_data_error_never():
    attempts.clear()
    result = dg.materialize([_share_hiccups])
    assert result.success and attempts == ["share", "share"] and _retries(result) == 1

    attempts.clear()
    result = dg.materialize([_bad_delivery], raise_on_error=False)
    assert not result.success and attempts == ["bad"] and _retries(result) == 0


def test_the_bag_asset_fails_at_once_on_an_unreadable_delivery(tmp_path):
    from assets.ingest.bag import bag_tables

    (tmp_path / "data" / "bag").mkdir(parents=True)
    (tmp_path / "data" / "bag" / "extract.zip").write_bytes(b"PK\x03\x04 cut short")
    resources = {
        "warehouse": WarehouseResource(root=str(tmp_path / "wh")),
        "delivery": DeliveryResource(data_dir=str(tmp_path / "data")),
    }
    result = dg.materialize([bag_tables], resources=resources, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    error = failure.event_specific_data.error
    assert "SourceError" in {error.cls_name, error.cause.cls_name if error.cause else None}
    assert _retries(result) == 0


def _default_statuses(env: dict[str, str]) -> dict[str, str]:
    code = (
        "import json; from pipelines.definitions import defs; r = defs.get_repository_def(); "
        "print(json.dumps({d.name: d.default_status.value for d in [*r.schedule_defs, *r.sensor_defs]}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KNOOPPUNT_")}
    env = {**clean, **env}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_in_production_the_schedule_and_sensors_are_on_by_default(tmp_path):
    production = _default_statuses(
        {"KNOOPPUNT_ENV": "production", "KNOOPPUNT_DATA": str(tmp_path), "KNOOPPUNT_WAREHOUSE": str(tmp_path)}
    )
    assert set(production) >= {"nightly_refresh", "landing_folder_sensor", "run_failure_alert"}
    assert set(production.values()) == {"RUNNING"}
    assert set(_default_statuses({}).values()) == {"STOPPED"}


def test_knooppunt_run_with_alert_reports_a_failed_run_itself(tmp_path):
    from pipelines.runner import run_pipeline

    (tmp_path / "data").mkdir()  # no deliveries at all: the BAG step fails on that
    outcome = run_pipeline(tmp_path / "data", tmp_path / "wh")
    assert not outcome.success
    assert outcome.alert.subject == f"run failed: knooppunt_job {outcome.run_id[:8]}"
    assert "bag_tables (SourceError)" in outcome.alert.text()
    assert f"warehouse: {(tmp_path / 'wh').resolve()}" in outcome.alert.text()


def test_knooppunt_run_with_alert_mails_when_another_run_holds_the_warehouse(tmp_path, alert_env):
    from pipelines.lock import warehouse_lock

    inbox, posted = alert_env
    (tmp_path / "data").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNOOPPUNT_DATA", "KNOOPPUNT_WAREHOUSE"))}
    with warehouse_lock(tmp_path / "wh", "nightly-0001"):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "knooppunt"), "run", "--alert"]
            + ["--data", str(tmp_path / "data"), "--warehouse", str(tmp_path / "wh")],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 3, result.stderr
    subject, body = _body(inbox.messages[0])
    assert subject == "[knooppunt productie] run refused: another run holds the warehouse"
    assert "held by: nightly-0001 since 20" in body
    assert len(posted) == 1


@dg.asset
def _writes(warehouse: WarehouseResource) -> None:
    pass


def test_a_run_refused_by_the_lock_alerts_before_any_step(tmp_path):
    from pipelines.lock import warehouse_lock

    instance = dg.DagsterInstance.ephemeral()
    with warehouse_lock(tmp_path, "other-run"):
        resources = {"warehouse": WarehouseResource(root=str(tmp_path))}
        result = dg.materialize([_writes], resources=resources, instance=instance, raise_on_error=False)
    alert = run_alert(instance, instance.get_run_by_id(result.run_id))
    assert alert.subject.startswith("run failed: ")
    assert "failed before any step: WarehouseBusy" in alert.lines
