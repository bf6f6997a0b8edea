"""Reader for Haal Centraal "BRP personen bevragen" (API 2.x) responses.

A delivery file is one response body ``{"type": "RaadpleegMetBurgerservicenummer", "personen":
[...]}`` with full ``Persoon`` objects. The search responses (``ZoekMet...``) carry
``PersoonBeperkt`` without address ids and relations, so they are refused as a delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sources.addresses import AddressError, normalise_bag_id, normalise_huisnummer, normalise_postcode
from sources.brp.model import BrpPerson, PartialDate, Relation
from sources.bsn import is_valid_bsn
from sources.errors import Reject, SourceError
from sources.jsonfile import load_json

ACCEPTED_TYPE = "RaadpleegMetBurgerservicenummer"


def hc_date(value: dict[str, Any] | None) -> PartialDate | None:
    """An ``AbstractDatum`` (Datum, JaarMaandDatum, JaarDatum, DatumOnbekend)."""
    if not value:
        return None
    kind = value.get("type")
    if kind == "Datum":
        day = dt.date.fromisoformat(value["datum"])
        return PartialDate(day.year, day.month, day.day)
    if kind == "JaarMaandDatum":
        return PartialDate(int(value["jaar"]), int(value["maand"]))
    if kind == "JaarDatum":
        return PartialDate(int(value["jaar"]))
    if kind == "DatumOnbekend":
        return None
    raise ValueError(f"unknown date type {kind!r}")


def _code(value: dict[str, Any] | None) -> str | None:
    return value.get("code") if isinstance(value, dict) else None


def read_haal_centraal(path: Path) -> Iterator[BrpPerson | Reject]:
    file = path.name
    body = load_json(path)
    if not isinstance(body, dict) or "personen" not in body:
        raise SourceError(file, "not a BRP personen response: no 'personen'")
    if body.get("type") != ACCEPTED_TYPE:
        raise SourceError(
            file, f"response type {body.get('type')!r}: only {ACCEPTED_TYPE} responses carry full persons"
        )
    if not isinstance(body["personen"], list):
        raise SourceError(file, "'personen' is not a list")
    for i, persoon in enumerate(body["personen"]):
        yield from _person(file, f"personen[{i}]", persoon)


def _person(file: str, ref: str, p: Any) -> Iterator[BrpPerson | Reject]:
    if not isinstance(p, dict):
        yield Reject(file, ref, "not a person object")
        return
    bsn = p.get("burgerservicenummer")
    if not bsn:
        yield Reject(file, ref, "missing BSN (burgerservicenummer)")
        return
    if not isinstance(bsn, str) or not is_valid_bsn(bsn):
        yield Reject(file, ref, "invalid BSN (elfproef fails)")
        return
    naam = p.get("naam") or {}
    plaats = p.get("verblijfplaats") or {}
    adres = (plaats.get("verblijfadres") or {}) if plaats.get("type") == "Adres" else {}
    try:
        geboortedatum = hc_date((p.get("geboorte") or {}).get("datum"))
        aanvang = hc_date(plaats.get("datumVan"))
        postcode = normalise_postcode(adres.get("postcode"))
        huisnummer = normalise_huisnummer(adres.get("huisnummer"))
        vbo = normalise_bag_id(
            plaats.get("adresseerbaarObjectIdentificatie"), "adresseerbaarObjectIdentificatie"
        )
        num = normalise_bag_id(plaats.get("nummeraanduidingIdentificatie"), "nummeraanduidingIdentificatie")
    except (ValueError, KeyError, AddressError) as exc:
        yield Reject(file, ref, f"unreadable value: {exc}")
        return
    in_onderzoek = plaats.get("inOnderzoek") or {}
    relaties: list[Relation] = []
    groups = (("ouders", "ouder"), ("partners", "partner"), ("kinderen", "kind"))
    for key, relatie in groups:
        for j, related in enumerate(p.get(key) or []):
            rel_ref = f"{ref}.{key}[{j}]"
            if relatie == "partner" and (related.get("ontbindingHuwelijkPartnerschap") or {}).get("datum"):
                continue  # the last dissolved partner is delivered too; not a current partner
            other = related.get("burgerservicenummer")
            if other and not is_valid_bsn(other):
                yield Reject(
                    file, rel_ref, "invalid BSN of related person (elfproef fails); relation not loaded"
                )
                continue
            relaties.append(Relation(relatie, other or None, rel_ref))
    opschorting = _code((p.get("opschortingBijhouding") or {}).get("reden"))
    yield BrpPerson(
        ref=ref,
        bsn=bsn,
        voornamen=naam.get("voornamen"),
        voorvoegsel=naam.get("voorvoegsel"),
        geslachtsnaam=naam.get("geslachtsnaam"),
        geboortedatum=geboortedatum,
        geslacht=_code(p.get("geslacht")),
        overleden=bool(p.get("overlijden")) or opschorting == "O",
        gemeente_van_inschrijving=_code(p.get("gemeenteVanInschrijving")),
        verblijfsobject_id=vbo,
        nummeraanduiding_id=num,
        postcode=postcode,
        huisnummer=huisnummer,
        huisletter=adres.get("huisletter"),
        huisnummertoevoeging=adres.get("huisnummertoevoeging"),
        datum_aanvang_adreshouding=aanvang.as_date() if aanvang else None,
        adres_in_onderzoek=any(v is True for v in in_onderzoek.values()),
        bron="haal_centraal",
        leeftijd_geleverd=p.get("leeftijd"),
        relaties=relaties,
    )
