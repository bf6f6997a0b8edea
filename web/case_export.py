"""The case export: the addresses looked up under one case, as CSV (Excel) or GeoPackage (QGIS).

Rows come only from :meth:`privacy.lookup.Lookup.case_export` (purpose, role and case checked,
the export logged); the CSV goes through the project's one CSV writer
(:func:`privacy.exportfiles.csv_bytes`, formula neutralisation included). Headers are Dutch;
the machine-readable codes (``uitkomst_code``, ``signaal_codes``) keep their own columns.
Coordinates are RD New (EPSG:28992); an address BAG has no location for keeps an empty
geometry, a target that is not in the BAG an empty address.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import Point

from privacy.exportfiles import CRS, csv_bytes
from web.lookups import FLAG_TITLES, OUTCOME_TITLES

LAYER = "zaak_adressen"
# (Dutch header, how to get the value from a row of Lookup.case_export)
COLUMNS: list[tuple[str, Any]] = [
    ("Adres", lambda r: r["adres"]),
    ("Straat", lambda r: r.get("straat")),
    ("Huisnummer", lambda r: r.get("huisnummer")),
    ("Huisletter", lambda r: r.get("huisletter")),
    ("Toevoeging", lambda r: r.get("toevoeging")),
    ("Postcode", lambda r: r.get("postcode")),
    ("Woonplaats", lambda r: r.get("woonplaats")),
    ("Uitkomst", lambda r: OUTCOME_TITLES[r["uitkomst"]]),
    ("Signalen", lambda r: "; ".join(FLAG_TITLES.get(f, f) for f in r["flags"]) or "geen"),
    ("BAG-nummeraanduiding", lambda r: r.get("nummeraanduiding_id")),
    ("X (RD)", lambda r: r.get("x")),
    ("Y (RD)", lambda r: r.get("y")),
    ("uitkomst_code", lambda r: r["uitkomst"]),
    ("signaal_codes", lambda r: ",".join(r["flags"])),
]


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    return [h for h, _ in COLUMNS], [[get(r) for _, get in COLUMNS] for r in rows]


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """Through the one CSV writer (``privacy.exportfiles.csv_bytes``: BOM, ``;``, neutralised cells)."""
    return csv_bytes(*table(rows))


def to_geopackage(rows: list[dict[str, Any]]) -> bytes:
    header, values = table(rows)
    records = [dict(zip(header, row, strict=True)) for row in values]
    geometry = [
        Point(r["x"], r["y"]) if r.get("x") is not None and r.get("y") is not None else None for r in rows
    ]
    frame = gpd.GeoDataFrame(records, columns=header, geometry=geometry, crs=CRS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zaak.gpkg"
        frame.to_file(path, layer=LAYER, driver="GPKG", engine="pyogrio")
        return path.read_bytes()
