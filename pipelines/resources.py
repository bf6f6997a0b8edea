"""Dagster resources, chosen per environment in ``pipelines.definitions``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from pipelines.lock import warehouse_lock
from pipelines.warehouse import CONNECTION_CONFIG, Warehouse, in_transaction, load_spatial, prepare

if TYPE_CHECKING:
    from pipelines.deliveries import Decision


class WarehouseResource(ConfigurableResource):
    """The warehouse folder. Connections come from dagster-duckdb's ``DuckDBResource``.

    Composed, not overridden: ``DuckDBResource.get_connection`` retries a connection that finds
    the file locked (``duckdb.IOException``) with its exponential backoff; this resource only adds
    the spatial extension. Use :meth:`warehouse` for the folder-level helpers (identity store,
    secrets).

    A run of a job holds the warehouse's writer lock (``pipelines.lock``) from resource set-up to
    tear-down, waiting at most ``lock_wait_seconds`` for another writer.
    """

    root: str = Field(default="warehouse", description="Warehouse folder")
    lock_wait_seconds: float = Field(
        default=0, description="How long a run waits for another writer before it refuses"
    )
    generations: bool = Field(
        default=False,
        description="Build each run in its own generation (pipelines.generation), promoted by the "
        "release step; False writes the warehouse in place (tests, single assets)",
    )
    _lock: contextlib.ExitStack | None = PrivateAttr(default=None)
    _generation: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if context.run is not None:  # a run (not a resource built to call a check directly)
            self._lock = contextlib.ExitStack()
            self._lock.enter_context(
                warehouse_lock(self.root, context.run.run_id, wait=self.lock_wait_seconds)
            )
            if self.generations:  # under the lock: no other run copies or promotes meanwhile
                from pipelines.generation import create, discard_stale

                discard_stale(Path(self.root), keep=context.run.run_id)
                self._generation = create(Path(self.root), context.run.run_id).generation

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.root, generation=self._generation)

    def db_path(self) -> Path:
        return self.warehouse.path

    @property
    def duckdb_resource(self) -> DuckDBResource:
        return DuckDBResource(database=str(self.db_path()), connection_config=CONNECTION_CONFIG)

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.db_path().parent.mkdir(parents=True, exist_ok=True)
        with self.duckdb_resource.get_connection() as con:
            try:
                yield prepare(con)
            finally:
                con.close()  # also when the body raises (DuckDBResource closes only on success)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: commit on success, roll back on error."""
        with self.get_connection() as con, in_transaction(con):
            yield con


class DeliveryResource(ConfigurableResource):
    """Where the deliveries are: a folder in the layout of docs/FORMATS.md."""

    data_dir: str = Field(description="Delivery folder (bag/, brp/, kvk/, handhaving/)")
    landing: bool = Field(
        default=False,
        description="The landing folder: processed deliveries are archived, fresh files wait "
        "(pipelines.deliveries); False for a folder given with --data, which is left as it is",
    )
    force: bool = Field(default=False, description="Load a delivery older than the loaded one (logged)")
    settle_seconds: int = Field(
        default=120, description="Landing folder: files modified more recently are not picked up yet"
    )

    def decide(self, source: str, warehouse: Warehouse) -> Decision:
        """The delivery of ``source`` this run loads, skips or refuses (``pipelines.deliveries``)."""
        from pipelines.deliveries import FOLDERS, decide, loaded

        previous = None
        if warehouse.path.exists():
            con = warehouse.connect()
            try:
                previous = loaded(con, source)
            finally:
                con.close()
        return decide(
            source,
            Path(self.data_dir) / FOLDERS[source],
            previous,
            force=self.force,
            settle_seconds=self.settle_seconds if self.landing else 0,
        )

    def done(self, decision: Decision, warehouse: Warehouse, run_id: str, **record_args) -> None:
        """Record a loaded delivery; in the landing folder, plan the archiving of what was processed."""
        from pipelines.deliveries import plan_archive

        if decision.action == "load":
            record_delivery(warehouse, decision, run_id, **record_args)
        if self.landing and warehouse.generation:
            plan_archive(warehouse, Path(self.data_dir), decision)


def record_delivery(warehouse: Warehouse, decision: Decision, run_id: str, **record_args) -> None:
    """Add a loaded delivery to ``meta.delivery`` (``pipelines.deliveries.record``), in one transaction."""
    from pipelines.deliveries import record

    with warehouse.transaction() as con:
        record(con, decision, run_id, **record_args)


def delivery_files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    """The delivery files in a folder matching any of ``patterns`` (a file is itself)."""
    if path.is_file():
        return [path]
    return sorted({p for pattern in patterns for p in path.glob(pattern) if p.is_file()})


__all__ = ["WarehouseResource", "DeliveryResource", "delivery_files", "load_spatial", "record_delivery"]
