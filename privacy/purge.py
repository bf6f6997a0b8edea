"""Retention: remove data and processing-log entries past their bewaartermijn (``knooppunt privacy purge``).

* **Data.** Every table written through the gate belongs to a purpose (the log records which). A
  table whose last materialisation is older than the purpose's ``bewaartermijn.resultaten`` (i.e.
  the nightly run stopped refreshing it) is dropped, and the release is republished so readers
  stop seeing it.
* **Flag history.** Episodes of a flag resolved longer ago than their purpose's
  ``bewaartermijn.resultaten``, with their evidence (:func:`privacy.history.purge_history`), and
  triage decisions past that retention on flags that no longer fire.
* **Log.** Entries older than their own ``bewaartermijn`` are removed in a way that keeps the
  hash chain verifiable (:meth:`privacy.log.ProcessingLog.purge`).

Only a signed-in privacy officer purges, under the register in force (never one given by the
caller), and never for a day after today. Nothing is removed from a log that does not verify.
The purge is itself logged, naming the officer. Running it twice with the same ``as_of`` changes
nothing the second time: nothing is past retention any more, so nothing is removed or logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pipelines.warehouse import RELEASES, Warehouse, publish
from privacy.history import open_flag_keys, purge_history
from privacy.log import LogEntry, LogError, ProcessingLog
from privacy.lookup import Actor, Lookup
from privacy.register import Register, load_register, subtract_duration
from privacy.sqltext import table_exists
from privacy.triage import TriageStore

PURGE_ROLE = "privacy_officer"


@dataclass
class PurgeResult:
    as_of: dt.date
    tables_dropped: list[str] = field(default_factory=list)
    log_entries_removed: int = 0
    history_rows_removed: dict[str, int] = field(default_factory=dict)  # table -> rows past retention
    decisions_removed: int = 0  # triage decisions past retention on flags that no longer fire
    entry: LogEntry | None = None

    @property
    def changed(self) -> bool:
        return self.entry is not None


def expired_tables(log: ProcessingLog, register: Register, as_of: dt.date) -> dict[str, str]:
    """Gated output tables past their purpose's result retention on ``as_of``: table -> purpose."""
    last: dict[str, LogEntry] = {}
    for entry in log.entries():
        if entry.action == "gated_join" and entry.outcome == "uitgevoerd" and entry.output:
            last[entry.output] = entry
    expired = {}
    for table, entry in last.items():
        purpose = register.get(entry.purpose or "")
        retention = purpose.bewaartermijn.resultaten if purpose else register.log_bewaartermijn
        if dt.datetime.fromisoformat(entry.tijdstip).date() < subtract_duration(as_of, retention):
            expired[table] = entry.purpose or ""
    return expired


def purge(warehouse: Warehouse, officer: Actor, as_of: dt.date | None = None) -> PurgeResult:
    """Remove what is past retention on ``as_of`` (default today); raises LogError when refused."""
    as_of = as_of or dt.date.today()
    if officer.role != PURGE_ROLE:
        raise LogError(f"only a privacy officer may purge; {officer.user_id} is {officer.role}")
    if as_of > dt.date.today():
        raise LogError(f"refusing to purge as of {as_of.isoformat()}: that is in the future")
    register = load_register()
    log = ProcessingLog(warehouse)
    check = log.verify()
    if not check.ok:
        raise LogError(f"refusing to purge a log that does not verify: {check.problem}")
    result = PurgeResult(as_of)
    candidates = expired_tables(log, register, as_of) if warehouse.path.exists() else {}
    still_open: set[str] = set()
    if warehouse.path.exists():
        with warehouse.transaction() as con:
            for table in sorted(candidates):
                if table_exists(con, table):
                    schema, name = table.split(".")
                    con.execute(f'DROP TABLE "{schema}"."{name}"')
                    result.tables_dropped.append(table)
            result.history_rows_removed = purge_history(con, register, as_of)
            still_open = open_flag_keys(con)
        if (result.tables_dropped or result.history_rows_removed) and (warehouse.root / RELEASES).exists():
            log.witness_release(publish(warehouse))
    result.decisions_removed = TriageStore(Lookup(warehouse)).purge(register, as_of, still_open)
    extra: dict[str, object] = {}
    if result.tables_dropped:
        extra["tables_dropped"] = result.tables_dropped
    if result.history_rows_removed:
        extra["history_rows_removed"] = result.history_rows_removed
    if result.decisions_removed:
        extra["triage_decisions_removed"] = result.decisions_removed
    result.entry = log.purge(as_of, officer.user_id, extra=extra)
    if result.entry is not None:
        result.log_entries_removed = result.entry.details["log_entries_removed"]
    return result
