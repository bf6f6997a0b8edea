"""An inline SVG map of a building and its neighbours, drawn from BAG pand polygons in RD New.

Works without internet: the polygons come from the warehouse (EPSG:28992 metres, so drawing is a
plain scale and a flip of the y axis). An optional background layer (e.g. PDOK's BRT
achtergrondkaart as WMS in EPSG:28992) can be configured as a URL template with ``{minx}``,
``{miny}``, ``{maxx}``, ``{maxy}``, ``{width}`` and ``{height}``; the browser then loads it as an
image below the polygons, and the map stays readable when it fails to load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup
from shapely import wkt as shapely_wkt
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

WIDTH = 640
HEIGHT = 420
MARGIN = 24
MIN_SPAN_M = 60.0


@dataclass(frozen=True)
class MapBuilding:
    pand_id: str
    geometry_wkt: str
    focus: bool = False
    label: str = ""


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def render_map(
    buildings: Sequence[MapBuilding],
    points: Sequence[MapPoint] = (),
    background_template: str | None = None,
) -> Markup:
    """SVG markup (safe to embed) or an empty Markup when there is nothing to draw."""
    shapes: list[tuple[MapBuilding, list[Polygon]]] = []
    for b in buildings:
        try:
            polys = _polygons(shapely_wkt.loads(b.geometry_wkt))
        except Exception:  # noqa: BLE001, S112 - an unreadable geometry is left out, never fatal
            continue
        if polys:
            shapes.append((b, polys))
    xs = [c[0] for _, ps in shapes for p in ps for c in p.exterior.coords] + [p.x for p in points]
    ys = [c[1] for _, ps in shapes for p in ps for c in p.exterior.coords] + [p.y for p in points]
    if not xs:
        return Markup("")
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    # Square metres, centred, with a minimum extent so a lone building is not blown up.
    span = max(maxx - minx, maxy - miny, MIN_SPAN_M)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    scale = min((WIDTH - 2 * MARGIN) / span, (HEIGHT - 2 * MARGIN) / span)
    half_w, half_h = WIDTH / 2 / scale, HEIGHT / 2 / scale
    bx0, bx1, by0, by1 = cx - half_w, cx + half_w, cy - half_h, cy + half_h

    def sx(x: float) -> float:
        return round((x - bx0) * scale, 1)

    def sy(y: float) -> float:
        return round((by1 - y) * scale, 1)

    def ring(coords) -> str:
        return "M" + " L".join(f"{sx(x)},{sy(y)}" for x, y, *_ in coords) + " Z"

    parts = [
        f'<svg class="kaart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="kaart-titel">',
        '<title id="kaart-titel">Kaart van het pand en de panden eromheen (BAG, RD New)</title>',
        f'<rect class="kaart-achtergrond" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>',
    ]
    if background_template:
        url = background_template.format(
            minx=round(bx0, 2),
            miny=round(by0, 2),
            maxx=round(bx1, 2),
            maxy=round(by1, 2),
            width=WIDTH,
            height=HEIGHT,
        )
        parts.append(
            f'<image href="{escape(url)}" x="0" y="0" width="{WIDTH}" height="{HEIGHT}" '
            'preserveAspectRatio="none"/>'
        )
    # Neighbours first, the building of interest on top.
    for b, polys in sorted(shapes, key=lambda s: s[0].focus):
        d = " ".join(
            ring(p.exterior.coords) + "".join(" " + ring(i.coords) for i in p.interiors) for p in polys
        )
        cls = "pand pand-focus" if b.focus else "pand"
        title = escape(b.label or f"Pand {b.pand_id}")
        parts.append(f'<path class="{cls}" fill-rule="evenodd" d="{d}"><title>{title}</title></path>')
    for p in points:
        parts.append(
            f'<circle class="kaart-punt" cx="{sx(p.x)}" cy="{sy(p.y)}" r="5">'
            f"<title>{escape(p.label)}</title></circle>"
        )
    # Scale bar: a round number of metres close to a fifth of the width.
    target = (WIDTH / 5) / scale
    bar_m = next((m for m in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000) if m >= target * 0.6), 1000)
    bar_px = round(bar_m * scale, 1)
    y0 = HEIGHT - 14
    parts.append(
        f'<g class="schaalbalk"><rect x="12" y="{y0 - 18}" width="{bar_px + 16}" height="26" rx="3"/>'
        f'<line x1="20" y1="{y0}" x2="{20 + bar_px}" y2="{y0}"/>'
        f'<text x="20" y="{y0 - 5}">{bar_m} m</text></g>'
        f'<g class="noordpijl"><path d="M{WIDTH - 24},14 L{WIDTH - 30},32 L{WIDTH - 18},32 Z"/>'
        f'<text x="{WIDTH - 24}" y="46" text-anchor="middle">N</text></g>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and URL above is escaped
