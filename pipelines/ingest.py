"""Load one delivery outside a Dagster run (``knooppunt ingest``), with the same load functions."""

from __future__ import annotations

from pathlib import Path

from assets.ingest.common import IngestReport
from pipelines.resources import delivery_files
from pipelines.warehouse import Warehouse

PATTERNS = {
    "brp": ("*.csv", "*.json"),
    "kvk": ("*.json", "*.csv", "*.parquet"),
    "enforcement": ("*.csv", "*.parquet"),
}


def ingest_delivery(source: str, path: Path, warehouse: Warehouse) -> IngestReport:
    if source == "bag":
        from assets.ingest.bag import configured_gemeenten, load_bag

        return load_bag(warehouse, path, gemeenten=configured_gemeenten())
    if source == "bag-mutaties":
        from assets.ingest.bag_mutations import apply_bag_mutations

        return apply_bag_mutations(warehouse, path)
    files = delivery_files(path, PATTERNS[source])
    if source == "brp":
        from assets.ingest.brp import load_brp

        return load_brp(warehouse, files)
    if source == "kvk":
        from assets.ingest.kvk import load_kvk

        return load_kvk(warehouse, files)
    from assets.ingest.enforcement import load_enforcement

    return load_enforcement(warehouse, files)
