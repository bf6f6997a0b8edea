"""Ingest of BRP deliveries into ``brp.persoon`` and ``brp.relatie`` (pseudonymised).

BSNs are replaced by keyed pseudonyms (``privacy.pseudonym``) here, before anything is written;
a related person's BSN goes through the same pseudonymiser, so a parent who is in the delivery too
links to their own ``brp.persoon`` row. Names, birth date and BSN go only to the identity store
(``privacy.identity.IdentityStore``). Ages are computed on the *peildatum*: the parameter, else the
BAG stand date (``bag.levering.stand_technische_datum``, the latest) when BAG is loaded, else today.

Atomicity: the warehouse tables and ``rejects.brp`` are written in one transaction; the identity
store (a separate file) is replaced as the last step inside it, so a failure anywhere before that
leaves both stores as they were.
"""

import datetime as dt
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from dagster import AssetKey, AssetSpec, Config, MaterializeResult, multi_asset
from pydantic import Field

from assets.ingest.common import IngestReport, replace_rejects, replace_table, table_metadata
from pipelines.deliveries import refuse
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.retries import retry_transient_io
from pipelines.warehouse import Warehouse
from privacy.identity import IDENTITY_SCHEMA, IdentityStore
from privacy.pseudonym import Pseudonymiser
from privacy.sqltext import table_exists
from sources.brp import BrpPerson, leeftijd, read_brp
from sources.errors import Reject

PERSOON_SCHEMA = pa.schema(
    [
        ("persoon_id", pa.string()),
        ("geslacht", pa.string()),
        ("leeftijd", pa.int32()),
        ("meerderjarig", pa.bool_()),
        ("overleden", pa.bool_()),
        ("gemeente_van_inschrijving", pa.string()),
        ("verblijfsobject_id", pa.string()),
        ("nummeraanduiding_id", pa.string()),
        ("postcode", pa.string()),
        ("huisnummer", pa.int32()),
        ("huisletter", pa.string()),
        ("huisnummertoevoeging", pa.string()),
        ("datum_aanvang_adreshouding", pa.date32()),
        ("adres_in_onderzoek", pa.bool_()),
        ("bron", pa.string()),
    ]
)
RELATIE_SCHEMA = pa.schema(
    [("persoon_id", pa.string()), ("gerelateerde_id", pa.string()), ("relatie", pa.string())]
)
TABLES = ("brp.persoon", "brp.relatie")


def default_peildatum(con: duckdb.DuckDBPyConnection) -> dt.date:
    """The latest BAG stand date if BAG is loaded, else today."""
    if table_exists(con, "bag.levering"):
        stand = con.execute("SELECT max(stand_technische_datum) FROM bag.levering").fetchone()[0]
        if stand is not None:
            return stand
    return dt.date.today()


def collect(paths: list[Path]) -> tuple[list[BrpPerson], list[Reject]]:
    """All persons of all files; a BSN seen before is a duplicate and rejected (first one kept)."""
    persons: list[BrpPerson] = []
    rejects: list[Reject] = []
    seen: dict[str, str] = {}
    for path in paths:
        for record in read_brp(path):
            if isinstance(record, Reject):
                rejects.append(record)
            elif record.bsn in seen:
                rejects.append(Reject(path.name, record.ref, f"duplicate BSN (first at {seen[record.bsn]})"))
            else:
                seen[record.bsn] = f"{path.name} {record.ref}"
                persons.append(record)
    return persons, rejects


def load_brp(warehouse: Warehouse, paths: list[Path], *, peildatum: dt.date | None = None) -> IngestReport:
    """Replace ``brp.persoon``, ``brp.relatie``, ``rejects.brp`` and the BRP identities."""
    started = time.perf_counter()
    pseudonym = Pseudonymiser.from_environment(warehouse.secrets_dir)
    persons, rejects = collect(paths)
    relaties: set[tuple[str, str, str]] = set()
    without_bsn = 0
    for person in persons:
        for rel in person.relaties:
            if rel.bsn is None:
                without_bsn += 1
            else:
                relaties.add((pseudonym(person.bsn), pseudonym(rel.bsn), rel.relatie))
    relatie_rows = pa.Table.from_pylist(
        [dict(zip(RELATIE_SCHEMA.names, r, strict=True)) for r in sorted(relaties)], schema=RELATIE_SCHEMA
    )
    identities = pa.Table.from_pylist(
        [
            {
                "persoon_id": pseudonym(p.bsn),
                "bsn": p.bsn,
                "voornamen": p.voornamen,
                "voorvoegsel": p.voorvoegsel,
                "geslachtsnaam": p.geslachtsnaam,
                "geboortedatum": p.geboortedatum.as_date() if p.geboortedatum else None,
            }
            for p in persons
        ],
        schema=IDENTITY_SCHEMA,
    )
    with warehouse.transaction() as con:
        peil = peildatum or default_peildatum(con)
        rows = []
        for p in persons:
            age, adult = leeftijd(p, peil)
            row = {name: getattr(p, name, None) for name in PERSOON_SCHEMA.names}
            rows.append(row | {"persoon_id": pseudonym(p.bsn), "leeftijd": age, "meerderjarig": adult})
        persoon_rows = pa.Table.from_pylist(rows, schema=PERSOON_SCHEMA)
        replace_table(con, "brp.persoon", persoon_rows)
        replace_table(con, "brp.relatie", relatie_rows)
        n_rejects = replace_rejects(con, "brp", rejects)
        linked = con.execute(
            "SELECT count(*) FROM brp.relatie r JOIN brp.persoon p ON p.persoon_id = r.gerelateerde_id"
        ).fetchone()[0]
        IdentityStore(warehouse).replace("brp", identities)
    return IngestReport(
        objects={"brp.persoon": persoon_rows.num_rows, "brp.relatie": relatie_rows.num_rows},
        rejects=n_rejects,
        seconds=time.perf_counter() - started,
        bytes=sum(p.stat().st_size for p in paths),
        extra={
            "peildatum": peil.isoformat(),
            "relations_to_person_in_delivery": linked,
            "relations_without_bsn": without_bsn,
        },
    )


class BrpConfig(Config):
    peildatum: str | None = Field(
        default=None,
        description="Date (YYYY-MM-DD) ages are computed on; default: BAG stand date, else today",
    )


@multi_asset(
    specs=[
        AssetSpec(
            ["brp", "persoon"],
            group_name="brp",
            deps=[AssetKey(["bag", "levering"])],
            description="Residents, pseudonymised, with their BAG address ids (no names, no BSN)",
        ),
        AssetSpec(
            ["brp", "relatie"], group_name="brp", description="Parent/partner/child links between pseudonyms"
        ),
    ],
)
@retry_transient_io
def brp_tables(
    context,
    config: BrpConfig,
    warehouse: WarehouseResource,
    delivery: DeliveryResource,
):
    """Load the newest BRP delivery: ``brp/*.csv`` (LO3), ``brp/*.json`` (Haal Centraal)."""
    peildatum = dt.date.fromisoformat(config.peildatum) if config.peildatum else None
    target = warehouse.warehouse
    decision = delivery.decide("brp", target)
    if decision.action == "refuse":
        raise refuse(decision)
    (context.log.warning if decision.note else context.log.info)(f"brp: {decision.reason}")
    extra: dict = {"delivery": decision.reason}
    if decision.action == "load":
        report = load_brp(target, decision.files, peildatum=peildatum)
        extra |= {"rejects": report.rejects, "seconds": round(report.seconds, 3), **report.extra}
    delivery.done(decision, target, context.run.run_id)
    with warehouse.get_connection() as con:
        for table in TABLES:
            yield MaterializeResult(
                asset_key=AssetKey(table.split(".")), metadata={**table_metadata(con, table), **extra}
            )


brp_assets = [brp_tables]
