"""Load an LVBAG delivery into the ``bag`` schema of a DuckDB connection.

Every voorkomen goes into ``bag.history_<table>`` as the worker processes hand their Arrow tables
back (this process is the one DuckDB writer). The current state is then selected in SQL: per
object the voorkomen valid on ``as_of`` (default: the extract's StandTechnischeDatum) that was
registered by then and not ended or corrected in the registration by then. On the stand date
this is: begin <= as_of < eind (or no eind) and ``eindRegistratie`` null. ``bag.<table>`` is a
view of the history with that condition: nearly every voorkomen of a stand is current, so a copy
would write the history a second time. Two current voorkomens for one object are a data error:
the latest registered one is kept (in ``bag.resolved_<table>``, which the view reads for those
objects) and the others go to ``rejects.bag``. Link tables, ``bag.adres`` and ``bag.levering``
are derived last, as tables.

The caller owns the transaction (see ``assets.ingest.bag.load_bag``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from sources.bag.delivery import find_parts
from sources.bag.gemeenten import keep_gemeenten, read_relatie, woonplaatsen
from sources.bag.objects import ID_COLUMNS, OBJECT_TYPES, TABLES
from sources.bag.reader import read_delivery
from sources.errors import Reject, SourceError

VOORKOMEN = (
    ("voorkomen_id", "INTEGER", "CAST(voorkomen_id AS INTEGER)"),
    ("begin_geldigheid", "DATE", "CAST(begin_geldigheid AS DATE)"),
    ("eind_geldigheid", "DATE", "CAST(eind_geldigheid AS DATE)"),
    ("tijdstip_registratie", "TIMESTAMP", "CAST(tijdstip_registratie AS TIMESTAMP)"),
    ("eind_registratie", "TIMESTAMP", "CAST(eind_registratie AS TIMESTAMP)"),
    ("geconstateerd", "BOOLEAN", "geconstateerd = 'J'"),
    ("documentdatum", "DATE", "CAST(documentdatum AS DATE)"),
    ("documentnummer", "VARCHAR", "documentnummer"),
)


def _v(name: str) -> tuple[str, str, str]:
    return (name, "VARCHAR", name)


def _int(name: str) -> tuple[str, str, str]:
    return (name, "INTEGER", f"CAST({name} AS INTEGER)")


_GEOM = ("geometry", "GEOMETRY", "ST_GeomFromWKB(geometry)")
_XY = (("x", "DOUBLE", "x"), ("y", "DOUBLE", "y"))
_NEVEN = ("nevenadres_ids", "VARCHAR[]", "nevenadres_ids")

# Per type the columns after the id and voorkomen columns: (name, SQL type, select expression).
ATTRIBUTES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "WPL": (_v("naam"), _v("status"), _GEOM),
    "OPR": (_v("naam"), _v("type"), _v("status"), _v("woonplaats_id")),
    "NUM": (
        _int("huisnummer"),
        _v("huisletter"),
        _v("huisnummertoevoeging"),
        _v("postcode"),
        _v("type_adresseerbaar_object"),
        _v("status"),
        _v("openbare_ruimte_id"),
        _v("woonplaats_id"),
    ),
    "VBO": (
        _v("hoofdadres_id"),
        _int("oppervlakte"),
        _v("status"),
        *_XY,
        _GEOM,
        ("vlak", "GEOMETRY", "ST_GeomFromWKB(vlak)"),
        ("gebruiksdoelen", "VARCHAR[]", "gebruiksdoelen"),
        ("pand_ids", "VARCHAR[]", "pand_ids"),
        _NEVEN,
    ),
    "PND": (
        _int("oorspronkelijk_bouwjaar"),
        _v("status"),
        _GEOM,
        ("geometry_valid", "BOOLEAN", "geometry_valid"),
        _v("geometry_invalid_reason"),
    ),
    "LIG": (_v("hoofdadres_id"), _v("status"), *_XY, _GEOM, _NEVEN),
    "STA": (_v("hoofdadres_id"), _v("status"), *_XY, _GEOM, _NEVEN),
}
LIST_COLUMNS = ("gebruiksdoelen", "pand_ids", "nevenadres_ids")

IN_ONDERZOEK = (
    _v("object_type"),
    _v("object_id"),
    _v("kenmerk"),
    ("in_onderzoek", "BOOLEAN", "in_onderzoek = 'J'"),
    ("begin_geldigheid", "DATE", "CAST(begin_geldigheid AS DATE)"),
    ("eind_geldigheid", "DATE", "CAST(eind_geldigheid AS DATE)"),
    ("tijdstip_registratie", "TIMESTAMP", "CAST(tijdstip_registratie AS TIMESTAMP)"),
    ("eind_registratie", "TIMESTAMP", "CAST(eind_registratie AS TIMESTAMP)"),
    ("documentdatum", "DATE", "CAST(documentdatum AS DATE)"),
    _v("documentnummer"),
)

# DuckDB's buffer during the load: with the workers and the fork server the whole load stays
# below 1 GB (PSS) at every size; at 1,000,000 addresses 300 MB was as fast as 1 GB.
MEMORY_LIMIT = "300MB"
DUPLICATE_REASON = "duplicate current voorkomen"  # the start of such a reject's reason

DERIVED_TABLES = (
    "verblijfsobject_gebruiksdoel",
    "verblijfsobject_pand",
    "nevenadres",
    "adres",
    "in_onderzoek",
    "levering",
)


# ``bag.resolved_<table>``: the kept voorkomen of each object with more than one current voorkomen.
RESOLVED = "resolved_"


def history_columns(object_type: str) -> tuple[tuple[str, str, str], ...]:
    return (_v(ID_COLUMNS[object_type]), *VOORKOMEN, *ATTRIBUTES[object_type])


def all_tables() -> list[str]:
    """Every table this load (re)creates, qualified (the current ones may be views)."""
    names = [f"bag.{prefix}{TABLES[t]}" for prefix in ("", "history_", RESOLVED) for t in OBJECT_TYPES]
    return names + [f"bag.{t}" for t in DERIVED_TABLES]


@dataclass
class LoadStats:
    current: dict[str, int]  # object type -> current objects
    voorkomens: dict[str, int]  # object type -> all voorkomens (history rows)
    rejects: list[Reject]
    xml_bytes: int
    stand_technische_datum: dt.date | None
    as_of: dt.date
    in_onderzoek: int = 0
    skipped: list[str] = field(default_factory=list)
    read_seconds: float = 0.0  # unzip, parse and append every voorkomen
    select_seconds: float = 0.0  # current selection, link tables, adres


# Columns whose values are (nearly) all different: an object's own identificatie (the first column
# of its tables), hoofdadres and geometry. Declared FSST, which DuckDB picks for them anyway, so
# that it does not first try a dictionary of every value (a fifth of the compression time).
DISTINCT_COLUMNS = ("hoofdadres_id", "geometry")


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[tuple[str, str, str], ...]) -> None:
    con.execute(f"DROP TABLE IF EXISTS {table}")
    own_id = columns[0][0] if columns[0][0] in ID_COLUMNS.values() else None
    defs = [
        f"{c} {t}" + (" USING COMPRESSION fsst" if c == own_id or c in DISTINCT_COLUMNS else "")
        for c, t, _ in columns
    ]
    con.execute(f"CREATE TABLE {table} ({', '.join(defs)})")


def _checks(columns: tuple[tuple[str, str, str], ...]) -> list[tuple[str, str]]:
    """(SQL condition true for a value that does not cast, reason) per cast column."""
    rules = {
        "DATE": "not a date YYYY-MM-DD",
        "TIMESTAMP": "not a timestamp YYYY-MM-DDThh:mm:ss",
        "INTEGER": "not a whole number",
    }
    return [
        (f"{name} IS NOT NULL AND TRY_CAST({name} AS {sql_type}) IS NULL", f"{name}: {rules[sql_type]}")
        for name, sql_type, expr in columns
        if expr.startswith("CAST(")
    ]


def insert_cast(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[tuple[str, str, str], ...],
    data: pa.Table,
    ref: str,
    source: str,
) -> list[Reject]:
    """Append ``data`` to ``table``, casting in SQL; a voorkomen with a value that does not cast is
    returned as a reject instead. One pass: every cast column is a ``TRY_CAST``, and a voorkomen
    with a value that did not cast is left out of the insert (so one bad value never aborts the
    load's transaction); only when the insert took fewer rows than ``data`` holds are the left-out
    ones read again for their reasons. ``ref`` formats a reject's record reference from the first
    two columns."""
    casts = [(name, sql_type) for name, sql_type, expr in columns if expr.startswith("CAST(")]
    tried = "".join(f", TRY_CAST({name} AS {sql_type}) AS _cast_{name}" for name, sql_type in casts)
    failed = " OR ".join(f"({name} IS NOT NULL AND _cast_{name} IS NULL)" for name, _ in casts) or "false"
    select = ", ".join(f"_cast_{name}" if expr.startswith("CAST(") else expr for name, _, expr in columns)
    # Read through a replacement scan of this local variable, not con.register: a registered
    # view dropped inside the load's transaction stays in the catalog's undo buffer, and with it
    # every Arrow table it held, until the commit (GBs for a national extract).
    bag_part = data  # noqa: F841 - read by name in the SQL below
    inserted = con.execute(
        f"INSERT INTO {table} SELECT {select} FROM (SELECT *{tried} FROM bag_part) WHERE NOT ({failed})"
    ).fetchone()[0]
    if inserted == data.num_rows:
        return []
    checks = _checks(columns)
    bad = " OR ".join(f"({condition})" for condition, _ in checks)
    reason = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r in checks) + " END"
    first, second = columns[0][0], columns[1][0]
    rows = con.execute(f"SELECT {first}, {second}, {reason} FROM bag_part WHERE {bad}").fetchall()
    return [Reject(source, ref.format(a, b), why) for a, b, why in rows]


def _current_condition(as_of: dt.date) -> str:
    day = as_of.isoformat()
    return (
        f"begin_geldigheid <= DATE '{day}' AND (eind_geldigheid IS NULL OR eind_geldigheid > DATE '{day}') "
        f"AND tijdstip_registratie < DATE '{day}' + INTERVAL 1 DAY "
        f"AND (eind_registratie IS NULL OR eind_registratie >= DATE '{day}' + INTERVAL 1 DAY)"
    )


def _latest(ident: str) -> str:
    """The order of an object's current voorkomens: latest registered first. ``rowid`` breaks
    exact ties, so every query with this window picks the same voorkomen."""
    return (
        f"WINDOW latest AS (PARTITION BY {ident} "
        "ORDER BY tijdstip_registratie DESC, voorkomen_id DESC, rowid)"
    )


def _list_columns(object_type: str) -> list[str]:
    return [c for c in LIST_COLUMNS if c in {n for n, _, _ in ATTRIBUTES[object_type]}]


def _current(object_type: str, select: str, condition: str) -> str:
    """A query of ``select`` over the current voorkomen of every object: the history filtered on
    ``condition``, except the objects in ``bag.resolved_<table>`` (more than one current voorkomen,
    a handful at most), whose kept voorkomen comes from there."""
    table = TABLES[object_type]
    ident = ID_COLUMNS[object_type]
    return (
        f"SELECT {select} FROM bag.history_{table} ANTI JOIN bag.{RESOLVED}{table} USING ({ident}) "
        f"WHERE {condition} UNION ALL SELECT {select} FROM bag.{RESOLVED}{table}"
    )


def _drop_relation(con: duckdb.DuckDBPyConnection, qualified: str) -> None:
    """Drop the table or view ``schema.name`` if there is one (the current tables were tables
    before they were views)."""
    schema, name = qualified.split(".")
    found = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    if found:
        con.execute(f"DROP {'VIEW' if found[0] == 'VIEW' else 'TABLE'} {qualified}")


def _select_current(
    con: duckdb.DuckDBPyConnection, object_type: str, as_of: dt.date, source: str
) -> list[Reject]:
    """Define the view ``bag.<table>`` over the history. A hash aggregate first finds the
    objects with more than one current voorkomen (``_several``); only their voorkomens are ordered
    by a window, the kept one goes into ``bag.resolved_<table>`` and the others are the duplicate
    rejects."""
    table = TABLES[object_type]
    ident = ID_COLUMNS[object_type]
    condition = _current_condition(as_of)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _several AS SELECT {ident} FROM bag.history_{table} "
        f"WHERE {condition} GROUP BY ALL HAVING count(*) > 1"
    )
    _create(con, f"bag.{RESOLVED}{table}", history_columns(object_type))
    dupes = []
    if con.execute("SELECT count(*) FROM _several").fetchone()[0]:
        several = (
            f"FROM bag.history_{table} SEMI JOIN _several USING ({ident}) WHERE {condition} {_latest(ident)}"
        )
        con.execute(
            f"INSERT INTO bag.{RESOLVED}{table} SELECT * {several} QUALIFY row_number() OVER latest = 1"
        )
        dupes = con.execute(
            f"SELECT {ident}, voorkomen_id, first(voorkomen_id) OVER latest AS kept {several} "
            "QUALIFY row_number() OVER latest > 1 ORDER BY 1, 2"
        ).fetchall()
    con.execute("DROP TABLE _several")
    lists = _list_columns(object_type)
    _drop_relation(con, f"bag.{table}")
    select = f"* EXCLUDE ({', '.join(lists)})" if lists else "*"
    con.execute(f"CREATE VIEW bag.{table} AS {_current(object_type, select, condition)}")
    return [
        Reject(
            source,
            f"{object_type} {oid} voorkomen {vid}",
            f"{DUPLICATE_REASON}: voorkomen {kept} of the same object is also valid on {as_of}; kept {kept}",
        )
        for oid, vid, kept in dupes
    ]


def _derive(con: duckdb.DuckDBPyConnection, condition: str) -> None:
    """The link tables and ``bag.adres``, unordered (readers sort; a release stores the tables
    it searches sorted on their search columns, ``privacy.lookup.RELEASE_ORDER``). The link
    tables unnest the list columns of the current voorkomens (``condition``), taken with the same
    query as the views, so they describe the same voorkomen."""

    def links(object_type: str, column: str) -> str:
        return f"({_current(object_type, f'{ID_COLUMNS[object_type]}, {column}', condition)})"

    con.execute("DROP TABLE IF EXISTS bag.verblijfsobject_gebruiksdoel")
    con.execute(
        "CREATE TABLE bag.verblijfsobject_gebruiksdoel AS SELECT verblijfsobject_id, "
        f"unnest(gebruiksdoelen) AS gebruiksdoel FROM {links('VBO', 'gebruiksdoelen')}"
    )
    con.execute("DROP TABLE IF EXISTS bag.verblijfsobject_pand")
    con.execute(
        "CREATE TABLE bag.verblijfsobject_pand AS SELECT verblijfsobject_id, unnest(pand_ids) AS pand_id "
        f"FROM {links('VBO', 'pand_ids')}"
    )
    con.execute("DROP TABLE IF EXISTS bag.nevenadres")
    con.execute(
        f"""CREATE TABLE bag.nevenadres AS
        SELECT 'VBO' AS object_type, verblijfsobject_id AS object_id,
               unnest(nevenadres_ids) AS nummeraanduiding_id
        FROM {links("VBO", "nevenadres_ids")}
        UNION ALL SELECT 'LIG', ligplaats_id, unnest(nevenadres_ids)
        FROM {links("LIG", "nevenadres_ids")}
        UNION ALL SELECT 'STA', standplaats_id, unnest(nevenadres_ids)
        FROM {links("STA", "nevenadres_ids")}"""
    )
    # koppeling: every (nummeraanduiding, current object) pair with the object's columns; a
    # nummeraanduiding's hoofdadres object is preferred, then object type and id.
    con.execute("DROP TABLE IF EXISTS bag.adres")
    con.execute(
        """CREATE TABLE bag.adres AS
        WITH objecten AS (
            SELECT 'VBO' AS object_type, verblijfsobject_id AS oid, hoofdadres_id, status, x, y
            FROM bag.verblijfsobject
            UNION ALL SELECT 'LIG', ligplaats_id, hoofdadres_id, status, x, y FROM bag.ligplaats
            UNION ALL SELECT 'STA', standplaats_id, hoofdadres_id, status, x, y FROM bag.standplaats
        ), koppeling AS (
            SELECT hoofdadres_id AS nid, object_type, oid, true AS hoofd, status, x, y
            FROM objecten WHERE hoofdadres_id IS NOT NULL
            UNION ALL SELECT n.nummeraanduiding_id, n.object_type, n.object_id, false, o.status, o.x, o.y
            FROM bag.nevenadres n JOIN objecten o ON o.object_type = n.object_type AND o.oid = n.object_id
        ), gekozen AS (
            SELECT * FROM koppeling
            QUALIFY row_number() OVER (PARTITION BY nid ORDER BY hoofd DESC, object_type, oid) = 1
        )
        SELECT n.nummeraanduiding_id, n.openbare_ruimte_id, r.naam AS openbare_ruimte_naam,
               n.huisnummer, n.huisletter, n.huisnummertoevoeging, n.postcode,
               coalesce(n.woonplaats_id, r.woonplaats_id) AS woonplaats_id, w.naam AS woonplaats_naam,
               g.oid AS adresseerbaar_object_id, g.object_type, g.hoofd AS is_hoofdadres,
               n.status, g.status AS object_status, g.x, g.y
        FROM bag.nummeraanduiding n
        LEFT JOIN bag.openbare_ruimte r ON r.openbare_ruimte_id = n.openbare_ruimte_id
        LEFT JOIN bag.woonplaats w ON w.woonplaats_id = coalesce(n.woonplaats_id, r.woonplaats_id)
        LEFT JOIN gekozen g ON g.nid = n.nummeraanduiding_id"""
    )


def select_current(con: duckdb.DuckDBPyConnection, as_of: dt.date, source: str) -> list[Reject]:
    """(Re)define the current tables and create the derived tables from the history tables on
    ``as_of``; returns the duplicate current voorkomens as rejects. Their rows are written in
    no particular order (both DuckDB threads write): readers sort, as for every table."""
    with _setting(con, "preserve_insertion_order", "false"):
        rejects = [r for t in OBJECT_TYPES for r in _select_current(con, t, as_of, source)]
        _derive(con, _current_condition(as_of))
    return rejects


def load_into(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    *,
    as_of: dt.date | None = None,
    processes: int | None = None,
    gemeenten: list[str] | None = None,
) -> LoadStats:
    """Read the delivery at ``source`` and (re)create every ``bag`` table on ``con``.

    ``gemeenten`` (gemeentecodes) keeps only their objects, by the delivery's woonplaats–gemeente
    relation (:mod:`sources.bag.gemeenten`): a municipality's own area from the national extract.

    Raises :class:`SourceError` for an unreadable delivery; the caller's transaction then rolls
    back. Invalid records are returned as rejects (the caller writes ``rejects.bag``).
    DuckDB's memory is capped at :data:`MEMORY_LIMIT` during the load (it spills to disk beyond
    that), so the writer's memory does not grow with the extract.
    """
    with _setting(con, "memory_limit", MEMORY_LIMIT):
        return _load(con, Path(source), as_of, processes, gemeenten)


@contextlib.contextmanager
def _setting(con: duckdb.DuckDBPyConnection, name: str, value: str) -> Iterator[None]:
    """DuckDB's setting ``name`` at ``value`` for the block, then back to what it was."""
    previous = con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
    con.execute(f"SET {name} = '{value}'")
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction must not mask the cause
            con.execute(f"SET {name} = '{previous}'")
        raise
    con.execute(f"SET {name} = '{previous}'")


def _load(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    as_of: dt.date | None,
    processes: int | None,
    selection: list[str] | None,
) -> LoadStats:
    con.execute("CREATE SCHEMA IF NOT EXISTS bag")
    for t in OBJECT_TYPES:
        _create(con, f"bag.history_{TABLES[t]}", history_columns(t))
    _create(con, "bag.in_onderzoek", IN_ONDERZOEK)
    rejects: list[Reject] = []
    xml_bytes = 0
    stand: str | None = None
    gemeenten: list[str] = []
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:  # the pool stops when a result cannot be loaded
        # One DuckDB thread while the workers parse: the appends are small (one deelbestand's
        # voorkomens), a second thread only adds hand-over costs and takes a core from a worker.
        stack.enter_context(_setting(con, "threads", "1"))
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="bag-"))
        delivery = find_parts(source, Path(scratch))
        stand = delivery.stand_technische_datum
        gemeenten = list(delivery.gemeenten)
        results = stack.enter_context(
            contextlib.closing(read_delivery(delivery.parts, processes, Path(scratch)))
        )
        for result in results:
            xml_bytes += result.bytes
            rejects.extend(result.rejects)
            header = result.header
            if header is not None:
                stand = stand or header.stand_technische_datum
                gemeenten.extend(g for g in header.gemeenten if g not in gemeenten)
            for table in result.tables:
                if result.kind == "IO":
                    ref = "InOnderzoek {} {}"
                    target, columns = "bag.in_onderzoek", IN_ONDERZOEK
                else:
                    kind = result.kind or ""
                    ref = kind + " {} voorkomen {}"
                    target, columns = f"bag.history_{TABLES[kind]}", history_columns(kind)
                rejects.extend(insert_cast(con, target, columns, table, ref, result.name))
    read_seconds = time.perf_counter() - started
    stand_date = dt.date.fromisoformat(stand) if stand else None
    effective = as_of or stand_date
    if effective is None:
        raise SourceError(str(source), "no StandTechnischeDatum in the delivery; pass as_of")
    con.execute("DROP TABLE IF EXISTS bag.selectie")
    if selection:
        keep_gemeenten(con, woonplaatsen(read_relatie(source), selection, effective), selection)
        gemeenten = list(selection)
    rejects.extend(select_current(con, effective, source.name))
    con.execute("DROP TABLE IF EXISTS bag.levering")
    con.execute(
        "CREATE TABLE bag.levering AS SELECT ?::DATE AS stand_technische_datum, ?::DATE AS as_of, "
        "?::VARCHAR AS gemeenten, ?::VARCHAR AS source_file, now()::TIMESTAMP AS loaded_at",
        [stand_date, effective, ",".join(gemeenten), source.name],
    )
    count = {t: con.execute(f"SELECT count(*) FROM bag.{TABLES[t]}").fetchone()[0] for t in OBJECT_TYPES}
    history = {
        t: con.execute(f"SELECT count(*) FROM bag.history_{TABLES[t]}").fetchone()[0] for t in OBJECT_TYPES
    }
    return LoadStats(
        current=count,
        voorkomens=history,
        rejects=rejects,
        xml_bytes=xml_bytes,
        stand_technische_datum=stand_date,
        as_of=effective,
        in_onderzoek=con.execute("SELECT count(*) FROM bag.in_onderzoek").fetchone()[0],
        skipped=delivery.skipped,
        read_seconds=read_seconds,
        select_seconds=time.perf_counter() - started - read_seconds,
    )
