"""The flags as Dagster assets, each computed through the privacy gate under its purpose.

One asset per flag (``signals.<code>``), all in the ``signals`` group, plus the address-level
overview ``signals.flags`` (every flag in one table) that the web interface, the lookups and the
export read from the published release. The SQL lives in :mod:`assets.signals.sql`; the
thresholds come from :func:`assets.signals.config.load_config` at run time.
"""

from __future__ import annotations

import json

from dagster import AssetExecutionContext, AssetsDefinition

from assets.signals.config import load_config
from assets.signals.sql import FLAG_SQL, READS, RESULT_COLUMNS, establishment_match_sql
from privacy.gate import GatedConnection, gated_asset

# The purpose (privacy/register.yaml) each flag is computed under.
FLAG_PURPOSE: dict[str, str] = {
    "many_companies_in_building": "signaalanalyse_ondermijning",
    "many_companies_at_address": "signaalanalyse_ondermijning",
    "identical_businesses_in_street": "signaalanalyse_ondermijning",
    "identical_businesses_nearby": "signaalanalyse_ondermijning",
    "company_churn": "signaalanalyse_ondermijning",
    "enforcement_history": "signaalanalyse_ondermijning",
    "overcrowding": "adreskwaliteit",
    "residents_at_non_residential": "adreskwaliteit",
    "address_not_in_bag": "adreskwaliteit",
    "staff_safety": "veiligheid_medewerkers",
}
# The overview reads the flag tables (already gated), not the staging tables. It needs one
# purpose; bibob_screening is the broadest (it may show all flags but staff_safety). It lists the signals
# tables as sources; which flags a user then sees is decided per purpose at read time.
OVERVIEW_PURPOSE = "bibob_screening"

DESCRIPTIONS = {
    "many_companies_in_building": "Panden whose verblijfsobjecten hold many distinct active vestigingen.",
    "many_companies_at_address": "Verblijfsobjecten (one address) holding many distinct active vestigingen.",
    "identical_businesses_in_street": "Streets with many active vestigingen of one vulnerable sector.",
    "identical_businesses_nearby": "Clusters of active vestigingen of one vulnerable sector within a radius.",
    "overcrowding": "Dwellings with more registered adults than their floor area allows.",
    "residents_at_non_residential": "Persons registered at a verblijfsobject without woonfunctie.",
    "company_churn": "Addresses where vestigingen come and go: many ended or short-lived in a window.",
    "address_not_in_bag": "KvK and BRP addresses that do not exist, or are withdrawn, in BAG.",
    "enforcement_history": "Addresses with a recent Opiumwet 13b / Wet Victor case, and their residents' "
    "relatives' addresses (via: family).",
    "staff_safety": "Addresses with a recent aggression incident: 'caution, contact <team>' only.",
}


def _flag_asset(code: str) -> AssetsDefinition:
    @gated_asset(
        key=["signals", code],
        purpose=FLAG_PURPOSE[code],
        reads=READS[code],
        group_name="signals",
        description=f"{DESCRIPTIONS[code]} Definition and default thresholds: docs/SIGNALS.md.",
    )
    def _compute(context: AssetExecutionContext, gated: GatedConnection) -> str:
        cfg = load_config()
        section = "identical_businesses" if code.startswith("identical_businesses") else code
        context.log.info(f"{code}: thresholds {json.dumps(getattr(cfg, section).model_dump())}")
        if code == "many_companies_in_building":
            active, in_pand = gated.fetchall(establishment_match_sql())[0]
            rate = in_pand / active if active else 0.0
            context.log.info(
                f"address match: {in_pand} of {active} active vestigingen located in a pand ({rate:.1%})"
            )
            context.add_output_metadata(
                {"active_vestigingen": active, "located_in_pand": in_pand, "match_rate": round(rate, 4)}
            )
        return FLAG_SQL[code](cfg)

    return _compute


def _overview_sql() -> str:
    columns = ", ".join(RESULT_COLUMNS)
    union = "\nUNION ALL ".join(f"SELECT {columns} FROM signals.{code}" for code in FLAG_SQL)
    return f"SELECT * FROM ({union}) ORDER BY flag, nummeraanduiding_id, pand_id, openbare_ruimte_id"


@gated_asset(
    key=["signals", "flags"],
    purpose=OVERVIEW_PURPOSE,
    reads={f"signals.{code}": list(RESULT_COLUMNS) for code in FLAG_SQL},
    group_name="signals",
    description="Every flag in one table, per nummeraanduiding, verblijfsobject, pand or openbare "
    "ruimte, with its evidence (JSON), a point (RD New) and the reference date. Readers show a "
    "user only the flags their purpose lists.",
)
def flags_overview(context: AssetExecutionContext, gated: GatedConnection) -> str:
    return _overview_sql()


flag_assets: list[AssetsDefinition] = [_flag_asset(code) for code in FLAG_SQL]
