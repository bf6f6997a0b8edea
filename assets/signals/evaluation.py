"""Precision and recall of the flags against a generated municipality's ``ground_truth.csv``.

Flags are compared at their own level (docs/SIGNALS.md): a pand for
``many_companies_in_building``, an openbare ruimte for ``identical_businesses_in_street``, a
nummeraanduiding for the others. ``address_not_in_bag`` is "as delivered": the delivered
nummeraanduiding id when the record carried one, else the delivered postcode + huisnummer.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from dagster import ExecuteInProcessResult, materialize

from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse

Key = tuple[str, ...]


@dataclass(frozen=True)
class Score:
    flag: str
    planted: int
    found: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.planted if self.planted else 1.0


def _key(flag: str, num: str | None, pand: str | None, opr: str | None, adres: tuple[str, str] | None) -> Key:
    if flag == "many_companies_in_building":
        return ("pand", pand or "")
    if flag == "identical_businesses_in_street":
        return ("openbare_ruimte", opr or "")
    if flag == "address_not_in_bag" and not num:
        return ("adres", *(adres or ("", "")))
    return ("nummeraanduiding", num or "")


def truth_keys(path: Path) -> dict[str, set[Key]]:
    """The planted occurrences per flag from ``ground_truth.csv``."""
    keys: dict[str, set[Key]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            note = dict(part.split("=", 1) for part in row["note"].split(";") if "=" in part)
            adres = (note.get("postcode", "").replace(" ", "").upper(), note.get("huisnummer", ""))
            key = _key(
                row["flag"], row["nummeraanduiding_id"], row["pand_id"], row["openbare_ruimte_id"], adres
            )
            keys.setdefault(row["flag"], set()).add(key)
    return keys


def found_keys(con: duckdb.DuckDBPyConnection, table: str = "signals.flags") -> dict[str, set[Key]]:
    """The flag occurrences in ``table`` (the overview, or one flag's table)."""
    keys: dict[str, set[Key]] = {}
    rows = con.execute(
        "SELECT flag, nummeraanduiding_id, pand_id, openbare_ruimte_id, CAST(evidence AS VARCHAR) "
        f"FROM {table}"
    ).fetchall()
    for flag, num, pand, opr, evidence in rows:
        ev = json.loads(evidence)
        adres = (str(ev.get("postcode") or ""), str(ev.get("huisnummer") or ""))
        keys.setdefault(flag, set()).add(_key(flag, num, pand, opr, adres))
    return keys


def score(truth: dict[str, set[Key]], found: dict[str, set[Key]], flags: list[str]) -> list[Score]:
    return [
        Score(
            f,
            len(truth.get(f, set())),
            len(found.get(f, set())),
            len(truth.get(f, set()) & found.get(f, set())),
        )
        for f in flags
    ]


def ingest_delivery(data: Path, warehouse: Warehouse) -> dict[str, float]:
    """Load a delivery folder (docs/FORMATS.md layout) with the real loaders; seconds per source."""
    from assets.ingest.bag import load_bag
    from assets.ingest.brp import load_brp
    from assets.ingest.enforcement import load_enforcement
    from assets.ingest.kvk import load_kvk

    def files(source: str) -> list[Path]:
        return sorted(p for p in (data / source).glob("*") if p.suffix in (".csv", ".parquet", ".json"))

    loads = {
        "bag": lambda: load_bag(warehouse, next((data / "bag").glob("*.zip"))),
        "brp": lambda: load_brp(warehouse, files("brp")),
        "kvk": lambda: load_kvk(warehouse, files("kvk")),
        "handhaving": lambda: load_enforcement(warehouse, files("handhaving")),
    }
    seconds = {}
    for source, load in loads.items():
        started = time.perf_counter()
        load()
        seconds[source] = time.perf_counter() - started
    return seconds


def materialise_signals(warehouse: Warehouse) -> ExecuteInProcessResult:
    """Materialise every signal asset through the gate, in process, as the job does."""
    from assets.signals import signal_assets

    return materialize(signal_assets, resources={"warehouse": WarehouseResource(root=str(warehouse.root))})
