"""Reader for KvK Handelsregister API responses: basisprofiel, vestigingsprofiel and zoeken.

The kind of response is read from its content, not its file name:

* ``resultaten`` (a list)               -> zoeken (search): thin vestigingen, no SBI, often no postcode;
  results without a vestigingsnummer (type ``rechtspersoon``) describe no establishment and
  are skipped;
* ``vestigingsnummer`` at the top level -> vestigingsprofiel: one vestiging with its SBI codes;
* ``kvkNummer`` without ``vestigingsnummer`` -> basisprofiel: the onderneming, and its
  ``_embedded.hoofdvestiging`` as a vestiging (the basisprofiel's SBI codes belong to the
  onderneming, so that vestiging carries none unless its vestigingsprofiel is delivered too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sources.addresses import (
    AddressError,
    normalise_bag_id,
    normalise_huisletter,
    normalise_huisnummer,
    normalise_postcode,
    normalise_toevoeging,
    parse_address,
)
from sources.errors import Reject, SourceError
from sources.jsonfile import load_json
from sources.kvk.model import Onderneming, Vestiging, ja_nee, kvk_date
from sources.kvk.sbi import activities

KVK_NUMMER_RE = re.compile(r"^[0-9]{8}$")
VESTIGINGSNUMMER_RE = re.compile(r"^[0-9]{12}$")
Record = Onderneming | Vestiging | Reject


def response_kind(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("resultaten"), list):
        return "zoeken"
    if "vestigingsnummer" in body:
        return "vestigingsprofiel"
    if "kvkNummer" in body and "vestigingen" not in body:
        return "basisprofiel"
    return None


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
        raise SourceError(
            file,
            "not a KvK basisprofiel, vestigingsprofiel or zoeken response "
            "(a vestigingenlijst is not a delivery: deliver the vestigingsprofielen)",
        )


def _basisprofiel(file: str, body: dict[str, Any]) -> Iterator[Record]:
    kvk_nummer = str(body.get("kvkNummer", "")).strip()
    if not KVK_NUMMER_RE.match(kvk_nummer):
        yield Reject(file, "basisprofiel", f"malformed kvkNummer {kvk_nummer!r} (expected 8 digits)")
        return
    embedded = body.get("_embedded") or {}
    registratie = body.get("materieleRegistratie") or {}
    try:
        yield Onderneming(
            kvk_nummer=kvk_nummer,
            naam=body.get("naam"),
            rechtsvorm=(embedded.get("eigenaar") or {}).get("rechtsvorm"),
            datum_aanvang=kvk_date(registratie.get("datumAanvang"), "datumAanvang"),
            datum_einde=kvk_date(registratie.get("datumEinde"), "datumEinde"),
            ref=f"basisprofiel {kvk_nummer}",
            kind="basisprofiel",
        )
    except ValueError as exc:
        yield Reject(file, f"basisprofiel {kvk_nummer}", str(exc))
    if embedded.get("hoofdvestiging"):
        yield from _vestiging(file, "_embedded.hoofdvestiging", embedded["hoofdvestiging"], "basisprofiel")


def bezoekadres(adressen: list[dict[str, Any]]) -> dict[str, Any]:
    """Address fields of the bezoekadres, from the structured fields or else ``volledigAdres``."""
    adres = next((a for a in adressen if a.get("type") == "bezoekadres"), None)
    if adres is None:
        return {}
    geo = adres.get("geoData") or {}
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
    nummer = str(v.get("vestigingsnummer", "")).strip()
    kvk_nummer = str(v.get("kvkNummer", "")).strip()
    if not VESTIGINGSNUMMER_RE.match(nummer):
        yield Reject(file, ref, f"malformed vestigingsnummer {nummer!r} (expected 12 digits)")
        return
    ref = f"{ref} vestiging {nummer}"
    if not KVK_NUMMER_RE.match(kvk_nummer):
        yield Reject(file, ref, f"malformed kvkNummer {kvk_nummer!r} (expected 8 digits)")
        return
    registratie = v.get("materieleRegistratie") or {}
    try:
        if kind == "zoeken":
            adres = dict((v.get("adres") or {}).get("binnenlandsAdres") or {})
            adressen = [adres] if adres.get("type", "bezoekadres") == "bezoekadres" else []
            for a in adressen:
                a["type"] = "bezoekadres"
            hoofd = {"hoofdvestiging": True, "nevenvestiging": False}.get(v.get("type"))
            naam = v.get("naam")
        else:
            adressen = v.get("adressen") or []
            hoofd = ja_nee(v.get("indHoofdvestiging"), "indHoofdvestiging")
            naam = v.get("eersteHandelsnaam")
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
    except (ValueError, AddressError) as exc:
        yield Reject(file, ref, str(exc))
        return
    items = [
        (str(a.get("sbiCode", "")), a.get("sbiOmschrijving"), a.get("indHoofdactiviteit") == "Ja")
        for a in v.get("sbiActiviteiten") or []
    ]
    sbi, rejects = activities(file, ref, items, None)
    yield from rejects
    vestiging.sbi.extend(sbi)
    yield vestiging
