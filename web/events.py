"""Security events of the web interface: failed sign-ins, forged or stale forms, rate limits, bad input.

Kept apart from the processing log (``privacy.log``), which records processing of personal data;
these events record attempts at the door. One JSON object per line in
``<warehouse>/web/security-events.jsonl``. Entries name the account, the event and the field, never
the value typed (it may hold personal data).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path

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
}


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
            "user_id": user_id or "",
            "detail": detail[:200],
        }
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def recent(self, limit: int = 200) -> list[SecurityEvent]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        return [SecurityEvent(**json.loads(line)) for line in reversed(lines) if line.strip()]
