"""Dutch address normalisation and matching of delivered addresses to BAG nummeraanduidingen.

Normalisation (plain Python, used by the readers):

* postcode: ``1234 ab`` -> ``1234AB``; anything else than four digits (first not 0) and two
  letters is malformed (:class:`AddressError`).
* huisletter: one letter, upper-cased; huisnummertoevoeging: up to four letters/digits, upper-cased,
  whitespace and leading separators removed (``" a-bis"`` -> ``"A-BIS"`` keeps inner separators).
* :func:`parse_address` splits a free-text address such as ``Dorpsstraat 12 A-bis, 1234 AB Plaats``
  or the KvK ``volledigAdres`` (``Abebe Bikilalaan 17 M      1034WL Amsterdam``).

Matching (:func:`match_to_bag`, SQL against ``bag.adres``) is on postcode + huisnummer +
huisletter + huisnummertoevoeging, compared upper-cased. Free text cannot always tell a huisletter
from a toevoeging (``12-A``, ``12 A1``), so an address that has no exact match is matched on
postcode + huisnummer + the concatenation huisletter||toevoeging when exactly one BAG address has
that concatenation. Anything else stays unmatched (``adres_match`` NULL); nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from pipelines.warehouse import table_exists

POSTCODE_RE = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
BAG_ID_RE = re.compile(r"^[0-9]{16}$")
_POSTCODE_IN_TEXT = re.compile(r"(?:^|[\s,])(?P<pc>[0-9]{4}\s?[A-Za-z]{2})(?=\s|,|$)")
_HOUSE_NUMBER = re.compile(r"\s(?P<nr>[0-9]{1,5})(?=[^0-9]|$)")
_REST_RE = re.compile(
    r"^[\s\-/]*(?:(?P<letter>[A-Za-z])(?![A-Za-z]))?[\s\-/]*(?P<toev>[A-Za-z0-9][A-Za-z0-9\-/ ]{0,7})?$"
)
_SEPARATORS = " \t-/"


class AddressError(ValueError):
    """A delivered address part that is malformed (the message is safe to log: no personal data)."""


def normalise_postcode(value: str | None) -> str | None:
    """``'1234 ab'`` -> ``'1234AB'``; empty -> None; malformed -> :class:`AddressError`."""
    if value is None or not str(value).strip():
        return None
    compact = re.sub(r"\s+", "", str(value)).upper()
    if not POSTCODE_RE.match(compact):
        raise AddressError(f"malformed postcode {str(value).strip()!r}")
    return compact


def normalise_huisletter(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    letter = str(value).strip().upper()
    if len(letter) != 1 or not letter.isalpha():
        raise AddressError(f"malformed huisletter {letter!r}")
    return letter


def normalise_toevoeging(value: str | None) -> str | None:
    """Upper-case, drop whitespace and leading separators; empty -> None."""
    if value is None:
        return None
    text = re.sub(r"\s+", "", str(value)).lstrip(_SEPARATORS).upper()
    return text or None


def normalise_huisnummer(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise AddressError(f"malformed huisnummer {str(value).strip()!r}") from None
    if not 1 <= number <= 99999:
        raise AddressError(f"huisnummer {number} out of range 1-99999")
    return number


def normalise_bag_id(value: object, what: str) -> str | None:
    """A 16-digit BAG identification (leading zeros kept); empty -> None."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if not BAG_ID_RE.match(text):
        raise AddressError(f"malformed {what} {text!r} (expected 16 digits)")
    return text


@dataclass(frozen=True, slots=True)
class Address:
    straatnaam: str | None
    huisnummer: int | None
    huisletter: str | None
    huisnummertoevoeging: str | None
    postcode: str | None
    plaats: str | None


def split_house_number_rest(rest: str) -> tuple[str | None, str | None]:
    """Split what follows the huisnummer into (huisletter, toevoeging).

    A single letter standing alone (``12 A``, ``12A``, ``12A-bis``, ``12a 3``) is the huisletter;
    everything after it, or everything when there is no lone letter (``12-2``, ``12 hs``), is the
    toevoeging.
    """
    if not rest.strip(_SEPARATORS):
        return None, None
    m = _REST_RE.match(rest)
    if not m:
        raise AddressError(f"cannot read huisletter/toevoeging from {rest.strip()!r}")
    letter = m.group("letter")
    toev = normalise_toevoeging(m.group("toev"))
    return (letter.upper() if letter else None), toev


def parse_address(text: str) -> Address:
    """Parse ``<straat> <nr>[<letter>][<toev>][,] <postcode> [<plaats>]``.

    The postcode is the last ``1234AB``/``1234 AB`` token; the huisnummer is the first number
    after a space in the street part whose remainder reads as huisletter/toevoeging, except that a
    number followed by a space and digits (``Plein 1944 3``) is taken as part of the street name
    when a later number fits. Raises
    :class:`AddressError` when no postcode or huisnummer can be found.
    """
    clean = " ".join(text.replace("\u00a0", " ").split())
    matches = list(_POSTCODE_IN_TEXT.finditer(clean))
    if not matches:
        raise AddressError("no postcode in address text")
    pc = matches[-1]
    postcode = normalise_postcode(pc.group("pc"))
    street_part = clean[: pc.start("pc")].strip(" ,")
    plaats = clean[pc.end("pc") :].strip(" ,") or None
    candidates: list[Address] = []
    padded = " " + street_part
    for m in _HOUSE_NUMBER.finditer(padded):
        straat = padded[: m.start()].strip(" ,")
        rest = padded[m.end() :].strip(",")
        if not straat:
            continue
        try:
            letter, toev = split_house_number_rest(rest.strip())
        except AddressError:
            continue
        found = Address(straat, normalise_huisnummer(m.group("nr")), letter, toev, postcode, plaats)
        if not re.match(r"^\s+[0-9]", rest):
            return found
        candidates.append(found)  # '<nr> <digits>': a number in the street name is likelier
    if candidates:
        return candidates[-1]
    raise AddressError("no huisnummer in address text")


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
