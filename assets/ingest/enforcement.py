"""Ingest of enforcement and incident cases into ``handhaving.zaak``.

Cases with a delivered BAG id keep it (``adres_match = 'bag_id'``); free-text addresses are parsed
(``sources.addresses.parse_address``) and matched to ``bag.adres`` on postcode + huisnummer +
huisletter + toevoeging. The parsed address parts are only a staging step: the table keeps the BAG
ids, as the format carries no other address data. Duplicate ``zaak_id`` -> the later one is rejected.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
from dagster import AssetKey, AssetSpec, MaterializeResult, multi_asset

from assets.ingest.addresses import match_to_bag
from assets.ingest.common import IngestReport, replace_rejects, replace_table, table_metadata
from pipelines.deliveries import refuse
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.retries import retry_transient_io
from pipelines.warehouse import Warehouse
from sources.enforcement import Zaak, read_enforcement
from sources.errors import Reject

STAGING_SCHEMA = pa.schema(
    [
        ("zaak_id", pa.string()),
        ("instrument", pa.string()),
        ("datum_start", pa.date32()),
        ("datum_einde", pa.date32()),
        ("status", pa.string()),
        ("team", pa.string()),
        ("nummeraanduiding_id", pa.string()),
        ("verblijfsobject_id", pa.string()),
        ("adres_match", pa.string()),
        ("postcode", pa.string()),
        ("huisnummer", pa.int32()),
        ("huisletter", pa.string()),
        ("huisnummertoevoeging", pa.string()),
    ]
)
ZAAK_COLUMNS = STAGING_SCHEMA.names[:9]


def collect(paths: list[Path]) -> tuple[list[Zaak], list[Reject]]:
    zaken: dict[str, Zaak] = {}
    rejects: list[Reject] = []
    for path in paths:
        for record in read_enforcement(path):
            if isinstance(record, Reject):
                rejects.append(record)
            elif record.zaak_id in zaken:
                first = zaken[record.zaak_id].ref
                rejects.append(Reject(path.name, record.ref, f"duplicate zaak_id (first at {first})"))
            else:
                zaken[record.zaak_id] = record
    return list(zaken.values()), rejects


def load_enforcement(warehouse: Warehouse, paths: list[Path]) -> IngestReport:
    """Replace ``handhaving.zaak`` and ``rejects.handhaving`` with these deliveries, in one transaction."""
    started = time.perf_counter()
    zaken, rejects = collect(paths)
    staging = pa.Table.from_pylist(  # noqa: F841 - read by name in the SQL below
        [{name: getattr(z, name, None) for name in STAGING_SCHEMA.names} for z in zaken],
        schema=STAGING_SCHEMA,
    )
    with warehouse.transaction() as con:
        # a replacement scan of the local variable, as in assets.ingest.common.replace_table
        con.execute("CREATE TEMP TABLE _zaak_staging AS SELECT * FROM staging")
        stats = match_to_bag(con, "_zaak_staging", "zaak_id")
        matched = con.execute(f"SELECT {', '.join(ZAAK_COLUMNS)} FROM _zaak_staging").to_arrow_table()
        con.execute("DROP TABLE _zaak_staging")
        replace_table(con, "handhaving.zaak", matched)
        n_rejects = replace_rejects(con, "handhaving", rejects)
    return IngestReport(
        objects={"handhaving.zaak": matched.num_rows},
        rejects=n_rejects,
        seconds=time.perf_counter() - started,
        bytes=sum(p.stat().st_size for p in paths),
        extra=stats.as_extra(),
    )


@multi_asset(
    specs=[
        AssetSpec(
            ["handhaving", "zaak"],
            group_name="handhaving",
            deps=[AssetKey(["bag", "adres"])],
            description="Enforcement and incident cases with their BAG address",
        )
    ],
)
@retry_transient_io
def handhaving_zaak(context, warehouse: WarehouseResource, delivery: DeliveryResource):
    """Load the newest enforcement delivery (``handhaving/*.csv``, ``*.parquet``)."""
    target = warehouse.warehouse
    decision = delivery.decide("enforcement", target)
    if decision.action == "refuse":
        raise refuse(decision)
    (context.log.warning if decision.note else context.log.info)(f"enforcement: {decision.reason}")
    extra: dict = {"delivery": decision.reason}
    if decision.action == "load":
        report = load_enforcement(target, decision.files)
        extra |= {"rejects": report.rejects, "seconds": round(report.seconds, 3), **report.extra}
    delivery.done(decision, target, context.run.run_id)
    with warehouse.get_connection() as con:
        yield MaterializeResult(
            asset_key=AssetKey(["handhaving", "zaak"]),
            metadata={**table_metadata(con, "handhaving.zaak"), **extra},
        )


enforcement_assets = [handhaving_zaak]
