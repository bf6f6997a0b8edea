"""Shapes of a synthetic municipality: proportions and habits of its data, not its patterns.

The signals are scored on municipalities the project never sees, so the evaluation runs on more
than one shape (docs/SYNTHETIC.md): a definition that only fits one generator then shows up. A
shape changes what the background looks like -- building mix, how many units hold businesses,
KvK history (predecessor vestigingen that ended), vestigingen without a main activity, SBI codes
delivered without a version or in SBI 2025, house numbers with letters and additions -- and the
variant of some planted patterns, never the flag definitions the patterns must satisfy.

The helpers below are the shape-specific parts of the generator, kept out of ``generator``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Shape:
    name: str
    # one occurrence of every planted pattern per this many addresses (sources.synthetic.schedule)
    addresses_per_occurrence: int
    # cumulative shares of a free plot in ``fill``: house, apartments, shop; the rest are offices
    building_mix: tuple[float, float, float]
    # chance that a business unit (shop, office) / any other unit holds a vestiging
    business_share: tuple[float, float]
    # share of background vestigingen delivered without any SBI activity (no hoofdactiviteit)
    no_activity_share: float
    # share of background SBI 2008 codes delivered without sbi_versie (4-digit codes only when
    # False; any 2008 code, 5-digit subclasses such as 45201 included, when True)
    blank_version_share: float
    blank_version_any_length: bool
    # share of background vulnerable-sector vestigingen registered with their SBI 2025 code
    vulnerable_2025_share: float
    # chance that an active background vestiging has 1-2 predecessors at its address that ended
    history_share: float
    # houses get a huisletter, apartments a huisletter and a huisnummertoevoeging
    letters_and_additions: bool
    # how the planted churn looks: "short_lived" (3 came and went, 1 stays) or "closures"
    # (4 long-standing vestigingen ended in the window, 1 newcomer)
    churn_variant: str


STANDARD = Shape(
    name="standard",
    addresses_per_occurrence=2_000,
    building_mix=(0.55, 0.82, 0.94),
    business_share=(0.75, 0.04),
    no_activity_share=0.0,
    blank_version_share=0.1,
    blank_version_any_length=False,
    vulnerable_2025_share=0.0,
    history_share=0.0,
    letters_and_additions=False,
    churn_variant="short_lived",
)
DENSE = Shape(
    name="dense",
    addresses_per_occurrence=1_000,
    building_mix=(0.25, 0.55, 0.85),
    business_share=(0.9, 0.1),
    no_activity_share=0.35,
    blank_version_share=0.7,
    blank_version_any_length=True,
    vulnerable_2025_share=0.5,
    history_share=0.6,
    letters_and_additions=True,
    churn_variant="closures",
)
SHAPES = {s.name: s for s in (STANDARD, DENSE)}

# SBI 2025 codes (5 digits, undivided classes end in 0) of the vulnerable SBI 2008 classes, as
# the KvK registers them since the switch (assets/signals/config.yaml, sbi2025_to_2008).
VULNERABLE_2025 = {
    "9602": ("96210", "96220"),
    "9609": ("96990",),
    "4742": ("47400",),
    "4711": ("47110",),
    "4511": ("47810", "46710"),
    "5229": ("52260", "52310"),
    "5610": ("56110",),
}
# SBI 2008 subclasses outside the vulnerable list (45201: car repair, division 45 exists only in
# SBI 2008), delivered without a version in the dense shape.
SBI_2008_SUBCLASSES = ("45201", "47781", "62021", "70221", "43221")


def sbi_codes(rng: random.Random, shape: Shape, codes: list[str]) -> tuple[list[str], str]:
    """The codes and ``sbi_versie`` a background SBI 2008 vestiging is delivered with."""
    if rng.random() < shape.no_activity_share:
        return [], ""
    if shape.blank_version_any_length and rng.random() < 0.3:
        codes = [rng.choice(SBI_2008_SUBCLASSES), *codes[1:]]
    may_blank = shape.blank_version_any_length or all(len(c) == 4 for c in codes)
    return codes, "" if may_blank and rng.random() < shape.blank_version_share else "2008"


def vulnerable_code(
    rng: random.Random, shape: Shape, cls: str, codes_2008: tuple[str, ...]
) -> tuple[str, str]:
    """(code, sbi_versie) of a vestiging in vulnerable class ``cls``."""
    if rng.random() < shape.vulnerable_2025_share:
        return rng.choice(VULNERABLE_2025[cls]), rng.choice(("2025", ""))
    return rng.choice(codes_2008), "2008"


def predecessors(rng: random.Random, shape: Shape, start: date) -> list[tuple[date, date]]:
    """(start, end) of earlier vestigingen at an address whose current one started on ``start``.

    At most two, each at least a year long, ending before ``start``: ordinary succession, never
    turnover (docs/SIGNALS.md: at most 2 ended and at most 1 short-lived per address).
    """
    if rng.random() >= shape.history_share:
        return []
    out = []
    end = start - timedelta(days=rng.randint(10, 200))
    for _ in range(rng.randint(1, 2)):
        begin = end - timedelta(days=rng.randint(365, 6 * 365))
        out.append((begin, end))
        end = begin - timedelta(days=rng.randint(10, 200))
    return out


def house_letter(rng: random.Random, shape: Shape) -> str | None:
    return rng.choice(("A", "B", "C")) if shape.letters_and_additions and rng.random() < 0.3 else None


def apartment_label(shape: Shape, k: int) -> tuple[str | None, str | None] | None:
    """(huisletter, toevoeging) of apartment ``k`` in this shape, or None for the standard labels."""
    if not shape.letters_and_additions:
        return None
    return "AB"[k % 2], str(k // 2 + 1)
