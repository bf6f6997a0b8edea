"""SBI activity codes: which codes are accepted, and which SBI version a code belongs to.

What is validated (and what is not):

* Format: SBI 2008 codes are 4 digits (class) or 5 digits (Dutch subclass); SBI 2025 codes are
  always 5 digits (a class without Dutch subdivision ends in ``0``, e.g. ``10110``). Anything else
  is refused.
* Known division: the first two digits must be a division of the version's section structure
  (NACE Rev. 2 for SBI 2008; NACE Rev. 2.1 for SBI 2025, which dropped division 45 -- trade in
  motor vehicles moved into 46/47). A code in an unknown division (e.g. ``0400``, ``4000``,
  ``45110`` as SBI 2025) is refused.
* Not validated: that the full 4/5-digit code exists in CBS's published list. No code list is
  shipped; the delivered ``omschrijving`` is kept as the KvK gave it.

Version inference when the delivery does not say (API responses never do; the bulk file may
leave ``sbi_versie`` empty), per establishment: any 4-digit code -> all its codes are SBI 2008;
otherwise SBI 2025. Five-digit codes ending in ``0`` only exist in SBI 2025; five-digit codes
ending in 1-9 exist in both and are read as SBI 2025, the version the Handelsregister API serves
since the switch. Deliver ``sbi_versie`` in the bulk file to override.
"""

from __future__ import annotations

import re

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
_CODE_RE = re.compile(r"^[0-9]{4,5}$")


class SbiError(ValueError):
    pass


def infer_version(codes: list[str]) -> str:
    """The SBI version of one establishment's codes (rules in the module docstring)."""
    if any(len(c) == 4 for c in codes):
        return SBI_2008
    return SBI_2025


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

    ``version`` None means infer (see module docstring). An invalid code becomes a reject naming
    the code; the other activities stay.
    """
    codes = [str(code).strip() for code, _, _ in items]
    used = version or infer_version([c for c in codes if c])
    good: list[SbiActiviteit] = []
    bad: list[Reject] = []
    for code, (_, omschrijving, hoofd) in zip(codes, items, strict=True):
        try:
            validate(code, used)
        except SbiError as exc:
            bad.append(Reject(file, f"{ref} sbi {code or '(empty)'}", str(exc)))
            continue
        good.append(SbiActiviteit(code, used, omschrijving, hoofd))
    return good, bad
