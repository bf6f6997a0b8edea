"""Dutch address normalisation for the readers (plain Python, no warehouse).

Normalisation:

* postcode: ``1234 ab`` -> ``1234AB``; anything else than four digits (first not 0) and two
  letters is malformed (:class:`AddressError`).
* huisletter: one letter, upper-cased; huisnummertoevoeging: up to four letters/digits, upper-cased,
  whitespace and leading separators removed (``" a-bis"`` -> ``"A-BIS"`` keeps inner separators).
* :func:`parse_address` splits a free-text address such as ``Dorpsstraat 12 A-bis, 1234 AB Plaats``
  or the KvK ``volledigAdres`` (``Abebe Bikilalaan 17 M      1034WL Amsterdam``).

Matching the normalised parts to ``bag.adres`` is an ingest step: ``assets.ingest.addresses``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
