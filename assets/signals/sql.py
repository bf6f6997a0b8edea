"""The SQL of every flag, as plain functions of the thresholds (docs/SIGNALS.md).

Each ``<flag>_sql(cfg)`` returns one set-based DuckDB query over the staging tables (no Python
loop over rows) with the columns of :data:`RESULT_COLUMNS`: the flag code, the BAG ids involved
(NULL where the flag is not at that level), ``evidence`` (JSON: what fired, the counts, the
thresholds, the records involved), a point ``x``/``y`` in RD New and the ``reference_date``.

:data:`READS` declares, per flag, the only staging columns the query touches; the assets pass it
to the privacy gate, which exposes exactly those columns, and the unit tests build their DuckDB
with exactly those columns, so a query that strays beyond its declaration fails in the tests.

Shared rules:

* The reference date is the delivery's stand date, ``max(bag.levering.stand_technische_datum)``.
* A vestiging is active on the reference date when it started on or before it and has not ended
  (``datum_einde`` NULL or later).
* A vestiging, person or case lies in the verblijfsobject it names, else in the verblijfsobject
  whose hoofdadres or nevenadres is the nummeraanduiding it names; its nummeraanduiding is the one
  it names, else that verblijfsobject's hoofdadres. Flags on one verblijfsobject report its
  hoofdadres and its (lowest) pand id; all pand ids are in the evidence where it matters.
* Counts are of distinct records, so a verblijfsobject in several panden, a vestiging with several
  activities or a record reached through several addresses is never counted twice.
"""

from __future__ import annotations

from collections.abc import Callable

from assets.signals.config import SignalsConfig
from privacy.sqltext import sql_list, sql_literal

RESULT_COLUMNS = (
    "flag",
    "nummeraanduiding_id",
    "verblijfsobject_id",
    "pand_id",
    "openbare_ruimte_id",
    "evidence",
    "x",
    "y",
    "reference_date",
)

LEVERING_READS = {"bag.levering": ["stand_technische_datum"]}
_VBO_ADRES = {
    "bag.verblijfsobject": ["verblijfsobject_id", "hoofdadres_id", "x", "y"],
    "bag.nevenadres": ["object_type", "object_id", "nummeraanduiding_id"],
    "bag.verblijfsobject_pand": ["verblijfsobject_id", "pand_id"],
}
VESTIGING_READS = {
    "kvk.vestiging": [
        "vestigingsnummer",
        "datum_aanvang",
        "datum_einde",
        "nummeraanduiding_id",
        "verblijfsobject_id",
    ]
}
SBI_READS = {"kvk.vestiging_sbi": ["vestigingsnummer", "sbi_code", "sbi_versie", "is_hoofdactiviteit"]}
_PERSOON = {"brp.persoon": ["persoon_id", "overleden", "verblijfsobject_id", "nummeraanduiding_id"]}
_ADULTS = {"brp.persoon": ["meerderjarig"]}
_ZAAK = {
    "handhaving.zaak": ["zaak_id", "instrument", "datum_start", "nummeraanduiding_id", "verblijfsobject_id"]
}
_ZAAK_DETAIL = {"handhaving.zaak": ["datum_einde", "status"]}
_ZAAK_TEAM = {"handhaving.zaak": ["team"]}


def _merge(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for part in parts:
        for table, columns in part.items():
            merged.setdefault(table, [])
            merged[table] += [c for c in columns if c not in merged[table]]
    return merged


READS: dict[str, dict[str, list[str]]] = {
    "many_companies_in_building": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        VESTIGING_READS,
        {
            "bag.pand": ["pand_id", "geometry"],
            "bag.verblijfsobject_gebruiksdoel": ["verblijfsobject_id", "gebruiksdoel"],
        },
    ),
    "many_companies_at_address": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        VESTIGING_READS,
        {"bag.verblijfsobject_gebruiksdoel": ["verblijfsobject_id", "gebruiksdoel"]},
    ),
    "identical_businesses_in_street": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        VESTIGING_READS,
        SBI_READS,
        {"bag.nummeraanduiding": ["nummeraanduiding_id", "openbare_ruimte_id"]},
    ),
    "identical_businesses_nearby": _merge(LEVERING_READS, _VBO_ADRES, VESTIGING_READS, SBI_READS),
    "overcrowding": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        _PERSOON,
        _ADULTS,
        {
            "bag.verblijfsobject": ["oppervlakte"],
            "bag.verblijfsobject_gebruiksdoel": ["verblijfsobject_id", "gebruiksdoel"],
        },
    ),
    "residents_at_non_residential": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        _PERSOON,
        _ADULTS,
        {"bag.verblijfsobject_gebruiksdoel": ["verblijfsobject_id", "gebruiksdoel"]},
    ),
    "company_churn": _merge(LEVERING_READS, _VBO_ADRES, VESTIGING_READS),
    "address_not_in_bag": _merge(
        LEVERING_READS,
        {
            "kvk.vestiging": [
                "vestigingsnummer",
                "datum_aanvang",
                "datum_einde",
                "nummeraanduiding_id",
                "verblijfsobject_id",
                "postcode",
                "huisnummer",
                "huisletter",
                "huisnummertoevoeging",
            ],
            "brp.persoon": [
                "overleden",
                "nummeraanduiding_id",
                "verblijfsobject_id",
                "postcode",
                "huisnummer",
                "huisletter",
                "huisnummertoevoeging",
            ],
            "bag.nummeraanduiding": [
                "nummeraanduiding_id",
                "postcode",
                "huisnummer",
                "huisletter",
                "huisnummertoevoeging",
                "status",
            ],
            "bag.verblijfsobject": ["verblijfsobject_id", "hoofdadres_id"],
            "bag.ligplaats": ["ligplaats_id", "hoofdadres_id"],
            "bag.standplaats": ["standplaats_id", "hoofdadres_id"],
        },
    ),
    "enforcement_history": _merge(
        LEVERING_READS,
        _VBO_ADRES,
        _ZAAK,
        _ZAAK_DETAIL,
        _PERSOON,
        {"brp.relatie": ["persoon_id", "gerelateerde_id", "relatie"]},
    ),
    "staff_safety": _merge(LEVERING_READS, _VBO_ADRES, _ZAAK, _ZAAK_TEAM),
}

# -- shared CTEs --------------------------------------------------------------------------------

_REF = "ref AS (SELECT max(stand_technische_datum) AS d FROM bag.levering)"

_VBO_ADRES_CTE = """vbo_adres AS (
    SELECT verblijfsobject_id, hoofdadres_id AS nummeraanduiding_id FROM bag.verblijfsobject
    UNION ALL
    SELECT object_id, nummeraanduiding_id FROM bag.nevenadres WHERE object_type = 'VBO'
)"""

_VBO_PAND = """vbo_pand AS (
    SELECT verblijfsobject_id, min(pand_id) AS pand_id, list(DISTINCT pand_id ORDER BY pand_id) AS pand_ids
    FROM bag.verblijfsobject_pand GROUP BY verblijfsobject_id
)"""


_GEBRUIKSDOELEN = """gebruiksdoelen AS (
    SELECT verblijfsobject_id, list_sort(list(DISTINCT lower(gebruiksdoel))) AS doelen
    FROM bag.verblijfsobject_gebruiksdoel GROUP BY verblijfsobject_id
)"""

_SHARED = {"vbo_adres": _VBO_ADRES_CTE, "vbo_pand": _VBO_PAND}


def _located(alias: str, source: str, columns: str) -> str:
    """Resolve the verblijfsobject and nummeraanduiding of the records of ``source``."""
    return f"""{alias} AS (
    SELECT {columns},
           coalesce(vo.verblijfsobject_id, va.verblijfsobject_id) AS verblijfsobject_id,
           coalesce(r.nummeraanduiding_id, vo.hoofdadres_id, va.nummeraanduiding_id) AS nummeraanduiding_id
    FROM {source} r
    LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = r.verblijfsobject_id
    LEFT JOIN vbo_adres va  -- only when the verblijfsobject id found nothing; an equi-join (hash join)
           ON va.nummeraanduiding_id = CASE WHEN vo.verblijfsobject_id IS NULL THEN r.nummeraanduiding_id END
)"""


_VESTIGING_LOC = _located(
    "vestiging_loc", "kvk.vestiging", "r.vestigingsnummer, r.datum_aanvang, r.datum_einde"
)
_ACTIVE = """active AS (
    SELECT v.* FROM vestiging_loc v, ref
    WHERE (v.datum_aanvang IS NULL OR v.datum_aanvang <= ref.d)
      AND (v.datum_einde IS NULL OR v.datum_einde > ref.d)
)"""
_PERSONS = """persoon_base AS (
    SELECT * FROM brp.persoon WHERE NOT coalesce(overleden, false)
)"""
_PERSOON_LOC = _located("persoon_loc", "persoon_base", "r.persoon_id")
_ADULT_LOC = _located("persoon_loc", "persoon_base", "r.persoon_id, r.meerderjarig")


def _finish(code: str, ctes: list[str], body: str) -> str:
    """Wrap a flag's body into the common result shape, ordered for stable output."""
    text = "\n".join([*ctes, body])
    shared = [cte for name, cte in _SHARED.items() if name in text]
    return f"""WITH {", ".join([_REF, *shared, *ctes])},
result AS ({body})
SELECT {sql_literal(code)} AS flag,
       CAST(r.nummeraanduiding_id AS VARCHAR) AS nummeraanduiding_id,
       CAST(r.verblijfsobject_id AS VARCHAR) AS verblijfsobject_id,
       CAST(r.pand_id AS VARCHAR) AS pand_id,
       CAST(r.openbare_ruimte_id AS VARCHAR) AS openbare_ruimte_id,
       CAST(r.evidence AS JSON) AS evidence,
       CAST(r.x AS DOUBLE) AS x,
       CAST(r.y AS DOUBLE) AS y,
       ref.d AS reference_date
FROM result r, ref
ORDER BY r.pand_id, r.openbare_ruimte_id, r.nummeraanduiding_id, CAST(r.evidence AS VARCHAR)"""


# -- 1. many companies in one building -----------------------------------------------------------


def many_companies_in_building_sql(cfg: SignalsConfig) -> str:
    """A pand whose verblijfsobjecten hold many active vestigingen.

    The evidence also describes the pand itself, its number of verblijfsobjecten and how many
    have each gebruiksdoel, so a human sees a business centre (many kantoor units) at a glance.
    """
    n = cfg.many_companies_in_building.min_establishments
    return _finish(
        "many_companies_in_building",
        [
            _VESTIGING_LOC,
            _ACTIVE,
            f"""per_pand AS (
    SELECT vp.pand_id,
           count(DISTINCT a.vestigingsnummer) AS establishments,
           list(DISTINCT a.vestigingsnummer ORDER BY a.vestigingsnummer) AS vestigingsnummers,
           list(DISTINCT a.verblijfsobject_id ORDER BY a.verblijfsobject_id) AS verblijfsobject_ids
    FROM active a JOIN bag.verblijfsobject_pand vp USING (verblijfsobject_id)
    GROUP BY vp.pand_id
    HAVING count(DISTINCT a.vestigingsnummer) >= {n}
)""",
            """pand_doelen AS (
    SELECT vp.pand_id, g.gebruiksdoel, count(DISTINCT vp.verblijfsobject_id) AS verblijfsobjecten
    FROM bag.verblijfsobject_pand vp
    LEFT JOIN (SELECT DISTINCT verblijfsobject_id, lower(gebruiksdoel) AS gebruiksdoel
               FROM bag.verblijfsobject_gebruiksdoel) g USING (verblijfsobject_id)
    WHERE vp.pand_id IN (SELECT pand_id FROM per_pand)
    GROUP BY vp.pand_id, g.gebruiksdoel
)""",
            """pand_units AS (
    SELECT vp.pand_id, count(DISTINCT vp.verblijfsobject_id) AS verblijfsobjecten,
           (SELECT list({'gebruiksdoel': d.gebruiksdoel, 'verblijfsobjecten': d.verblijfsobjecten}
                        ORDER BY d.gebruiksdoel)
            FROM pand_doelen d WHERE d.pand_id = vp.pand_id) AS gebruiksdoelen
    FROM bag.verblijfsobject_pand vp
    WHERE vp.pand_id IN (SELECT pand_id FROM per_pand)
    GROUP BY vp.pand_id
)""",
        ],
        f"""SELECT NULL AS nummeraanduiding_id, NULL AS verblijfsobject_id, pp.pand_id,
       NULL AS openbare_ruimte_id,
       json_object('establishments', pp.establishments, 'min_establishments', {n},
                   'vestigingsnummers', pp.vestigingsnummers,
                   'verblijfsobject_ids', pp.verblijfsobject_ids,
                   'verblijfsobjecten_in_pand', pu.verblijfsobjecten,
                   'gebruiksdoelen_in_pand', pu.gebruiksdoelen) AS evidence,
       ST_X(ST_Centroid(p.geometry)) AS x, ST_Y(ST_Centroid(p.geometry)) AS y
FROM per_pand pp
JOIN pand_units pu USING (pand_id)
LEFT JOIN (SELECT pand_id, any_value(geometry) AS geometry FROM bag.pand GROUP BY pand_id) p
     USING (pand_id)""",
    )


def many_companies_at_address_sql(cfg: SignalsConfig) -> str:
    """One verblijfsobject (one address) holding many active vestigingen: a letterbox address.

    Reported on the verblijfsobject's hoofdadres with its lowest pand id; the evidence lists the
    vestigingen with their start dates and the object's gebruiksdoelen.
    """
    n = cfg.many_companies_at_address.min_establishments
    return _finish(
        "many_companies_at_address",
        [
            _VESTIGING_LOC,
            _ACTIVE,
            _GEBRUIKSDOELEN,
            f"""per_vbo AS (
    SELECT verblijfsobject_id, count(DISTINCT vestigingsnummer) AS establishments,
           list(DISTINCT {{'vestigingsnummer': vestigingsnummer, 'datum_aanvang': datum_aanvang}})
               AS vestigingen
    FROM active WHERE verblijfsobject_id IS NOT NULL
    GROUP BY verblijfsobject_id
    HAVING count(DISTINCT vestigingsnummer) >= {n}
)""",
        ],
        f"""SELECT vo.hoofdadres_id AS nummeraanduiding_id, pv.verblijfsobject_id, vp.pand_id,
       NULL AS openbare_ruimte_id,
       json_object('establishments', pv.establishments, 'min_establishments', {n},
                   'vestigingen', list_sort(pv.vestigingen),
                   'gebruiksdoelen', coalesce(g.doelen, []::VARCHAR[])) AS evidence,
       vo.x, vo.y
FROM per_vbo pv
JOIN bag.verblijfsobject vo USING (verblijfsobject_id)
LEFT JOIN gebruiksdoelen g USING (verblijfsobject_id)
LEFT JOIN vbo_pand vp USING (verblijfsobject_id)""",
    )


def establishment_match_sql() -> str:
    """Active vestigingen, and how many of them were located in a verblijfsobject in a pand."""
    return f"""WITH {_REF}, {_VBO_ADRES_CTE}, {_VESTIGING_LOC}, {_ACTIVE}
SELECT count(*) AS active,
       count(*) FILTER (WHERE verblijfsobject_id IN (SELECT verblijfsobject_id FROM bag.verblijfsobject_pand))
           AS in_pand
FROM active"""


# -- 2. identical businesses in one street / nearby ---------------------------------------------


def vulnerable_sector_sql(cfg: SignalsConfig) -> str:
    """``vestigingsnummer, sector, omschrijving`` for every vestiging in a vulnerable sector.

    Reads only ``kvk.vestiging_sbi``. The sector is the SBI 2008 code of ``sbi_digits`` digits
    (SBI 2025 codes through ``sbi2025_to_2008`` where their digits differ); with
    ``main_activity_only`` only the hoofdactiviteit counts. Also used by the brancheanalyse notebook.
    """
    ib = cfg.identical_businesses
    sectors = " UNION ALL ".join(
        f"SELECT {sql_literal(code)} AS sector, {sql_literal(name)} AS omschrijving"
        for code, name in ib.vulnerable_sectors.items()
    )
    mapping = (
        " UNION ALL ".join(
            f"SELECT {sql_literal(prefix)} AS prefix, {sql_literal(sector)} AS sector"
            for prefix, sector in ib.sbi2025_to_2008.items()
        )
        or "SELECT NULL::VARCHAR AS prefix, NULL::VARCHAR AS sector WHERE false"
    )
    main_only = "WHERE s.is_hoofdactiviteit" if ib.main_activity_only else ""
    return f"""WITH sector_list AS ({sectors}),
sbi2025 AS ({mapping}),
activity AS (
    SELECT s.vestigingsnummer,
           coalesce(m.sector, left(replace(s.sbi_code, '.', ''), {ib.sbi_digits})) AS sector
    FROM kvk.vestiging_sbi s
    LEFT JOIN sbi2025 m ON s.sbi_versie = '2025' AND starts_with(replace(s.sbi_code, '.', ''), m.prefix)
    {main_only}
)
SELECT DISTINCT a.vestigingsnummer, a.sector, sl.omschrijving
FROM activity a JOIN sector_list sl USING (sector)"""


def _vulnerable_ctes(cfg: SignalsConfig) -> list[str]:
    return [
        _VESTIGING_LOC,
        _ACTIVE,
        f"sector_of AS ({vulnerable_sector_sql(cfg)})",
        """vulnerable AS (
    SELECT DISTINCT a.vestigingsnummer, a.nummeraanduiding_id, a.verblijfsobject_id,
                    so.sector, so.omschrijving
    FROM active a JOIN sector_of so USING (vestigingsnummer)
)""",
    ]


def identical_businesses_in_street_sql(cfg: SignalsConfig) -> str:
    n = cfg.identical_businesses.min_establishments
    return _finish(
        "identical_businesses_in_street",
        _vulnerable_ctes(cfg),
        f"""SELECT NULL AS nummeraanduiding_id, NULL AS verblijfsobject_id, NULL AS pand_id,
       na.openbare_ruimte_id,
       json_object('sector', v.sector, 'omschrijving', any_value(v.omschrijving),
                   'establishments', count(DISTINCT v.vestigingsnummer), 'min_establishments', {n},
                   'vestigingsnummers', list(DISTINCT v.vestigingsnummer ORDER BY v.vestigingsnummer),
                   'nummeraanduiding_ids',
                   list(DISTINCT v.nummeraanduiding_id ORDER BY v.nummeraanduiding_id)) AS evidence,
       avg(vo.x) AS x, avg(vo.y) AS y
FROM vulnerable v
JOIN bag.nummeraanduiding na USING (nummeraanduiding_id)
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = v.verblijfsobject_id
GROUP BY na.openbare_ruimte_id, v.sector
HAVING count(DISTINCT v.vestigingsnummer) >= {n}""",
    )


def identical_businesses_nearby_sql(cfg: SignalsConfig) -> str:
    """Clusters of one vulnerable sector within ``radius_m`` of a centre address.

    Every address with establishments of the sector counts the establishments of that sector
    within the radius (itself included). Addresses reaching the threshold are candidates; a
    candidate is reported as a centre unless another candidate within the radius counts more
    (ties: the lower nummeraanduiding id wins), so one cluster gives one flag. Distances use
    DuckDB spatial on the verblijfsobject points after a grid pre-selection of cells of the
    radius' size, which keeps the self-join an equi-join at national scale.
    """
    ib = cfg.identical_businesses
    n, r = ib.min_establishments, float(ib.radius_m)
    return _finish(
        "identical_businesses_nearby",
        [
            *_vulnerable_ctes(cfg),
            f"""pts AS (
    SELECT v.sector, any_value(v.omschrijving) AS omschrijving, v.nummeraanduiding_id,
           any_value(v.verblijfsobject_id) AS verblijfsobject_id, any_value(vo.x) AS x, any_value(vo.y) AS y,
           floor(any_value(vo.x) / {r})::BIGINT AS cx, floor(any_value(vo.y) / {r})::BIGINT AS cy,
           count(DISTINCT v.vestigingsnummer) AS n,
           list(DISTINCT v.vestigingsnummer ORDER BY v.vestigingsnummer) AS vestigingsnummers
    FROM vulnerable v JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = v.verblijfsobject_id
    WHERE vo.x IS NOT NULL AND vo.y IS NOT NULL AND v.nummeraanduiding_id IS NOT NULL
    GROUP BY v.sector, v.nummeraanduiding_id
)""",
            """cells AS (
    SELECT a.sector, a.nummeraanduiding_id, a.x, a.y, a.cx + d.dx AS ncx, a.cy + d.dy AS ncy
    FROM pts a
    CROSS JOIN (VALUES (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)) d(dx, dy)
)""",
            f"""pairs AS MATERIALIZED (
    SELECT c.sector, c.nummeraanduiding_id AS centre, b.nummeraanduiding_id AS member,
           b.n, b.vestigingsnummers
    FROM cells c
    JOIN pts b ON b.sector = c.sector AND b.cx = c.ncx AND b.cy = c.ncy
    WHERE ST_Distance(ST_Point(c.x, c.y), ST_Point(b.x, b.y)) <= {r}
)""",
            f"""candidates AS MATERIALIZED (
    SELECT sector, centre, sum(n) AS establishments,
           list(member ORDER BY member) AS members,
           list_sort(flatten(list(vestigingsnummers))) AS vestigingsnummers
    FROM pairs GROUP BY sector, centre
    HAVING sum(n) >= {n}
)""",
            """dominated AS (
    SELECT DISTINCT c.sector, c.centre
    FROM pairs p
    JOIN candidates c ON c.sector = p.sector AND c.centre = p.centre
    JOIN candidates d ON d.sector = p.sector AND d.centre = p.member
    WHERE p.member <> p.centre
      AND (d.establishments > c.establishments
           OR (d.establishments = c.establishments AND d.centre < c.centre))
)""",
        ],
        f"""SELECT c.centre AS nummeraanduiding_id, pt.verblijfsobject_id, vp.pand_id,
       NULL AS openbare_ruimte_id,
       json_object('sector', c.sector, 'omschrijving', pt.omschrijving,
                   'establishments', c.establishments, 'min_establishments', {n},
                   'radius_m', {r}, 'nummeraanduiding_ids', c.members,
                   'vestigingsnummers', c.vestigingsnummers) AS evidence,
       pt.x, pt.y
FROM candidates c
JOIN pts pt ON pt.sector = c.sector AND pt.nummeraanduiding_id = c.centre
LEFT JOIN vbo_pand vp ON vp.verblijfsobject_id = pt.verblijfsobject_id
WHERE NOT EXISTS (SELECT 1 FROM dominated d WHERE d.sector = c.sector AND d.centre = c.centre)""",
    )


# -- 3./4. residents: overcrowding, residents at a non-residential object ------------------------

_RESIDENTS = """residents AS (
    SELECT verblijfsobject_id,
           count(DISTINCT persoon_id) AS persons,
           count(DISTINCT persoon_id) FILTER (WHERE meerderjarig) AS adults
    FROM persoon_loc WHERE verblijfsobject_id IS NOT NULL
    GROUP BY verblijfsobject_id
)"""


def overcrowding_sql(cfg: SignalsConfig) -> str:
    oc = cfg.overcrowding
    return _finish(
        "overcrowding",
        [_PERSONS, _ADULT_LOC, _RESIDENTS, _GEBRUIKSDOELEN],
        f"""SELECT vo.hoofdadres_id AS nummeraanduiding_id, vo.verblijfsobject_id, vp.pand_id,
       NULL AS openbare_ruimte_id,
       json_object('adults', r.adults, 'oppervlakte_m2', vo.oppervlakte,
                   'm2_per_adult', round(vo.oppervlakte / r.adults, 2),
                   'min_adults', {oc.min_adults}, 'max_m2_per_adult', {oc.max_m2_per_adult}) AS evidence,
       vo.x, vo.y
FROM residents r
JOIN bag.verblijfsobject vo USING (verblijfsobject_id)
JOIN gebruiksdoelen g USING (verblijfsobject_id)
LEFT JOIN vbo_pand vp USING (verblijfsobject_id)
WHERE list_contains(g.doelen, 'woonfunctie')
  AND r.adults >= {oc.min_adults}
  AND vo.oppervlakte IS NOT NULL
  AND vo.oppervlakte < {oc.max_m2_per_adult} * r.adults""",
    )


def residents_at_non_residential_sql(cfg: SignalsConfig) -> str:
    m = cfg.residents_at_non_residential.min_persons
    return _finish(
        "residents_at_non_residential",
        [_PERSONS, _ADULT_LOC, _RESIDENTS, _GEBRUIKSDOELEN],
        f"""SELECT vo.hoofdadres_id AS nummeraanduiding_id, vo.verblijfsobject_id, vp.pand_id,
       NULL AS openbare_ruimte_id,
       json_object('persons', r.persons, 'gebruiksdoelen', coalesce(g.doelen, []::VARCHAR[]),
                   'min_persons', {m}) AS evidence,
       vo.x, vo.y
FROM residents r
JOIN bag.verblijfsobject vo USING (verblijfsobject_id)
LEFT JOIN gebruiksdoelen g USING (verblijfsobject_id)
LEFT JOIN vbo_pand vp USING (verblijfsobject_id)
WHERE NOT list_contains(coalesce(g.doelen, []::VARCHAR[]), 'woonfunctie')
  AND r.persons >= {m}""",
    )


# -- 5. company churn (turnover) ---------------------------------------------------------------


def company_churn_sql(cfg: SignalsConfig) -> str:
    """Turnover at one address: vestigingen that came and went, not vestigingen that arrived.

    In the window ``(ref - window_months, ref]``, per nummeraanduiding: *ended* = vestigingen
    whose datum_einde falls in the window; *short-lived* = ended ones that also started in the
    window. Fires when ended >= ``min_ended`` or short-lived >= ``min_short_lived``. Registrations
    alone never fire it (a new business centre is growth, not churn). The evidence lists every
    vestiging that started or ended in the window with its start, end and lifetime in days.
    """
    cc = cfg.company_churn
    window = f"CAST(ref.d - INTERVAL {cc.window_months} MONTH AS DATE)"
    return _finish(
        "company_churn",
        [
            _VESTIGING_LOC,
            f"""moves AS (
    SELECT v.nummeraanduiding_id, v.verblijfsobject_id, v.vestigingsnummer, v.datum_aanvang, v.datum_einde,
           (v.datum_aanvang > {window} AND v.datum_aanvang <= ref.d) AS started,
           (v.datum_einde > {window} AND v.datum_einde <= ref.d) AS ended
    FROM vestiging_loc v, ref
    WHERE v.nummeraanduiding_id IS NOT NULL
      AND ((v.datum_aanvang > {window} AND v.datum_aanvang <= ref.d)
           OR (v.datum_einde > {window} AND v.datum_einde <= ref.d))
)""",
            f"""per_address AS (
    SELECT nummeraanduiding_id, any_value(verblijfsobject_id) AS verblijfsobject_id,
           count(DISTINCT vestigingsnummer) FILTER (WHERE started) AS registrations,
           count(DISTINCT vestigingsnummer) FILTER (WHERE ended) AS deregistrations,
           count(DISTINCT vestigingsnummer) FILTER (WHERE started AND ended) AS short_lived,
           list(DISTINCT {{'vestigingsnummer': vestigingsnummer, 'datum_aanvang': datum_aanvang,
                          'datum_einde': datum_einde,
                          'lifetime_days': datum_einde - datum_aanvang}}) AS vestigingen
    FROM moves GROUP BY nummeraanduiding_id
    HAVING count(DISTINCT vestigingsnummer) FILTER (WHERE ended) >= {cc.min_ended}
        OR count(DISTINCT vestigingsnummer) FILTER (WHERE started AND ended) >= {cc.min_short_lived}
)""",
        ],
        f"""SELECT pa.nummeraanduiding_id, pa.verblijfsobject_id, vp.pand_id, NULL AS openbare_ruimte_id,
       json_object('registrations', pa.registrations, 'deregistrations', pa.deregistrations,
                   'short_lived', pa.short_lived,
                   'min_ended', {cc.min_ended}, 'min_short_lived', {cc.min_short_lived},
                   'window_months', {cc.window_months},
                   'window_start', {window}, 'window_end', ref.d,
                   'vestigingen', list_sort(pa.vestigingen)) AS evidence,
       vo.x, vo.y
FROM per_address pa CROSS JOIN ref
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = pa.verblijfsobject_id
LEFT JOIN vbo_pand vp ON vp.verblijfsobject_id = pa.verblijfsobject_id""",
    )


# -- 6. addresses not in BAG ---------------------------------------------------------------------


def address_not_in_bag_sql(cfg: SignalsConfig) -> str:
    """KvK (active vestigingen) and BRP (living persons) addresses that BAG does not know.

    A record is checked on the first reference it carries: its nummeraanduiding id, else its
    adresseerbaar object id (verblijfsobject, ligplaats or standplaats; checked through the
    object's hoofdadres), else postcode + huisnummer + huisletter + toevoeging. It fires when the
    reference finds no nummeraanduiding, or only withdrawn ones. Records without any address are
    not addresses and are not checked. One row per delivered address.
    """
    withdrawn = sql_list(cfg.address_not_in_bag.withdrawn_statuses)
    norm = """upper(replace(coalesce(postcode, ''), ' ', '')) AS pc, huisnummer,
           upper(trim(coalesce(huisletter, ''))) AS hl,
           upper(trim(coalesce(huisnummertoevoeging, ''))) AS ht"""
    return _finish(
        "address_not_in_bag",
        [
            f"""delivered AS (
    SELECT 'kvk' AS bron, vestigingsnummer, nummeraanduiding_id, verblijfsobject_id, {norm}
    FROM kvk.vestiging v, ref
    WHERE (v.datum_aanvang IS NULL OR v.datum_aanvang <= ref.d)
      AND (v.datum_einde IS NULL OR v.datum_einde > ref.d)
    UNION ALL
    SELECT 'brp', NULL, nummeraanduiding_id, verblijfsobject_id, {norm}
    FROM brp.persoon WHERE NOT coalesce(overleden, false)
)""",
            """objects AS (
    SELECT verblijfsobject_id AS object_id, hoofdadres_id FROM bag.verblijfsobject
    UNION ALL SELECT ligplaats_id, hoofdadres_id FROM bag.ligplaats
    UNION ALL SELECT standplaats_id, hoofdadres_id FROM bag.standplaats
)""",
            f"""num AS (
    SELECT nummeraanduiding_id, status, status IN {withdrawn} AS withdrawn,
           upper(replace(coalesce(postcode, ''), ' ', '')) AS pc, huisnummer,
           upper(trim(coalesce(huisletter, ''))) AS hl,
           upper(trim(coalesce(huisnummertoevoeging, ''))) AS ht
    FROM bag.nummeraanduiding
)""",
            """by_address AS (
    SELECT pc, huisnummer, hl, ht, bool_and(withdrawn) AS withdrawn,
           min(status) FILTER (WHERE withdrawn) AS status
    FROM num GROUP BY ALL
)""",
            """checked AS (
    SELECT d.*,
           CASE WHEN d.nummeraanduiding_id IS NOT NULL THEN 'nummeraanduiding_id'
                WHEN d.verblijfsobject_id IS NOT NULL THEN 'adresseerbaar_object_id'
                ELSE 'postcode_huisnummer' END AS checked_on,
           CASE WHEN d.nummeraanduiding_id IS NOT NULL THEN n_id.nummeraanduiding_id IS NOT NULL
                WHEN d.verblijfsobject_id IS NOT NULL THEN n_obj.nummeraanduiding_id IS NOT NULL
                ELSE ba.pc IS NOT NULL END AS found,
           CASE WHEN d.nummeraanduiding_id IS NOT NULL THEN n_id.withdrawn
                WHEN d.verblijfsobject_id IS NOT NULL THEN n_obj.withdrawn
                ELSE ba.withdrawn END AS withdrawn,
           CASE WHEN d.nummeraanduiding_id IS NOT NULL THEN n_id.status
                WHEN d.verblijfsobject_id IS NOT NULL THEN n_obj.status
                ELSE ba.status END AS status
    FROM delivered d
    LEFT JOIN num n_id ON n_id.nummeraanduiding_id = d.nummeraanduiding_id
    LEFT JOIN objects o  -- conditional keys keep every join an equi-join (hash join)
           ON o.object_id = CASE WHEN d.nummeraanduiding_id IS NULL THEN d.verblijfsobject_id END
    LEFT JOIN num n_obj ON n_obj.nummeraanduiding_id = o.hoofdadres_id
    LEFT JOIN by_address ba
           ON ba.pc = CASE WHEN d.nummeraanduiding_id IS NULL AND d.verblijfsobject_id IS NULL THEN d.pc END
          AND ba.huisnummer = d.huisnummer AND ba.hl = d.hl AND ba.ht = d.ht
    WHERE d.nummeraanduiding_id IS NOT NULL OR d.verblijfsobject_id IS NOT NULL
       OR (d.pc <> '' AND d.huisnummer IS NOT NULL)
)""",
        ],
        """SELECT c.nummeraanduiding_id, c.verblijfsobject_id, NULL AS pand_id, NULL AS openbare_ruimte_id,
       json_object('reason', CASE WHEN bool_and(c.found) THEN 'withdrawn' ELSE 'not_in_bag' END,
                   'bag_status', any_value(c.status), 'checked_on', any_value(c.checked_on),
                   'postcode', any_value(c.pc), 'huisnummer', any_value(c.huisnummer),
                   'huisletter', any_value(c.hl), 'huisnummertoevoeging', any_value(c.ht),
                   'kvk_vestigingsnummers',
                   coalesce(list(DISTINCT c.vestigingsnummer ORDER BY c.vestigingsnummer)
                            FILTER (WHERE c.bron = 'kvk'), []::VARCHAR[]),
                   'brp_persons', count(*) FILTER (WHERE c.bron = 'brp')) AS evidence,
       NULL AS x, NULL AS y
FROM checked c
WHERE NOT c.found OR c.withdrawn
GROUP BY c.nummeraanduiding_id, c.verblijfsobject_id,
         CASE WHEN c.nummeraanduiding_id IS NULL AND c.verblijfsobject_id IS NULL
              THEN c.pc || ' ' || c.huisnummer || c.hl || '-' || c.ht END""",
    )


# -- 7./8. enforcement cases ---------------------------------------------------------------------


def _cases(instruments: list[str], window: str, columns: str) -> str:
    located = _located("zaak_loc", "handhaving.zaak", f"r.zaak_id, r.instrument, r.datum_start, {columns}")
    return f"""{located}, cases AS (
    SELECT z.* FROM zaak_loc z, ref
    WHERE z.instrument IN {sql_list(instruments)}
      AND z.datum_start > CAST(ref.d - INTERVAL {window} AS DATE) AND z.datum_start <= ref.d
      AND z.nummeraanduiding_id IS NOT NULL
)"""


def enforcement_history_sql(cfg: SignalsConfig) -> str:
    """Case addresses (``via: case``) and the addresses of their residents' relatives (``via: family``).

    A case address gets one row with its cases, its number of residents and the pseudonymised
    relatives living elsewhere. Every other address in the municipality where a relative of a
    resident of a case address lives (relations in ``family_relations``, first degree, from
    ``brp.relatie``; living persons only) gets its own row: the relation (what the person at this
    address is of the resident, e.g. ``ouder``), the case address and its case ids, never a person.
    """
    eh = cfg.enforcement_history
    relations = sql_list(eh.family_relations) if eh.family_relations else None
    in_relations = f"rel.relatie IN {relations}" if relations else "false"
    return _finish(
        "enforcement_history",
        [
            _cases(eh.instruments, f"{eh.window_years} YEAR", "r.datum_einde, r.status"),
            _PERSONS,
            _PERSOON_LOC,
            """per_address AS (
    SELECT nummeraanduiding_id, any_value(verblijfsobject_id) AS verblijfsobject_id,
           list({'zaak_id': zaak_id, 'instrument': instrument, 'datum_start': datum_start,
                 'datum_einde': datum_einde, 'status': status} ORDER BY datum_start, zaak_id) AS zaken
    FROM cases GROUP BY nummeraanduiding_id
)""",
            """residents AS (
    SELECT pa.nummeraanduiding_id, pl.persoon_id
    FROM per_address pa JOIN persoon_loc pl ON pl.verblijfsobject_id = pa.verblijfsobject_id
)""",
            """links AS (  -- both directions: a relation recorded on one person list only still counts
    SELECT persoon_id, gerelateerde_id, relatie FROM brp.relatie
    UNION
    SELECT gerelateerde_id, persoon_id,
           CASE relatie WHEN 'ouder' THEN 'kind' WHEN 'kind' THEN 'ouder' ELSE relatie END
    FROM brp.relatie
)""",
            f"""relatives AS (
    SELECT r.nummeraanduiding_id AS case_nummeraanduiding_id, rel.gerelateerde_id, rel.relatie,
           f.nummeraanduiding_id, f.verblijfsobject_id
    FROM residents r
    JOIN links rel ON rel.persoon_id = r.persoon_id
    JOIN persoon_loc f ON f.persoon_id = rel.gerelateerde_id
    JOIN per_address pa ON pa.nummeraanduiding_id = r.nummeraanduiding_id
    WHERE {in_relations}
      AND f.verblijfsobject_id IS NOT NULL
      AND f.verblijfsobject_id IS DISTINCT FROM pa.verblijfsobject_id
)""",
            """family AS (
    SELECT case_nummeraanduiding_id AS nummeraanduiding_id,
           list_sort(list(DISTINCT {'persoon_id': gerelateerde_id, 'relatie': relatie,
                                    'nummeraanduiding_id': nummeraanduiding_id})) AS members
    FROM relatives GROUP BY case_nummeraanduiding_id
)""",
            """family_address AS (
    SELECT rv.nummeraanduiding_id, any_value(rv.verblijfsobject_id) AS verblijfsobject_id,
           list_sort(list(DISTINCT {'relatie': rv.relatie,
                                    'case_nummeraanduiding_id': rv.case_nummeraanduiding_id,
                                    'zaak_ids': list_transform(pa.zaken, z -> z.zaak_id),
                                    'instruments': list_sort(list_distinct(
                                        list_transform(pa.zaken, z -> z.instrument)))})) AS links
    FROM relatives rv JOIN per_address pa ON pa.nummeraanduiding_id = rv.case_nummeraanduiding_id
    WHERE rv.nummeraanduiding_id IS NOT NULL
    GROUP BY rv.nummeraanduiding_id
)""",
        ],
        f"""SELECT pa.nummeraanduiding_id, pa.verblijfsobject_id, vp.pand_id, NULL AS openbare_ruimte_id,
       json_object('via', 'case', 'zaken', pa.zaken, 'window_years', {eh.window_years},
                   'residents', (SELECT count(DISTINCT persoon_id) FROM residents r
                                 WHERE r.nummeraanduiding_id = pa.nummeraanduiding_id),
                   'family_elsewhere', coalesce(f.members, [])) AS evidence,
       vo.x, vo.y
FROM per_address pa
LEFT JOIN family f USING (nummeraanduiding_id)
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = pa.verblijfsobject_id
LEFT JOIN vbo_pand vp ON vp.verblijfsobject_id = pa.verblijfsobject_id
UNION ALL
SELECT fa.nummeraanduiding_id, fa.verblijfsobject_id, vp.pand_id, NULL AS openbare_ruimte_id,
       json_object('via', 'family', 'family', fa.links, 'window_years', {eh.window_years}) AS evidence,
       vo.x, vo.y
FROM family_address fa
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = fa.verblijfsobject_id
LEFT JOIN vbo_pand vp ON vp.verblijfsobject_id = fa.verblijfsobject_id""",
    )


def staff_safety_sql(cfg: SignalsConfig) -> str:
    """Front-line roles see only "caution, contact <team>": no dates, case ids or instruments."""
    ss = cfg.staff_safety
    default_team = sql_literal(ss.default_team)
    return _finish(
        "staff_safety",
        [_cases(ss.instruments, f"{ss.window_months} MONTH", "r.team")],
        f"""SELECT c.nummeraanduiding_id, any_value(c.verblijfsobject_id) AS verblijfsobject_id,
       any_value(vp.pand_id) AS pand_id, NULL AS openbare_ruimte_id,
       json_object('message', 'caution, contact ' ||
                   string_agg(DISTINCT coalesce(c.team, {default_team}), ', '
                              ORDER BY coalesce(c.team, {default_team}))) AS evidence,
       any_value(vo.x) AS x, any_value(vo.y) AS y
FROM cases c
LEFT JOIN bag.verblijfsobject vo ON vo.verblijfsobject_id = c.verblijfsobject_id
LEFT JOIN vbo_pand vp ON vp.verblijfsobject_id = c.verblijfsobject_id
GROUP BY c.nummeraanduiding_id""",
    )


FLAG_SQL: dict[str, Callable[[SignalsConfig], str]] = {
    "many_companies_in_building": many_companies_in_building_sql,
    "many_companies_at_address": many_companies_at_address_sql,
    "identical_businesses_in_street": identical_businesses_in_street_sql,
    "identical_businesses_nearby": identical_businesses_nearby_sql,
    "overcrowding": overcrowding_sql,
    "residents_at_non_residential": residents_at_non_residential_sql,
    "company_churn": company_churn_sql,
    "address_not_in_bag": address_not_in_bag_sql,
    "enforcement_history": enforcement_history_sql,
    "staff_safety": staff_safety_sql,
}
