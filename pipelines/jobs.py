"""Jobs. One job refreshes everything: ingest, checks, signals, release."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from pipelines.environment import current

# The run queue (dagster.yaml) runs at most one run per value of this tag: one writer per warehouse.
WAREHOUSE_TAG = "knooppunt/warehouse"

# In process, one step at a time: DuckDB allows one writer per file. Parallelism lives inside
# the assets that need it (the BAG parser's process pool).
knooppunt_job = define_asset_job(
    "knooppunt_job",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    tags={WAREHOUSE_TAG: str(current().warehouse.resolve())},
    description="Full refresh: ingest all deliveries, run the data-quality checks, compute the "
    "signals through the privacy gate, and publish a read-only release.",
)
