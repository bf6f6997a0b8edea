"""Security events of the web interface: failed sign-ins, forged or stale forms, rate limits, bad input.

Kept apart from the processing log (``privacy.log``), which records processing of personal data;
these events record attempts at the door. One JSON object per line in
``<warehouse>/web/security-events.jsonl``. Entries name the account, the event and the field, never
the value typed (it may hold personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from pipelines.files import private_dir

EVENTS_FILE = Path("web") / "security-events.jsonl"

LABELS = {
    "login_failed": "Aanmelden mislukt",
    "login": "Aangemeld",
    "logout": "Afgemeld",
    "csrf": "Formulier met ongeldig of verlopen CSRF-token",
    "session_expired": "Sessie verlopen",
    "rate_limited": "Te veel raadplegingen (snelheidslimiet)",
    "invalid_input": "Ongeldige invoer",
    "forbidden": "Pagina buiten de eigen rol opgevraagd",
    "oversized": "Te groot verzoek",
    "account_created": "Account aangemaakt",
    "account_blocked": "Account geblokkeerd",
    "account_unblocked": "Account vrijgegeven",
    "log_export": "Verwerkingslog geëxporteerd",
    "anomaly_handled": "Afwijkende raadpleging afgehandeld",
    "case_changed": "Zaak aangemaakt of gewijzigd",
    "role_changed": "Rol gewijzigd",
    "password_reset": "Wachtwoord opnieuw ingesteld",
    "password_changed": "Eigen wachtwoord gewijzigd",
    "login_delayed": "Aanmelden vertraagd (herhaalde pogingen)",
    "session_ended": "Sessie beëindigd (account geblokkeerd of gewijzigd)",
}
# What may be recorded as a user name: an account name as web.accounts allows them. Anything else
# typed in the user-name field (it may be a BSN or a name) is recorded as this placeholder.
USER_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
NOT_A_USER_NAME = "(geen geldige gebruikersnaam)"


@dataclass(frozen=True)
class SecurityEvent:
    at: str
    event: str
    user_id: str
    detail: str

    @property
    def label(self) -> str:
        return LABELS.get(self.event, self.event)


class SecurityEvents:
    def __init__(self, warehouse_root: str | Path):
        self.path = Path(warehouse_root) / EVENTS_FILE
        self._lock = threading.Lock()

    def record(self, event: str, user_id: str | None, detail: str = "") -> None:
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "event": event,
            "user_id": _safe_user(user_id),
            "detail": detail[:200],
        }
        with self._lock:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def recent(self, limit: int = 200) -> list[SecurityEvent]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        return [SecurityEvent(**json.loads(line)) for line in reversed(lines) if line.strip()]


def _safe_user(user_id: str | None) -> str:
    from privacy.scan import looks_like_bsn

    if not user_id:
        return ""
    if not USER_NAME.match(user_id) or looks_like_bsn(user_id):
        return NOT_A_USER_NAME
    return user_id
