"""What every ingest asset shares: rejects tables and table metadata for Dagster."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from dagster import TableColumn, TableSchema

from sources.errors import Reject

REJECTS_DDL = """CREATE TABLE IF NOT EXISTS rejects.{source} (
    source_file VARCHAR, record_ref VARCHAR, reason VARCHAR, loaded_at TIMESTAMP)"""


def replace_rejects(con: duckdb.DuckDBPyConnection, source: str, rejects: Iterable[Reject]) -> int:
    """Replace ``rejects.<source>`` with this load's rejects (inside the caller's transaction)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS rejects")
    con.execute(f"DROP TABLE IF EXISTS rejects.{source}")
    con.execute(REJECTS_DDL.format(source=source))
    rows = [(r.source_file, r.record_ref, r.reason) for r in rejects]
    if rows:
        batch = pa.table(  # noqa: F841 - read by name in the SQL below
            {
                "source_file": [r[0] for r in rows],
                "record_ref": [r[1] for r in rows],
                "reason": [r[2] for r in rows],
            }
        )
        # a replacement scan of the local variable: a view registered inside the caller's
        # transaction would keep the batch alive until its commit (see sources.bag.load.insert_cast)
        con.execute(
            f"INSERT INTO rejects.{source} "
            "SELECT source_file, record_ref, reason, now()::TIMESTAMP FROM batch"
        )
    return len(rows)


def table_schema(con: duckdb.DuckDBPyConnection, qualified: str) -> TableSchema:
    schema, name = qualified.split(".")
    cols = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, name],
    ).fetchall()
    return TableSchema(columns=[TableColumn(name=c, type=t) for c, t in cols])


def table_metadata(con: duckdb.DuckDBPyConnection, qualified: str) -> dict:
    """``dagster/row_count`` and ``dagster/column_schema`` for a table."""
    rows = con.execute(f"SELECT count(*) FROM {qualified}").fetchone()[0]
    return {"dagster/row_count": rows, "dagster/column_schema": table_schema(con, qualified)}


@dataclass
class IngestReport:
    """What one load did; printed by ``knooppunt ingest --json`` and put in Dagster metadata."""

    objects: dict[str, int]  # table or object type -> rows loaded
    rejects: int
    seconds: float
    bytes: int
    extra: dict[str, float | int | str] = field(default_factory=dict)  # e.g. address match rate

    def as_json(self) -> dict:
        return {
            "objects": self.objects,
            "rejects": self.rejects,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
            **self.extra,
        }


def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, rows: pa.Table) -> None:
    """Replace ``schema.table`` with ``rows`` (types from the Arrow schema), in the caller's transaction."""
    schema, _, _ = qualified.partition(".")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(f"DROP TABLE IF EXISTS {qualified}")
    con.execute(f"CREATE TABLE {qualified} AS SELECT * FROM rows")  # a replacement scan, as above
