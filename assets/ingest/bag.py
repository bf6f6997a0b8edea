"""Ingest of the LVBAG 2.x extract into the ``bag`` schema (see docs/BAG.md and docs/ARCHITECTURE.md).

:func:`load_bag` replaces every ``bag`` table and ``rejects.bag`` in one transaction: a delivery
that cannot be read raises ``SourceError`` and leaves the previous tables as they were. The
parsing fans out over a process pool (``sources.bag.reader``); this process is the one writer.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from dagster import AssetKey, AssetSpec, MaterializeResult, multi_asset

from assets.ingest.common import IngestReport, replace_rejects, table_metadata
from pipelines.deliveries import refuse
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.retries import retry_transient_io
from pipelines.warehouse import Warehouse
from sources.bag import RESOLVED, all_tables, load_into
from sources.errors import SourceError

DESCRIPTIONS = {
    "woonplaats": "Current woonplaatsen (multi-surface geometry, RD New)",
    "openbare_ruimte": "Current openbare ruimten (streets, waters, ...)",
    "nummeraanduiding": "Current nummeraanduidingen (addresses), with their own ligtIn woonplaats",
    "verblijfsobject": "Current verblijfsobjecten (point geometry; x/y point on surface for vlak VBOs)",
    "pand": "Current panden with polygon geometry and its validity",
    "ligplaats": "Current ligplaatsen (polygon; x/y point on surface)",
    "standplaats": "Current standplaatsen (polygon; x/y point on surface)",
    "verblijfsobject_gebruiksdoel": "One row per gebruiksdoel of a current verblijfsobject",
    "verblijfsobject_pand": "One row per pand a current verblijfsobject is part of (maaktDeelUitVan)",
    "nevenadres": "Nevenadressen of current verblijfsobjecten, ligplaatsen and standplaatsen",
    "adres": "Convenience table: one row per current nummeraanduiding with street, woonplaats and object",
    "in_onderzoek": "Kenmerken in onderzoek (InOnderzoek part of the extract)",
    "levering": "The loaded delivery: StandTechnischeDatum, gemeenten, file, load time",
}


def load_bag(
    warehouse: Warehouse,
    path: Path,
    *,
    as_of: dt.date | None = None,
    processes: int | None = None,
    gemeenten: list[str] | None = None,
) -> IngestReport:
    """Replace the ``bag`` tables and ``rejects.bag`` with the LVBAG delivery at ``path``.

    ``path`` is the extract zip (zip of zips), a single object-type zip, an XML deelbestand or a
    folder of those. ``as_of`` selects the current voorkomens on another date than the extract's
    StandTechnischeDatum. ``gemeenten`` keeps only those gemeenten (by the delivery's
    GEM-WPL-RELATIE), e.g. a municipality's own area from the national extract. ``objects`` in
    the report counts the CURRENT objects per type
    (``WPL`` ... ``STA``); ``bytes`` is the uncompressed XML read.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise SourceError(str(path), "no such file or folder")
    with warehouse.transaction() as con:
        stats = load_into(con, path, as_of=as_of, processes=processes, gemeenten=gemeenten)
        n_rejects = replace_rejects(con, "bag", stats.rejects)
    seconds = time.perf_counter() - started
    return IngestReport(
        objects=dict(stats.current),
        rejects=n_rejects,
        seconds=seconds,
        bytes=stats.xml_bytes,
        extra={
            "voorkomens": sum(stats.voorkomens.values()),
            "in_onderzoek": stats.in_onderzoek,
            "stand_technische_datum": str(stats.stand_technische_datum or ""),
            "as_of": str(stats.as_of),
            "mb_per_s": round(stats.xml_bytes / 1e6 / seconds, 1) if seconds else 0.0,
            "read_seconds": round(stats.read_seconds, 2),
            "select_seconds": round(stats.select_seconds, 2),
        },
    )


def configured_gemeenten() -> list[str] | None:
    """``KNOOPPUNT_BAG_GEMEENTEN`` (``0221,0222``): keep only these gemeenten of the extract."""
    codes = [c.strip() for c in os.environ.get("KNOOPPUNT_BAG_GEMEENTEN", "").split(",") if c.strip()]
    bad = [c for c in codes if not (len(c) == 4 and c.isdigit())]
    if bad:
        raise SourceError("KNOOPPUNT_BAG_GEMEENTEN", f"not a four-digit gemeentecode: {', '.join(bad)}")
    return codes or None


def _description(table: str) -> str:
    if table.startswith("history_"):
        return f"Every voorkomen of every {table.removeprefix('history_')} in the extract"
    if table.startswith(RESOLVED):
        kind = table.removeprefix(RESOLVED)
        return (
            f"The current voorkomen kept for each {kind} with more than one (a data error; the others "
            f"are in rejects.bag); the view bag.{kind} reads them from here"
        )
    return DESCRIPTIONS[table]


BAG_TABLES = all_tables()


@multi_asset(
    specs=[
        AssetSpec(t.split("."), group_name="bag", description=_description(t.split(".")[1]))
        for t in BAG_TABLES
    ],
)
@retry_transient_io
def bag_tables(context, warehouse: WarehouseResource, delivery: DeliveryResource):
    """Load the newest complete LVBAG extract in the delivery's ``bag/`` folder (``pipelines.deliveries``)."""
    gemeenten = configured_gemeenten()  # a wrong setting fails the run even when BAG is unchanged
    target = warehouse.warehouse
    decision = delivery.decide("bag", target)
    if decision.action == "refuse":
        raise refuse(decision)
    (context.log.warning if decision.note else context.log.info)(f"bag: {decision.reason}")
    shared: dict = {"delivery": decision.reason}
    stand = None
    if decision.action == "load":
        stand = decision.delivery.stand_date  # check_extract passed in decide()
        report = load_bag(target, decision.files[0], gemeenten=gemeenten)
        shared |= {
            "rejects": report.rejects,
            "xml_mb": round(report.bytes / 1e6, 1),
            "seconds": round(report.seconds, 2),
            "mb_per_s": report.extra["mb_per_s"],
            "stand_technische_datum": report.extra["stand_technische_datum"],
        }
    delivery.done(decision, target, context.run.run_id, stand_date=stand)
    with warehouse.get_connection() as con:
        for table in BAG_TABLES:
            yield MaterializeResult(
                asset_key=AssetKey(table.split(".")), metadata={**table_metadata(con, table), **shared}
            )


bag_assets = [bag_tables]
