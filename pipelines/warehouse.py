"""The DuckDB warehouse: where it lives, how to connect, and how a load replaces tables atomically.

Layout of a warehouse folder (default ``./warehouse``)::

    knooppunt.duckdb   staging, derived tables, processing log (one writer at a time)
    identity.duckdb    separate store for direct identifiers (names, birth dates, encrypted BSN)
    secrets/           demo-only keys created on first use (production: environment variables)
    generations/<run>/ a run's own copy of the two database files (``pipelines.generation``)
    releases/          read-only copies for readers (:func:`publish`)

DuckDB allows one writer per file, so the Dagster job runs its steps in one process, one after
the other (see ``pipelines.definitions``); parallelism lives inside an asset (e.g. the BAG parser
uses a process pool and hands Arrow batches to the single writer).

Every load runs inside one transaction (:meth:`Warehouse.transaction`). A run of the job builds all
its tables in a generation, ``Warehouse(root, generation=run_id)``: the same folder (keys,
processing log, releases), but its database files under ``generations/<run_id>/``; the generation
replaces the warehouse's files only when the whole run passed (``pipelines.generation``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import duckdb_extension_spatial

from pipelines.files import make_private, private_dir
from privacy.sqltext import relation_type

DEFAULT_ROOT = Path("warehouse")
MAIN_DB = "knooppunt.duckdb"
IDENTITY_DB = "identity.duckdb"
GENERATIONS = "generations"


def spatial_extension_path() -> Path:
    """The spatial extension file shipped inside the duckdb-extension-spatial wheel.

    It is LOADed from disk: many municipal servers (and this project's CI) cannot download
    extensions. The wheel's version must equal duckdb's; both are pinned in pyproject.toml.
    """
    base = Path(duckdb_extension_spatial.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = base / "spatial.duckdb_extension"
    if not path.exists():
        raise RuntimeError(
            f"DuckDB spatial extension for duckdb {duckdb.__version__} not found at {path}; "
            "install duckdb-extension-spatial with the same version as duckdb"
        )
    return path


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{spatial_extension_path()}'")


# DuckDB refuses a second connection to an open file with another configuration, so every
# connection (here and through ``WarehouseResource``) is opened with exactly this one.
CONNECTION_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "custom_user_agent": "knooppunt",
}


def prepare(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bars on a pipeline's stderr; the spatial extension loaded from the wheel."""
    con.execute("SET enable_progress_bar = false")
    load_spatial(con)
    return con


def connect(database: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the spatial extension loaded and no extension auto-download."""
    return prepare(duckdb.connect(str(database), read_only=read_only, config=dict(CONNECTION_CONFIG)))


@contextlib.contextmanager
def in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``con`` inside one transaction: commit when the body ends, roll back when it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class Warehouse:
    """A warehouse folder. Cheap to construct; opens connections on demand.

    With ``generation`` set, the database files are a run's own copies in
    ``generations/<generation>/``; keys, the processing log and releases stay the folder's.
    """

    def __init__(self, root: str | Path = DEFAULT_ROOT, generation: str | None = None):
        self.root = Path(root)
        self.generation = generation or None

    @property
    def db_dir(self) -> Path:
        return self.root / GENERATIONS / self.generation if self.generation else self.root

    @property
    def path(self) -> Path:
        return self.db_dir / MAIN_DB

    @property
    def identity_path(self) -> Path:
        return self.db_dir / IDENTITY_DB

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    def connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if not read_only:
            private_dir(self.root)
            private_dir(self.db_dir)
        elif not self.path.exists():
            raise FileNotFoundError(
                f"no warehouse at {self.path}; run `knooppunt run` (or ingest a delivery) first"
            )
        con = connect(self.path, read_only=read_only)
        if not read_only:
            make_private(self.path)
        return con

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection inside one transaction: commit on success, roll back on error."""
        con = self.connect()
        try:
            with in_transaction(con):
                yield con
        finally:
            con.close()


RELEASES = "releases"
CURRENT = "CURRENT"


def publish(warehouse: Warehouse, *, order: Mapping[str, str] | None = None) -> Path:
    """Publish a read-only copy of the warehouse for readers (web interface, notebooks).

    DuckDB cannot open a file for reading while another process writes it, so readers never open
    ``knooppunt.duckdb``. :func:`build_release` checkpoints the database, copies it to a hidden
    file in ``releases/``; :func:`switch_release` renames it to ``releases/<timestamp>.duckdb``
    and atomically points ``releases/CURRENT`` at it. A reader that has the previous release open
    keeps it; the next open sees the new one. Older releases beyond the last two are removed.

    ``order`` maps tables to the columns readers search them by: the copy stores those tables
    sorted on them, so DuckDB's min/max zone maps skip most of a national-size table on a point
    lookup.
    """
    return switch_release(warehouse.root, build_release(warehouse, order=order))


def build_release(warehouse: Warehouse, *, order: Mapping[str, str] | None = None) -> Path:
    """The release copy of ``warehouse.path``, not yet visible to readers (see :func:`publish`)."""
    import datetime as dt
    import shutil

    releases = private_dir(warehouse.root / RELEASES)
    con = warehouse.connect()
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    tmp = releases / f".{stamp}.tmp"
    shutil.copyfile(warehouse.path, tmp)
    try:
        if order:
            con = connect(tmp)
            try:
                for table, columns in order.items():
                    _store_sorted(con, table, columns)
                con.execute("CHECKPOINT")
            finally:
                con.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    make_private(tmp)
    return tmp


def _store_sorted(con: duckdb.DuckDBPyConnection, table: str, columns: str) -> None:
    """Rewrite ``table`` sorted on ``columns``, if it exists; a view (BAG's current tables)
    becomes a table of its rows."""
    kind = relation_type(con, table)
    if kind is None:
        return
    if kind != "VIEW":
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} ORDER BY {columns}")
        return
    schema, name = table.split(".")
    con.execute(f"CREATE TABLE {schema}._sorted AS SELECT * FROM {table} ORDER BY {columns}")
    con.execute(f"DROP VIEW {table}")
    con.execute(f"ALTER TABLE {schema}._sorted RENAME TO {name}")


def switch_release(root: Path, built: Path) -> Path:
    """Make a copy from :func:`build_release` the current release (two atomic renames)."""
    import os

    releases = Path(root) / RELEASES
    target = releases / f"{built.name.removeprefix('.').removesuffix('.tmp')}.duckdb"
    os.replace(built, target)
    pointer_tmp = releases / f".{CURRENT}.tmp"
    pointer_tmp.write_text(target.name + "\n")
    make_private(pointer_tmp)
    os.replace(pointer_tmp, releases / CURRENT)
    for old in sorted(releases.glob("*.duckdb"))[:-2]:
        old.unlink()
    return target


def current_release(warehouse: Warehouse) -> Path:
    """The published release readers should open (read-only)."""
    pointer = warehouse.root / RELEASES / CURRENT
    if not pointer.exists():
        raise FileNotFoundError(f"no published release in {warehouse.root}; run `knooppunt run` first")
    return warehouse.root / RELEASES / pointer.read_text().strip()
