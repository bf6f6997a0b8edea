"""The base layer of the web map, built from the published release (open BAG data, not logged).

BAG geometry is in RD New (EPSG:28992). The web map shows it in Leaflet's default Web Mercator
view, so features are reprojected to WGS84 *for display only*, in the GeoJSON that the browser
fetches (RFC 7946 GeoJSON is WGS84 by definition). Everything else keeps RD New: the warehouse,
the exports (GeoPackage/GeoJSON for QGIS) and the flags' evidence. Reprojecting instead of using
an RD tile grid in the browser needs no extra library (Proj4Leaflet) and lets the optional PDOK
BRT background be PDOK's Web Mercator WMTS.

What the layer holds, per bounding box: the pand outlines, a label per openbare ruimte at the
middle of its addresses (with the direction of the street, from a regression line through them,
so the label runs along the street), and the house numbers (only when zoomed in far enough).
Like :meth:`privacy.lookup.Lookup.address_choices` this is open BAG data: no persons, not logged.
"""

from __future__ import annotations

import json
import math
from typing import Any

from privacy.lookup import Lookup

TO_WGS84 = "ST_Transform({0}, 'EPSG:28992', 'EPSG:4326', always_xy := true)"
TO_RD = "ST_Transform(ST_Point(?, ?), 'EPSG:4326', 'EPSG:28992', always_xy := true)"
MAX_PANDEN = 3000
MAX_NUMBERS = 2000
NUMBERS_FROM_ZOOM = 18
STREETS_FROM_ZOOM = 15
PAD_M = 50.0


class BaseMap:
    def __init__(self, lookup: Lookup):
        self.lookup = lookup

    def extent(self) -> list[float] | None:
        """West, south, east, north (WGS84) of all panden in the release, or None without any."""
        with self.lookup._release() as con:
            lo = TO_WGS84.format("ST_Point(min(ST_XMin(geometry)), min(ST_YMin(geometry)))")
            hi = TO_WGS84.format("ST_Point(max(ST_XMax(geometry)), max(ST_YMax(geometry)))")
            row = con.execute(
                f"""SELECT ST_X(lo), ST_Y(lo), ST_X(hi), ST_Y(hi) FROM (
                        SELECT {lo} AS lo, {hi} AS hi FROM bag.pand WHERE geometry IS NOT NULL)"""
            ).fetchone()
        return None if row is None or row[0] is None else [round(v, 7) for v in row]

    def features(self, west: float, south: float, east: float, north: float, zoom: int) -> dict[str, Any]:
        """A GeoJSON FeatureCollection (WGS84) of panden, street labels and house numbers in the box."""
        features: list[dict[str, Any]] = []
        with self.lookup._release() as con:
            lo = con.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT {TO_RD} AS p)", [west, south]).fetchone()
            hi = con.execute(f"SELECT ST_X(p), ST_Y(p) FROM (SELECT {TO_RD} AS p)", [east, north]).fetchone()
            # RD New's axes are turned slightly against lon/lat: a margin keeps the corners covered.
            box = [lo[0] - PAD_M, hi[0] + PAD_M, lo[1] - PAD_M, hi[1] + PAD_M]
            panden = con.execute(
                f"""SELECT pand_id, ST_AsGeoJSON({TO_WGS84.format("any_value(geometry)")})
                    FROM bag.pand WHERE geometry IS NOT NULL
                      AND ST_XMax(geometry) >= ? AND ST_XMin(geometry) <= ?
                      AND ST_YMax(geometry) >= ? AND ST_YMin(geometry) <= ?
                    GROUP BY pand_id ORDER BY pand_id LIMIT {MAX_PANDEN}""",
                box,
            ).fetchall()
            features += [
                {"type": "Feature", "geometry": json.loads(g), "properties": {"soort": "pand", "pand_id": p}}
                for p, g in panden
            ]
            if zoom >= STREETS_FROM_ZOOM:
                streets = con.execute(
                    f"""SELECT name, ST_X(p), ST_Y(p), slope, sx, sy FROM (
                            SELECT a.openbare_ruimte_naam AS name,
                                   {TO_WGS84.format("ST_Point(avg(v.x), avg(v.y))")} AS p,
                                   regr_slope(v.y, v.x) AS slope, stddev_pop(v.x) AS sx, stddev_pop(v.y) AS sy
                            FROM bag.adres a
                            JOIN bag.verblijfsobject v ON v.hoofdadres_id = a.nummeraanduiding_id
                            WHERE v.x BETWEEN ? AND ? AND v.y BETWEEN ? AND ?
                              AND a.openbare_ruimte_naam IS NOT NULL
                            GROUP BY a.openbare_ruimte_id, a.openbare_ruimte_naam)""",
                    box,
                ).fetchall()
                features += [
                    _label("straat", name, lon, lat, _angle(slope, sx, sy))
                    for name, lon, lat, slope, sx, sy in streets
                ]
            if zoom >= NUMBERS_FROM_ZOOM:
                numbers = con.execute(
                    f"""SELECT a.huisnummer || coalesce(a.huisletter, '')
                               || coalesce('-' || a.huisnummertoevoeging, ''),
                               ST_X({TO_WGS84.format("ST_Point(v.x, v.y)")}),
                               ST_Y({TO_WGS84.format("ST_Point(v.x, v.y)")})
                        FROM bag.verblijfsobject v JOIN bag.adres a ON a.nummeraanduiding_id = v.hoofdadres_id
                        WHERE v.x BETWEEN ? AND ? AND v.y BETWEEN ? AND ?
                        ORDER BY v.verblijfsobject_id LIMIT {MAX_NUMBERS}""",
                    box,
                ).fetchall()
                features += [_label("huisnummer", text, lon, lat, 0.0) for text, lon, lat in numbers]
        return {"type": "FeatureCollection", "features": features}


def _angle(slope: float | None, sx: float | None, sy: float | None) -> float:
    """The street's direction in degrees (0 = east-west, 90 = north-south), for its label."""
    if not sx and not sy:
        return 0.0
    if slope is None or (sy or 0) > 4 * (sx or 0):
        return 90.0
    return -math.degrees(math.atan(slope))


def _label(soort: str, text: str, lon: float, lat: float, angle: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
        "properties": {"soort": soort, "tekst": text, "hoek": round(angle, 1)},
    }
