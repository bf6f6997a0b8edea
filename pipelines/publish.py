"""The last step of every run: publish a read-only release of the warehouse for readers."""

from __future__ import annotations

from dagster import AssetKey, MaterializeResult, asset

from pipelines.resources import WarehouseResource
from pipelines.retries import retry_transient_io
from pipelines.warehouse import publish
from privacy.lookup import RELEASE_ORDER


def build_release_asset(upstream: list[AssetKey]):
    """An asset that depends on everything else and publishes the warehouse when all succeeded."""

    @asset(
        key=["release"],
        deps=upstream,
        group_name="release",
        description=(
            "Copies the warehouse to releases/<timestamp>.duckdb and points releases/CURRENT at "
            "it. The web interface and notebooks read only releases, so a nightly run never "
            "blocks or breaks officers' lookups, and a failed run never publishes. The tables "
            "lookups search are stored sorted on their search keys."
        ),
    )
    @retry_transient_io
    def release(warehouse: WarehouseResource) -> MaterializeResult:
        path = publish(warehouse.warehouse, order=RELEASE_ORDER)
        return MaterializeResult(metadata={"release": path.name, "bytes": path.stat().st_size})

    return release
