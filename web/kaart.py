"""What the map component (``static/kaart.js``) gets: flags as points in WGS84, with their card.

The flags' points are RD New (EPSG:28992) in the warehouse; they are converted here for display
only (see :mod:`privacy.basemap` for why the web map shows Web Mercator). The card texts are Dutch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from markupsafe import Markup
from pyproj import Transformer

from privacy.lookup import FlagView
from privacy.overview import Row
from web.lookups import FLAG_EXPLANATIONS, FLAG_TITLES


@cache
def _to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)


def _lonlat(x: float | None, y: float | None) -> tuple[float | None, float | None]:
    if x is None or y is None:
        return None, None
    lon, lat = _to_wgs84().transform(x, y)
    return round(lon, 7), round(lat, 7)


def from_rows(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Overview rows (``privacy.overview``) as map flags with their card."""
    flags = []
    for r in rows:
        lon, lat = _lonlat(r.x, r.y)
        flags.append(
            {
                "flag": r.flag,
                "titel": FLAG_TITLES.get(r.flag, r.flag),
                "uitleg": FLAG_EXPLANATIONS.get(r.flag, ""),
                "status": r.status,
                "sinds": str(r.sinds) if r.sinds else None,
                "plaats": " ".join(p for p in (r.straat, r.adres, r.woonplaats) if p) or None,
                "besluiten": [
                    f"{d.day}: {d.label}" + (f" — {d.justification}" if d.justification else "")
                    for d in r.decisions[:3]
                ],
                "pand_id": r.pand_id,
                "lon": lon,
                "lat": lat,
            }
        )
    return flags


def from_views(views: Iterable[FlagView]) -> list[dict[str, Any]]:
    """The flags of a lookup's details (``privacy.lookup.FlagView``) as map flags."""
    flags = []
    for v in views:
        lon, lat = _lonlat(v.x, v.y)
        flags.append(
            {
                "flag": v.flag,
                "titel": FLAG_TITLES.get(v.flag, v.flag),
                "uitleg": FLAG_EXPLANATIONS.get(v.flag, ""),
                "pand_id": v.pand_id,
                "lon": lon,
                "lat": lat,
            }
        )
    return flags


def map_data(flags: list[dict[str, Any]], extent: list[float] | None) -> Markup:
    """The JSON for the page's ``<script type="application/json">`` (``</`` escaped)."""
    text = json.dumps({"signalen": flags, "omvang": extent}, ensure_ascii=False)
    return Markup(text.replace("</", "<\\/"))  # noqa: S704 - JSON data, not HTML; "</" cannot end the script
