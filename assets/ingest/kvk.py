"""Ingest of KvK deliveries into ``kvk.onderneming``, ``kvk.vestiging`` and ``kvk.vestiging_sbi``.

API responses and bulk files may describe the same vestiging: the most complete view wins
(vestigingsprofiel/bulk > basisprofiel hoofdvestiging > zoeken result); two equally complete views
of one vestigingsnummer are a duplicate and the later one is rejected. Bezoekadressen are matched
to ``bag.adres`` (``sources.addresses.match_to_bag``); the match rate is reported.
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
from sources.errors import Reject
from sources.kvk import Onderneming, Vestiging, read_kvk
from sources.kvk.model import COMPLETENESS

ONDERNEMING_SCHEMA = pa.schema(
    [
        ("kvk_nummer", pa.string()),
        ("naam", pa.string()),
        ("rechtsvorm", pa.string()),
        ("datum_aanvang", pa.date32()),
        ("datum_einde", pa.date32()),
    ]
)
VESTIGING_SCHEMA = pa.schema(
    [
        ("vestigingsnummer", pa.string()),
        ("kvk_nummer", pa.string()),
        ("eerste_handelsnaam", pa.string()),
        ("is_hoofdvestiging", pa.bool_()),
        ("is_commercieel", pa.bool_()),
        ("datum_aanvang", pa.date32()),
        ("datum_einde", pa.date32()),
        ("straatnaam", pa.string()),
        ("huisnummer", pa.int32()),
        ("huisletter", pa.string()),
        ("huisnummertoevoeging", pa.string()),
        ("postcode", pa.string()),
        ("plaats", pa.string()),
        ("nummeraanduiding_id", pa.string()),
        ("verblijfsobject_id", pa.string()),
        ("adres_match", pa.string()),
    ]
)
SBI_SCHEMA = pa.schema(
    [
        ("vestigingsnummer", pa.string()),
        ("sbi_code", pa.string()),
        ("sbi_versie", pa.string()),
        ("omschrijving", pa.string()),
        ("is_hoofdactiviteit", pa.bool_()),
        ("sbi_versie_reden", pa.string()),
    ]
)
TABLES = ("kvk.onderneming", "kvk.vestiging", "kvk.vestiging_sbi")


def collect(paths: list[Path]) -> tuple[dict[str, Onderneming], dict[str, Vestiging], list[Reject], int]:
    """Read all files; returns ondernemingen, vestigingen (by number), rejects, superseded views."""
    ondernemingen: dict[str, Onderneming] = {}
    vestigingen: dict[str, Vestiging] = {}
    rejects: list[Reject] = []
    superseded = 0
    for path in paths:
        for record in read_kvk(path):
            if isinstance(record, Reject):
                rejects.append(record)
            elif isinstance(record, Onderneming):
                known = ondernemingen.get(record.kvk_nummer)
                if known is None or (known.kind == "bulk" and record.kind == "basisprofiel"):
                    ondernemingen[record.kvk_nummer] = record
                elif known.kind == record.kind == "basisprofiel":
                    rejects.append(
                        Reject(
                            path.name, record.ref, f"duplicate kvk_nummer (basisprofiel also in {known.ref})"
                        )
                    )
            else:
                known_v = vestigingen.get(record.vestigingsnummer)
                if known_v is None:
                    vestigingen[record.vestigingsnummer] = record
                elif COMPLETENESS[record.kind] == COMPLETENESS[known_v.kind]:
                    rejects.append(
                        Reject(path.name, record.ref, f"duplicate vestigingsnummer (also {known_v.ref})")
                    )
                else:
                    superseded += 1
                    if COMPLETENESS[record.kind] > COMPLETENESS[known_v.kind]:
                        vestigingen[record.vestigingsnummer] = record
    return ondernemingen, vestigingen, rejects, superseded


def load_kvk(warehouse: Warehouse, paths: list[Path]) -> IngestReport:
    """Replace the ``kvk`` tables and ``rejects.kvk`` with the given deliveries, in one transaction."""
    started = time.perf_counter()
    ondernemingen, vestigingen, rejects, superseded = collect(paths)
    onderneming_rows = pa.Table.from_pylist(
        [{name: getattr(o, name) for name in ONDERNEMING_SCHEMA.names} for o in ondernemingen.values()],
        schema=ONDERNEMING_SCHEMA,
    )
    vestiging_rows = pa.Table.from_pylist(
        [
            {name: getattr(v, name) for name in VESTIGING_SCHEMA.names if name != "adres_match"}
            for v in vestigingen.values()
        ],
        schema=VESTIGING_SCHEMA,
    )
    sbi_rows = pa.Table.from_pylist(
        [
            {"vestigingsnummer": v.vestigingsnummer, **{k: getattr(a, k) for k in SBI_SCHEMA.names[1:]}}
            for v in vestigingen.values()
            for a in v.sbi
        ],
        schema=SBI_SCHEMA,
    )
    with warehouse.transaction() as con:
        replace_table(con, "kvk.onderneming", onderneming_rows)
        replace_table(con, "kvk.vestiging", vestiging_rows)
        replace_table(con, "kvk.vestiging_sbi", sbi_rows)
        stats = match_to_bag(con, "kvk.vestiging", "vestigingsnummer")
        n_rejects = replace_rejects(con, "kvk", rejects)
    return IngestReport(
        objects={
            "kvk.onderneming": onderneming_rows.num_rows,
            "kvk.vestiging": vestiging_rows.num_rows,
            "kvk.vestiging_sbi": sbi_rows.num_rows,
        },
        rejects=n_rejects,
        seconds=time.perf_counter() - started,
        bytes=sum(p.stat().st_size for p in paths),
        extra={**stats.as_extra(), "superseded_views": superseded},
    )


@multi_asset(
    specs=[
        AssetSpec(
            ["kvk", "onderneming"], group_name="kvk", description="Enterprises (KvK basisprofiel / bulk file)"
        ),
        AssetSpec(
            ["kvk", "vestiging"],
            group_name="kvk",
            deps=[AssetKey(["bag", "adres"])],
            description="Establishments with their bezoekadres matched to BAG",
        ),
        AssetSpec(["kvk", "vestiging_sbi"], group_name="kvk", description="SBI activities per establishment"),
    ],
)
@retry_transient_io
def kvk_tables(context, warehouse: WarehouseResource, delivery: DeliveryResource):
    """Load the newest KvK delivery (``kvk/*.json``, ``*.csv``, ``*.parquet``; ``pipelines.deliveries``)."""
    target = warehouse.warehouse
    decision = delivery.decide("kvk", target)
    if decision.action == "refuse":
        raise refuse(decision)
    (context.log.warning if decision.note else context.log.info)(f"kvk: {decision.reason}")
    report = load_kvk(target, decision.files) if decision.action == "load" else None
    delivery.done(decision, target, context.run.run_id)
    with warehouse.get_connection() as con:
        for table in TABLES:
            metadata = {**table_metadata(con, table), "delivery": decision.reason}
            if report is not None:
                metadata |= {"rejects": report.rejects, "seconds": round(report.seconds, 3)}
                if table == "kvk.vestiging":
                    metadata |= report.extra
            yield MaterializeResult(asset_key=AssetKey(table.split(".")), metadata=metadata)


kvk_assets = [kvk_tables]
