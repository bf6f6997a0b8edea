"""The web layer's only direct reads of the published release: public BAG data and flagged addresses.

``privacy.lookup`` does not (yet) offer the building geometry for the map, the address choices
(huisletter/toevoeging) for a postcode and huisnummer, or the rows of an export; until it does,
these reads live here, isolated, read-only on the published release (``current_release``):

* :func:`address_choices` and :func:`map_buildings` read open BAG data only (no personal data);
* :func:`flagged_addresses` reads ``signals.flags`` for an export and is only called by
  ``web.lookups.LookupService.export`` after the purpose check, which logs the export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
from shapely import wkt as shapely_wkt

from web.svgmap import MapBuilding

NEIGHBOUR_RADIUS_M = 60.0
MAX_NEIGHBOURS = 150


@contextlib.contextmanager
def _release(cursor: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the published release (``web.lookups.SharedRelease``), closed after use."""
    try:
        yield cursor
    finally:
        cursor.close()


@dataclass(frozen=True)
class AddressChoice:
    huisletter: str
    toevoeging: str
    label: str


def address_choices(cursor: duckdb.DuckDBPyConnection, postcode: str, huisnummer: int) -> list[AddressChoice]:
    """The current addresses with this postcode and huisnummer (each huisletter/toevoeging)."""
    with _release(cursor) as con:
        rows = con.execute(
            """SELECT DISTINCT coalesce(huisletter, ''), coalesce(huisnummertoevoeging, ''),
                      coalesce(openbare_ruimte_naam, '')
               FROM bag.adres WHERE postcode = ? AND huisnummer = ? ORDER BY 1, 2""",
            [postcode, huisnummer],
        ).fetchall()
    return [
        AddressChoice(hl, ht, f"{street} {huisnummer}{hl}{'-' + ht if ht else ''}".strip())
        for hl, ht, street in rows
    ]


def map_buildings(
    cursor: duckdb.DuckDBPyConnection,
    pand_ids: list[str],
    points: list[tuple[float, float]],
    radius: float = NEIGHBOUR_RADIUS_M,
) -> list[MapBuilding]:
    """The given panden (focus) and the panden within ``radius`` metres of them or of the points."""
    with _release(cursor) as con:
        if not pand_ids and not points:
            return []
        focus = (
            con.execute(
                f"""SELECT pand_id, any_value(ST_AsText(geometry)) FROM bag.pand
                    WHERE pand_id IN ({", ".join("?" for _ in pand_ids)}) AND geometry IS NOT NULL
                    GROUP BY pand_id""",
                pand_ids,
            ).fetchall()
            if pand_ids
            else []
        )
        bounds = [shapely_wkt.loads(wkt).bounds for _, wkt in focus] + [(x, y, x, y) for x, y in points]
        if not bounds:
            return []
        minx, miny = min(b[0] for b in bounds), min(b[1] for b in bounds)
        maxx, maxy = max(b[2] for b in bounds), max(b[3] for b in bounds)
        neighbours = con.execute(
            """SELECT pand_id, any_value(ST_AsText(geometry)) FROM bag.pand
               WHERE geometry IS NOT NULL
                 AND ST_XMax(geometry) >= ? AND ST_XMin(geometry) <= ?
                 AND ST_YMax(geometry) >= ? AND ST_YMin(geometry) <= ?
               GROUP BY pand_id LIMIT ?""",
            [minx - radius, maxx + radius, miny - radius, maxy + radius, MAX_NEIGHBOURS],
        ).fetchall()
    focus_ids = {pid for pid, _ in focus}
    buildings = [MapBuilding(pid, wkt, True, f"Pand {pid}") for pid, wkt in focus]
    buildings += [
        MapBuilding(pid, wkt, False, f"Pand {pid}") for pid, wkt in neighbours if pid not in focus_ids
    ]
    return buildings


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


def flagged_addresses(cursor: duckdb.DuckDBPyConnection, flags: tuple[str, ...]) -> list[dict]:
    """One row per flag and address (no evidence: the export is a list of places, not a file)."""
    with _release(cursor) as con:
        if not flags:
            return []
        cursor = con.execute(
            f"""SELECT f.flag, f.nummeraanduiding_id, f.verblijfsobject_id, f.pand_id, f.openbare_ruimte_id,
                       coalesce(a.openbare_ruimte_naam, o.naam) AS straat, a.huisnummer, a.huisletter,
                       a.huisnummertoevoeging, a.postcode, a.woonplaats_naam AS woonplaats,
                       f.reference_date, f.x, f.y
                FROM signals.flags f
                LEFT JOIN (SELECT * FROM bag.adres QUALIFY row_number() OVER
                           (PARTITION BY nummeraanduiding_id ORDER BY nummeraanduiding_id) = 1) a
                       USING (nummeraanduiding_id)
                LEFT JOIN (SELECT openbare_ruimte_id, any_value(naam) AS naam FROM bag.openbare_ruimte
                           GROUP BY openbare_ruimte_id) o ON o.openbare_ruimte_id = f.openbare_ruimte_id
                WHERE f.flag IN ({", ".join("?" for _ in flags)})
                ORDER BY f.flag, a.postcode, a.huisnummer, f.pand_id, f.openbare_ruimte_id""",
            list(flags),
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
