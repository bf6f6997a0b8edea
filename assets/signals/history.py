"""Flag history: every run adds its flags to a history, so analysts see what is new and resolved.

Four gated assets, downstream of ``signals.flags`` and upstream of the ``release`` asset:

* ``signals.flag_history``: one row per *episode* of a flag identity (code plus the ids at its
  level, :func:`privacy.history.flag_key_sql`): first seen (run, stand date, time), last seen,
  resolved (the first run in which it no longer fired), the latest evidence and point, and the
  street, woonplaats and sector it is counted under. A flag that fires again after it was
  resolved starts a new episode.
* ``signals.flag_evidence``: the evidence at each change: a row when an episode starts and
  whenever its evidence differs from the last recorded one.
* ``signals.flag_counts``: counts per run, flag, woonplaats and sector (the trends; counts of
  places, kept when the episodes behind them have expired).
* ``signals.flag_runs``: one row per run that computed the history: sequence number, Dagster
  run id, stand date of the BAG delivery, time, number of flags.

Why inside the run and not at publish time: the history is derived data like every flag, so it is
computed through the gate (purpose, columns, log, lineage) in the run's own warehouse, and it is
published by the same ``release`` step as the flags it describes. A run that fails does not
publish, so its history is never seen (with i8a's run generations it is not even kept); a step
that is retried within a run applies the same update again, which changes nothing (open episodes
stay open, resolved ones stay resolved, evidence that did not change adds no row).

Each run also drops episodes past retention (:func:`privacy.history.expired_sql`), the same rule
``knooppunt privacy purge`` applies when runs stop.
"""

from __future__ import annotations

import datetime as dt

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition

from assets.signals.assets import FLAG_PURPOSE, OVERVIEW_PURPOSE
from assets.signals.sql import RESULT_COLUMNS
from privacy.gate import GatedConnection, gated_asset
from privacy.history import COUNTS, EVIDENCE, HISTORY, RUNS, expired_sql, flag_key_sql
from privacy.register import load_register
from privacy.sqltext import sql_literal

HISTORY_COLUMNS = {
    "flag_key": "VARCHAR",
    "flag": "VARCHAR",
    "nummeraanduiding_id": "VARCHAR",
    "verblijfsobject_id": "VARCHAR",
    "pand_id": "VARCHAR",
    "openbare_ruimte_id": "VARCHAR",
    "purpose": "VARCHAR",
    "first_run_seq": "INTEGER",
    "first_run_id": "VARCHAR",
    "first_stand": "DATE",
    "first_seen_at": "TIMESTAMP",
    "last_run_seq": "INTEGER",
    "last_run_id": "VARCHAR",
    "last_stand": "DATE",
    "last_seen_at": "TIMESTAMP",
    "resolved_run_seq": "INTEGER",
    "resolved_run_id": "VARCHAR",
    "resolved_stand": "DATE",
    "resolved_at": "TIMESTAMP",
    "evidence": "VARCHAR",
    "x": "DOUBLE",
    "y": "DOUBLE",
    "straat": "VARCHAR",
    "woonplaats": "VARCHAR",
    "sector": "VARCHAR",
}
EVIDENCE_COLUMNS = {
    "flag_key": "VARCHAR",
    "first_run_seq": "INTEGER",
    "run_seq": "INTEGER",
    "run_id": "VARCHAR",
    "stand": "DATE",
    "evidence": "VARCHAR",
}
COUNT_COLUMNS = {
    "run_seq": "INTEGER",
    "stand": "DATE",
    "flag": "VARCHAR",
    "woonplaats": "VARCHAR",
    "sector": "VARCHAR",
    "n": "BIGINT",
}
RUN_COLUMNS = {
    "run_seq": "INTEGER",
    "run_id": "VARCHAR",
    "stand": "DATE",
    "computed_at": "TIMESTAMP",
    "flags": "BIGINT",
}
TABLES = {HISTORY: HISTORY_COLUMNS, EVIDENCE: EVIDENCE_COLUMNS, COUNTS: COUNT_COLUMNS, RUNS: RUN_COLUMNS}
PLACE_READS = {
    "bag.levering": ["stand_technische_datum"],
    "bag.adres": ["nummeraanduiding_id", "openbare_ruimte_id", "openbare_ruimte_naam", "woonplaats_naam"],
    "bag.verblijfsobject": ["verblijfsobject_id", "hoofdadres_id"],
    "bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"],
}


def _ensure(gated: GatedConnection, *tables: str) -> None:
    """Create the history tables the warehouse does not hold yet (first run), empty."""
    for table in tables:
        columns = ", ".join(f"{c} {t}" for c, t in TABLES[table].items())
        gated.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")


def _run(context: AssetExecutionContext, gated: GatedConnection) -> tuple[int, str, str]:
    """This run's sequence number (the same on a retry), its id and the stand date (SQL)."""
    _ensure(gated, RUNS)
    run_id = context.run.run_id
    seq = gated.fetchall(
        f"""SELECT coalesce((SELECT run_seq FROM {RUNS} WHERE run_id = ?),
                            (SELECT coalesce(max(run_seq), 0) + 1 FROM {RUNS}))""",
        [run_id],
    )[0][0]
    return int(seq), run_id, "(SELECT max(CAST(stand_technische_datum AS DATE)) FROM bag.levering)"


def _reads(own: str, columns: dict[str, str], *extra: str) -> dict[str, list[str]]:
    reads: dict[str, list[str]] = {
        "signals.flags": list(RESULT_COLUMNS),
        own: list(columns),
        RUNS: list(RUN_COLUMNS),
        **PLACE_READS,
    }
    for table in extra:
        reads[table] = list(TABLES[table])
    return reads


def _current_sql() -> str:
    """This run's flags, one row per identity, with the place and sector they are counted under."""
    purposes = " ".join(f"WHEN {sql_literal(f)} THEN {sql_literal(p)}" for f, p in FLAG_PURPOSE.items())
    return f"""
        WITH adres AS (
            SELECT nummeraanduiding_id, any_value(openbare_ruimte_id) AS openbare_ruimte_id,
                   any_value(openbare_ruimte_naam) AS straat, any_value(woonplaats_naam) AS woonplaats
            FROM bag.adres GROUP BY nummeraanduiding_id),
        straat AS (
            SELECT openbare_ruimte_id, any_value(openbare_ruimte_naam) AS straat,
                   any_value(woonplaats_naam) AS woonplaats
            FROM bag.adres GROUP BY openbare_ruimte_id),
        pand AS (
            SELECT vp.pand_id, min(v.hoofdadres_id) AS nummeraanduiding_id
            FROM bag.verblijfsobject_pand vp JOIN bag.verblijfsobject v USING (verblijfsobject_id)
            GROUP BY vp.pand_id),
        flags AS (
            SELECT {flag_key_sql("f")} AS flag_key, f.*, CAST(f.evidence AS VARCHAR) AS evidence_text
            FROM signals.flags f)
        SELECT f.flag_key, f.flag, f.nummeraanduiding_id, f.verblijfsobject_id, f.pand_id,
               f.openbare_ruimte_id, CASE f.flag {purposes} END AS purpose,
               f.evidence_text AS evidence, f.x, f.y,
               coalesce(a.straat, s.straat, pa.straat) AS straat,
               coalesce(a.woonplaats, s.woonplaats, pa.woonplaats) AS woonplaats,
               json_extract_string(f.evidence_text, '$.sector') AS sector
        FROM flags f
        LEFT JOIN adres a ON a.nummeraanduiding_id = f.nummeraanduiding_id
        LEFT JOIN straat s ON s.openbare_ruimte_id = f.openbare_ruimte_id
        LEFT JOIN pand p ON p.pand_id = f.pand_id AND f.nummeraanduiding_id IS NULL
        LEFT JOIN adres pa ON pa.nummeraanduiding_id = p.nummeraanduiding_id
        QUALIFY row_number() OVER (PARTITION BY f.flag_key ORDER BY f.evidence_text) = 1"""


@gated_asset(
    key=["signals", "flag_history"],
    purpose=OVERVIEW_PURPOSE,
    reads=_reads(HISTORY, HISTORY_COLUMNS),
    optional=[HISTORY, RUNS],
    deps=[AssetKey(["signals", "flags"])],
    group_name="signals",
    description="One row per episode of a flag: first seen, last seen, resolved (run, stand date), "
    "latest evidence, street, woonplaats and sector. Episodes resolved longer ago than their "
    "purpose's bewaartermijn are dropped.",
)
def flag_history(context: AssetExecutionContext, gated: GatedConnection) -> str:
    _ensure(gated, HISTORY)
    seq, run_id, stand = _run(context, gated)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    expired = expired_sql(load_register(), dt.date.today(), "h")
    this = (
        f"{seq} AS {{0}}_run_seq, {sql_literal(run_id)} AS {{0}}_run_id, {stand} AS {{0}}_stand, "
        f"TIMESTAMP '{now}' AS {{0}}_seen_at"
    )
    columns = ", ".join(HISTORY_COLUMNS)
    context.log.info(f"flag history: run {seq} ({run_id})")
    return f"""
        WITH cur AS ({_current_sql()}),
        open AS (SELECT * FROM {HISTORY} WHERE resolved_run_seq IS NULL),
        continued AS (
            SELECT o.flag_key, o.flag, o.nummeraanduiding_id, o.verblijfsobject_id, o.pand_id,
                   o.openbare_ruimte_id, o.purpose, o.first_run_seq, o.first_run_id, o.first_stand,
                   o.first_seen_at, {this.format("last")},
                   NULL AS resolved_run_seq, NULL AS resolved_run_id, NULL AS resolved_stand,
                   NULL AS resolved_at, c.evidence, c.x, c.y, o.straat, o.woonplaats, o.sector
            FROM open o JOIN cur c USING (flag_key)),
        resolved AS (
            SELECT * REPLACE ({seq} AS resolved_run_seq, {sql_literal(run_id)} AS resolved_run_id,
                              {stand} AS resolved_stand, TIMESTAMP '{now}' AS resolved_at)
            FROM open o WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.flag_key = o.flag_key)),
        started AS (
            SELECT c.flag_key, c.flag, c.nummeraanduiding_id, c.verblijfsobject_id, c.pand_id,
                   c.openbare_ruimte_id, c.purpose,
                   {this.format("first")}, {this.format("last")},
                   NULL AS resolved_run_seq, NULL AS resolved_run_id, NULL AS resolved_stand,
                   NULL AS resolved_at, c.evidence, c.x, c.y, c.straat, c.woonplaats, c.sector
            FROM cur c WHERE NOT EXISTS (SELECT 1 FROM open o WHERE o.flag_key = c.flag_key)),
        episodes AS (
            SELECT {columns} FROM {HISTORY} WHERE resolved_run_seq IS NOT NULL
            UNION ALL BY NAME SELECT * FROM continued
            UNION ALL BY NAME SELECT * FROM resolved
            UNION ALL BY NAME SELECT * FROM started)
        SELECT {", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in HISTORY_COLUMNS.items())}
        FROM episodes h WHERE NOT {expired}
        ORDER BY flag, flag_key, first_run_seq"""


@gated_asset(
    key=["signals", "flag_evidence"],
    purpose=OVERVIEW_PURPOSE,
    reads={**_reads(EVIDENCE, EVIDENCE_COLUMNS, HISTORY)},
    optional=[EVIDENCE, RUNS],
    group_name="signals",
    description="The evidence of every flag episode at each change: when it started and whenever "
    "it differed from the last recorded evidence. Rows go with their episode (retention).",
)
def flag_evidence(context: AssetExecutionContext, gated: GatedConnection) -> str:
    _ensure(gated, EVIDENCE)
    seq, run_id, stand = _run(context, gated)
    columns = ", ".join(EVIDENCE_COLUMNS)
    return f"""
        WITH latest AS (
            SELECT * FROM {EVIDENCE}
            QUALIFY row_number() OVER (PARTITION BY flag_key, first_run_seq ORDER BY run_seq DESC) = 1),
        changed AS (
            SELECT h.flag_key, h.first_run_seq, {seq} AS run_seq, {sql_literal(run_id)} AS run_id,
                   {stand} AS stand, h.evidence
            FROM {HISTORY} h
            LEFT JOIN latest l ON l.flag_key = h.flag_key AND l.first_run_seq = h.first_run_seq
            WHERE h.last_run_seq = {seq} AND h.resolved_run_seq IS NULL
              AND (l.evidence IS NULL OR (l.evidence <> h.evidence AND l.run_seq <> {seq})))
        SELECT {", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in EVIDENCE_COLUMNS.items())} FROM (
            SELECT {columns} FROM {EVIDENCE} e
            WHERE EXISTS (SELECT 1 FROM {HISTORY} h
                          WHERE h.flag_key = e.flag_key AND h.first_run_seq = e.first_run_seq)
            UNION ALL SELECT {columns} FROM changed)
        ORDER BY flag_key, first_run_seq, run_seq"""


@gated_asset(
    key=["signals", "flag_counts"],
    purpose=OVERVIEW_PURPOSE,
    reads=_reads(COUNTS, COUNT_COLUMNS),
    optional=[COUNTS, RUNS],
    deps=[AssetKey(["signals", "flags"])],
    group_name="signals",
    description="Counts of flagged places per run, flag, woonplaats and sector: the trends "
    "(0-meting, 1-meting). Counts, never persons; kept when the episodes behind them expire.",
)
def flag_counts(context: AssetExecutionContext, gated: GatedConnection) -> str:
    _ensure(gated, COUNTS)
    seq, _, stand = _run(context, gated)
    columns = ", ".join(COUNT_COLUMNS)
    return f"""
        SELECT {columns} FROM {COUNTS} WHERE run_seq <> {seq}
        UNION ALL
        SELECT {seq}, {stand}, flag, coalesce(woonplaats, '(onbekend)'), coalesce(sector, ''), count(*)
        FROM ({_current_sql()}) GROUP BY ALL
        ORDER BY run_seq, flag, woonplaats, sector"""


@gated_asset(
    key=["signals", "flag_runs"],
    purpose=OVERVIEW_PURPOSE,
    reads={"signals.flags": ["flag"], RUNS: list(RUN_COLUMNS), "bag.levering": ["stand_technische_datum"]},
    optional=[RUNS],
    deps=[AssetKey(["signals", name]) for name in ("flag_history", "flag_evidence", "flag_counts")],
    group_name="signals",
    description="One row per run that added to the flag history (sequence number, run id, stand "
    "date, time, number of flags). Written last, so a retried step finds its run number again.",
)
def flag_runs(context: AssetExecutionContext, gated: GatedConnection) -> str:
    seq, run_id, stand = _run(context, gated)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    return f"""
        SELECT * FROM {RUNS} WHERE run_seq <> {seq}
        UNION ALL
        SELECT {seq}, {sql_literal(run_id)}, {stand}, TIMESTAMP '{now}', (SELECT count(*) FROM signals.flags)
        ORDER BY run_seq"""


history_assets: list[AssetsDefinition] = [flag_history, flag_evidence, flag_counts, flag_runs]
