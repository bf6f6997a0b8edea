"""Retention: purge removes expired data and log entries, keeps the chain verifiable, is idempotent."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from pipelines.warehouse import Warehouse, current_release, publish
from privacy.log import LogEntry, LogError, ProcessingLog
from privacy.lookup import Actor
from privacy.purge import purge
from privacy.register import load_register

REGISTER = load_register()
AS_OF = dt.date(2026, 11, 29)
OFFICER = Actor("pia", "privacy_officer")


def at(day: str, purpose: str, action: str = "hit", **kwargs) -> LogEntry:
    e = LogEntry.under(REGISTER, REGISTER.purposes[purpose], action, "tester", **kwargs)
    e.tijdstip = f"{day}T10:00:00+00:00"
    return e


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    w = Warehouse(tmp_path)
    log = ProcessingLog(w)
    # veiligheid_medewerkers keeps its log 2 years, bibob_screening 7, adreskwaliteit results 6 months.
    log.append(at("2023-01-10", "veiligheid_medewerkers"))  # 1 expired (leading)
    log.append(at("2023-02-10", "veiligheid_medewerkers"))  # 2 expired (leading)
    log.append(at("2023-03-10", "bibob_screening"))  # 3 kept
    log.append(at("2023-04-10", "veiligheid_medewerkers"))  # 4 expired (middle)
    # 5 kept, but its table is past the 6 months adreskwaliteit keeps results; 6 kept.
    log.append(at("2026-01-05", "adreskwaliteit", "gated_join", output="signals.overcrowding"))
    log.append(at("2026-11-20", "signaalanalyse_ondermijning", "gated_join", output="signals.company_churn"))
    return w


def tables(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            f"{s}.{t}"
            for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
    finally:
        con.close()


def test_purge_removes_expired_entries_and_tables_and_keeps_the_chain(warehouse):
    with warehouse.transaction() as con:
        con.execute("CREATE SCHEMA signals")
        con.execute("CREATE TABLE signals.overcrowding AS SELECT 1 AS x")
        con.execute("CREATE TABLE signals.company_churn AS SELECT 1 AS x")
    publish(warehouse)
    log = ProcessingLog(warehouse)
    result = purge(warehouse, OFFICER, AS_OF)
    assert result.changed and result.log_entries_removed == 3
    assert result.tables_dropped == ["signals.overcrowding"]
    assert tables(warehouse.path) == {"signals.company_churn"}
    assert tables(current_release(warehouse)) == {"signals.company_churn"}
    check = log.verify()
    assert check.ok, check.problem
    remaining = [(e.seq, e.action) for e in log.entries()]
    assert remaining == [(3, "hit"), (5, "gated_join"), (6, "gated_join"), (7, "purge")]
    anchor = list(log.entries())[-1]
    assert anchor.details["tombstones"] == [[1, 2], [4, 4]]
    assert anchor.details["tables_dropped"] == ["signals.overcrowding"]
    assert anchor.gebruiker == "pia"
    # The removed entries' hashes stay in the chain, as tombstones after the genesis entry.
    assert log.path.read_text().count('"tombstone": true') == 3

    # Appending after a purge keeps the chain.
    log.append(at("2026-11-29", "bibob_screening"))
    assert log.verify().ok


def test_purge_twice_changes_nothing_the_second_time(warehouse):
    first = purge(warehouse, OFFICER, AS_OF)
    assert first.changed and first.tables_dropped == []  # the tables were never created here
    log = ProcessingLog(warehouse)
    before = (log.path.read_bytes(), log.head_path.read_bytes())
    second = purge(warehouse, OFFICER, AS_OF)
    assert not second.changed and second.tables_dropped == [] and second.log_entries_removed == 0
    assert (log.path.read_bytes(), log.head_path.read_bytes()) == before


def test_later_purges_move_the_anchor(warehouse):
    earlier = purge(warehouse, OFFICER, dt.date(2025, 3, 1))  # entries 1 and 2 expired
    assert earlier.log_entries_removed == 2
    later = purge(warehouse, OFFICER, AS_OF)  # and entry 4
    log = ProcessingLog(warehouse)
    assert later.changed and later.log_entries_removed == 1
    assert later.entry.details["tombstones"] == [[1, 2], [4, 4]]
    assert log.verify().ok
    assert [e.action for e in log.entries()][-2:] == ["purge", "purge"]
    assert not purge(warehouse, OFFICER, AS_OF).changed


def test_tampering_after_a_purge_is_detected(warehouse):
    purge(warehouse, OFFICER, AS_OF)
    log = ProcessingLog(warehouse)
    lines = log.path.read_text().splitlines(keepends=True)
    hidden = json.loads(lines[5])  # entry 5: hide it as if it had been purged
    lines[5] = json.dumps({k: hidden[k] for k in ("seq", "prev", "hash")} | {"tombstone": True}) + "\n"
    log.path.write_text("".join(lines))
    result = log.verify()
    assert (result.ok, result.kind, result.seq) == (False, "edited", 5)

    log.path.write_text("".join(lines[:5] + lines[6:]))  # or drop it
    assert log.verify().kind in {"removed", "edited"}


def test_purge_refuses_a_tampered_log(warehouse):
    log = ProcessingLog(warehouse)
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text("".join(lines[:3] + lines[4:]))
    with pytest.raises(LogError, match="does not verify"):
        purge(warehouse, OFFICER, AS_OF)
