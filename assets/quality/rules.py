"""Data-quality rules on the staging tables, one suite per table.

Every rule is a SQL query selecting one ``example`` per violating row; :mod:`assets.quality.checks`
counts the violations over the WHOLE table in DuckDB and keeps a few examples, and Great
Expectations then evaluates the aggregated counts (see that module for why).

Blocking rules are those whose violation would poison the flags or leak personal data: the
formats of the registries' own identifiers (joins silently miss), BAG-internal referential
integrity (an address without street or a verblijfsobject without pand drops out of the building
and street flags), SBI validity and a person id that is not a pseudonym. Non-blocking rules
(``blocking=False``) report data that is wrong but is itself a signal or harmless to the flags:
invalid pand geometry (reported, never repaired silently), persons and establishments whose
address is not in BAG (that is the ``address_not_in_bag`` flag), malformed BAG references and
postcodes in BRP and KvK records (LO3 uses ``0000000000000000`` for "unknown"; the RvIG test set
has such values).

BSNs: they are replaced by keyed pseudonyms at ingest, so no BSN may exist in the warehouse at
all. ``brp.persoon`` and ``brp.relatie`` are checked on the pseudonym format (``P`` + 24 hex; a
9-digit value would be a raw BSN) and every text column where a BSN could slip through (person
ids, the rejects' record reference and reason) is scanned for 9-digit numbers passing the
elfproef. Examples of those rules show only the value's shape (digits as ``9``), never the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from privacy.sqltext import sql_list
from sources.enforcement import INSTRUMENTS, STATUSES

BAG_ID = {
    "woonplaats": "[0-9]{4}",
    "openbare_ruimte": "[0-9]{4}30[0-9]{10}",
    "nummeraanduiding": "[0-9]{4}20[0-9]{10}",
    "verblijfsobject": "[0-9]{4}01[0-9]{10}",
    "pand": "[0-9]{4}10[0-9]{10}",
    "ligplaats": "[0-9]{4}02[0-9]{10}",
    "standplaats": "[0-9]{4}03[0-9]{10}",
}
PSEUDONYM = "P[0-9a-f]{24}"
SBI = "[0-9]{4,5}"


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    violations: str  # SELECT <example> AS example FROM ... WHERE <violated>
    blocking: bool = True


@dataclass(frozen=True)
class Suite:
    table: str  # the staging table (and Dagster asset) the suite checks
    rules: tuple[Rule, ...]
    reads: tuple[str, ...] = ()  # other tables the rules read (referential integrity)


def _postcode_invalid(col: str) -> str:
    # Dutch postcode: 4 digits not starting with 0, 2 capitals, never SA, SD or SS.
    return (
        f"({col} IS NOT NULL AND (NOT regexp_full_match({col}, '[1-9][0-9]{{3}}[A-Z]{{2}}') "
        f"OR right({col}, 2) IN ('SA', 'SD', 'SS')))"
    )


def _postcode_rule(table: str, key: str, *, blocking: bool = True) -> Rule:
    return Rule(
        "postcode_format",
        "postcode is 1234AB (no leading 0, not SA/SD/SS) where present",
        f"SELECT {key} AS example FROM {table} WHERE {_postcode_invalid('postcode')}",
        blocking,
    )


def _address_in_bag_rule(table: str, key: str, description: str, where: str = "true") -> Rule:
    """Non-blocking: the record's nummeraanduiding or verblijfsobject exists in BAG."""
    return Rule(
        "address_in_bag",
        description,
        f"""SELECT {key} AS example FROM {table} t WHERE {where}
        AND NOT EXISTS (SELECT 1 FROM bag.nummeraanduiding n
                        WHERE n.nummeraanduiding_id = t.nummeraanduiding_id)
        AND NOT EXISTS (SELECT 1 FROM bag.verblijfsobject o WHERE o.verblijfsobject_id = t.verblijfsobject_id)
        AND NOT EXISTS (SELECT 1 FROM bag.ligplaats o WHERE o.ligplaats_id = t.verblijfsobject_id)
        AND NOT EXISTS (SELECT 1 FROM bag.standplaats o WHERE o.standplaats_id = t.verblijfsobject_id)""",
        blocking=False,
    )


def _implausible_rule(rejects: str) -> Rule:
    """Counts the records the reader refused by a plausibility rule (``sources.fields``): reported,
    not blocking (the records are already kept out; a rise says the source's quality dropped)."""
    return Rule(
        "implausible_rejects",
        f"records refused as implausible at the reader ({rejects}: future dates, ages over 120, "
        "control characters, entity references, unknown response kinds)",
        f"SELECT record_ref AS example FROM {rejects} WHERE starts_with(reason, 'implausible')",
        blocking=False,
    )


def _id_rule(table: str, column: str, pattern: str, *, nullable: bool = False, blocking: bool = True) -> Rule:
    null = f"{column} IS NULL OR " if not nullable else ""
    return Rule(
        f"{column}_format",
        f"{column} matches {pattern}" + ("" if nullable else " and is present"),
        f"SELECT {column} AS example FROM {table} WHERE {null}NOT regexp_full_match({column}, '{pattern}')",
        blocking,
    )


def _exists_rule(table: str, column: str, target: str, target_column: str, *, blocking: bool = True) -> Rule:
    return Rule(
        f"{column}_exists",
        f"{column} refers to an existing {target}.{target_column}",
        f"SELECT t.{column} AS example FROM {table} t WHERE t.{column} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {target} x WHERE x.{target_column} = t.{column})",
        blocking,
    )


def _unique_rule(table: str, column: str) -> Rule:
    return Rule(
        f"{column}_unique",
        f"{column} is unique",
        f"SELECT {column} AS example FROM {table} GROUP BY {column} HAVING count(*) > 1",
    )


def _elfproef(digits: str) -> str:
    weighted = (
        f"list_sum(list_transform(range(1, 9), i -> (10 - i) * CAST(substr({digits}, i, 1) AS INTEGER)))"
    )
    return f"(({weighted} - CAST(substr({digits}, 9, 1) AS INTEGER)) % 11 = 0 AND {digits} <> '000000000')"


def _shape(col: str) -> str:
    return f"regexp_replace({col}, '[0-9]', '9', 'g')"


def bsn_leak_rule(name: str, table: str, columns: tuple[str, ...]) -> Rule:
    """No stand-alone 9-digit number passing the elfproef in ``columns`` (examples: column name only).

    Stand-alone: bounded by non-word characters, so digit runs inside a hex pseudonym do not count.
    """
    selects = " UNION ALL ".join(
        f"SELECT '{c}' AS example FROM {table} "
        f"WHERE len(list_filter(regexp_extract_all(CAST({c} AS VARCHAR), '\\b[0-9]{{9}}\\b'), "
        f"n -> {_elfproef('n')})) > 0"
        for c in columns
    )
    return Rule(
        name,
        f"no BSN (9 digits passing the elfproef) in {', '.join(columns)}",
        selects,
    )


def _person(col: str) -> str:
    """A person id as an example: the pseudonym itself, or only its shape if it is not one."""
    return f"CASE WHEN regexp_full_match({col}, '{PSEUDONYM}') THEN {col} ELSE {_shape(col)} END"


def _pseudonym_rule(table: str, column: str) -> Rule:
    return Rule(
        f"{column}_pseudonym",
        f"{column} is a pseudonym (P + 24 hex), never a raw BSN",
        f"SELECT {_shape(column)} AS example FROM {table} "
        f"WHERE {column} IS NULL OR NOT regexp_full_match({column}, '{PSEUDONYM}')",
    )


def _geometry_rule(table: str, id_column: str) -> Rule:
    return Rule(
        "geometry_valid",
        "geometry present and valid (invalid geometry is reported, never repaired silently)",
        f"SELECT {id_column} AS example FROM {table} WHERE geometry IS NULL OR NOT ST_IsValid(geometry)",
        blocking=False,
    )


SUITES: tuple[Suite, ...] = (
    Suite("bag.woonplaats", (_id_rule("bag.woonplaats", "woonplaats_id", BAG_ID["woonplaats"]),)),
    Suite(
        "bag.openbare_ruimte",
        (
            _id_rule("bag.openbare_ruimte", "openbare_ruimte_id", BAG_ID["openbare_ruimte"]),
            _exists_rule("bag.openbare_ruimte", "woonplaats_id", "bag.woonplaats", "woonplaats_id"),
            _implausible_rule("rejects.bag"),
        ),
        ("bag.woonplaats", "rejects.bag"),
    ),
    Suite(
        "bag.nummeraanduiding",
        (
            _id_rule("bag.nummeraanduiding", "nummeraanduiding_id", BAG_ID["nummeraanduiding"]),
            _unique_rule("bag.nummeraanduiding", "nummeraanduiding_id"),
            _postcode_rule("bag.nummeraanduiding", "nummeraanduiding_id"),
            Rule(
                "huisnummer_range",
                "huisnummer between 1 and 99999",
                "SELECT nummeraanduiding_id AS example FROM bag.nummeraanduiding "
                "WHERE huisnummer IS NULL OR huisnummer NOT BETWEEN 1 AND 99999",
            ),
            _exists_rule(
                "bag.nummeraanduiding", "openbare_ruimte_id", "bag.openbare_ruimte", "openbare_ruimte_id"
            ),
            _exists_rule("bag.nummeraanduiding", "woonplaats_id", "bag.woonplaats", "woonplaats_id"),
        ),
        ("bag.openbare_ruimte", "bag.woonplaats"),
    ),
    Suite(
        "bag.verblijfsobject",
        (
            _id_rule("bag.verblijfsobject", "verblijfsobject_id", BAG_ID["verblijfsobject"]),
            _unique_rule("bag.verblijfsobject", "verblijfsobject_id"),
            _exists_rule(
                "bag.verblijfsobject", "hoofdadres_id", "bag.nummeraanduiding", "nummeraanduiding_id"
            ),
            Rule(
                "in_a_pand",
                "every verblijfsobject lies in at least one existing pand",
                "SELECT v.verblijfsobject_id AS example FROM bag.verblijfsobject v WHERE NOT EXISTS ("
                "SELECT 1 FROM bag.verblijfsobject_pand vp JOIN bag.pand p USING (pand_id) "
                "WHERE vp.verblijfsobject_id = v.verblijfsobject_id)",
            ),
            Rule(
                "point_present",
                "x, y present (the point the nearby and map use)",
                "SELECT verblijfsobject_id AS example FROM bag.verblijfsobject WHERE x IS NULL OR y IS NULL",
            ),
        ),
        ("bag.nummeraanduiding", "bag.verblijfsobject_pand", "bag.pand"),
    ),
    Suite(
        "bag.pand",
        (
            _id_rule("bag.pand", "pand_id", BAG_ID["pand"]),
            _unique_rule("bag.pand", "pand_id"),
            _geometry_rule("bag.pand", "pand_id"),
        ),
    ),
    Suite(
        "bag.nevenadres",
        (
            Rule(
                "object_type_valid",
                "object_type is VBO, LIG or STA",
                "SELECT object_id AS example FROM bag.nevenadres "
                "WHERE object_type IS NULL OR object_type NOT IN ('VBO', 'LIG', 'STA')",
            ),
            _exists_rule(
                "bag.nevenadres", "nummeraanduiding_id", "bag.nummeraanduiding", "nummeraanduiding_id"
            ),
        ),
        ("bag.nummeraanduiding",),
    ),
    Suite(
        "brp.persoon",
        (
            _pseudonym_rule("brp.persoon", "persoon_id"),
            Rule(
                "persoon_id_unique",
                "persoon_id is unique",
                f"SELECT {_shape('persoon_id')} AS example FROM brp.persoon "
                "GROUP BY persoon_id HAVING count(*) > 1",
            ),
            bsn_leak_rule("no_bsn", "brp.persoon", ("persoon_id",)),
            bsn_leak_rule("no_bsn_in_rejects", "rejects.brp", ("record_ref", "reason")),
            _implausible_rule("rejects.brp"),
            _id_rule(
                "brp.persoon",
                "verblijfsobject_id",
                BAG_ID["verblijfsobject"] + "|" + BAG_ID["ligplaats"] + "|" + BAG_ID["standplaats"],
                nullable=True,
                blocking=False,
            ),
            _id_rule(
                "brp.persoon",
                "nummeraanduiding_id",
                BAG_ID["nummeraanduiding"],
                nullable=True,
                blocking=False,
            ),
            _postcode_rule("brp.persoon", _person("persoon_id"), blocking=False),
            Rule(
                "meerderjarig_consistent",
                "meerderjarig agrees with leeftijd >= 18",
                f"SELECT {_person('persoon_id')} AS example FROM brp.persoon "
                "WHERE leeftijd IS NOT NULL AND meerderjarig IS DISTINCT FROM (leeftijd >= 18)",
            ),
            _address_in_bag_rule(
                "brp.persoon",
                _person("persoon_id"),
                "a living person's address exists in BAG (else: the address_not_in_bag flag)",
                "NOT coalesce(t.overleden, false) "
                "AND (t.nummeraanduiding_id IS NOT NULL OR t.verblijfsobject_id IS NOT NULL)",
            ),
        ),
        ("rejects.brp", "bag.nummeraanduiding", "bag.verblijfsobject", "bag.ligplaats", "bag.standplaats"),
    ),
    Suite(
        "brp.relatie",
        (
            _pseudonym_rule("brp.relatie", "persoon_id"),
            _pseudonym_rule("brp.relatie", "gerelateerde_id"),
            bsn_leak_rule("no_bsn", "brp.relatie", ("persoon_id", "gerelateerde_id")),
            Rule(
                "relatie_valid",
                "relatie is ouder, partner or kind",
                "SELECT coalesce(relatie, 'NULL') AS example FROM brp.relatie "
                "WHERE relatie IS NULL OR relatie NOT IN ('ouder', 'partner', 'kind')",
            ),
            Rule(
                "persoon_id_exists",
                "persoon_id refers to an existing brp.persoon",
                f"SELECT {_person('t.persoon_id')} AS example FROM brp.relatie t "
                "WHERE NOT EXISTS (SELECT 1 FROM brp.persoon p WHERE p.persoon_id = t.persoon_id)",
            ),
        ),
        ("brp.persoon",),
    ),
    Suite(
        "kvk.vestiging",
        (
            _id_rule("kvk.vestiging", "vestigingsnummer", "[0-9]{12}"),
            _unique_rule("kvk.vestiging", "vestigingsnummer"),
            _id_rule("kvk.vestiging", "kvk_nummer", "[0-9]{8}"),
            _id_rule(
                "kvk.vestiging",
                "nummeraanduiding_id",
                BAG_ID["nummeraanduiding"],
                nullable=True,
                blocking=False,
            ),
            _id_rule(
                "kvk.vestiging",
                "verblijfsobject_id",
                BAG_ID["verblijfsobject"],
                nullable=True,
                blocking=False,
            ),
            _postcode_rule("kvk.vestiging", "vestigingsnummer", blocking=False),
            Rule(
                "dates_ordered",
                "datum_einde not before datum_aanvang (a search result may lack datum_aanvang)",
                "SELECT vestigingsnummer AS example FROM kvk.vestiging WHERE datum_einde < datum_aanvang",
                blocking=False,
            ),
            _address_in_bag_rule(
                "kvk.vestiging",
                "t.vestigingsnummer",
                "an active vestiging was matched to BAG (else: the address_not_in_bag flag)",
                "t.datum_einde IS NULL",
            ),
            _implausible_rule("rejects.kvk"),
        ),
        ("bag.nummeraanduiding", "bag.verblijfsobject", "bag.ligplaats", "bag.standplaats", "rejects.kvk"),
    ),
    Suite(
        "kvk.vestiging_sbi",
        (
            Rule(
                "sbi_code_valid",
                "sbi_code is 4 or 5 digits, sbi_versie 2008 or 2025",
                "SELECT coalesce(sbi_code, 'NULL') AS example FROM kvk.vestiging_sbi "
                f"WHERE sbi_code IS NULL OR NOT regexp_full_match(sbi_code, '{SBI}') "
                "OR sbi_versie IS NULL OR sbi_versie NOT IN ('2008', '2025')",
            ),
            Rule(
                "one_hoofdactiviteit",
                "every vestiging with activities has exactly one hoofdactiviteit",
                "SELECT vestigingsnummer AS example FROM kvk.vestiging_sbi GROUP BY vestigingsnummer "
                "HAVING count(*) FILTER (WHERE is_hoofdactiviteit) <> 1",
            ),
            _exists_rule("kvk.vestiging_sbi", "vestigingsnummer", "kvk.vestiging", "vestigingsnummer"),
        ),
        ("kvk.vestiging",),
    ),
    Suite(
        "handhaving.zaak",
        (
            _unique_rule("handhaving.zaak", "zaak_id"),
            Rule(
                "instrument_valid",
                "instrument is a documented code (docs/FORMATS.md)",
                "SELECT zaak_id AS example FROM handhaving.zaak "
                f"WHERE instrument IS NULL OR instrument NOT IN {sql_list(sorted(INSTRUMENTS))}",
            ),
            Rule(
                "status_valid",
                "status is open, lopend, afgerond or ingetrokken",
                "SELECT zaak_id AS example FROM handhaving.zaak "
                f"WHERE status IS NULL OR status NOT IN {sql_list(sorted(STATUSES))}",
            ),
            Rule(
                "datum_start_present",
                "datum_start present and not after datum_einde",
                "SELECT zaak_id AS example FROM handhaving.zaak "
                "WHERE datum_start IS NULL OR datum_einde < datum_start",
            ),
            _address_in_bag_rule(
                "handhaving.zaak",
                "t.zaak_id",
                "the case's address was found in BAG (an unmatched case cannot reach a flag)",
            ),
            _implausible_rule("rejects.handhaving"),
        ),
        (
            "bag.nummeraanduiding",
            "bag.verblijfsobject",
            "bag.ligplaats",
            "bag.standplaats",
            "rejects.handhaving",
        ),
    ),
)
