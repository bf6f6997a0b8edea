"""Triage: what an analyst decided about a flag, recorded as a processing step under a purpose.

A decision is one of :data:`KINDS` with a short justification: "in behandeling", "geen actie"
(with its reason), "doorverwezen naar <partner>" (RIEC, politie, Bibob-team) or "maatregel
genomen (<instrument>)". It belongs to a flag identity (:func:`privacy.history.flag_key_sql`) and
to the episode it was made in; a flag that fires again after "geen actie" therefore shows the
earlier decision instead of a blank card.

Recording a decision is checked like a lookup (purpose valid, role allowed, case number, the flag
among the purpose's flags, the flag in the published release), logged (action ``triage``, with
analyst, case and the flag as object) and written to ``<warehouse>/triage/besluiten.jsonl`` (the
web server and the pipeline never share the DuckDB file, so decisions live beside it, appended
under a lock like the processing log). Decisions are shown to roles that may see that flag under
some valid purpose, and they follow retention (:meth:`TriageStore.purge`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from privacy.log import LogEntry
from privacy.lookup import Actor, Lookup, LookupRefused
from privacy.overview import Overview
from privacy.register import Register, load_register, subtract_duration
from privacy.scan import bsns_in_text

KINDS = {
    "in_behandeling": "In behandeling",
    "geen_actie": "Geen actie",
    "doorverwezen": "Doorverwezen",
    "maatregel": "Maatregel genomen",
}
PARTNERS = ("RIEC", "politie", "Bibob-team")
MAX_TEXT = 500
TRIAGE_DIR = "triage"
TRIAGE_FILE = "besluiten.jsonl"


@dataclass(frozen=True)
class Decision:
    decision_id: str
    flag_key: str
    flag: str
    episode: int | None  # first_run_seq of the episode the decision was made in
    kind: str
    justification: str
    partner: str | None
    instrument: str | None
    user_id: str
    role: str
    purpose: str
    case_number: str
    at: str  # ISO time (UTC)
    log_actie_id: str

    @property
    def label(self) -> str:
        """Dutch, as the card shows it: "Doorverwezen naar RIEC", "Maatregel genomen (Opiumwet 13b)"."""
        if self.kind == "doorverwezen":
            return f"Doorverwezen naar {self.partner}"
        if self.kind == "maatregel":
            return f"Maatregel genomen ({self.instrument})"
        return KINDS[self.kind]

    @property
    def day(self) -> str:
        return self.at[:10]


class TriageStore:
    def __init__(self, lookup: Lookup):
        self.lookup = lookup
        self.dir = lookup.warehouse.root / TRIAGE_DIR
        self.path = self.dir / TRIAGE_FILE

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "besluiten.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- recording --------------------------------------------------------------------------------
    def record(
        self,
        actor: Actor,
        purpose: str,
        case_number: str,
        flag_key: str,
        kind: str,
        justification: str,
        *,
        partner: str | None = None,
        instrument: str | None = None,
    ) -> Decision:
        """Record a decision on the flag ``flag_key`` (refusals raise LookupRefused and are logged)."""
        lookup = self.lookup
        register = load_register(lookup.register_path)
        context = {"triage": True, "flag_key": flag_key[:120]}
        p = lookup._allowed(register, actor, purpose, case_number, context)
        text = " ".join((justification or "").split())
        problem = None
        if kind not in KINDS:
            problem = f"unknown triage decision {kind!r}; use one of {sorted(KINDS)}"
        elif kind == "geen_actie" and len(text) < 5:
            problem = "a decision 'geen actie' needs its reason"
        elif kind == "doorverwezen" and partner not in PARTNERS:
            problem = f"a referral names its partner: one of {', '.join(PARTNERS)}"
        elif kind == "maatregel" and not (instrument or "").strip():
            problem = "a measure names its instrument"
        elif len(text) > MAX_TEXT:
            problem = f"the justification is longer than {MAX_TEXT} characters"
        elif bsns_in_text(" ".join([text, partner or "", instrument or ""])):
            problem = "the justification looks like it holds a BSN; refer to the case, never a BSN"
        if problem:
            lookup._refuse(register, actor, p, problem, context)
        state = Overview(lookup).flag_state(flag_key)
        if state is None or state["flag"] not in p.flags:
            lookup._refuse(
                register, actor, p, f"no flag {flag_key!r} that purpose {p.key!r} may show", context
            )
        assert state is not None
        entry = lookup.log.append(
            LogEntry.under(
                register,
                p,
                "triage",
                actor.user_id,
                role=actor.role,
                objects=[
                    {"soortObjectId": "signaal", "objectId": flag_key[:120], "betrokkenheid": "beoordeeld"}
                ],
                inputs={"signals.flag_history": ["flag_key", "flag", "first_run_seq"]},
                details={
                    "case_number": case_number,
                    "flag": state["flag"],
                    "decision": kind,
                    "partner": partner if kind == "doorverwezen" else None,
                    "instrument": (instrument or "").strip()[:80] if kind == "maatregel" else None,
                    "justification": text,
                },
            )
        )
        decision = Decision(
            decision_id=str(uuid.uuid4()),
            flag_key=flag_key,
            flag=state["flag"],
            episode=state["first_run_seq"],
            kind=kind,
            justification=text,
            partner=partner if kind == "doorverwezen" else None,
            instrument=(instrument or "").strip()[:80] if kind == "maatregel" else None,
            user_id=actor.user_id,
            role=actor.role,
            purpose=p.key,
            case_number=case_number,
            at=entry.tijdstip,
            log_actie_id=entry.actie_id,
        )
        with self._locked(), open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(decision), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return decision

    # -- reading ----------------------------------------------------------------------------------
    def _all(self) -> list[Decision]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [Decision(**json.loads(line)) for line in fh if line.strip()]

    def for_flags(self, role: str, flag_keys: Iterable[str]) -> dict[str, list[Decision]]:
        """Decisions per flag key, newest first, for the flags ``role`` may see (else none)."""
        visible = visible_flags(load_register(self.lookup.register_path), role)
        wanted = set(flag_keys)
        result: dict[str, list[Decision]] = {}
        for d in self._all():
            if d.flag_key in wanted and d.flag in visible:
                result.setdefault(d.flag_key, []).append(d)
        for decisions in result.values():
            decisions.sort(key=lambda d: d.at, reverse=True)
        return result

    # -- retention --------------------------------------------------------------------------------
    def purge(self, register: Register, as_of: dt.date, open_keys: set[str]) -> int:
        """Remove decisions past their purpose's retention whose flag no longer fires; how many.

        A decision on a flag that still fires is part of a current result and stays.
        """
        with self._locked():
            decisions = self._all()
            keep = []
            for d in decisions:
                p = register.get(d.purpose)
                retention = p.bewaartermijn.resultaten if p else register.log_bewaartermijn
                expired = dt.date.fromisoformat(d.day) < subtract_duration(as_of, retention)
                if not expired or d.flag_key in open_keys:
                    keep.append(d)
            removed = len(decisions) - len(keep)
            if removed:
                tmp = self.path.with_suffix(".tmp")
                with open(tmp, "w", encoding="utf-8") as fh:
                    for d in keep:
                        fh.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
        return removed


def visible_flags(register: Register, role: str, on: dt.date | None = None) -> set[str]:
    """The flag codes ``role`` may see under some purpose valid on ``on``."""
    on = on or dt.date.today()
    return {
        flag
        for p in register.purposes.values()
        if role in p.roles and p.refusal(on) is None
        for flag in p.flags
    }


__all__ = ["KINDS", "PARTNERS", "Decision", "LookupRefused", "TriageStore", "visible_flags"]
