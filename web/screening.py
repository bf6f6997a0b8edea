"""The light screening of a business: which tier a relation falls in, and the advice that follows.

Tiers (``web/screening.yaml``, or the file named by ``KNOOPPUNT_SCREENING``): below
``drempel_screening`` a basic check is optional; from it a screening is required; above
``drempel_escalatie``, or with political or administrative risk, the relation always goes to the
Bibob/screening unit. Signals found move the advice up, never down.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_PATH = Path(__file__).with_name("screening.yaml")
PURPOSE = "integriteitstoets_zakelijke_relaties"
RELATIONS = {
    "opdracht": "Opdracht of inkoop",
    "huur": "Huur of verhuur van gemeentelijk vastgoed",
    "subsidie": "Subsidie",
    "overig": "Andere zakelijke relatie",
}


@dataclass(frozen=True)
class Tiers:
    screening: int
    escalation: int


@dataclass(frozen=True)
class Tier:
    key: str  # basis, screening, escalatie
    title: str
    reason: str


def load_tiers(path: Path | None = None) -> Tiers:
    path = path or Path(os.environ.get("KNOOPPUNT_SCREENING") or DEFAULT_PATH)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        tiers = Tiers(int(data["drempel_screening"]), int(data["drempel_escalatie"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: needs whole-euro drempel_screening and drempel_escalatie ({exc})") from exc
    if not 0 < tiers.screening < tiers.escalation:
        raise ValueError(f"{path}: drempel_screening must be above 0 and below drempel_escalatie")
    return tiers


def euros(value: int) -> str:
    return "€ " + f"{value:,}".replace(",", ".")


def tier_for(value: int, political_risk: bool, tiers: Tiers) -> Tier:
    if political_risk:
        return Tier("escalatie", "Doorverwijzen naar het Bibob-team", "er is een politiek-bestuurlijk risico")
    if value > tiers.escalation:
        return Tier(
            "escalatie",
            "Doorverwijzen naar het Bibob-team",
            f"de waarde is hoger dan {euros(tiers.escalation)}",
        )
    if value >= tiers.screening:
        return Tier("screening", "Screening verplicht", f"de waarde is {euros(tiers.screening)} of meer")
    return Tier("basis", "Basischeck (niet verplicht)", f"de waarde is lager dan {euros(tiers.screening)}")


def advice(tier: Tier, signals: int) -> str:
    """What the officer does next, in Dutch."""
    if tier.key == "escalatie":
        return (
            "Leg de relatie voor aan het Bibob-/screeningsteam voordat u verder gaat; "
            "dit besluit neemt u niet zelf."
        )
    if signals:
        return (
            f"Er {'is 1 signaal' if signals == 1 else f'zijn {signals} signalen'} op de adressen van de "
            "onderneming. Bespreek de uitslag met het Bibob-team voordat u de relatie aangaat."
        )
    if tier.key == "screening":
        return (
            "Geen signalen gevonden. Voeg deze uitslag toe aan het dossier; de screening is daarmee gedaan."
        )
    return "Geen signalen gevonden. Een verdere check is bij deze waarde niet nodig."
