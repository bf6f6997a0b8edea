"""SBI activity codes: which codes are accepted, and which SBI version a code belongs to.

What is validated (and what is not):

* Format: SBI 2008 codes are 4 digits (class) or 5 digits (Dutch subclass); SBI 2025 codes are
  always 5 digits (a class without Dutch subdivision ends in ``0``, e.g. ``10110``). Anything else
  is refused.
* Known division: the first two digits must be a division of the version's section structure
  (NACE Rev. 2 for SBI 2008; NACE Rev. 2.1 for SBI 2025, which dropped division 45 -- trade in
  motor vehicles moved into 46/47, their repair into 95). A code in an unknown division (e.g.
  ``0400``, ``4000``, ``45110`` as SBI 2025) is refused.
* Not validated: that the full 4/5-digit code exists in CBS's published list. No code list is
  shipped; the delivered ``omschrijving`` is kept as the KvK gave it.

Version inference when the delivery does not say (API responses never do; the bulk file may
leave ``sbi_versie`` empty), per establishment, from the codes' own evidence, first rule that
applies (the reason is recorded with every activity, ``SbiActiviteit.versie_reden``):

1. a 4-digit code: SBI 2008 (SBI 2025 codes have 5 digits);
2. a code in a division that exists only in SBI 2008 (45, e.g. ``45201`` car repair): SBI 2008;
3. a 5-digit code ending in ``0``: SBI 2025 (SBI 2008's Dutch subclasses are numbered from 1);
4. a delivered omschrijving that matches the class description of exactly one version
   (:data:`CLASS_DESCRIPTIONS`, transcribed for the vulnerable-sector classes and the SBI 2025
   codes that stand for them, whose digits mean something else in SBI 2008): that version;
5. a subclass of a class whose number SBI 2025 reuses for a vulnerable sector (:data:`REUSED`,
   e.g. ``47811``: market stalls in 2008, car retail in 2025) without such evidence: SBI 2008,
   the reading that cannot turn a market stall into car trade (a false flag costs more than a
   missed one);
6. otherwise SBI 2025, the version the Handelsregister serves since the switch.

Deliver ``sbi_versie`` in the bulk file to override (a delivered version is never second-guessed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sources.errors import Reject
from sources.kvk.model import SbiActiviteit

SBI_2008 = "2008"
SBI_2025 = "2025"

_2008_DIVISIONS = (
    [1, 2, 3, 5, 6, 7, 8, 9]
    + list(range(10, 34))
    + [35, 36, 37, 38, 39, 41, 42, 43, 45, 46, 47, 49, 50, 51, 52, 53, 55, 56]
    + [58, 59, 60, 61, 62, 63, 64, 65, 66, 68, 69, 70, 71, 72, 73, 74, 75]
    + [77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]
)
DIVISIONS = {
    SBI_2008: frozenset(f"{d:02d}" for d in _2008_DIVISIONS),
    SBI_2025: frozenset(f"{d:02d}" for d in _2008_DIVISIONS if d != 45),
}
_ONLY_2008 = DIVISIONS[SBI_2008] - DIVISIONS[SBI_2025]
_CODE_RE = re.compile(r"^[0-9]{4,5}$")

# Class descriptions (4 digits) used only to break ties between the versions (rule 4): the
# vulnerable-sector classes of SBI 2008 (assets/signals/config.yaml), the SBI 2025 classes that
# stand for them (NACE Rev. 2 -> Rev. 2.1 correspondence, docs/SIGNALS.md), and what those SBI
# 2025 digits mean in SBI 2008 where they exist there with another meaning.
CLASS_DESCRIPTIONS: dict[str, dict[str, str]] = {
    SBI_2008: {
        "9602": "kappers haarverzorging schoonheidsverzorging pedicure manicure nagelstudio",
        "9609": "overige persoonlijke dienstverlening",
        "4742": "winkels in telecommunicatieapparatuur telefoonwinkel mobiele telefoons",
        "4711": "supermarkten warenhuizen levensmiddelen minisupermarkt",
        "4511": "handel in en reparatie van personenauto's en lichte bedrijfsauto's autohandel",
        "5229": "expediteurs cargadoors bevrachters overige vervoersdiensten",
        "5610": "restaurants cafetaria's lunchrooms snackbars afhaalcentra",
        "4781": "markthandel straathandel in voedings- en genotmiddelen",
        "4671": "groothandel in vaste vloeibare en gasvormige brandstoffen",
    },
    SBI_2025: {
        "9621": "kappers barbiers haarverzorging",
        "9622": "schoonheidsverzorging pedicure manicure nagelstudio",
        "9699": "overige persoonlijke dienstverlening",
        "4740": "winkels in informatie- en communicatieapparatuur telefoonwinkel computers",
        "4711": "supermarkten levensmiddelen minisupermarkt",
        "4781": "detailhandel in personenauto's autohandel",
        "4671": "groothandel in personenauto's en motorvoertuigen",
        "5225": "logistieke dienstverlening",
        "5226": "overige vervoersondersteunende activiteiten",
        "5231": "bemiddeling goederenvervoer expediteurs",
        "5611": "restaurants eetgelegenheden afhaal",
        "5612": "mobiele eetgelegenheden foodtrucks",
    },
}
_WORD_RE = re.compile(r"[a-z]{4,}")
# SBI 2025 classes standing for a vulnerable sector whose number is another SBI 2008 class.
REUSED = frozenset({"4781", "4671"})


class SbiError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Inference:
    version: str
    reason: str


def _words(text: str) -> set[str]:
    return set(_WORD_RE.findall(text.lower()))


def _description_match(code: str, omschrijving: str) -> str | None:
    """The only version whose class description of ``code`` shares words with ``omschrijving``."""
    words = _words(omschrijving)
    overlap = {
        version: len(words & _words(table[code[:4]]))
        for version, table in CLASS_DESCRIPTIONS.items()
        if code[:4] in table
    }
    best = max(overlap.values(), default=0)
    winners = [v for v, n in overlap.items() if n == best and n > 0]
    return winners[0] if len(winners) == 1 else None


def infer_version(items: list[tuple[str, str | None]]) -> Inference:
    """The SBI version of one establishment's ``(code, omschrijving)`` pairs (module docstring)."""
    codes = [c for c, _ in items if c]
    for c in codes:
        if len(c) == 4:
            return Inference(SBI_2008, f"4-digit code {c}: SBI 2025 codes have 5 digits")
    for c in codes:
        if c[:2] in _ONLY_2008 and _CODE_RE.match(c):
            return Inference(SBI_2008, f"code {c}: division {c[:2]} exists only in SBI 2008")
    for c in codes:
        if len(c) == 5 and c.isdigit() and c.endswith("0"):
            return Inference(SBI_2025, f"code {c} ends in 0: SBI 2025 notation of an undivided class")
    for c, omschrijving in items:
        if c and omschrijving and _CODE_RE.match(c):
            version = _description_match(c, omschrijving)
            if version:
                return Inference(version, f"omschrijving of {c} matches SBI {version} class {c[:4]}")
    for c in codes:
        if len(c) == 5 and c[:4] in REUSED:
            return Inference(
                SBI_2008, f"code {c}: class {c[:4]} means another sector in each version; read as SBI 2008"
            )
    return Inference(SBI_2025, "no evidence for SBI 2008: SBI 2025, the version the KvK serves")


def validate(code: str, version: str) -> None:
    """Raise :class:`SbiError` when ``code`` is not a valid code of SBI ``version``."""
    if version not in DIVISIONS:
        raise SbiError(f"unknown SBI version {version!r} (expected 2008 or 2025)")
    if not _CODE_RE.match(code):
        raise SbiError(f"malformed SBI code {code!r} (expected 4 or 5 digits)")
    if version == SBI_2025 and len(code) != 5:
        raise SbiError(f"SBI code {code!r} has 4 digits; SBI 2025 codes have 5")
    if code[:2] not in DIVISIONS[version]:
        raise SbiError(f"unknown SBI code {code!r}: division {code[:2]} does not exist in SBI {version}")


def activities(
    file: str, ref: str, items: list[tuple[str, str | None, bool]], version: str | None
) -> tuple[list[SbiActiviteit], list[Reject]]:
    """Validated activities of one establishment: ``items`` are (code, omschrijving, hoofd).

    ``version`` None means infer (see module docstring); the version and why it was chosen are
    kept with every activity. An invalid code becomes a reject naming the code; the other
    activities stay.
    """
    codes = [str(code).strip() for code, _, _ in items]
    if version:
        used = Inference(version, "delivered")
    else:
        used = infer_version([(c, o) for c, (_, o, _) in zip(codes, items, strict=True)])
    good: list[SbiActiviteit] = []
    bad: list[Reject] = []
    for code, (_, omschrijving, hoofd) in zip(codes, items, strict=True):
        try:
            validate(code, used.version)
        except SbiError as exc:
            bad.append(Reject(file, f"{ref} sbi {code or '(empty)'}", str(exc)))
            continue
        good.append(SbiActiviteit(code, used.version, omschrijving, hoofd, used.reason))
    return good, bad
