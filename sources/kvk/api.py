"""Reader for KvK Handelsregister API responses: basisprofiel, vestigingsprofiel and zoeken.

The kind of response is read from its content, not its file name:

* ``resultaten`` (a list)               -> zoeken (search): thin vestigingen, no SBI, often no postcode;
  results without a vestigingsnummer (type ``rechtspersoon``) describe no establishment and
  are skipped;
* ``vestigingsnummer`` at the top level -> vestigingsprofiel: one vestiging with its SBI codes;
* ``kvkNummer`` without ``vestigingsnummer``, with registration data (``materieleRegistratie``,
  ``formeleRegistratiedatum`` or ``_embedded``) -> basisprofiel: the onderneming, and its
  ``_embedded.hoofdvestiging`` as a vestiging (the basisprofiel's SBI codes belong to the
  onderneming, so that vestiging carries none unless its vestigingsprofiel is delivered too).

Other responses are recognised by their shape and refused as one reject for the whole file
(reason ``implausible response: ...``), so the other files of the delivery still load: an error
body (``fout``, or a problem+json ``title``/``status``), a naamgeving (names only: reading it as a
basisprofiel would overwrite the company name and clear its legal form), a vestigingenlijst, or
anything else. Values of the wrong JSON type (``null`` or a string where an object or list
belongs) reject the record and name the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sources.addresses import (
    normalise_bag_id,
    normalise_huisletter,
    normalise_huisnummer,
    normalise_postcode,
    normalise_toevoeging,
    parse_address,
)
from sources.errors import Reject
from sources.fields import FieldError, array, obj, text, type_name
from sources.jsonfile import load_json
from sources.kvk.model import Onderneming, Vestiging, ja_nee, kvk_date
from sources.kvk.sbi import activities

KVK_NUMMER_RE = re.compile(r"^[0-9]{8}$")
VESTIGINGSNUMMER_RE = re.compile(r"^[0-9]{12}$")
Record = Onderneming | Vestiging | Reject


_REGISTRATION = ("materieleRegistratie", "formeleRegistratiedatum", "_embedded")
_VESTIGINGENLIJST = (
    "totaalAantalVestigingen",
    "aantalCommercieleVestigingen",
    "aantalNietCommercieleVestigingen",
)
_NAAMGEVING = ("statutaireNaam", "ookGenoemd", "startdatum", "rsin", "naam")
KINDS = ("zoeken", "vestigingsprofiel", "basisprofiel")


def response_kind(body: Any) -> str:
    """``zoeken``, ``vestigingsprofiel`` or ``basisprofiel``; otherwise what it is instead."""
    if not isinstance(body, dict):
        return f"a JSON {type_name(body)}, not a response object"
    if "fout" in body or ("title" in body and "status" in body) or "error" in body or "errors" in body:
        return "an error response of the KvK API"
    if isinstance(body.get("resultaten"), list):
        return "zoeken"
    if "vestigingsnummer" in body:
        return "vestigingsprofiel"
    if "kvkNummer" in body:
        if "vestigingen" in body and any(k in body for k in _VESTIGINGENLIJST):
            return "a vestigingenlijst (deliver the vestigingsprofielen)"
        if any(k in body for k in _REGISTRATION) and "vestigingen" not in body:
            return "basisprofiel"
        if any(k in body for k in _NAAMGEVING):
            return "a naamgeving (names only; deliver the basisprofiel)"
        if "vestigingen" in body:
            return "a vestigingenlijst (deliver the vestigingsprofielen)"
    return "not a KvK basisprofiel, vestigingsprofiel or zoeken response"


def read_api(path: Path) -> Iterator[Record]:
    file = path.name
    body = load_json(path)
    kind = response_kind(body)
    if kind == "zoeken":
        for i, result in enumerate(body["resultaten"]):
            if isinstance(result, dict) and not result.get("vestigingsnummer"):
                continue
            yield from _vestiging(file, f"resultaten[{i}]", result, "zoeken")
    elif kind == "vestigingsprofiel":
        yield from _vestiging(file, "vestigingsprofiel", body, "vestigingsprofiel")
    elif kind == "basisprofiel":
        yield from _basisprofiel(file, body)
    else:
        yield Reject(
            file,
            "response",
            f"implausible response: {kind}; loaded are basisprofiel, vestigingsprofiel, zoeken",
        )


def _basisprofiel(file: str, body: dict[str, Any]) -> Iterator[Record]:
    kvk_nummer = body.get("kvkNummer")
    if not isinstance(kvk_nummer, str) or not KVK_NUMMER_RE.match(kvk_nummer.strip()):
        yield Reject(file, "basisprofiel", f"malformed kvkNummer {_shown(kvk_nummer)} (expected 8 digits)")
        return
    kvk_nummer = kvk_nummer.strip()
    ref = f"basisprofiel {kvk_nummer}"
    try:
        embedded = obj(body, "_embedded", "_embedded")
        registratie = obj(body, "materieleRegistratie", "materieleRegistratie")
        onderneming = Onderneming(
            kvk_nummer=kvk_nummer,
            naam=text(body.get("naam"), "naam"),
            rechtsvorm=text(obj(embedded, "eigenaar", "_embedded.eigenaar").get("rechtsvorm"), "rechtsvorm"),
            datum_aanvang=kvk_date(registratie.get("datumAanvang"), "datumAanvang"),
            datum_einde=kvk_date(registratie.get("datumEinde"), "datumEinde"),
            ref=ref,
            kind="basisprofiel",
        )
        hoofdvestiging = obj(embedded, "hoofdvestiging", "_embedded.hoofdvestiging")
    except ValueError as exc:
        yield Reject(file, ref, str(exc))
        return
    yield onderneming
    if hoofdvestiging:
        yield from _vestiging(file, "_embedded.hoofdvestiging", hoofdvestiging, "basisprofiel")


def _shown(value: object) -> str:
    """A delivered identifier for a message (KvK data is public): its text, or its JSON type."""
    return repr(value.strip()) if isinstance(value, str) else f"of type {type_name(value)}"


def bezoekadres(adressen: list[Any]) -> dict[str, Any]:
    """Address fields of the bezoekadres, from the structured fields or else ``volledigAdres``."""
    for i, a in enumerate(adressen):
        if not isinstance(a, dict):
            raise FieldError(f"adressen[{i}]: expected an object, found {type_name(a)}")
    adres = next((a for a in adressen if a.get("type") == "bezoekadres"), None)
    if adres is None:
        return {}
    geo = obj(adres, "geoData", "bezoekadres.geoData")
    for key in ("straatnaam", "plaats", "huisletter", "huisnummerToevoeging", "postcode", "volledigAdres"):
        text(adres.get(key), f"bezoekadres.{key}")
    fields: dict[str, Any] = {
        "straatnaam": adres.get("straatnaam"),
        "huisnummer": normalise_huisnummer(adres.get("huisnummer")),
        "huisletter": normalise_huisletter(adres.get("huisletter")),
        "huisnummertoevoeging": normalise_toevoeging(adres.get("huisnummerToevoeging")),
        "postcode": normalise_postcode(adres.get("postcode")),
        "plaats": adres.get("plaats"),
        "nummeraanduiding_id": normalise_bag_id(
            geo.get("nummerAanduidingId") or adres.get("nummerAanduidingId"), "nummerAanduidingId"
        ),
        "verblijfsobject_id": normalise_bag_id(
            geo.get("addresseerbaarObjectId") or adres.get("addresseerbaarObjectId"), "addresseerbaarObjectId"
        ),
    }
    if (fields["postcode"] is None or fields["huisnummer"] is None) and adres.get("volledigAdres"):
        parsed = parse_address(adres["volledigAdres"])
        for name in ("straatnaam", "huisnummer", "huisletter", "huisnummertoevoeging", "postcode", "plaats"):
            if fields[name] is None:
                fields[name] = getattr(parsed, name)
    return fields


def _vestiging(file: str, ref: str, v: Any, kind: str) -> Iterator[Record]:
    if not isinstance(v, dict):
        yield Reject(file, ref, "not an object")
        return
    nummer, kvk_nummer = v.get("vestigingsnummer"), v.get("kvkNummer")
    if not isinstance(nummer, str) or not VESTIGINGSNUMMER_RE.match(nummer.strip()):
        yield Reject(file, ref, f"malformed vestigingsnummer {_shown(nummer)} (expected 12 digits)")
        return
    nummer = nummer.strip()
    ref = f"{ref} vestiging {nummer}"
    if not isinstance(kvk_nummer, str) or not KVK_NUMMER_RE.match(kvk_nummer.strip()):
        yield Reject(file, ref, f"malformed kvkNummer {_shown(kvk_nummer)} (expected 8 digits)")
        return
    kvk_nummer = kvk_nummer.strip()
    try:
        registratie = obj(v, "materieleRegistratie", "materieleRegistratie")
        if kind == "zoeken":
            adres = dict(obj(obj(v, "adres", "adres"), "binnenlandsAdres", "adres.binnenlandsAdres"))
            adressen = [adres] if adres.get("type", "bezoekadres") == "bezoekadres" else []
            for a in adressen:
                a["type"] = "bezoekadres"
            hoofd = {"hoofdvestiging": True, "nevenvestiging": False}.get(v.get("type"))
            naam = text(v.get("naam"), "naam")
        else:
            adressen = array(v, "adressen", "adressen")
            hoofd = ja_nee(v.get("indHoofdvestiging"), "indHoofdvestiging")
            naam = text(v.get("eersteHandelsnaam"), "eersteHandelsnaam")
        address = bezoekadres(adressen)
        vestiging = Vestiging(
            vestigingsnummer=nummer,
            kvk_nummer=kvk_nummer,
            eerste_handelsnaam=naam,
            is_hoofdvestiging=hoofd,
            is_commercieel=ja_nee(v.get("indCommercieleVestiging"), "indCommercieleVestiging"),
            datum_aanvang=kvk_date(registratie.get("datumAanvang"), "datumAanvang"),
            datum_einde=kvk_date(registratie.get("datumEinde"), "datumEinde"),
            straatnaam=address.get("straatnaam"),
            huisnummer=address.get("huisnummer"),
            huisletter=address.get("huisletter"),
            huisnummertoevoeging=address.get("huisnummertoevoeging"),
            postcode=address.get("postcode"),
            plaats=address.get("plaats"),
            nummeraanduiding_id=address.get("nummeraanduiding_id"),
            verblijfsobject_id=address.get("verblijfsobject_id"),
            ref=ref,
            kind=kind,
        )
        items = _sbi_items(v)
    except ValueError as exc:  # FieldError, AddressError and the date/Ja-Nee rules
        yield Reject(file, ref, str(exc))
        return
    sbi, rejects = activities(file, ref, items, None)
    yield from rejects
    vestiging.sbi.extend(sbi)
    yield vestiging


def _sbi_items(v: dict[str, Any]) -> list[tuple[str, str | None, bool]]:
    """(code, omschrijving, hoofdactiviteit) of ``sbiActiviteiten``; wrong JSON types -> FieldError."""
    items = []
    for i, a in enumerate(array(v, "sbiActiviteiten", "sbiActiviteiten")):
        field = f"sbiActiviteiten[{i}]"
        if not isinstance(a, dict):
            raise FieldError(f"{field}: expected an object, found {type_name(a)}")
        code = a.get("sbiCode")
        if not isinstance(code, str):
            raise FieldError(f"{field}.sbiCode: expected a string, found {type_name(code)}")
        omschrijving = text(a.get("sbiOmschrijving"), f"{field}.sbiOmschrijving")
        items.append((code, omschrijving, a.get("indHoofdactiviteit") == "Ja"))
    return items
