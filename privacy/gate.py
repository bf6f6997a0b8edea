"""The join gate: the only way for code outside ``privacy/`` and ``assets/ingest/`` into the data.

An asset that combines sources or reads personal data is written with :func:`gated_asset`. It
declares its purpose (a key of ``privacy/register.yaml``) and, per source table, the columns it
needs. At run time the gate

1. loads and validates the register and refuses (``dagster.Failure``, logged) when the purpose is
   missing, not yet approved, expired, or a declared table or column is not allowed for it;
2. copies *only* the declared columns of the declared tables into a private in-memory DuckDB
   (same qualified names, e.g. ``bag.verblijfsobject``) and then disables file access and locks
   the configuration, so the asset cannot ATTACH the warehouse, read files or load extensions;
3. calls the asset function with a :class:`GatedConnection` on that database; the function returns
   the SELECT that is its result;
4. for aggregated-only purposes, groups the result itself (``group_by``) and keeps only cells with
   at least ``min_cell_size`` rows, so row-level data can never leave;
5. writes the result into the warehouse table named by the asset key, in one transaction;
6. appends a processing-log entry and returns ``dagster/row_count``, ``dagster/column_schema``,
   ``dagster/column_lineage``, the purpose and its legal basis as metadata.

:func:`aggregated_reader` gives notebooks the same guarantees for aggregated-only purposes over the
published release.
"""

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableSchema,
    asset,
)

from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse, connect, current_release, load_spatial
from privacy.lineage import parse_lineage
from privacy.log import LogEntry, ProcessingLog
from privacy.register import Purpose, Register, RegisterError, load_register

IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
SOURCE_ALIAS = "gate_source"


class GateRefused(Exception):
    """The register does not allow this processing; the message says why."""


@dataclass(frozen=True)
class GateDeclaration:
    """What a gated asset declared: the same data becomes dagster/column_lineage and the log."""

    key: tuple[str, ...]
    purpose: str
    reads: dict[str, tuple[str, ...]]
    group_by: tuple[str, ...] | None = None
    count_column: str = "n"
    optional: tuple[str, ...] = ()  # reads that may not exist yet (an asset's own previous output)

    @property
    def table(self) -> str:
        return ".".join(self.key)

    def lineage(self, output_columns: Sequence[str]) -> dict[str, list[str]]:
        """Coarse lineage, when :func:`privacy.lineage.parse_lineage` cannot analyse the query.

        A column that passes a read column through under the same name depends on that column;
        any other (computed) column depends on every declared read column: coarse but never
        missing a source.
        """
        everything = [f"{t}.{c}" for t, cols in self.reads.items() for c in cols]
        result = {}
        for out in output_columns:
            same = [f"{t}.{out}" for t, cols in self.reads.items() if out in cols]
            if self.group_by is not None and out == self.count_column:
                same = []
            result[out] = same or everything
        return result


DECLARATIONS: dict[tuple[str, ...], GateDeclaration] = {}


class GatedConnection:
    """A connection that sees only the permitted columns of the permitted tables.

    ``execute`` runs preparatory statements (e.g. ``CREATE TEMP TABLE``). ``fetchall`` returns rows
    to the asset's Python code, except under an aggregated-only purpose, where only the gate's
    grouped result may leave the sandbox.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, purpose: Purpose, tables: Mapping[str, Sequence[str]]):
        self._con = con
        self.purpose = purpose.key
        self._aggregated = purpose.aggregated_only
        self._tables = {t: list(c) for t, c in tables.items()}

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._con.execute(sql, params)

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        if self._aggregated:
            raise GateRefused(
                f"purpose {self.purpose!r} is aggregated-only: rows cannot be fetched, only the gate's "
                "grouped result leaves the gate"
            )
        return self._con.execute(sql, params).fetchall()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The sandbox itself (only the permitted columns, no file access), for row-level purposes."""
        if self._aggregated:
            raise GateRefused(f"purpose {self.purpose!r} is aggregated-only: no row-level connection")
        return self._con

    def tables(self) -> dict[str, list[str]]:
        """The tables and columns this connection can see."""
        return {t: list(c) for t, c in self._tables.items()}

    def close(self) -> None:
        self._con.close()


def open_sandbox(
    database: Path, reads: Mapping[str, Sequence[str]], purpose: Purpose, optional: Sequence[str] = ()
) -> GatedConnection:
    """An in-memory DuckDB holding only ``reads`` copied from ``database``, then locked down.

    A table named in ``optional`` that ``database`` does not hold (yet) is left out; the asset
    then creates it empty in the sandbox (e.g. a history table on the first run).

    The copy ATTACHes ``database`` read-only. DuckDB refuses to ATTACH a file that this process
    already has open (a test, or a reader holding the release); then the columns are streamed
    through Arrow from a connection to the already-open database instead.
    """
    con = duckdb.connect(
        ":memory:", config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        load_spatial(con)
        for schema in sorted({t.split(".")[0] for t in reads}):
            con.execute(f'CREATE SCHEMA "{schema}"')
        try:
            con.execute(f"ATTACH '{database}' AS {SOURCE_ALIAS} (READ_ONLY)")
            attached = True
        except duckdb.BinderException as exc:
            if "Unique file handle conflict" not in str(exc):
                raise
            attached = False
        if attached:
            try:
                for table, columns in reads.items():
                    schema, name = table.split(".")
                    if table in optional and not _has_table(con, SOURCE_ALIAS, schema, name):
                        continue
                    con.execute(
                        f'CREATE TABLE "{schema}"."{name}" AS SELECT {_column_list(columns)} '
                        f'FROM {SOURCE_ALIAS}."{schema}"."{name}"'
                    )
            finally:
                con.execute(f"DETACH {SOURCE_ALIAS}")
        else:
            _copy_through_arrow(con, database, reads, optional)
        con.execute("SET python_enable_replacements = false")
        con.execute("SET allow_community_extensions = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return GatedConnection(con, purpose, reads)


@contextlib.contextmanager
def gated_read(
    warehouse: Warehouse, purpose_key: str, tables: Sequence[str], *, run_id: str | None, output: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A row-level sandbox with the columns the register lists for ``purpose_key`` on ``tables``.

    For processing that reads staging tables under a purpose without writing a table (the
    data-quality checks): refused like a gated asset when the purpose is not valid, and logged
    with the tables and columns read.
    """
    register = load_register()
    purpose = register.get(purpose_key)
    reads = {t: list(purpose.sources.get(t, ())) if purpose else [] for t in tables}
    purpose = check_purpose(register, purpose_key, reads, dt.date.today())
    gated = open_sandbox(warehouse.path, reads, purpose)
    try:
        yield gated.connection()
    finally:
        gated.close()
        ProcessingLog(warehouse).append(
            LogEntry.under(
                register, purpose, "gated_join", "pipeline", run_id=run_id, inputs=reads, output=output
            )
        )


def _copy_through_arrow(
    con: duckdb.DuckDBPyConnection,
    database: Path,
    reads: Mapping[str, Sequence[str]],
    optional: Sequence[str] = (),
) -> None:
    try:
        source = connect(database)
    except duckdb.ConnectionException:
        source = connect(database, read_only=True)
    try:
        for table, columns in reads.items():
            schema, name = table.split(".")
            if table in optional and not _has_table(source, None, schema, name):
                continue
            query = f'SELECT {_column_list(columns)} FROM "{schema}"."{name}"'
            con.register("_gate_batch", source.execute(query).to_arrow_reader())
            con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT * FROM _gate_batch')
            con.unregister("_gate_batch")
    finally:
        source.close()


def _has_table(con: duckdb.DuckDBPyConnection, catalog: str | None, schema: str, name: str) -> bool:
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    params: list[str] = [schema, name]
    if catalog:
        sql += " AND table_catalog = ?"
        params.append(catalog)
    return bool(con.execute(sql, params).fetchone()[0])


def _column_list(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def check_purpose(
    register: Register, purpose_key: str, reads: Mapping[str, Sequence[str]], on: dt.date
) -> Purpose:
    """The purpose, if it may read ``reads`` on ``on``; otherwise :class:`GateRefused` saying why."""
    purpose = register.get(purpose_key)
    if purpose is None:
        raise GateRefused(f"purpose {purpose_key!r} is not in the processing register {register.path}")
    if reason := purpose.refusal(on):
        raise GateRefused(reason)
    problems = purpose.column_refusals({t: list(c) for t, c in reads.items()})
    if problems:
        raise GateRefused("; ".join(problems))
    return purpose


def _validate_reads(reads: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    if not reads:
        raise TypeError("a gated asset must declare the tables and columns it reads")
    out = {}
    for table, columns in reads.items():
        parts = table.split(".")
        if len(parts) != 2 or not all(IDENT.match(p) for p in parts):
            raise TypeError(f"read {table!r} must be a qualified table name like 'bag.pand'")
        if not columns or not all(isinstance(c, str) and IDENT.match(c) for c in columns):
            raise TypeError(f"read {table!r} must list its column names")
        out[table] = tuple(columns)
    return out


def _aggregate(
    con: duckdb.DuckDBPyConnection, sql: str, group_by: Sequence[str], count_column: str, min_cell: int
) -> tuple[str, int]:
    """The grouped SELECT keeping cells of at least ``min_cell`` rows, and how many cells it drops."""
    cols = ", ".join(f'"{c}"' for c in group_by)
    grouped = f'SELECT {cols}, count(*) AS "{count_column}" FROM ({sql}) AS row_level GROUP BY {cols}'
    suppressed = con.execute(f"SELECT count(*) FROM ({grouped} HAVING count(*) < {min_cell})").fetchone()[0]
    return f"{grouped} HAVING count(*) >= {min_cell}", suppressed


def gated_asset(
    *,
    key: Sequence[str],
    purpose: str,
    reads: Mapping[str, Sequence[str]],
    group_name: str | None = None,
    description: str | None = None,
    deps: Sequence[AssetKey | str | Sequence[str]] | None = None,
    group_by: Sequence[str] | None = None,
    count_column: str = "n",
    register_path: str | Path | None = None,
    optional: Sequence[str] = (),
) -> Callable[[Callable[[AssetExecutionContext, GatedConnection], str]], AssetsDefinition]:
    """A Dagster asset whose only way into the data is the gate (see the module docstring).

    For an aggregated-only purpose, declare ``group_by``: the function returns a row-level SELECT,
    and the gate stores ``group_by`` columns plus ``count(*) AS <count_column>`` for cells of at
    least the purpose's ``min_cell_size``. ``optional`` names reads that may be absent (the
    asset's own output before its first run); they are not Dagster dependencies.
    """
    declaration = GateDeclaration(
        key=tuple(key),
        purpose=purpose,
        reads=_validate_reads(reads),
        group_by=tuple(group_by) if group_by is not None else None,
        count_column=count_column,
        optional=tuple(optional),
    )
    if not set(declaration.optional) <= set(declaration.reads):
        raise TypeError("optional reads must be declared in reads")
    if len(declaration.key) != 2 or not all(IDENT.match(k) for k in declaration.key):
        raise TypeError(f"gated asset key {list(key)} must be [schema, table] in snake_case")
    if group_by is not None and not all(IDENT.match(c) for c in group_by):
        raise TypeError("group_by must list column names")
    extra_deps = [d if isinstance(d, AssetKey) else AssetKey(d) for d in deps or []]
    read_deps = [AssetKey(t.split(".")) for t in declaration.reads if t not in declaration.optional]

    def decorator(fn: Callable[[AssetExecutionContext, GatedConnection], str]) -> AssetsDefinition:
        DECLARATIONS[declaration.key] = declaration

        @asset(
            key=AssetKey(list(declaration.key)),
            deps=read_deps + extra_deps,
            group_name=group_name,
            description=description or fn.__doc__,
            metadata=_definition_metadata(declaration, register_path),
            kinds={"duckdb"},
        )
        def _gated(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
            return run_gated(context, warehouse.warehouse, declaration, fn, register_path)

        return _gated

    return decorator


def _definition_metadata(declaration: GateDeclaration, register_path: str | Path | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "purpose": declaration.purpose,
        "reads": MetadataValue.json({t: list(c) for t, c in declaration.reads.items()}),
    }
    try:
        p = load_register(register_path).get(declaration.purpose)
    except RegisterError as exc:
        meta["grondslag"] = f"register invalid: {exc}"
        return meta
    if p is None:
        meta["grondslag"] = "purpose not in the register: the asset will be refused"
    else:
        meta["verwerkingsactiviteit"] = p.naam
        meta["grondslag"] = f"{p.grondslag}: {p.toelichting_grondslag}"
    return meta


def run_gated(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    declaration: GateDeclaration,
    fn: Callable[[AssetExecutionContext, GatedConnection], str],
    register_path: str | Path | None = None,
) -> MaterializeResult:
    log = ProcessingLog(warehouse)
    try:
        register = load_register(register_path)
    except RegisterError as exc:
        raise Failure(description=f"gate refused {declaration.table}: {exc}", allow_retries=False) from exc
    try:
        purpose = check_purpose(register, declaration.purpose, declaration.reads, dt.date.today())
        if purpose.aggregated_only and declaration.group_by is None:
            raise GateRefused(
                f"purpose {purpose.key!r} is aggregated-only: declare group_by so that the gate "
                "aggregates the result"
            )
    except GateRefused as exc:
        log.append(
            LogEntry.under(
                register,
                register.get(declaration.purpose),
                "refusal",
                "pipeline",
                run_id=context.run.run_id,
                inputs={t: list(c) for t, c in declaration.reads.items()},
                output=declaration.table,
                outcome="geweigerd",
                reason=str(exc),
            )
        )
        raise Failure(description=f"gate refused {declaration.table}: {exc}", allow_retries=False) from exc

    gated = open_sandbox(warehouse.path, declaration.reads, purpose, declaration.optional)
    try:
        sql = fn(context, gated)
        if not isinstance(sql, str) or not sql.strip():
            raise Failure(description=f"{declaration.table}: the gated function must return a SELECT")
        sql = sql.strip().rstrip(";")
        suppressed = 0
        if purpose.aggregated_only:
            assert declaration.group_by is not None and purpose.min_cell_size is not None
            sql, suppressed = _aggregate(
                gated._con, sql, declaration.group_by, declaration.count_column, purpose.min_cell_size
            )
        input_rows = {
            t: gated._con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in declaration.reads
            if _has_table(gated._con, None, *t.split("."))
        }
        parsed = parse_lineage(gated._con, sql, declaration.reads)
        result = gated._con.execute(sql).to_arrow_reader()
        schema, name = declaration.key
        with warehouse.transaction() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.register("_gate_result", result)
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM _gate_result')
            con.unregister("_gate_result")
            rows = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema, name],
            ).fetchall()
    finally:
        gated.close()

    names = [c for c, _ in columns]
    if parsed is not None and len(parsed) == len(names):
        lineage, method = dict(zip(names, parsed, strict=True)), "parsed"
    else:
        lineage, method = declaration.lineage(names), "coarse"
    details: dict[str, Any] = {"lineage": lineage, "lineage_method": method}
    if purpose.aggregated_only:
        details.update(min_cell_size=purpose.min_cell_size, suppressed_cells=suppressed)
    entry = log.append(
        LogEntry.under(
            register,
            purpose,
            "gated_join",
            "pipeline",
            run_id=context.run.run_id,
            inputs={t: list(c) for t, c in declaration.reads.items()},
            output=declaration.table,
            row_counts={**input_rows, declaration.table: rows},
            details=details,
        )
    )
    metadata: dict[str, Any] = {
        "dagster/row_count": rows,
        "dagster/column_schema": TableSchema(columns=[TableColumn(name=c, type=t) for c, t in columns]),
        "dagster/column_lineage": dagster_lineage(lineage),
        "purpose": purpose.key,
        "verwerkingsactiviteit": purpose.naam,
        "grondslag": f"{purpose.grondslag}: {purpose.toelichting_grondslag}",
        "log_actie_id": entry.actie_id,
    }
    if purpose.aggregated_only:
        metadata["suppressed_cells"] = suppressed
        metadata["min_cell_size"] = purpose.min_cell_size
    return MaterializeResult(metadata=metadata)


def dagster_lineage(lineage: Mapping[str, Sequence[str]]) -> TableColumnLineage:
    """Dagster column lineage from ``{output column: ["schema.table.column", ...]}``."""
    deps = {}
    for out, sources in lineage.items():
        deps[out] = [
            TableColumnDep(asset_key=AssetKey(s.split(".")[:2]), column_name=s.split(".")[2]) for s in sources
        ]
    return TableColumnLineage(deps_by_column=deps)


@dataclass
class AggregatedReader:
    """Aggregated-only access for notebooks: counts per group, cells below the minimum suppressed.

    Obtain one with :func:`aggregated_reader`; every :meth:`counts` call is logged.
    """

    _gated: GatedConnection
    _purpose: Purpose
    _register: Register
    _log: ProcessingLog
    user: str
    role: str
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Preparatory statements (temporary tables, views) inside the sandbox."""
        self._gated.execute(sql, params)

    def counts(self, sql: str, group_by: Sequence[str], count_column: str = "n") -> pa.Table:
        """``group_by`` plus ``count(*)`` over the row-level ``sql``, cells below the minimum removed."""
        sql = sql.strip().rstrip(";")
        min_cell = self._purpose.min_cell_size
        assert min_cell is not None
        grouped, suppressed = _aggregate(self._gated._con, sql, group_by, count_column, min_cell)
        table = self._gated._con.execute(grouped).to_arrow_table()
        self._log.append(
            LogEntry.under(
                self._register,
                self._purpose,
                "aggregated_read",
                self.user,
                role=self.role,
                inputs={t: list(c) for t, c in self.reads.items()},
                row_counts={"cells": table.num_rows},
                details={
                    "group_by": list(group_by),
                    "min_cell_size": min_cell,
                    "suppressed_cells": suppressed,
                },
            )
        )
        return table

    def close(self) -> None:
        self._gated.close()


def aggregated_reader(
    warehouse: Warehouse | str | Path,
    purpose: str,
    reads: Mapping[str, Sequence[str]],
    *,
    user: str,
    role: str = "analyst",
    register_path: str | Path | None = None,
) -> AggregatedReader:
    """Aggregated-only access to the published release for ``purpose`` (e.g. ``brancheanalyse``).

    Refused (and logged) unless the purpose is aggregated-only, valid today, allows ``reads`` and
    lists ``role``.
    """
    warehouse = warehouse if isinstance(warehouse, Warehouse) else Warehouse(warehouse)
    log = ProcessingLog(warehouse)
    register = load_register(register_path)
    declared = _validate_reads(reads)
    try:
        p = check_purpose(register, purpose, declared, dt.date.today())
        if not p.aggregated_only:
            raise GateRefused(f"purpose {purpose!r} is not aggregated-only; notebooks may only count")
        if role not in p.roles:
            raise GateRefused(f"role {role!r} may not use purpose {purpose!r}")
    except GateRefused as exc:
        log.append(
            LogEntry.under(
                register,
                register.get(purpose),
                "refusal",
                user,
                role=role,
                inputs={t: list(c) for t, c in declared.items()},
                outcome="geweigerd",
                reason=str(exc),
            )
        )
        raise
    gated = open_sandbox(current_release(warehouse), declared, p)
    return AggregatedReader(gated, p, register, log, user, role, declared)
