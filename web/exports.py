"""Export files of flagged addresses: CSV (UTF-8, semicolon, for Dutch Excel) and GeoPackage.

The GeoPackage holds one point layer ``gemarkeerde_adressen`` in RD New (EPSG:28992), so it opens in
QGIS on the municipality's own base maps without reprojection. Rows without a location (e.g. an
address that is not in the BAG) keep an empty geometry rather than being dropped.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

# The columns of privacy.lookup.Lookup.export(), in file order.
EXPORT_COLUMNS = (
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
)
LAYER = "gemarkeerde_adressen"
CRS = "EPSG:28992"


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    frame["reference_date"] = frame["reference_date"].astype("string")
    return frame


def to_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in EXPORT_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def to_geopackage(rows: list[dict]) -> bytes:
    frame = _frame(rows)
    geometry = [
        Point(x, y) if pd.notna(x) and pd.notna(y) else None
        for x, y in zip(frame["x"], frame["y"], strict=True)
    ]
    gdf = gpd.GeoDataFrame(frame.drop(columns=["x", "y"]), geometry=geometry, crs=CRS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.gpkg"
        gdf.to_file(path, layer=LAYER, driver="GPKG", engine="pyogrio")
        return path.read_bytes()
