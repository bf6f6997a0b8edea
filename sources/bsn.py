"""The format rule of a burgerservicenummer (BSN): nine digits passing the elfproef.

A format rule like a postcode pattern, so it lives with the readers; ``privacy.scan`` uses it to
find BSN-like values. :func:`bsn_problem` gives the reason a reader puts in a reject; it never
contains the value.
"""

from __future__ import annotations


def is_valid_bsn(bsn: str) -> bool:
    """The elfproef: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is divisible by 11 (and not all zeros)."""
    if len(bsn) != 9 or not bsn.isdigit() or bsn == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(bsn[:8], range(9, 1, -1), strict=True))
    return (total - int(bsn[8])) % 11 == 0


def bsn_problem(value: object) -> str | None:
    """None for a valid BSN, else why not: ``malformed`` (not nine digits) or ``elfproef fails``."""
    if not isinstance(value, str) or len(value) != 9 or not value.isdigit():
        return "malformed BSN (expected 9 digits)"
    if not is_valid_bsn(value):
        return "invalid BSN (elfproef fails)"
    return None
