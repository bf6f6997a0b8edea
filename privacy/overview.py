"""The analysts' overview of flags (``/signalen``): every flag episode a purpose may show, filtered.

Rows come from the flag history of the published release (``signals.flag_history``): the flags
that fire in the latest run and those that stopped firing (kept for their retention). Each row
has a status:

* ``nieuw``: first seen in the latest published run, not yet triaged;
* ``open``: seen before, still firing, not yet triaged;
* ``in_triage``: still firing, with a triage decision in this episode (:mod:`privacy.triage`);
* ``opgelost``: no longer fires (the run that resolved it and its stand date are shown).

Like a lookup, the overview is checked (purpose valid, role allowed, case number) and logged
(action ``overview`` with filters and counts, never evidence: the list names places, not persons).
Aggregated-only purposes get :meth:`Overview.counts` instead: counts of flagged places per flag and
woonplaats in the latest run, cells below the purpose's minimum cell size suppressed, never rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from privacy.history import COUNTS, HISTORY, RUNS
from privacy.log import LogEntry
from privacy.lookup import STAFF_SAFETY, Actor, Lookup, LookupUnavailable, _marks, has_history
from privacy.register import load_register

STATUSES = {"nieuw": "Nieuw", "open": "Open", "in_triage": "In triage", "opgelost": "Opgelost"}


@dataclass(frozen=True)
class Filters:
    flag: str = ""
    straat: str = ""
    woonplaats: str = ""
    sector: str = ""
    status: str = ""
    sinds_van: dt.date | None = None
    sinds_tot: dt.date | None = None

    def as_log(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Row:
    flag_key: str
    flag: str
    status: str
    sinds: dt.date | None
    laatst: dt.date | None
    opgelost_op: dt.date | None
    straat: str | None
    adres: str | None
    woonplaats: str | None
    sector: str | None
    nummeraanduiding_id: str | None
    verblijfsobject_id: str | None
    pand_id: str | None
    openbare_ruimte_id: str | None
    x: float | None
    y: float | None
    episode: int
    decisions: list[Any] = field(default_factory=list)  # privacy.triage.Decision, newest first


@dataclass(frozen=True)
class Result:
    purpose: str
    case_number: str
    latest_run: int | None
    latest_stand: dt.date | None
    rows: list[Row]
    by_status: dict[str, int]
    by_flag: dict[str, int]
    options: dict[str, list[str]]


@dataclass(frozen=True)
class TrendCell:
    run_seq: int
    stand: dt.date
    flag: str
    woonplaats: str
    sector: str
    n: int


@dataclass(frozen=True)
class Trend:
    purpose: str
    runs: list[tuple[int, dt.date]]  # every run in the history: sequence number, stand date
    cells: list[TrendCell]
    min_cell_size: int | None  # set for aggregated-only purposes: smaller cells are left out
    suppressed: int


@dataclass(frozen=True)
class Counts:
    purpose: str
    min_cell_size: int
    latest_stand: dt.date | None
    cells: list[tuple[str, str, int]]  # flag, woonplaats, n (n >= min_cell_size)
    suppressed: int


class Overview:
    def __init__(self, lookup: Lookup):
        self.lookup = lookup

    def flag_state(self, flag_key: str) -> dict[str, Any] | None:
        """The latest episode of a flag identity in the release: flag, first_run_seq, resolved."""
        with self.lookup._release() as con:
            if not has_history(con):
                return None
            row = con.execute(
                f"""SELECT flag, first_run_seq, resolved_run_seq FROM {HISTORY} WHERE flag_key = ?
                    ORDER BY first_run_seq DESC LIMIT 1""",
                [flag_key],
            ).fetchone()
        return None if row is None else {"flag": row[0], "first_run_seq": row[1], "resolved_run_seq": row[2]}

    def states(self, keys: list[str]) -> dict[str, tuple[str, dt.date | None]]:
        """Per flag key of a request already checked and logged (a lookup's details): the status
        of its latest episode (``nieuw``, ``open``, ``opgelost``) and the stand date it was first seen."""
        if not keys:
            return {}
        with self.lookup._release() as con:
            if not has_history(con):
                return {}
            rows = con.execute(
                f"""SELECT flag_key, first_run_seq, resolved_run_seq, first_stand,
                           (SELECT max(run_seq) FROM {RUNS}) FROM {HISTORY}
                    WHERE flag_key IN ({_marks(keys)}) ORDER BY first_run_seq""",
                keys,
            ).fetchall()
        states: dict[str, tuple[str, dt.date | None]] = {}
        for key, first, resolved, since, latest in rows:  # the latest episode wins
            status = "opgelost" if resolved is not None else "nieuw" if first == latest else "open"
            states[key] = (status, since)
        return states

    def rows(self, actor: Actor, purpose: str, case_number: str, filters: Filters) -> Result:
        """The filtered flag episodes ``purpose`` may show, with status, sinds and decisions (logged)."""
        from privacy.triage import TriageStore

        lookup = self.lookup
        register = load_register(lookup.register_path)
        p = lookup._allowed(register, actor, purpose, case_number, {"overview": True})
        flags = [f for f in p.flags if f != STAFF_SAFETY or actor.role != "frontline"]
        with lookup._release() as con:
            if not has_history(con):
                raise LookupUnavailable("the published release has no flag history (signals.flag_history)")
            latest, stand = con.execute(
                f"SELECT run_seq, stand FROM {RUNS} ORDER BY run_seq DESC LIMIT 1"
            ).fetchone() or (None, None)
            where, params = [f"h.flag IN ({_marks(flags)})"], list(flags)
            if filters.flag:
                where.append("h.flag = ?")
                params.append(filters.flag)
            if filters.straat:
                where.append("h.straat ILIKE ?")
                params.append(f"%{filters.straat}%")
            for column in ("woonplaats", "sector"):
                if value := getattr(filters, column):
                    where.append(f"h.{column} = ?")
                    params.append(value)
            if filters.sinds_van:
                where.append("h.first_stand >= ?")
                params.append(filters.sinds_van)
            if filters.sinds_tot:
                where.append("h.first_stand <= ?")
                params.append(filters.sinds_tot)
            cursor = con.execute(
                f"""SELECT h.flag_key, h.flag, h.first_run_seq, h.resolved_run_seq, h.first_stand,
                           h.last_stand, h.resolved_stand, h.straat,
                           a.huisnummer || coalesce(a.huisletter, '')
                               || coalesce('-' || a.huisnummertoevoeging, '') || ', ' || a.postcode AS adres,
                           h.woonplaats, h.sector, h.nummeraanduiding_id, h.verblijfsobject_id,
                           h.pand_id, h.openbare_ruimte_id, h.x, h.y
                    FROM {HISTORY} h
                    LEFT JOIN (SELECT * FROM bag.adres QUALIFY row_number() OVER
                               (PARTITION BY nummeraanduiding_id ORDER BY nummeraanduiding_id) = 1) a
                           USING (nummeraanduiding_id)
                    WHERE {" AND ".join(where) if flags else "FALSE"}
                      AND (h.resolved_run_seq IS NULL OR h.first_run_seq = (
                           SELECT max(first_run_seq) FROM {HISTORY} l WHERE l.flag_key = h.flag_key))
                    ORDER BY h.resolved_run_seq NULLS FIRST, h.first_stand DESC, h.flag, h.straat, adres""",
                params if flags else [],
            )
            raw = cursor.fetchall()
            options = {
                column: [
                    r[0]
                    for r in con.execute(
                        f"SELECT DISTINCT {column} FROM {HISTORY} WHERE {column} IS NOT NULL "
                        f"AND {column} <> '' AND flag IN ({_marks(flags)}) ORDER BY 1",
                        list(flags),
                    ).fetchall()
                ]
                if flags
                else []
                for column in ("woonplaats", "sector")
            }
        decisions = TriageStore(lookup).for_flags(actor.role, {r[0] for r in raw})
        rows = []
        for r in raw:
            key, flag, first, resolved = r[0], r[1], r[2], r[3]
            if resolved is not None:
                status = "opgelost"
            elif any(d.episode == first for d in decisions.get(key, [])):
                status = "in_triage"
            else:
                status = "nieuw" if first == latest else "open"
            rows.append(Row(key, flag, status, *r[4:], episode=first, decisions=decisions.get(key, [])))
        if filters.status:
            rows = [r for r in rows if r.status == filters.status]
        by_status = {s: sum(r.status == s for r in rows) for s in STATUSES}
        by_flag = {f: n for f in flags if (n := sum(r.flag == f for r in rows))}
        lookup.log.append(
            LogEntry.under(
                register,
                p,
                "overview",
                actor.user_id,
                role=actor.role,
                inputs={
                    HISTORY: ["flag_key", "flag", "first_stand", "resolved_stand", "straat", "woonplaats"],
                    "bag.adres": ["nummeraanduiding_id", "postcode", "huisnummer"],
                },
                row_counts={"rows": len(rows)},
                details={"case_number": case_number, "filters": filters.as_log(), "by_status": by_status},
            )
        )
        return Result(p.key, case_number, latest, stand, rows, by_status, by_flag, options)

    def trend(self, actor: Actor, purpose: str, case_number: str) -> Trend:
        """Counts of flagged places per run, flag, woonplaats and sector (the 0-/1-meting).

        Row-level purposes (checked like a lookup, with a case number) see the counts of their own
        flags; aggregated-only purposes see counts per run, flag and woonplaats of at least their
        minimum cell size (no sector split, no staff_safety). Logged as an aggregated read.
        """
        lookup = self.lookup
        register = load_register(lookup.register_path)
        p = register.get(purpose)
        context = {"trend": True}
        if p is not None and p.aggregated_only:
            p = self._aggregated(register, actor, purpose, context)
        else:
            p = lookup._allowed(register, actor, purpose, case_number, context)
        with lookup._release() as con:
            if not has_history(con):
                raise LookupUnavailable("the published release has no flag history (signals.flag_counts)")
            runs = [
                (int(r), d)
                for r, d in con.execute(f"SELECT run_seq, stand FROM {RUNS} ORDER BY 1").fetchall()
            ]
            if p.aggregated_only:
                rows = con.execute(
                    f"""SELECT run_seq, any_value(stand), flag, woonplaats, '' AS sector, sum(n)
                        FROM {COUNTS} WHERE flag <> ? GROUP BY run_seq, flag, woonplaats ORDER BY ALL""",
                    [STAFF_SAFETY],
                ).fetchall()
            else:
                rows = (
                    con.execute(
                        f"""SELECT run_seq, stand, flag, woonplaats, sector, n FROM {COUNTS}
                        WHERE flag IN ({_marks(list(p.flags))}) ORDER BY ALL""",
                        list(p.flags),
                    ).fetchall()
                    if p.flags
                    else []
                )
        cells = [TrendCell(int(r), d, f, w, s, int(n)) for r, d, f, w, s, n in rows]
        minimum = p.min_cell_size if p.aggregated_only else None
        kept = [c for c in cells if minimum is None or c.n >= minimum]
        lookup.log.append(
            LogEntry.under(
                register,
                p,
                "aggregated_read",
                actor.user_id,
                role=actor.role,
                inputs={COUNTS: ["run_seq", "stand", "flag", "woonplaats", "sector", "n"]},
                row_counts={"cells": len(kept)},
                details={
                    "case_number": case_number or None,
                    "group_by": ["run_seq", "flag", "woonplaats"] + ([] if minimum else ["sector"]),
                    "min_cell_size": minimum,
                    "suppressed_cells": len(cells) - len(kept),
                },
            )
        )
        return Trend(p.key, runs, kept, minimum, len(cells) - len(kept))

    def _aggregated(self, register, actor: Actor, purpose: str, context: dict[str, Any]):
        """The aggregated-only purpose, if valid today and open to the actor's role (else refused, logged)."""
        lookup = self.lookup
        p = register.get(purpose)
        if p is None:
            lookup._refuse(register, actor, None, f"purpose {purpose!r} is not in the register", context)
        assert p is not None
        if reason := p.refusal(dt.date.today()):
            lookup._refuse(register, actor, p, reason, context)
        if not p.aggregated_only or p.min_cell_size is None:
            lookup._refuse(register, actor, p, f"purpose {p.key!r} is not aggregated-only", context)
        if actor.role not in p.roles:
            lookup._refuse(register, actor, p, f"role {actor.role!r} may not use purpose {p.key!r}", context)
        return p

    def counts(self, actor: Actor, purpose: str) -> Counts:
        """Counts of flagged places per flag and woonplaats in the latest run (aggregated-only purposes)."""
        lookup = self.lookup
        register = load_register(lookup.register_path)
        p = self._aggregated(register, actor, purpose, {"overview": "counts"})
        assert p.min_cell_size is not None
        with lookup._release() as con:
            if not has_history(con):
                raise LookupUnavailable("the published release has no flag history (signals.flag_counts)")
            stand = con.execute(f"SELECT max(stand) FROM {RUNS}").fetchone()[0]
            grouped = con.execute(
                f"""SELECT flag, woonplaats, sum(n) AS n FROM {COUNTS}
                    WHERE run_seq = (SELECT max(run_seq) FROM {RUNS}) AND flag <> ?
                    GROUP BY flag, woonplaats ORDER BY flag, woonplaats""",
                [STAFF_SAFETY],
            ).fetchall()
        cells = [(f, w, int(n)) for f, w, n in grouped if n >= p.min_cell_size]
        suppressed = len(grouped) - len(cells)
        lookup.log.append(
            LogEntry.under(
                register,
                p,
                "aggregated_read",
                actor.user_id,
                role=actor.role,
                inputs={COUNTS: ["run_seq", "flag", "woonplaats", "n"]},
                row_counts={"cells": len(cells)},
                details={
                    "group_by": ["flag", "woonplaats"],
                    "min_cell_size": p.min_cell_size,
                    "suppressed_cells": suppressed,
                },
            )
        )
        return Counts(p.key, p.min_cell_size, stand, cells, suppressed)


__all__ = ["STATUSES", "Counts", "Filters", "Overview", "Result", "Row"]
