"""A pasted list of addresses for one case: one target per line, checked in one step.

Each line is "postcode huisnummer[letter][-toevoeging]" (``1234 AB 12a``, ``1234AB 12-2``) or
"straat huisnummer" (``Kerkstraat 12``); a line that is neither is reported, not looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from web.validation import InvalidInput, TargetInput, parse_target

MAX_LINES = 200
POSTCODE_LINE = re.compile(
    r"^(?P<postcode>[1-9]\d{3}\s?[A-Za-z]{2})[\s,]+(?P<huisnummer>\d{1,5})\s*(?P<huisletter>[A-Za-z](?![A-Za-z0-9]))?"
    r"(?:\s*[-\s]\s*(?P<toevoeging>[A-Za-z0-9]{1,4}))?$"
)


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    target: TargetInput | None
    error: str | None = None


def parse_lines(text: str) -> list[Line]:
    """The non-empty lines of ``text`` as targets (at most :data:`MAX_LINES`, else InvalidInput)."""
    raw = [line.strip() for line in text.splitlines()]
    numbered = [(i + 1, line) for i, line in enumerate(raw) if line]
    if not numbered:
        raise InvalidInput("lijst", "Plak of typ ten minste één adres, één per regel.")
    if len(numbered) > MAX_LINES:
        raise InvalidInput(
            "lijst", f"De lijst heeft {len(numbered)} adressen; controleer er hoogstens {MAX_LINES} tegelijk."
        )
    lines = []
    for number, line in numbered:
        if m := POSTCODE_LINE.match(line):
            form = {"soort": "address", **{k: v or "" for k, v in m.groupdict().items()}}
        else:
            form = {"soort": "street", "straat": line}
        try:
            lines.append(Line(number, line, parse_target(form)))
        except InvalidInput as exc:
            lines.append(Line(number, line, None, exc.message))
    return lines
