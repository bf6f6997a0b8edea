"""Field rules every reader applies before a value may load: JSON types, text and plausible dates.

A value that breaks a rule raises :class:`FieldError`; the reader turns it into a reject. The
message names the field and the rule, never the value (values may be personal data).

Plausibility rules (their reasons start with ``implausible``, so ``rejects.<source>`` can be
counted by the data-quality check ``implausible_rejects``):

* text: no control characters (U+0000-U+001F, U+007F-U+009F; tab and newline only in fields that
  allow several lines) and no unresolved entity or character references (``&xxe;``, ``&#38;``):
  a reader that delivers those has passed markup through instead of text;
* dates that lie in the future where the registry cannot have them (birth, start of residence,
  start of a case), and birth dates of living persons more than :data:`MAX_AGE` years ago.
"""

from __future__ import annotations

import datetime as dt
import re

MAX_AGE = 120
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ENTITY_REF = re.compile(r"&(?:[A-Za-z_][\w.-]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


class FieldError(ValueError):
    """A field that breaks a rule. The message names field and rule only (safe to log)."""


def type_name(value: object) -> str:
    """The JSON name of a value's type, for messages (never the value itself)."""
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def text(value: object, field: str, *, multiline: bool = False) -> str | None:
    """``value`` as text (None stays None); refuses other types, control characters and references."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError(f"{field}: expected a string, found {type_name(value)}")
    control = (_CONTROL_MULTILINE if multiline else _CONTROL).search(value)
    if control:
        raise FieldError(f"implausible {field}: control character U+{ord(control.group()):04X}")
    if "&" in value and _ENTITY_REF.search(value):
        raise FieldError(f"implausible {field}: unresolved entity or character reference")
    return value


def not_in_future(day: dt.date | None, field: str, today: dt.date | None = None) -> dt.date | None:
    """``day`` unless it lies after ``today`` (a registry cannot record a birth or start ahead)."""
    if day is not None and day > (today or dt.date.today()):
        raise FieldError(f"implausible {field}: in the future")
    return day


def plausible_birth(year: int, month: int | None, day: int | None, field: str, *, living: bool) -> None:
    """A (partial) birth date not in the future and, for a living person, not over MAX_AGE years ago."""
    today = dt.date.today()
    earliest = dt.date(year, month or 1, day or 1)
    if earliest > today:
        raise FieldError(f"implausible {field}: in the future")
    if living and today.year - year - 1 > MAX_AGE:
        raise FieldError(f"implausible {field}: a living person over {MAX_AGE} years old")


def obj(parent: dict, key: str, field: str) -> dict:
    """``parent[key]`` as a JSON object; absent or null -> ``{}``; another type -> FieldError."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError(f"{field}: expected an object, found {type_name(value)}")
    return value


def array(parent: dict, key: str, field: str) -> list:
    """``parent[key]`` as a JSON array; absent or null -> ``[]``; another type -> FieldError."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise FieldError(f"{field}: expected an array, found {type_name(value)}")
    return value


def integer(value: object, field: str) -> int | None:
    """A JSON number without fraction (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"{field}: expected a whole number, found {type_name(value)}")
    return value
