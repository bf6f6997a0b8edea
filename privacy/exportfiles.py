"""Every file the project hands out: CSV, GeoJSON and GeoPackage (one home for web/ and the CLI).

Exports are disclosures of gated data, so they live with the privacy module that gates them:
``web/`` (the export page, the privacy log download) and the CLI (``knooppunt flags export``)
both use this module, and neither imports the other.

* :func:`csv_bytes` is the one CSV writer: UTF-8 with BOM, ``;``-separated (opens as columns in
  Dutch Excel), every text cell through :func:`neutralise_cell` (OWASP CSV injection: a cell
  starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``, so a spreadsheet shows
  the text instead of running it as a formula).

The flag rows come only from :meth:`privacy.lookup.Lookup.export`, which checks the purpose, role
and case number, filters the flags the purpose may show and logs the export (refusals too):

* CSV: one row per flag occurrence, empty cells where a column does not apply.
* GeoJSON and GeoPackage (typed formats no spreadsheet evaluates, so raw values): one point per
  row in RD New (EPSG:28992, written in the file, never converted to WGS84), layer
  ``gemarkeerde_adressen``; rows without a location (an address that is not in BAG) keep an empty
  geometry instead of being dropped. Opens in QGIS as is.

``evidence`` (JSON text) is included when the rows carry it (``knooppunt flags export``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from pipelines.warehouse import Warehouse
from privacy.lookup import Actor, Lookup

# The columns of privacy.lookup.Lookup.export(), in file order; evidence when asked for.
COLUMNS = (
    "flag",
    "nummeraanduiding_id",
    "verblijfsobject_id",
    "pand_id",
    "openbare_ruimte_id",
    "straat",
    "huisnummer",
    "huisletter",
    "huisnummertoevoeging",
    "postcode",
    "woonplaats",
    "reference_date",
    "x",
    "y",
    "status",  # in the flag history: nieuw, open or opgelost
    "sinds",  # stand date of the run that first saw it
)
LAYER = "gemarkeerde_adressen"
CRS = "EPSG:28992"
FORMATS = ("csv", "geojson", "gpkg")


def _columns(rows: list[dict]) -> list[str]:
    return [*COLUMNS, "evidence"] if rows and "evidence" in rows[0] else list(COLUMNS)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ``'``; anything else as is.

    Numbers are written as digits and are never formulas, so only text is changed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    """The one CSV writer: UTF-8 with BOM, ``;``, CRLF, None as an empty cell, every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([neutralise_cell(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise_cell(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_csv(rows: list[dict]) -> bytes:
    columns = _columns(rows)
    return csv_bytes(columns, ([row.get(c) for c in columns] for row in rows))


def _geo(rows: list[dict], driver: str, suffix: str) -> bytes:
    frame = pd.DataFrame(rows, columns=_columns(rows))
    for column in ("reference_date", "sinds"):
        frame[column] = frame[column].astype("string")
    geometry = [
        Point(x, y) if pd.notna(x) and pd.notna(y) else None
        for x, y in zip(frame["x"], frame["y"], strict=True)
    ]
    gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=CRS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export{suffix}"
        gdf.to_file(path, layer=LAYER, driver=driver, engine="pyogrio")
        return path.read_bytes()


def to_geopackage(rows: list[dict]) -> bytes:
    return _geo(rows, "GPKG", ".gpkg")


def to_geojson(rows: list[dict]) -> bytes:
    return _geo(rows, "GeoJSON", ".geojson")


WRITERS = {"csv": to_csv, "geojson": to_geojson, "gpkg": to_geopackage}


def export_flags(
    warehouse: Warehouse,
    actor: Actor,
    purpose: str,
    case_number: str,
    fmt: str,
    out: Path,
    change: Literal["new", "resolved"] | None = None,
) -> int:
    """Write the flags ``purpose`` may show, with evidence, to ``out``; the number of rows.

    ``change`` limits them to the flags new in, or resolved by, the latest published run.

    Refusals raise :class:`privacy.lookup.LookupRefused` (and are logged). The file is written
    next to ``out`` and renamed into place, so a failed export never leaves a partial file.
    """
    if fmt not in WRITERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rows = Lookup(warehouse).export(actor, purpose, case_number, fmt=fmt, with_evidence=True, change=change)
    body = WRITERS[fmt](rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_bytes(body)
    os.replace(tmp, out)
    return len(rows)
