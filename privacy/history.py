"""Flag history: what a flag identity is, and how long its history is kept (retention).

The history tables are written by the gated assets in :mod:`assets.signals.history`, inside the
run, upstream of the release; readers see them only in a published release through
:mod:`privacy.lookup`. This module holds what both sides need:

* :func:`flag_key_sql`: the identity of a flag occurrence, its code plus the ids at its level
  (``flag|nummeraanduiding|verblijfsobject|pand|openbare ruimte``; an address that is not in the
  BAG at all has no ids, so its delivered postcode and huisnummer stand in for them);
* :func:`retention_cutoffs` and :func:`purge_history`: an episode that stopped firing is kept
  for its purpose's ``bewaartermijn.resultaten`` after the run that resolved it, then removed
  together with its evidence. Open episodes (the flag still fires) are kept: they are current
  results. ``knooppunt privacy purge`` calls :func:`purge_history`; every run applies the same
  rule when it rewrites the history.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from privacy.register import Register, subtract_duration
from privacy.sqltext import sql_literal, table_exists

HISTORY = "signals.flag_history"
EVIDENCE = "signals.flag_evidence"
RUNS = "signals.flag_runs"
COUNTS = "signals.flag_counts"
ID_COLUMNS = ("nummeraanduiding_id", "verblijfsobject_id", "pand_id", "openbare_ruimte_id")


def flag_key_sql(alias: str = "") -> str:
    """SQL for the identity of a flag row (the table's columns, optionally qualified)."""
    p = f"{alias}." if alias else ""
    ids = " || '|' || ".join(f"coalesce({p}{c}, '')" for c in ID_COLUMNS)
    no_ids = " AND ".join(f"{p}{c} IS NULL" for c in ID_COLUMNS)
    fallback = (
        f"CASE WHEN {no_ids} THEN '|' || coalesce(json_extract_string({p}evidence, '$.postcode'), '') "
        f"|| ' ' || coalesce(json_extract_string({p}evidence, '$.huisnummer'), '') ELSE '' END"
    )
    return f"({p}flag || '|' || {ids} || {fallback})"


def flag_key(flag: str, ids: dict[str, str | None], evidence: dict) -> str:
    """The same identity as :func:`flag_key_sql`, for a flag already read (e.g. a lookup's details)."""
    key = flag + "|" + "|".join(ids.get(c) or "" for c in ID_COLUMNS)
    if not any(ids.get(c) for c in ID_COLUMNS):
        key += f"|{evidence.get('postcode') or ''} {evidence.get('huisnummer') or ''}"
    return key


def retention_cutoffs(register: Register, as_of: dt.date) -> dict[str, dt.date]:
    """Per purpose: episodes resolved before this date are past their retention on ``as_of``."""
    return {key: subtract_duration(as_of, p.bewaartermijn.resultaten) for key, p in register.purposes.items()}


def expired_sql(register: Register, as_of: dt.date, alias: str = "") -> str:
    """A condition true for history rows past retention (resolved before their purpose's cut-off).

    A row whose purpose is no longer in the register falls back to the register's
    ``log_bewaartermijn`` (the strictest general rule the register states).
    """
    p = f"{alias}." if alias else ""
    cutoffs = retention_cutoffs(register, as_of)
    default = subtract_duration(as_of, register.log_bewaartermijn)
    cases = " ".join(f"WHEN {sql_literal(k)} THEN DATE '{d.isoformat()}'" for k, d in sorted(cutoffs.items()))
    cutoff = f"CASE {p}purpose {cases} ELSE DATE '{default.isoformat()}' END"
    return f"({p}resolved_at IS NOT NULL AND CAST({p}resolved_at AS DATE) < {cutoff})"


def purge_history(con: duckdb.DuckDBPyConnection, register: Register, as_of: dt.date) -> dict[str, int]:
    """Delete history past retention on ``as_of`` (in the caller's transaction); rows per table."""
    if not table_exists(con, HISTORY):
        return {}
    condition = expired_sql(register, as_of)
    expired = con.execute(f"SELECT count(*) FROM {HISTORY} WHERE {condition}").fetchone()[0]
    removed: dict[str, int] = {}
    if table_exists(con, EVIDENCE):
        before = con.execute(f"SELECT count(*) FROM {EVIDENCE}").fetchone()[0]
        con.execute(
            f"""DELETE FROM {EVIDENCE} e WHERE EXISTS (
                    SELECT 1 FROM {HISTORY} h WHERE h.flag_key = e.flag_key
                       AND h.first_run_seq = e.first_run_seq AND {expired_sql(register, as_of, "h")})"""
        )
        after = con.execute(f"SELECT count(*) FROM {EVIDENCE}").fetchone()[0]
        if before - after:
            removed[EVIDENCE] = before - after
    if expired:
        con.execute(f"DELETE FROM {HISTORY} WHERE {condition}")
        removed[HISTORY] = expired
    return removed


def open_flag_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The identities of the flags that still fire (their episode is not resolved)."""
    if not table_exists(con, HISTORY):
        return set()
    return {
        r[0] for r in con.execute(f"SELECT flag_key FROM {HISTORY} WHERE resolved_run_seq IS NULL").fetchall()
    }
