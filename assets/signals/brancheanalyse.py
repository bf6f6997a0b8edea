"""The brancheanalyse (vulnerable sectors, 0-meting and 1-meting) for the notebook and the web page.

Runs under the aggregated-only purpose ``brancheanalyse`` through
:func:`privacy.gate.aggregated_reader`: the row-level preparation stays inside the gate's sandbox,
and only grouped counts of at least the purpose's minimum cell size come out (logged). The
1-meting is the delivery's stand date, the 0-meting ``period_months`` earlier; an establishment
counts when it started on or before the date and had not ended. Sectors are classified exactly
as the ``identical_businesses_*`` flags do (:func:`assets.signals.sql.vulnerable_sector_sql`).
"""

from __future__ import annotations

from assets.signals.config import load_config
from assets.signals.sql import LEVERING_READS, SBI_READS, VESTIGING_READS, vulnerable_sector_sql
from privacy.gate import AggregatedReader

PURPOSE = "brancheanalyse"
READS = {
    **LEVERING_READS,
    "bag.adres": ["nummeraanduiding_id", "openbare_ruimte_id", "openbare_ruimte_naam", "woonplaats_naam"],
    "bag.verblijfsobject": ["verblijfsobject_id", "x", "y"],
    **VESTIGING_READS,
    **SBI_READS,
}


def prepare(reader: AggregatedReader, period_months: int = 12, cell_m: int = 500) -> None:
    """Create the sandbox's row-level table ``meting``: one row per establishment and measurement.

    Columns: meting (``0-meting``/``1-meting``), datum, sector, omschrijving, straat, woonplaats,
    and the ``cell_m`` grid cell (cel_x, cel_y, RD New) of its verblijfsobject.
    """
    reader.execute(f"CREATE TEMP TABLE sector AS {vulnerable_sector_sql(load_config())}")
    reader.execute(f"""
CREATE TEMP TABLE meting AS
WITH stand AS (SELECT max(stand_technische_datum) AS d FROM bag.levering),
dates AS (
    SELECT '1-meting' AS meting, d AS datum FROM stand
    UNION ALL SELECT '0-meting', CAST(d - INTERVAL {int(period_months)} MONTH AS DATE) FROM stand
)
SELECT dates.meting, dates.datum, s.sector, s.omschrijving,
       coalesce(a.openbare_ruimte_naam, '(unknown street)') AS straat,
       coalesce(a.woonplaats_naam, '(unknown)') AS woonplaats,
       CAST(floor(vo.x / {int(cell_m)}) * {int(cell_m)} AS INTEGER) AS cel_x,
       CAST(floor(vo.y / {int(cell_m)}) * {int(cell_m)} AS INTEGER) AS cel_y
FROM kvk.vestiging v
JOIN sector s USING (vestigingsnummer)
CROSS JOIN dates
LEFT JOIN bag.adres a ON a.nummeraanduiding_id = v.nummeraanduiding_id
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = v.verblijfsobject_id
WHERE (v.datum_aanvang IS NULL OR v.datum_aanvang <= dates.datum)
  AND (v.datum_einde IS NULL OR v.datum_einde > dates.datum)
""")
