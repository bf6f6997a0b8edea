"""Validation of what officers type, with Dutch messages. Values are never echoed into logs.

Every free-text field (case number, street) is length-limited and refuses a BSN in any spelling
(``999-99-0019``, ``999.990.019``, ``bsn_999990019``): such a value would otherwise end up in the
processing log. The purpose is only length-limited here; ``privacy.lookup`` refuses anything that
is not a register id and logs it as an unknown purpose, never the text typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from privacy.scan import looks_like_bsn

MAX_FIELD = 200
MAX_PURPOSE = 40

POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Z]{2})$")
HUISNUMMER = re.compile(r"^[1-9][0-9]{0,4}$")
HUISLETTER = re.compile(r"^[A-Z]$")
TOEVOEGING = re.compile(r"^[A-Z0-9]{1,4}$")
STRAAT = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿ0-9][A-Za-zÀ-ÖØ-öø-ÿ0-9 .'\-]{0,79}$")
KVK = re.compile(r"^[0-9]{8}$")
VESTIGING = re.compile(r"^[0-9]{12}$")
PAND = re.compile(r"^[0-9]{4}10[0-9]{10}$")
ZAAK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,39}$")

KINDS = {
    "address": "Adres",
    "street": "Straat",
    "kvk": "KvK-nummer",
    "vestiging": "Vestigingsnummer",
    "pand": "Pand-id",
}


class InvalidInput(ValueError):
    """A Dutch message naming the field and what is wrong with it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _clean(form: dict[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > MAX_FIELD:
        raise InvalidInput(name, f"Het veld '{name}' is te lang (maximaal {MAX_FIELD} tekens).")
    if any(ord(c) < 32 for c in value):
        raise InvalidInput(name, f"Het veld '{name}' bevat tekens die niet zijn toegestaan.")
    return value


@dataclass(frozen=True)
class TargetInput:
    kind: str
    value: str
    label: str


def parse_target(form: dict[str, str]) -> TargetInput:
    """The search target from the form, as the value format privacy.lookup.Target expects."""
    kind = _clean(form, "soort") or "address"
    if kind not in KINDS:
        raise InvalidInput(
            "soort", "Kies waarop u wilt zoeken: adres, straat, KvK-nummer, vestiging of pand."
        )
    if kind == "address":
        postcode = _clean(form, "postcode").upper().replace(" ", "")
        huisnummer = _clean(form, "huisnummer")
        huisletter = _clean(form, "huisletter").upper()
        toevoeging = _clean(form, "toevoeging").upper()
        m = POSTCODE.match(postcode)
        if not postcode:
            raise InvalidInput("postcode", "Vul een postcode in, bijvoorbeeld 1234 AB.")
        if not m:
            raise InvalidInput(
                "postcode",
                "De postcode is ongeldig: gebruik vier cijfers en twee letters, bijvoorbeeld 1234 AB.",
            )
        if not HUISNUMMER.match(huisnummer):
            raise InvalidInput(
                "huisnummer", "Het huisnummer is ongeldig: gebruik een getal van 1 tot en met 99999."
            )
        if huisletter and not HUISLETTER.match(huisletter):
            raise InvalidInput("huisletter", "De huisletter is ongeldig: gebruik één letter.")
        if toevoeging and not TOEVOEGING.match(toevoeging):
            raise InvalidInput(
                "toevoeging", "De toevoeging is ongeldig: gebruik hoogstens vier letters of cijfers."
            )
        postcode = m.group(1) + m.group(2)
        label = (
            f"{postcode[:4]} {postcode[4:]} {huisnummer}{huisletter}{'-' + toevoeging if toevoeging else ''}"
        )
        return TargetInput(kind, f"{postcode}|{huisnummer}|{huisletter}|{toevoeging}", label)
    if kind == "street":
        street = _clean(form, "straat")
        if looks_like_bsn(street):
            raise InvalidInput("straat", "De straatnaam lijkt een BSN te bevatten. Zoek nooit op een BSN.")
        if not STRAAT.match(street):
            raise InvalidInput(
                "straat",
                "De straatnaam is ongeldig: gebruik letters, cijfers, spaties, punt, apostrof of "
                "streepje (maximaal 80 tekens).",
            )
        return TargetInput(kind, street, street)
    field, pattern, message = {
        "kvk": ("kvk", KVK, "Het KvK-nummer is ongeldig: het bestaat uit 8 cijfers."),
        "vestiging": (
            "vestiging",
            VESTIGING,
            "Het vestigingsnummer is ongeldig: het bestaat uit 12 cijfers.",
        ),
        "pand": ("pand", PAND, "Het pand-id is ongeldig: 16 cijfers, met 10 op positie 5 en 6."),
    }[kind]
    value = _clean(form, field).replace(" ", "")
    if not pattern.match(value):
        raise InvalidInput(field, message)
    return TargetInput(kind, value, f"{KINDS[kind]} {value}")


def parse_case(form: dict[str, str]) -> str:
    case = _clean(form, "zaak")
    if looks_like_bsn(case):
        raise InvalidInput("zaak", "Het zaaknummer lijkt op een BSN. Vul het zaaknummer in, nooit een BSN.")
    if case and not ZAAK.match(case):
        raise InvalidInput(
            "zaak", "Het zaaknummer is ongeldig: 3 tot 40 letters of cijfers, eventueel met . _ / of -."
        )
    return case


def parse_purpose(form: dict[str, str]) -> str:
    purpose = _clean(form, "doel")
    if len(purpose) > MAX_PURPOSE:
        raise InvalidInput("doel", "Kies een doel uit de lijst.")
    return purpose
