"""Matching delivered addresses to BAG nummeraanduidingen (an ingest step: SQL on the warehouse).

The readers normalise address parts (``sources.addresses``); the ingest writers call
:func:`match_to_bag` on their staging table inside their load transaction.

Matching (:func:`match_to_bag`, SQL against ``bag.adres``) is on postcode + huisnummer +
huisletter + huisnummertoevoeging, compared upper-cased. Free text cannot always tell a huisletter
from a toevoeging (``12-A``, ``12 A1``), so an address that has no exact match is matched on
postcode + huisnummer + the concatenation huisletter||toevoeging when exactly one BAG address has
that concatenation. Anything else stays unmatched (``adres_match`` NULL); nothing is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from privacy.sqltext import table_exists


@dataclass(frozen=True, slots=True)
class MatchStats:
    total: int
    by_bag_id: int
    by_postcode_huisnummer: int
    bag_available: bool

    @property
    def matched(self) -> int:
        return self.by_bag_id + self.by_postcode_huisnummer

    @property
    def rate(self) -> float:
        return round(self.matched / self.total, 4) if self.total else 0.0

    def as_extra(self) -> dict[str, float | int | str]:
        return {
            "address_total": self.total,
            "address_matched": self.matched,
            "address_match_rate": self.rate,
            "address_matched_by_bag_id": self.by_bag_id,
            "address_matched_by_postcode_huisnummer": self.by_postcode_huisnummer,
            "bag_adres_available": str(self.bag_available).lower(),
        }


def match_to_bag(con: duckdb.DuckDBPyConnection, table: str, key: str) -> MatchStats:
    """Fill ``nummeraanduiding_id``, ``verblijfsobject_id`` and ``adres_match`` of ``table`` in place.

    ``table`` (one row per ``key``) has the columns ``nummeraanduiding_id``, ``verblijfsobject_id``
    (delivered BAG ids or NULL), ``postcode``, ``huisnummer``, ``huisletter``,
    ``huisnummertoevoeging`` (normalised as in this module) and ``adres_match``.

    * A row with a delivered BAG id gets ``adres_match = 'bag_id'``; the missing one of the two ids
      is completed from ``bag.adres`` (nummeraanduiding -> its adresseerbaar object; an object ->
      its hoofdadres).
    * Otherwise postcode + huisnummer + huisletter + toevoeging is looked up (see module doc) and a
      unique hit gets ``adres_match = 'postcode_huisnummer'``.

    Without a ``bag.adres`` table only delivered ids count as matched.
    """
    con.execute(
        f"UPDATE {table} SET adres_match = 'bag_id' "
        "WHERE nummeraanduiding_id IS NOT NULL OR verblijfsobject_id IS NOT NULL"
    )
    bag = table_exists(con, "bag.adres")
    if bag:
        con.execute(
            f"""UPDATE {table} t SET verblijfsobject_id = a.adresseerbaar_object_id
                FROM bag.adres a
                WHERE t.verblijfsobject_id IS NULL AND t.nummeraanduiding_id = a.nummeraanduiding_id"""
        )
        con.execute(
            f"""UPDATE {table} t SET nummeraanduiding_id = a.nummeraanduiding_id
                FROM bag.adres a
                WHERE t.nummeraanduiding_id IS NULL AND t.verblijfsobject_id = a.adresseerbaar_object_id
                  AND a.is_hoofdadres"""
        )
        con.execute(
            f"""UPDATE {table} t SET nummeraanduiding_id = m.nummeraanduiding_id,
                    verblijfsobject_id = m.adresseerbaar_object_id, adres_match = 'postcode_huisnummer'
                FROM (
                    WITH cand AS (
                        SELECT i.{key} AS k, a.nummeraanduiding_id, a.adresseerbaar_object_id,
                            coalesce(upper(a.huisletter), '') = coalesce(i.huisletter, '')
                              AND coalesce(upper(a.huisnummertoevoeging), '')
                                  = coalesce(i.huisnummertoevoeging, '') AS exact
                        FROM {table} i
                        JOIN bag.adres a
                          ON a.postcode = i.postcode AND a.huisnummer = i.huisnummer
                         AND upper(coalesce(a.huisletter, '') || coalesce(a.huisnummertoevoeging, ''))
                             = coalesce(i.huisletter, '') || coalesce(i.huisnummertoevoeging, '')
                        WHERE i.adres_match IS NULL AND i.postcode IS NOT NULL
                          AND i.huisnummer IS NOT NULL
                    ), counted AS (
                        SELECT *, count(*) FILTER (WHERE exact) OVER (PARTITION BY k) AS n_exact,
                               count(*) OVER (PARTITION BY k) AS n_all
                        FROM cand
                    )
                    SELECT k, nummeraanduiding_id, adresseerbaar_object_id FROM counted
                    WHERE (exact AND n_exact = 1) OR (n_exact = 0 AND n_all = 1)
                ) m
                WHERE t.{key} = m.k"""
        )
    total, by_id, by_pc = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE adres_match = 'bag_id'),
                   count(*) FILTER (WHERE adres_match = 'postcode_huisnummer') FROM {table}"""
    ).fetchone()
    return MatchStats(total, by_id, by_pc, bag)
