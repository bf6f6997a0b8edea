"""Load one delivery outside a Dagster run (``knooppunt ingest``), with the same load functions.

This is the operator's explicit action: it writes the warehouse in place (that source's tables in
one transaction) and records the delivery in ``meta.delivery``. A BAG delivery must be a complete
extract (``check_extract``) unless ``partial``: a single object-type zip or loose XML replaces
every ``bag`` table, so it is loaded only on purpose.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from assets.ingest.common import IngestReport
from pipelines.deliveries import PATTERNS, Decision, Delivery, DeliveryFile, date_in_name, sha256_of
from pipelines.resources import delivery_files, record_delivery
from pipelines.warehouse import Warehouse
from sources.errors import SourceError


def _record(warehouse: Warehouse, source: str, files: list[Path], stand: dt.date | None, note: str) -> None:
    stand = stand or date_in_name(files[0].name) if files else stand
    delivery = Delivery(
        source,
        stand or dt.date.today(),
        tuple(DeliveryFile(p, p.stat().st_size, sha256_of(p)) for p in files),
        "ingest",
    )
    run_id = "ingest-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    decision = Decision(source, "load", note, delivery, note=note)
    record_delivery(warehouse, decision, run_id, stand_date=stand)


def ingest_delivery(source: str, path: Path, warehouse: Warehouse, *, partial: bool = False) -> IngestReport:
    if source == "bag-mutaties":
        from assets.ingest.bag_mutations import apply_bag_mutations

        return apply_bag_mutations(warehouse, path)
    files = delivery_files(path, PATTERNS[source])
    if source == "bag":
        from assets.ingest.bag import configured_gemeenten, load_bag
        from sources.bag.delivery import check_extract

        stand = None
        if not partial:
            zips = [p for p in files if p.suffix.lower() == ".zip"]
            if len(files) != 1 or len(zips) != 1:
                raise SourceError(
                    str(path),
                    "not one LVBAG extract zip; load a part of an extract (object-type zip, XML) "
                    "with --partial",
                )
            stand = dt.date.fromisoformat(check_extract(zips[0]).stand_technische_datum)
        report = load_bag(warehouse, path, gemeenten=configured_gemeenten())
        _record(
            warehouse, source, files, stand, "knooppunt ingest --partial" if partial else "knooppunt ingest"
        )
        return report
    if source == "brp":
        from assets.ingest.brp import load_brp

        report = load_brp(warehouse, files)
    elif source == "kvk":
        from assets.ingest.kvk import load_kvk

        report = load_kvk(warehouse, files)
    else:
        from assets.ingest.enforcement import load_enforcement

        report = load_enforcement(warehouse, files)
    _record(warehouse, source, files, None, "knooppunt ingest")
    return report
