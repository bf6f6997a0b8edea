"""Alerts to the data team: e-mail over SMTP and/or a chat webhook (Slack or Microsoft Teams).

Configured with environment variables (nothing configured: alerts only go to the log):

==============================  ===========================================================
``KNOOPPUNT_ALERT_SMTP_HOST``   the mail relay; e-mail is off without it
``KNOOPPUNT_ALERT_SMTP_PORT``   default 25 (587 switches STARTTLS on)
``KNOOPPUNT_ALERT_SMTP_STARTTLS``  ``true``/``false``: STARTTLS before logging in
``KNOOPPUNT_ALERT_SMTP_USER``   with ``KNOOPPUNT_ALERT_SMTP_PASSWORD`` (or ``…_PASSWORD_FILE``)
``KNOOPPUNT_ALERT_FROM``        sender address
``KNOOPPUNT_ALERT_TO``          recipients, comma-separated
``KNOOPPUNT_ALERT_WEBHOOK_URL``  an incoming-webhook URL; the body is ``{"text": "..."}``,
                                which Slack and Teams incoming webhooks both accept
``KNOOPPUNT_ALERT_NAME``        names this installation in every alert (e.g. "productie")
==============================  ===========================================================

An alert says what happened (a run failed, checks failed or blocked, data is stale), to which
job and run, which steps and checks, and the error's type. It never carries an error's text, a
record or a value from the data: those stay in the Dagster UI and the run's log. So no personal
data can leave the warehouse in an alert.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "KNOOPPUNT_ALERT_"
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class Alert:
    subject: str  # one line: what happened
    lines: tuple[str, ...] = ()  # facts: job, run, steps, checks (no data values)

    def text(self) -> str:
        return "\n".join([self.subject, "", *self.lines])


@dataclass(frozen=True)
class Channels:
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    sender: str = ""
    recipients: tuple[str, ...] = ()
    webhook_url: str = field(default="", repr=False)
    name: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Channels:
        env = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return env.get(PREFIX + name, default).strip()

        password = get("SMTP_PASSWORD")
        if not password and get("SMTP_PASSWORD_FILE"):
            password = Path(get("SMTP_PASSWORD_FILE")).read_text().strip()
        port = int(get("SMTP_PORT", "25"))
        channels = cls(
            smtp_host=get("SMTP_HOST"),
            smtp_port=port,
            smtp_starttls=get("SMTP_STARTTLS", "true" if port == 587 else "false").lower() == "true",
            smtp_user=get("SMTP_USER"),
            smtp_password=password,
            sender=get("FROM"),
            recipients=tuple(a.strip() for a in get("TO").split(",") if a.strip()),
            webhook_url=get("WEBHOOK_URL"),
            name=get("NAME"),
        )
        if channels.smtp_host and not (channels.sender and channels.recipients):
            raise ValueError(f"{PREFIX}SMTP_HOST is set: set {PREFIX}FROM and {PREFIX}TO too")
        return channels

    @property
    def configured(self) -> list[str]:
        return [name for name, on in (("email", self.smtp_host), ("webhook", self.webhook_url)) if on]


def _subject(alert: Alert, channels: Channels) -> str:
    where = f"knooppunt {channels.name}" if channels.name else "knooppunt"
    return f"[{where}] {alert.subject}"


def send_email(alert: Alert, channels: Channels) -> None:
    message = EmailMessage()
    message["Subject"] = _subject(alert, channels)
    message["From"] = channels.sender
    message["To"] = ", ".join(channels.recipients)
    message.set_content(alert.text() + "\n")
    with smtplib.SMTP(channels.smtp_host, channels.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        if channels.smtp_starttls:
            smtp.starttls()
        if channels.smtp_user:
            smtp.login(channels.smtp_user, channels.smtp_password)
        smtp.send_message(message)


def webhook_body(alert: Alert, channels: Channels) -> dict:
    """Slack and Teams incoming webhooks both take ``text`` (Markdown; a blank line per break)."""
    return {"text": "\n\n".join([f"**{_subject(alert, channels)}**", *alert.lines])}


def send_webhook(alert: Alert, channels: Channels) -> None:
    request = urllib.request.Request(  # noqa: S310 (the operator's configured URL)
        channels.webhook_url,
        data=json.dumps(webhook_body(alert, channels)).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def send(alert: Alert, channels: Channels | None = None) -> list[str]:
    """Send ``alert`` on every configured channel; the channels it reached.

    One channel failing does not stop the other; if every configured channel failed, the last
    error is raised (so a sensor's tick shows it).
    """
    channels = Channels.from_env() if channels is None else channels
    log.warning("alert: %s", alert.subject)
    sent, error = [], None
    for name, sender in (("email", send_email), ("webhook", send_webhook)):
        if name not in channels.configured:
            continue
        try:
            sender(alert, channels)
            sent.append(name)
        except Exception as exc:  # noqa: BLE001 (try the other channel first)
            log.error("alert via %s failed: %s", name, type(exc).__name__)
            error = exc
    if error is not None and not sent:
        raise error
    return sent
