"""Reader for Haal Centraal "BRP personen bevragen" (API 2.x) responses.

A delivery file is one response body ``{"type": "RaadpleegMetBurgerservicenummer", "personen":
[...]}`` with full ``Persoon`` objects. The search responses (``ZoekMet...``) carry
``PersoonBeperkt`` without address ids and relations, so they are refused as a delivery.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sources.addresses import AddressError, normalise_bag_id, normalise_huisnummer, normalise_postcode
from sources.brp.model import BrpPerson, PartialDate, Relation
from sources.bsn import bsn_problem
from sources.errors import Reject, SourceError
from sources.fields import (
    MAX_AGE,
    FieldError,
    array,
    integer,
    not_in_future,
    obj,
    plausible_birth,
    text,
    type_name,
)
from sources.jsonfile import load_json

ACCEPTED_TYPE = "RaadpleegMetBurgerservicenummer"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def hc_date(value: object, field: str) -> PartialDate | None:
    """An ``AbstractDatum`` (Datum, JaarMaandDatum, JaarDatum, DatumOnbekend); errors name ``field``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldError(f"{field}: expected a date object, found {type_name(value)}")
    kind = value.get("type")
    if kind == "Datum":
        day = value.get("datum")
        if not isinstance(day, str) or not _ISO_DATE.match(day):
            raise FieldError(f"{field}.datum: not a date YYYY-MM-DD")
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError:
            raise FieldError(f"{field}.datum: no such date") from None
        return PartialDate(parsed.year, parsed.month, parsed.day)
    if kind == "JaarMaandDatum":
        jaar, maand = (
            integer(value.get("jaar"), f"{field}.jaar"),
            integer(value.get("maand"), f"{field}.maand"),
        )
        if jaar is None or not 1 <= jaar <= 9999 or maand is None or not 1 <= maand <= 12:
            raise FieldError(f"{field}: JaarMaandDatum needs jaar 1-9999 and maand 1-12")
        return PartialDate(jaar, maand)
    if kind == "JaarDatum":
        jaar = integer(value.get("jaar"), f"{field}.jaar")
        if jaar is None or not 1 <= jaar <= 9999:
            raise FieldError(f"{field}: JaarDatum needs jaar 1-9999")
        return PartialDate(jaar)
    if kind == "DatumOnbekend":
        return None
    raise FieldError(
        f"{field}: unknown date type (expected Datum, JaarMaandDatum, JaarDatum or DatumOnbekend)"
    )


def _code(parent: dict, key: str) -> str | None:
    return text(obj(parent, key, key).get("code"), f"{key}.code")


def _address_part(normalise, value: object, field: str, rule: str):
    """A normalised address part; a malformed one names the field and rule, not the value."""
    try:
        return normalise(value)
    except AddressError:
        raise FieldError(f"malformed {field} ({rule})") from None


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
        yield Reject(file, ref, f"expected a person object, found {type_name(p)}")
        return
    bsn = p.get("burgerservicenummer")
    if bsn is None or bsn == "":
        yield Reject(file, ref, "missing BSN (burgerservicenummer)")
        return
    if problem := bsn_problem(bsn):
        yield Reject(file, ref, problem)
        return
    try:
        person = _fields(ref, bsn, p)
        relaties, rejects = _relations(file, ref, p)
    except FieldError as exc:
        yield Reject(file, ref, str(exc))
        return
    yield from rejects
    person.relaties.extend(relaties)
    yield person


def _fields(ref: str, bsn: str, p: dict) -> BrpPerson:
    naam = obj(p, "naam", "naam")
    plaats = obj(p, "verblijfplaats", "verblijfplaats")
    adres = (
        obj(plaats, "verblijfadres", "verblijfplaats.verblijfadres") if plaats.get("type") == "Adres" else {}
    )
    in_onderzoek = obj(plaats, "inOnderzoek", "verblijfplaats.inOnderzoek")
    opschorting = _code(obj(p, "opschortingBijhouding", "opschortingBijhouding"), "reden")
    overleden = bool(p.get("overlijden")) or opschorting == "O"
    geboortedatum = hc_date(obj(p, "geboorte", "geboorte").get("datum"), "geboorte.datum")
    if geboortedatum and geboortedatum.year:
        plausible_birth(
            geboortedatum.year, geboortedatum.month, geboortedatum.day, "geboorte.datum", living=not overleden
        )
    aanvang = hc_date(plaats.get("datumVan"), "verblijfplaats.datumVan")
    leeftijd_geleverd = integer(p.get("leeftijd"), "leeftijd")
    if leeftijd_geleverd is not None and not 0 <= leeftijd_geleverd <= MAX_AGE:
        raise FieldError(f"implausible leeftijd: outside 0-{MAX_AGE}")
    return BrpPerson(
        ref=ref,
        bsn=bsn,
        voornamen=text(naam.get("voornamen"), "naam.voornamen"),
        voorvoegsel=text(naam.get("voorvoegsel"), "naam.voorvoegsel"),
        geslachtsnaam=text(naam.get("geslachtsnaam"), "naam.geslachtsnaam"),
        geboortedatum=geboortedatum,
        geslacht=_code(p, "geslacht"),
        overleden=overleden,
        gemeente_van_inschrijving=_code(p, "gemeenteVanInschrijving"),
        verblijfsobject_id=_address_part(
            lambda v: normalise_bag_id(v, ""),
            plaats.get("adresseerbaarObjectIdentificatie"),
            "adresseerbaarObjectIdentificatie",
            "expected 16 digits",
        ),
        nummeraanduiding_id=_address_part(
            lambda v: normalise_bag_id(v, ""),
            plaats.get("nummeraanduidingIdentificatie"),
            "nummeraanduidingIdentificatie",
            "expected 16 digits",
        ),
        postcode=_address_part(
            normalise_postcode,
            text(adres.get("postcode"), "verblijfadres.postcode"),
            "verblijfadres.postcode",
            "expected 4 digits and 2 letters",
        ),
        huisnummer=_address_part(
            normalise_huisnummer,
            adres.get("huisnummer"),
            "verblijfadres.huisnummer",
            "expected a number 1-99999",
        ),
        huisletter=text(adres.get("huisletter"), "verblijfadres.huisletter"),
        huisnummertoevoeging=text(adres.get("huisnummertoevoeging"), "verblijfadres.huisnummertoevoeging"),
        datum_aanvang_adreshouding=not_in_future(
            aanvang.as_date() if aanvang else None, "verblijfplaats.datumVan"
        ),
        adres_in_onderzoek=any(v is True for v in in_onderzoek.values()),
        bron="haal_centraal",
        leeftijd_geleverd=leeftijd_geleverd,
    )


def _relations(file: str, ref: str, p: dict) -> tuple[list[Relation], list[Reject]]:
    """The person's current relations; an invalid related BSN rejects only that relation."""
    relaties: list[Relation] = []
    rejects: list[Reject] = []
    for key, relatie in (("ouders", "ouder"), ("partners", "partner"), ("kinderen", "kind")):
        for j, related in enumerate(array(p, key, key)):
            rel_ref = f"{ref}.{key}[{j}]"
            if not isinstance(related, dict):
                raise FieldError(f"{key}[{j}]: expected an object, found {type_name(related)}")
            ontbinding = obj(
                related, "ontbindingHuwelijkPartnerschap", f"{key}[{j}].ontbindingHuwelijkPartnerschap"
            )
            if relatie == "partner" and ontbinding.get("datum"):
                continue  # the last dissolved partner is delivered too; not a current partner
            other = related.get("burgerservicenummer")
            if other is not None and other != "" and (problem := bsn_problem(other)):
                rejects.append(Reject(file, rel_ref, f"{problem} of related person; relation not loaded"))
                continue
            relaties.append(Relation(relatie, other or None, rel_ref))
    return relaties, rejects
