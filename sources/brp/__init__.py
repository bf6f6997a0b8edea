"""BRP readers: LO3-coded extracts (``*.csv``) and Haal Centraal JSON responses (``*.json``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sources.brp.haal_centraal import read_haal_centraal
from sources.brp.lo3 import read_lo3
from sources.brp.model import BrpPerson, PartialDate, Relation, leeftijd
from sources.errors import Reject, SourceError


def read_brp(path: Path) -> Iterator[BrpPerson | Reject]:
    """Persons (or rejects) from one delivery file, chosen by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_lo3(path)
    if suffix == ".json":
        return read_haal_centraal(path)
    raise SourceError(path.name, f"unsupported BRP file type {suffix!r} (expected .csv or .json)")


__all__ = ["BrpPerson", "PartialDate", "Relation", "leeftijd", "read_brp", "read_haal_centraal", "read_lo3"]
