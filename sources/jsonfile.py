"""Reading one JSON delivery file (KvK API responses, Haal Centraal BRP responses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sources.errors import SourceError

# A JSON file is parsed whole (a response body has no records to stream), so its size is bounded:
# a KvK response is a few kB, a Haal Centraal response ~3 kB per person; split larger deliveries.
MAX_JSON_BYTES = 256 << 20


def load_json(path: Path) -> Any:
    """The parsed file (UTF-8, a BOM allowed); a :class:`SourceError` naming what is wrong."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise SourceError(
            path.name, f"{size:,} bytes: larger than the {MAX_JSON_BYTES:,} a JSON delivery file may be"
        )
    try:
        return json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SourceError(path.name, "not valid UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            path.name, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
