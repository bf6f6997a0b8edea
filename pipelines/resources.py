"""Dagster resources, chosen per environment in ``pipelines.definitions``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource
from pydantic import Field

from pipelines.warehouse import MAIN_DB, Warehouse, load_spatial


class WarehouseResource(DuckDBResource):
    """The warehouse folder, as a DuckDBResource whose connections have spatial loaded.

    ``database`` is derived from ``root``; use :meth:`warehouse` for the folder-level helpers
    (transactions, identity store, secrets).
    """

    root: str = Field(default="warehouse", description="Warehouse folder")
    database: str = Field(default="", description="Derived from root; leave empty")

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.root)

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self.warehouse.connect()
        try:
            yield con
        finally:
            con.close()

    def db_path(self) -> Path:
        return Path(self.root) / MAIN_DB

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.warehouse.transaction() as con:
            yield con


class DeliveryResource(ConfigurableResource):
    """Where the deliveries are: a folder in the layout of docs/FORMATS.md."""

    data_dir: str = Field(description="Delivery folder (bag/, brp/, kvk/, handhaving/)")

    def files(self, source: str, *patterns: str) -> list[Path]:
        return delivery_files(Path(self.data_dir) / source, patterns)


def delivery_files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    """The delivery files in a folder matching any of ``patterns`` (a file is itself)."""
    if path.is_file():
        return [path]
    return sorted({p for pattern in patterns for p in path.glob(pattern) if p.is_file()})


__all__ = ["WarehouseResource", "DeliveryResource", "delivery_files", "load_spatial"]
