"""The lookups as the web pages and the terminal use them: one adapter over ``privacy.lookup``.

Everything that reads data, decides or logs goes through :class:`privacy.lookup.Lookup` (hit/no-hit,
details, refusals, address choices, buildings for the map, exports) and
:class:`privacy.log.ProcessingLog` (flag lineage). This module only turns results into what
officers read: Dutch labels, evidence tables, the map, and Dutch versions of the refusal reasons.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.warehouse import Warehouse
from privacy.basemap import BaseMap
from privacy.history import flag_key
from privacy.log import ProcessingLog
from privacy.lookup import (
    Actor,
    DetailResult,
    FlagView,
    Lookup,
    LookupRefused,
    LookupUnavailable,
    Suggestion,
    Target,
)
from privacy.overview import Overview
from privacy.register import Purpose, Register, load_register
from web.validation import TargetInput

FLAG_TITLES = {
    "many_companies_in_building": "Veel bedrijven in één pand",
    "many_companies_at_address": "Veel bedrijven op één adres",
    "identical_businesses_in_street": "Veel gelijksoortige bedrijven in één straat",
    "identical_businesses_nearby": "Veel gelijksoortige bedrijven dicht bij elkaar",
    "overcrowding": "Mogelijke overbewoning",
    "residents_at_non_residential": "Bewoners ingeschreven op een object zonder woonfunctie",
    "company_churn": "Veel in- en uitschrijvingen van bedrijven",
    "address_not_in_bag": "Adres niet (meer) in de BAG",
    "enforcement_history": "Handhavingsverleden (Opiumwet 13b / Wet Victor)",
    "staff_safety": "Veiligheid medewerkers",
}
FLAG_EXPLANATIONS = {
    "many_companies_in_building": "Het pand herbergt meer actieve vestigingen dan de drempel.",
    "many_companies_at_address": "Op dit adres zijn meer actieve vestigingen ingeschreven dan de drempel.",
    "identical_businesses_in_street": "In de straat zitten veel vestigingen uit dezelfde kwetsbare branche.",
    "identical_businesses_nearby": "Binnen de straal zitten veel vestigingen uit dezelfde kwetsbare branche.",
    "overcrowding": "Meer volwassenen ingeschreven dan de oppervlakte redelijkerwijs toelaat.",
    "residents_at_non_residential": "Er staan personen ingeschreven op een object zonder woonfunctie.",
    "company_churn": "Veel vestigingen kwamen en gingen op dit adres in korte tijd.",
    "address_not_in_bag": "Een adres uit KvK of BRP bestaat niet (meer) als geldig adres in de BAG.",
    "enforcement_history": "Recente bestuurlijke handhaving op dit adres of pand.",
    "staff_safety": "Er is recent een agressie-incident tegen medewerkers geregistreerd.",
}
EVIDENCE_LABELS = {
    "establishments": "Actieve vestigingen",
    "min_establishments": "Drempel: minimaal aantal vestigingen",
    "vestigingsnummers": "Vestigingsnummers",
    "verblijfsobject_ids": "Verblijfsobjecten",
    "sector": "Branche (SBI)",
    "omschrijving": "Omschrijving branche",
    "radius_m": "Straal (m)",
    "nummeraanduiding_ids": "Adressen (BAG-nummeraanduiding)",
    "adults": "Ingeschreven volwassenen",
    "oppervlakte_m2": "Oppervlakte (m²)",
    "m2_per_adult": "m² per volwassene",
    "min_adults": "Drempel: minimaal aantal volwassenen",
    "max_m2_per_adult": "Drempel: maximaal m² per volwassene",
    "persons": "Ingeschreven personen",
    "gebruiksdoelen": "Gebruiksdoelen",
    "min_persons": "Drempel: minimaal aantal personen",
    "events": "In- en uitschrijvingen",
    "registrations": "Inschrijvingen",
    "deregistrations": "Uitschrijvingen",
    "min_events": "Drempel: minimaal aantal in- en uitschrijvingen",
    "window_months": "Periode (maanden)",
    "window_years": "Periode (jaren)",
    "window_start": "Periode vanaf",
    "window_end": "Periode tot en met",
    "vestigingen": "Vestigingen",
    "vestigingsnummer": "Vestigingsnummer",
    "event": "Gebeurtenis",
    "datum": "Datum",
    "reason": "Reden",
    "bag_status": "Status in de BAG",
    "checked_on": "Gecontroleerd op",
    "postcode": "Postcode",
    "huisnummer": "Huisnummer",
    "huisletter": "Huisletter",
    "huisnummertoevoeging": "Toevoeging",
    "kvk_vestigingsnummers": "KvK-vestigingen op dit adres",
    "brp_persons": "Personen in de BRP op dit adres",
    "zaken": "Handhavingszaken",
    "zaak_id": "Zaak",
    "instrument": "Instrument",
    "datum_start": "Start",
    "datum_einde": "Einde",
    "status": "Status",
    "residents": "Bewoners",
    "family_elsewhere": "Familieleden elders in de gemeente",
    "persoon_id": "Persoon (pseudoniem)",
    "relatie": "Relatie",
    "nummeraanduiding_id": "Adres (BAG-nummeraanduiding)",
    "message": "Melding",
    "short_lived": "Kortstondige vestigingen (begonnen en beëindigd in de periode)",
    "min_ended": "Drempel: beëindigde vestigingen",
    "min_short_lived": "Drempel: kortstondige vestigingen",
    "lifetime_days": "Looptijd (dagen)",
    "verblijfsobjecten_in_pand": "Verblijfsobjecten in het pand",
    "gebruiksdoelen_in_pand": "Gebruiksdoelen in het pand",
    "gebruiksdoel": "Gebruiksdoel",
    "verblijfsobjecten": "Verblijfsobjecten",
    "via": "Gevonden via",
    "family": "Handhaving op adressen van familieleden",
    "case_nummeraanduiding_id": "Adres van de zaak",
    "zaak_ids": "Zaken",
    "instruments": "Instrumenten",
}
VALUE_LABELS = {
    "registration": "inschrijving",
    "deregistration": "uitschrijving",
    "withdrawn": "ingetrokken in de BAG",
    "not_in_bag": "niet in de BAG",
    "opiumwet_13b": "Opiumwet art. 13b",
    "wet_victor": "Wet Victor (Woningwet art. 17)",
    "last_onder_dwangsom": "last onder dwangsom",
    "bestuurlijke_boete": "bestuurlijke boete",
    "bibob_advies": "Bibob-advies",
    "apv": "APV",
    "gemeentewet_174a": "Gemeentewet art. 174a",
    "agressie_incident": "agressie-incident",
    "ouder": "ouder",
    "partner": "partner",
    "kind": "kind",
    "broer_zus": "broer of zus",
}
REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^purpose '' is not in the register"),
        "Kies een doel. Zonder geregistreerd doel mag u niet zoeken.",
    ),
    (re.compile(r"^purpose .* is not in the register"), "Dit doel staat niet in het verwerkingsregister."),
    (re.compile(r"^unknown purpose"), "Dit doel staat niet in het verwerkingsregister."),
    (re.compile(r"may not search by"), "Met uw rol kunt u alleen op adres zoeken."),
    (
        re.compile(r"is not a source of purpose|are not allowed for purpose"),
        "Dit doel staat deze zoekvraag niet toe: de bron staat niet in het verwerkingsregister.",
    ),
    (re.compile(r"^purpose .* is not approved until (.*)"), "Dit doel is pas goedgekeurd vanaf {0}."),
    (
        re.compile(r"^purpose .* expired on ([0-9-]+)"),
        "Dit doel is verlopen op {0} en moet opnieuw worden goedgekeurd.",
    ),
    (re.compile(r"aggregated-only"), "Dit doel staat alleen geaggregeerde analyses toe, geen raadplegingen."),
    (re.compile(r"^role .* may not use purpose"), "Uw rol mag dit doel niet gebruiken."),
    (re.compile(r"case number \(zaaknummer\) is required"), "Vul het zaaknummer in waarvoor u zoekt."),
    (
        re.compile(r"looks like a BSN"),
        "Het zaaknummer lijkt op een BSN. Vul het zaaknummer in, nooit een BSN.",
    ),
    (re.compile(r"no such hit/no-hit request"), "Dit verzoek bestaat niet. Zoek eerst opnieuw."),
    (re.compile(r"made by another user"), "Dit verzoek is door een andere gebruiker gedaan."),
    (re.compile(r"older than 24 hours"), "Het verzoek is ouder dan 24 uur. Zoek opnieuw."),
    (re.compile(r"an address needs"), "Een adres heeft een postcode en een huisnummer nodig."),
    (re.compile(r"unknown target kind"), "Kies waarop u wilt zoeken."),
    (re.compile(r"re-identification"), "Heridentificatie is niet toegestaan voor dit verzoek."),
    (re.compile(r"front-line roles cannot export"), "Frontofficemedewerkers kunnen geen lijsten exporteren."),
]
OUTCOME_TITLES = {
    "treffer": "Treffer",
    "geen_treffer": "Geen treffer",
    "onbekend": "Onbekend",
}
UNKNOWN_MESSAGE = "Onbekend: komt niet voor in de BAG (of KvK)"
NO_RELEASE = (
    "Er is nog geen (volledige) gepubliceerde versie van de gegevens. Vraag het datateam om `knooppunt run`."
)
UNAVAILABLE = (FileNotFoundError, LookupUnavailable)
LINEAGE_TTL = 60.0


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local_time(utc: str) -> str:
    """An ISO time in UTC as Amsterdam time ("29-11-2026 18:05"), for what officers read."""
    try:
        when = dt.datetime.fromisoformat(utc.replace(" ", "T"))
    except ValueError:
        return utc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def dutch_refusal(reason: str) -> str:
    for pattern, message in REFUSALS:
        if m := pattern.search(reason):
            return message.format(*m.groups())
    return f"De raadpleging is geweigerd ({reason})."


@dataclass(frozen=True)
class AddressChoice:
    huisletter: str
    toevoeging: str
    label: str


@dataclass(frozen=True)
class HitOutcome:
    hit: bool = False
    request_id: str = ""
    target_label: str = ""
    refused: str | None = None
    known: bool = True
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def outcome(self) -> str:
        """``treffer``, ``geen_treffer`` or ``onbekend`` (not in the BAG or KvK: never a no-hit)."""
        if not self.known:
            return "onbekend"
        return "treffer" if self.hit else "geen_treffer"

    @property
    def title(self) -> str:
        return OUTCOME_TITLES[self.outcome]


@dataclass(frozen=True)
class Lineage:
    table: str
    when: str
    run_id: str | None
    purpose: str | None
    code_version: str
    inputs: dict[str, list[str]]
    columns: dict[str, list[str]]


@dataclass(frozen=True)
class FlagCard:
    flag: str
    title: str
    explanation: str
    message: str | None
    facts: list[tuple[str, str]]
    tables: list[tuple[str, list[str], list[list[str]]]]
    ids: list[tuple[str, str, str]]  # (kind, readable name or "", BAG id)
    lineage: Lineage | None
    status: str | None = None  # in the flag history: nieuw, open or opgelost
    sinds: dt.date | None = None  # stand date of the run that first saw it
    summary: str = ""  # the evidence in one plain Dutch sentence with the numbers
    origin: str = ""  # "Herkomst" in words: sources, stand date, purpose


@dataclass(frozen=True)
class DetailOutcome:
    refused: str | None = None
    result: DetailResult | None = None
    cards: list[FlagCard] = field(default_factory=list)
    frontline: bool = False

    def as_text(self) -> list[str]:
        """The same details as lines for the terminal."""
        assert self.result is not None
        lines = [f"Details voor {self.result.target_label} (zaak {self.result.case_number})"]
        if not self.cards:
            lines.append("Geen signalen.")
        for card in self.cards:
            lines.append(f"* {card.title}" + (f": {card.message}" if card.message else ""))
            if card.summary:
                lines.append(f"    {card.summary}")
            lines += [f"    {kind}: {name or bag_id}" for kind, name, bag_id in card.ids]
            lines += [f"    {label}: {value}" for label, value in card.facts]
            for title, header, rows in card.tables:
                lines.append(f"    {title}:")
                lines += ["      " + " | ".join(row) for row in [header, *rows]]
            if card.origin:
                lines.append(f"    herkomst: {card.origin}")
            if card.lineage:
                lines.append(f"    (technisch: tabel {card.lineage.table}, run {card.lineage.run_id})")
        return lines


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:,.2f}".replace(",", " ").replace(".", ",")
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "–"
    text = str(value)
    return VALUE_LABELS.get(text, text)


def _named(value: Any, names: dict[str, str]) -> str:
    """An id with its readable name ("Kerkstraat 3, 1234 AB Voorbeeldstad (9999200000000030)")."""
    if isinstance(value, str) and value in names:
        return f"{names[value]} ({value})"
    return _fmt(value)


def evidence_view(
    evidence: dict[str, Any], names: dict[str, str] | None = None
) -> tuple[list[tuple[str, str]], list[tuple[str, list[str], list[list[str]]]]]:
    """Scalars as (label, value) facts; lists of records, and lists of named ids, as tables."""
    names = names or {}
    facts: list[tuple[str, str]] = []
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    for key, value in evidence.items():
        label = EVIDENCE_LABELS.get(key, key.replace("_", " "))
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            header = [EVIDENCE_LABELS.get(k, k.replace("_", " ")) for k in keys]
            tables.append(
                (
                    f"{label} ({len(value)})",
                    header,
                    [[_named(v.get(k), names) for k in keys] for v in value],
                )
            )
        elif isinstance(value, list) and value and any(isinstance(v, str) and v in names for v in value):
            header = [ID_HEADERS.get(key, "Nummer"), NAME_HEADERS.get(key, "Adres")]
            rows = [[str(v), names.get(v, "niet gevonden")] for v in value]
            tables.append((f"{label} ({len(value)})", header, rows))
        elif key == "omschrijving" and isinstance(value, str):
            facts.append((label, _dutch_description(value)))
        elif key != "message":
            facts.append((label, _named(value, names)))
    return facts, tables


ID_HEADERS = {"vestigingsnummers": "Vestigingsnummer", "kvk_vestigingsnummers": "Vestigingsnummer"}
NAME_HEADERS = {"vestigingsnummers": "Handelsnaam en adres", "kvk_vestigingsnummers": "Handelsnaam en adres"}
ID_KINDS = (
    ("nummeraanduiding_id", "Adres"),
    ("verblijfsobject_id", "Verblijfsobject"),
    ("pand_id", "Pand"),
    ("openbare_ruimte_id", "Straat"),
)
SOURCE_NAMES = {
    "bag": "BAG (Kadaster)",
    "brp": "BRP (basisregistratie personen)",
    "kvk": "Handelsregister (KvK)",
    "handhaving": "handhavingsregistratie van de gemeente",
}


def _n(evidence: dict[str, Any], key: str) -> str:
    value = evidence[key]
    if isinstance(value, list):
        return str(len(value))
    return _fmt(value)


def _summary(flag: str, e: dict[str, Any]) -> str:
    """The evidence as one plain Dutch sentence with its numbers ("" when the evidence differs)."""
    try:
        if flag == "many_companies_in_building":
            text = (
                f"In dit pand zijn {_n(e, 'establishments')} actieve vestigingen ingeschreven; "
                f"het signaal geldt vanaf {_n(e, 'min_establishments')}."
            )
            if "verblijfsobjecten_in_pand" in e:
                uses = ", ".join(
                    f"{u['verblijfsobjecten']} × {u['gebruiksdoel']}"
                    for u in e.get("gebruiksdoelen_in_pand") or []
                )
                text += f" Het pand heeft {_n(e, 'verblijfsobjecten_in_pand')} verblijfsobjecten"
                text += f" ({uses})." if uses else "."
            return text
        if flag == "many_companies_at_address":
            return (
                f"Op dit adres zijn {_n(e, 'establishments')} actieve vestigingen ingeschreven; "
                f"het signaal geldt vanaf {_n(e, 'min_establishments')}."
            )
        if flag in ("identical_businesses_in_street", "identical_businesses_nearby"):
            where = "In deze straat" if flag.endswith("street") else f"Binnen {_n(e, 'radius_m')} meter"
            return (
                f"{where} zitten {_n(e, 'establishments')} vestigingen in dezelfde branche "
                f"({_branch(e)}); het signaal geldt vanaf {_n(e, 'min_establishments')}."
            )
        if flag == "overcrowding":
            return (
                f"Op dit adres staan {_n(e, 'adults')} volwassenen ingeschreven op "
                f"{_n(e, 'oppervlakte_m2')} m², dat is {_n(e, 'm2_per_adult')} m² per volwassene. "
                f"Het signaal geldt vanaf {_n(e, 'min_adults')} volwassenen met minder dan "
                f"{_n(e, 'max_m2_per_adult')} m² per persoon."
            )
        if flag == "residents_at_non_residential":
            return (
                f"Er staan {_n(e, 'persons')} personen ingeschreven op een object zonder woonfunctie "
                f"(gebruiksdoel: {_fmt(e['gebruiksdoelen'])})."
            )
        if flag == "company_churn" and "min_ended" in e:
            return (
                f"Van {_fmt(e['window_start'])} tot en met {_fmt(e['window_end'])} begonnen op dit adres "
                f"{_n(e, 'registrations')} vestigingen en eindigden er {_n(e, 'deregistrations')}, van wie "
                f"{_n(e, 'short_lived')} binnen die periode begonnen én eindigden. Het signaal geldt vanaf "
                f"{_n(e, 'min_ended')} beëindigde of {_n(e, 'min_short_lived')} kortstondige vestigingen."
            )
        if flag == "company_churn":
            return (
                f"Van {_fmt(e['window_start'])} tot en met {_fmt(e['window_end'])} waren er op dit adres "
                f"{_n(e, 'registrations')} inschrijvingen en {_n(e, 'deregistrations')} uitschrijvingen van "
                f"vestigingen ({_n(e, 'events')} in totaal); het signaal geldt vanaf {_n(e, 'min_events')}."
            )
        if flag == "address_not_in_bag":
            return (
                f"Dit adres is {_fmt(e['reason'])} ({_fmt(e['bag_status'])}), maar "
                f"{_n(e, 'kvk_vestigingsnummers')} KvK-vestigingen en {_n(e, 'brp_persons')} ingeschreven "
                f"personen gebruiken het nog."
            )
        if flag == "enforcement_history" and e.get("via") == "family":
            family = e["family"]
            instruments = ", ".join(sorted({_fmt(i) for f in family for i in f.get("instruments") or []}))
            return (
                f"Op {len(family)} {'adres' if len(family) == 1 else 'adressen'} van familieleden van "
                f"bewoners liep in de afgelopen {_n(e, 'window_years')} jaar handhaving ({instruments})."
            )
        if flag == "enforcement_history":
            zaken = e["zaken"]
            instruments = ", ".join(sorted({_fmt(z.get("instrument")) for z in zaken}))
            family = len(e.get("family_elsewhere") or [])
            text = (
                f"In de afgelopen {_n(e, 'window_years')} jaar {len(zaken)} "
                f"{'handhavingszaak' if len(zaken) == 1 else 'handhavingszaken'} op dit adres of pand "
                f"({instruments})."
            )
            if "residents" in e:
                relatives = "1 familielid woont" if family == 1 else f"{family} familieleden wonen"
                text += f" Er wonen {_n(e, 'residents')} personen; {relatives} elders in de gemeente."
            return text
    except (KeyError, TypeError):
        return ""
    return ""


def _branch(e: dict[str, Any]) -> str:
    """The branche in Dutch, with its SBI code."""
    text = _dutch_description(str(e.get("omschrijving") or ""))
    return f"{text}, SBI {e['sector']}" if text else f"SBI {e['sector']}"


def _dutch_description(text: str) -> str:
    """An SBI description without the English gloss in brackets some deliveries add."""
    return re.sub(r"\s*\((?:[a-z ,]+ )?(?:and|or) [a-z ,]+\)$", "", text).strip()


def _caution(message: str | None) -> str | None:
    """The staff-safety message in Dutch ("caution, contact <team>" as delivered)."""
    if message and message.startswith("caution, contact "):
        return f"Let op: neem contact op met {message.removeprefix('caution, contact ').strip()}"
    return message


class LookupService:
    def __init__(self, warehouse_root: str | Path, register_path: str | Path | None = None):
        self.root = Path(warehouse_root)
        self.warehouse = Warehouse(self.root)
        self.register_path = register_path
        self.lookup = Lookup(self.warehouse, register_path)
        self.log = ProcessingLog(self.warehouse)
        self._register: tuple[float, Register] | None = None
        self._lineage: tuple[float, tuple[dict[str, Lineage], Lineage | None]] | None = None

    def register(self) -> Register:
        """The register, re-read only when its file changes (for the pages; lookups read their own)."""
        path = Path(self.register_path) if self.register_path else None
        from privacy.register import DEFAULT_PATH

        mtime = (path or DEFAULT_PATH).stat().st_mtime
        if self._register is None or self._register[0] != mtime:
            self._register = (mtime, load_register(self.register_path))
        return self._register[1]

    def purposes_for(self, role: str, *, lookups: bool = True) -> list[Purpose]:
        """Purposes of the register this role may use today (for the purpose choice)."""
        today = dt.date.today()
        return [
            p
            for p in self.register().purposes.values()
            if role in p.roles and p.refusal(today) is None and not (lookups and p.aggregated_only)
        ]

    def hit(self, user_id: str, role: str, purpose: str, case: str, target: TargetInput) -> HitOutcome:
        try:
            res = self.lookup.hit(Actor(user_id, role), purpose, case, Target(target.kind, target.value))
        except LookupRefused as exc:
            return HitOutcome(refused=dutch_refusal(exc.reason))
        except UNAVAILABLE:
            return HitOutcome(refused=NO_RELEASE)
        return HitOutcome(res.hit, res.request_id, res.target_label, None, res.known, res.suggestions)

    def detail(
        self, user_id: str, role: str, request_id: str, context: dict[str, Any] | None = None
    ) -> DetailOutcome:
        try:
            result = self.lookup.detail(Actor(user_id, role), request_id, context)
        except LookupRefused as exc:
            return DetailOutcome(refused=dutch_refusal(exc.reason))
        except UNAVAILABLE:
            return DetailOutcome(refused=NO_RELEASE)
        frontline = role == "frontline"
        lineage = {} if frontline else self.flag_lineage({f.flag for f in result.flags})
        keys = [flag_key(f.flag, f.__dict__, f.evidence) for f in result.flags]
        states = {} if frontline else Overview(self.lookup).states(keys)
        cards = [
            self._card(f, frontline, lineage, result, states.get(k))
            for f, k in zip(result.flags, keys, strict=True)
        ]
        return DetailOutcome(None, result, cards, frontline)

    def _card(
        self,
        f: FlagView,
        frontline: bool,
        lineage: dict[str, Lineage],
        result: DetailResult,
        state: tuple[str, dt.date | None] | None = None,
    ) -> FlagCard:
        if frontline:
            return FlagCard(f.flag, FLAG_TITLES.get(f.flag, f.flag), "", f.message, [], [], [], None)
        facts, tables = evidence_view(f.evidence, result.names)
        ids = [
            (kind, result.names.get(value, ""), value)
            for attr, kind in ID_KINDS
            if (value := getattr(f, attr))
        ]
        return FlagCard(
            f.flag,
            FLAG_TITLES.get(f.flag, f.flag),
            FLAG_EXPLANATIONS.get(f.flag, ""),
            _caution(f.message) if f.flag == "staff_safety" else None,
            facts,
            tables,
            ids,
            lineage.get(f.flag),
            *(state or (None, None)),
            _summary(f.flag, f.evidence),
            self._origin(lineage.get(f.flag), f, result.purpose),
        )

    def _origin(self, lineage: Lineage | None, f: FlagView, purpose: str) -> str:
        """Where a flag comes from, in words an officer understands: sources, stand date, purpose."""
        schemas = sorted({t.split(".", 1)[0] for t in (lineage.inputs if lineage else {})})
        sources = [SOURCE_NAMES[s] for s in schemas if s in SOURCE_NAMES]
        register = self.register()
        p = register.get(purpose)
        parts = [f"Bronnen: {', '.join(sources)}." if sources else "Bronnen: niet vastgelegd."]
        if f.reference_date:
            parts.append(f"Stand van de gegevens: {f.reference_date:%d-%m-%Y}.")
        if lineage:
            parts.append(f"Berekend op {local_time(lineage.when)}.")
        parts.append(f"Getoond voor het doel ‘{p.naam if p else purpose}’.")
        return " ".join(parts)

    def flag_lineage(self, flags: set[str]) -> dict[str, Lineage]:
        """Per flag, the latest gated run that wrote its own table (``signals.<flag>``).

        Falls back to the run that wrote the union ``signals.flags`` when a flag has no table of
        its own. Inputs, column lineage, run id and code version come from the gate's log entry.
        Gated runs happen nightly, so the scan of the log is reused for ``LINEAGE_TTL`` seconds.
        """
        now = time.monotonic()
        if self._lineage is None or now - self._lineage[0] > LINEAGE_TTL:
            self._lineage = (now, self._scan_lineage())
        own, union = self._lineage[1]
        return {flag: own.get(flag, union) for flag in flags if flag in own or union}

    def _scan_lineage(self) -> tuple[dict[str, Lineage], Lineage | None]:
        own: dict[str, Lineage] = {}
        union: Lineage | None = None
        for entry in self.log.entries():
            if entry.action != "gated_join" or not entry.output or entry.outcome != "uitgevoerd":
                continue
            lineage = Lineage(
                entry.output,
                entry.tijdstip[:19].replace("T", " "),
                entry.run_id,
                entry.purpose,
                entry.code_version,
                entry.inputs,
                dict(entry.details.get("lineage", {})),
            )
            if entry.output == "signals.flags":
                union = lineage
            elif entry.output.startswith("signals."):
                own[entry.output.removeprefix("signals.")] = lineage
        return own, union

    def map_for(self, outcome: DetailOutcome):
        """The map component's data (flags in WGS84, extent) for the details; empty for front-line staff."""
        from web.kaart import from_views, map_data  # web.kaart reads this module's flag titles

        if outcome.frontline or outcome.result is None:
            return ""
        try:
            extent = BaseMap(self.lookup).extent()
        except UNAVAILABLE:
            return ""
        return map_data(from_views(outcome.result.flags), extent)

    def address_choices(self, postcode: str, huisnummer: int) -> list[AddressChoice]:
        """The addresses at this postcode and huisnummer (open BAG data, not logged)."""
        try:
            choices = self.lookup.address_choices(postcode, huisnummer)
        except UNAVAILABLE:
            return []
        return [
            AddressChoice(
                c.huisletter,
                c.toevoeging,
                f"{c.straat} {huisnummer}{c.huisletter}{'-' + c.toevoeging if c.toevoeging else ''}".strip(),
            )
            for c in choices
        ]

    def case_export(
        self, user_id: str, role: str, purpose: str, case: str, fmt: str
    ) -> tuple[list[dict], str | None]:
        """The addresses looked up under this case with today's answer, logged; or a Dutch refusal."""
        try:
            return self.lookup.case_export(Actor(user_id, role), purpose, case, fmt=fmt), None
        except LookupRefused as exc:
            return [], dutch_refusal(exc.reason)
        except UNAVAILABLE:
            return [], NO_RELEASE
