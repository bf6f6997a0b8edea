"""KvK readers: Handelsregister API responses (``*.json``) and the bulk file (``*.csv``/``*.parquet``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sources.errors import Reject, SourceError
from sources.kvk.api import read_api
from sources.kvk.bulk import read_bulk
from sources.kvk.model import Onderneming, SbiActiviteit, Vestiging


def read_kvk(path: Path) -> Iterator[Onderneming | Vestiging | Reject]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_api(path)
    if suffix in (".csv", ".parquet"):
        return read_bulk(path)
    raise SourceError(path.name, f"unsupported KvK file type {suffix!r} (expected .json, .csv or .parquet)")


__all__ = ["Onderneming", "SbiActiviteit", "Vestiging", "read_api", "read_bulk", "read_kvk"]
