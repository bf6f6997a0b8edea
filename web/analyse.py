"""The analysts' pages as an adapter over ``privacy.overview`` and ``privacy.triage``.

Everything that reads data, decides or logs happens there; this module parses the filter and
triage forms (Dutch messages) and turns refusals into Dutch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from privacy.lookup import Actor, Lookup, LookupRefused
from privacy.overview import STATUSES, Counts, Filters, Overview, Result, Trend
from privacy.triage import KINDS, PARTNERS, TriageStore
from web.lookups import FLAG_TITLES, UNAVAILABLE, dutch_refusal
from web.validation import InvalidInput

NO_HISTORY = (
    "De gepubliceerde gegevens hebben nog geen signalenhistorie. Vraag het datateam om `knooppunt run`."
)
TRIAGE_REFUSALS = {
    "needs its reason": "Geef bij 'geen actie' de reden op.",
    "names its partner": f"Kies de partner waarnaar u doorverwijst ({', '.join(PARTNERS)}).",
    "names its instrument": "Noem het instrument van de maatregel (bijv. Opiumwet 13b, last onder dwangsom).",
    "longer than": "De toelichting is te lang (maximaal 500 tekens).",
    "holds a BSN": "De toelichting lijkt een BSN te bevatten. Noem het zaaknummer, nooit een BSN.",
    "may show": "Dit signaal hoort niet bij het gekozen doel of bestaat niet (meer).",
    "unknown triage decision": "Kies een besluit.",
}


@dataclass(frozen=True)
class Outcome:
    refused: str | None = None
    result: Result | None = None
    counts: Counts | None = None
    trend: Trend | None = None


def _date(form: dict[str, str], name: str) -> dt.date | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(name, "Vul een datum in als jjjj-mm-dd.") from None


def parse_filters(form: dict[str, str]) -> Filters:
    """The overview's filters from a submitted form (each at most 80 characters)."""
    values = {
        k: (form.get(k) or "").strip()[:80] for k in ("flag", "straat", "woonplaats", "sector", "status")
    }
    if values["flag"] and values["flag"] not in FLAG_TITLES:
        raise InvalidInput("flag", "Kies een signaal uit de lijst.")
    if values["status"] and values["status"] not in STATUSES:
        raise InvalidInput("status", "Kies een status uit de lijst.")
    van, tot = _date(form, "sinds_van"), _date(form, "sinds_tot")
    if van and tot and van > tot:
        raise InvalidInput("sinds_tot", "De einddatum ligt voor de begindatum.")
    return Filters(**values, sinds_van=van, sinds_tot=tot)


class AnalyseService:
    def __init__(self, lookup: Lookup):
        self.overview = Overview(lookup)
        self.triage = TriageStore(lookup)

    def rows(self, user_id: str, role: str, purpose: str, case: str, filters: Filters) -> Outcome:
        try:
            return Outcome(result=self.overview.rows(Actor(user_id, role), purpose, case, filters))
        except LookupRefused as exc:
            return Outcome(refused=dutch_refusal(exc.reason))
        except UNAVAILABLE:
            return Outcome(refused=NO_HISTORY)

    def counts(self, user_id: str, role: str, purpose: str) -> Outcome:
        try:
            return Outcome(counts=self.overview.counts(Actor(user_id, role), purpose))
        except LookupRefused as exc:
            return Outcome(refused=dutch_refusal(exc.reason))
        except UNAVAILABLE:
            return Outcome(refused=NO_HISTORY)

    def trend(self, user_id: str, role: str, purpose: str, case: str) -> Outcome:
        try:
            return Outcome(trend=self.overview.trend(Actor(user_id, role), purpose, case))
        except LookupRefused as exc:
            return Outcome(refused=dutch_refusal(exc.reason))
        except UNAVAILABLE:
            return Outcome(refused=NO_HISTORY)

    def decide(self, user_id: str, role: str, purpose: str, case: str, form: dict[str, str]) -> str | None:
        """Record a triage decision from the form; a Dutch refusal, or None when recorded."""
        try:
            self.triage.record(
                Actor(user_id, role),
                purpose,
                case,
                (form.get("signaal") or "").strip()[:200],
                (form.get("besluit") or "").strip(),
                (form.get("toelichting") or "")[:2000],
                partner=(form.get("partner") or "").strip() or None,
                instrument=(form.get("instrument") or "").strip() or None,
            )
        except LookupRefused as exc:
            for fragment, message in TRIAGE_REFUSALS.items():
                if fragment in exc.reason:
                    return message
            return dutch_refusal(exc.reason)
        except UNAVAILABLE:
            return NO_HISTORY
        return None


__all__ = ["KINDS", "PARTNERS", "STATUSES", "AnalyseService", "Outcome", "parse_filters"]
