"""Apply an LVBAG mutatielevering on top of the loaded stand, on a DuckDB connection.

The history tables (``bag.history_<table>``) are brought to the state after the delivery: each
voorkomen's ``was`` must be in the history exactly as delivered (every column equal) and is
removed; each ``wordt`` is added (a voorkomen that is already there is a conflict). Then the
current and derived tables are selected again on the delivery's MutatiedatumTot, with the same
SQL as a stand load (:func:`sources.bag.load.select_current`), so they are what a stand of that
day gives. ``bag.levering.as_of`` moves to that day; ``bag.mutatie_levering`` records every
applied file (sha256, period, counts) for the loaded stand.

Order: a delivery must start where the loaded state ends (the stand's StandTechnischeDatum, then
the last applied MutatiedatumTot). The same file again is skipped (nothing changes); a later file
(a missing day) is refused naming the expected date; an earlier or overlapping one is refused as
out of order. A stand loaded for chosen gemeenten (``bag.selectie``) stays that selection: a
``was`` of an object that is not loaded is outside it, and objects outside it are removed again
after the ``wordt`` records are added (:func:`sources.bag.gemeenten.keep_gemeenten`). The caller
owns the transaction (see ``assets.ingest.bag_mutations``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from sources.bag.gemeenten import keep_gemeenten, selected_woonplaatsen
from sources.bag.load import (
    IN_ONDERZOEK,
    history_columns,
    insert_cast,  # the stand's casting insert: one way to cast
    select_current,
)
from sources.bag.mutations import IN_ONDERZOEK as IO
from sources.bag.mutations import MutationDelivery
from sources.bag.objects import ID_COLUMNS, OBJECT_TYPES, TABLES
from sources.errors import Reject, SourceError

MUTATIE_LEVERING_DDL = """CREATE TABLE IF NOT EXISTS bag.mutatie_levering (
    source_file VARCHAR, sha256 VARCHAR, mutatiedatum_vanaf DATE, mutatiedatum_tot DATE,
    stand_technische_datum DATE, toevoegingen INTEGER, wijzigingen INTEGER, verwijderingen INTEGER,
    rejects INTEGER, stand_loaded_at TIMESTAMP, applied_at TIMESTAMP)"""


@dataclass
class ApplyStats:
    name: str
    vanaf: dt.date
    tot: dt.date
    applied: bool  # False: this very file was applied before, nothing changed
    counts: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)  # invalid wordt records
    duplicates: list[Reject] = field(default_factory=list)  # duplicate current voorkomens on ``tot``
    current: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedState:
    stand_technische_datum: dt.date
    stand_loaded_at: dt.datetime
    expected_vanaf: dt.date  # where the next delivery must start
    applied: dict[tuple[dt.date, dt.date], str]  # (vanaf, tot) -> sha256 of deliveries applied


def loaded_state(con: duckdb.DuckDBPyConnection) -> LoadedState:
    """What the bag tables hold now: the stand and the mutation deliveries applied on top."""
    try:
        row = con.execute("SELECT stand_technische_datum, loaded_at FROM bag.levering").fetchone()
    except duckdb.CatalogException:
        row = None
    if row is None:
        raise SourceError("bag.levering", "no BAG stand loaded: load a stand extract before its mutations")
    if row[0] is None:
        raise SourceError(
            "bag.levering", "the loaded BAG has no StandTechnischeDatum: mutations cannot be ordered on it"
        )
    stand, loaded_at = row
    con.execute(MUTATIE_LEVERING_DDL)
    applied = con.execute(
        "SELECT mutatiedatum_vanaf, mutatiedatum_tot, sha256 FROM bag.mutatie_levering "
        "WHERE stand_loaded_at = ? ORDER BY mutatiedatum_tot",
        [loaded_at],
    ).fetchall()
    expected = applied[-1][1] if applied else stand
    return LoadedState(stand, loaded_at, expected, {(v, t): s for v, t, s in applied})


def check_order(state: LoadedState, delivery: MutationDelivery) -> bool:
    """True to apply, False when this very file is already applied; raises when it does not fit."""
    period = (delivery.vanaf, delivery.tot)
    if state.applied.get(period) == delivery.sha256:
        return False
    if period in state.applied:
        raise SourceError(
            delivery.name,
            f"another file for the period {delivery.vanaf} – {delivery.tot} was already applied "
            "(different sha256); reload the stand to start over",
        )
    if delivery.vanaf > state.expected_vanaf:
        raise SourceError(
            delivery.name,
            f"gap: the loaded BAG is at {state.expected_vanaf}; this delivery starts at {delivery.vanaf}. "
            f"Apply the mutations from {state.expected_vanaf} first (expected MutatiedatumVanaf "
            f"{state.expected_vanaf})",
        )
    if delivery.vanaf < state.expected_vanaf:
        raise SourceError(
            delivery.name,
            f"out of order: the loaded BAG is already at {state.expected_vanaf} (stand "
            f"{state.stand_technische_datum}); this delivery covers {delivery.vanaf} – {delivery.tot}. "
            f"Expected MutatiedatumVanaf {state.expected_vanaf}",
        )
    return True


def _columns(kind: str) -> tuple[tuple[str, str, str], ...]:
    return IN_ONDERZOEK if kind == IO else history_columns(kind)


def _table(kind: str) -> str:
    return "bag.in_onderzoek" if kind == IO else f"bag.history_{TABLES[kind]}"


def _key(kind: str) -> str:
    """The columns that identify a row: object and voorkomen; for InOnderzoek object, kenmerk and
    registration time."""
    if kind == IO:
        return " AND ".join(
            f"h.{c} IS NOT DISTINCT FROM m.{c}" for c in ("object_id", "kenmerk", "tijdstip_registratie")
        )
    return f"h.{ID_COLUMNS[kind]} = m.{ID_COLUMNS[kind]} AND h.voorkomen_id = m.voorkomen_id"


def _ref(kind: str, row: tuple) -> str:
    return f"InOnderzoek {row[0]} {row[1]}" if kind == IO else f"{kind} {row[0]} voorkomen {row[1]}"


def _temp(con: duckdb.DuckDBPyConnection, name: str, kind: str, data: pa.Table, source: str) -> list[Reject]:
    """``data`` cast into a temp table with the stand load's own insert: a record with a value
    that does not cast is returned as a reject, as in a stand."""
    columns = _columns(kind)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({', '.join(f'{c} {t}' for c, t, _ in columns)})")
    ref = "InOnderzoek {} {}" if kind == IO else kind + " {} voorkomen {}"
    return insert_cast(con, name, columns, data, ref, source)


def _equal(column: str, sql_type: str) -> str:
    if sql_type == "GEOMETRY":
        return f"ST_AsWKB(h.{column}) IS NOT DISTINCT FROM ST_AsWKB(m.{column})"
    return f"h.{column} IS NOT DISTINCT FROM m.{column}"


def _remove_was(
    con: duckdb.DuckDBPyConnection, kind: str, delivery: MutationDelivery, selected: bool
) -> None:
    """Check that every ``was`` is in the history exactly as delivered, then remove it. On a
    selection of gemeenten, a ``was`` of an object that is not loaded at all is outside it."""
    if (was := delivery.was.get(kind)) is None:
        return
    table = _table(kind)
    _temp(con, "_mut_was", kind, was, delivery.name)  # a was that does not cast is in no stand
    same = " AND ".join(_equal(c, t) for c, t, _ in _columns(kind))
    first = "object_id, kenmerk" if kind == IO else f"{ID_COLUMNS[kind]}, voorkomen_id"
    ident = "object_id" if kind == IO else ID_COLUMNS[kind]
    loaded = f"AND EXISTS (SELECT 1 FROM {table} h WHERE h.{ident} = m.{ident})" if selected else ""
    missing = con.execute(
        f"SELECT {first} FROM _mut_was m WHERE NOT EXISTS (SELECT 1 FROM {table} h WHERE {same}) "
        f"{loaded} ORDER BY 1, 2 LIMIT 5"
    ).fetchall()
    if missing:
        raise SourceError(
            delivery.name,
            "a was voorkomen is not in the loaded BAG as delivered (missing or different): the "
            "mutations do not fit the loaded stand",
            ", ".join(_ref(kind, row) for row in missing),
        )
    con.execute(f"DELETE FROM {table} h USING _mut_was m WHERE {same if kind == IO else _key(kind)}")
    con.execute("DROP TABLE _mut_was")


def _add_wordt(con: duckdb.DuckDBPyConnection, kind: str, delivery: MutationDelivery) -> list[Reject]:
    """Add every ``wordt``; one that is already in the history is a conflict. Returns the records
    with a value that does not cast."""
    if (wordt := delivery.wordt.get(kind)) is None:
        return []
    table = _table(kind)
    rejects = _temp(con, "_mut_wordt", kind, wordt, delivery.name)
    first = "object_id, kenmerk" if kind == IO else f"{ID_COLUMNS[kind]}, voorkomen_id"
    present = con.execute(
        f"SELECT {first} FROM _mut_wordt m SEMI JOIN {table} h ON {_key(kind)} ORDER BY 1, 2 LIMIT 5"
    ).fetchall()
    if present:
        raise SourceError(
            delivery.name,
            "toevoeging of a voorkomen that is already in the loaded BAG",
            ", ".join(_ref(kind, row) for row in present),
        )
    con.execute(f"INSERT INTO {table} SELECT * FROM _mut_wordt")
    con.execute("DROP TABLE _mut_wordt")
    return rejects


def apply_into(con: duckdb.DuckDBPyConnection, delivery: MutationDelivery) -> ApplyStats:
    """Apply ``delivery`` on the bag tables of ``con`` (inside the caller's transaction)."""
    state = loaded_state(con)
    stats = ApplyStats(delivery.name, delivery.vanaf, delivery.tot, applied=False)
    if not check_order(state, delivery):
        return stats
    kinds = (*OBJECT_TYPES, IO)
    selection = selected_woonplaatsen(con)
    for kind in kinds:  # every was first: a mismatch is reported before any conflict
        _remove_was(con, kind, delivery, selection is not None)
    rejects = list(delivery.rejects)
    for kind in kinds:
        rejects.extend(_add_wordt(con, kind, delivery))
    if selection is not None:  # a stand of chosen gemeenten: keep to them
        keep_gemeenten(con, selection)
    stats.duplicates = select_current(con, delivery.tot, delivery.name)
    con.execute("UPDATE bag.levering SET as_of = ?", [delivery.tot])
    con.execute(
        "INSERT INTO bag.mutatie_levering VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [
            delivery.name,
            delivery.sha256,
            delivery.vanaf,
            delivery.tot,
            delivery.stand_technische_datum,
            delivery.counts["toevoeging"],
            delivery.counts["wijziging"],
            delivery.counts["verwijdering"],
            len(rejects),
            state.stand_loaded_at,
        ],
    )
    stats.applied = True
    stats.counts = dict(delivery.counts)
    stats.rejects = rejects
    stats.current = {
        t: con.execute(f"SELECT count(*) FROM bag.{TABLES[t]}").fetchone()[0] for t in OBJECT_TYPES
    }
    return stats
