"""Turn ``stand`` blocks into columnar Arrow tables: one row per voorkomen.

Each block holds one voorkomen of one object. Leaf elements are picked up by local name with one
regular expression (namespace prefixes are ignored), so element order does not matter. Fields
whose meaning depends on their parent element are read from that element's section:
``heeftAlsNevenadres`` (nummeraanduiding refs) and ``geometrie`` (GML 3.2).

Values stay raw strings here; types (dates, integers) are cast in SQL at load
(:mod:`sources.bag.load`). Geometry is turned into 2-D WKB in RD New (the z of the 3-D
``posList`` is dropped, it is always 0 in the BAG); shapely computes, vectorised per batch, the
validity of pand polygons and the point on surface of ligplaats/standplaats/vlak-verblijfsobject.
"""

from __future__ import annotations

import re
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from sources.errors import Reject

OBJECT_TYPES = ("WPL", "OPR", "NUM", "VBO", "PND", "LIG", "STA")

# Type code at positions 5-6 of a 16-digit BAG id (woonplaats ids are 4 digits).
TYPE_CODES = {"VBO": b"01", "LIG": b"02", "STA": b"03", "PND": b"10", "NUM": b"20", "OPR": b"30"}

TABLES = {
    "WPL": "woonplaats",
    "OPR": "openbare_ruimte",
    "NUM": "nummeraanduiding",
    "VBO": "verblijfsobject",
    "PND": "pand",
    "LIG": "ligplaats",
    "STA": "standplaats",
}
ID_COLUMNS = {t: f"{TABLES[t]}_id" for t in OBJECT_TYPES}

VOORKOMEN_FIELDS = (
    ("voorkomen_id", b"voorkomenidentificatie"),
    ("begin_geldigheid", b"beginGeldigheid"),
    ("eind_geldigheid", b"eindGeldigheid"),
    ("tijdstip_registratie", b"tijdstipRegistratie"),
    ("eind_registratie", b"eindRegistratie"),
    ("geconstateerd", b"geconstateerd"),
    ("documentdatum", b"documentdatum"),
    ("documentnummer", b"documentnummer"),
)

# Per type: (column, leaf element local name) of the single-valued attributes.
FIELDS: dict[str, tuple[tuple[str, bytes], ...]] = {
    "WPL": (("naam", b"naam"), ("status", b"status")),
    "OPR": (("naam", b"naam"), ("type", b"type"), ("status", b"status"), ("woonplaats_id", b"WoonplaatsRef")),
    "NUM": (
        ("huisnummer", b"huisnummer"),
        ("huisletter", b"huisletter"),
        ("huisnummertoevoeging", b"huisnummertoevoeging"),
        ("postcode", b"postcode"),
        ("type_adresseerbaar_object", b"typeAdresseerbaarObject"),
        ("status", b"status"),
        ("openbare_ruimte_id", b"OpenbareRuimteRef"),
        ("woonplaats_id", b"WoonplaatsRef"),
    ),
    "VBO": (("oppervlakte", b"oppervlakte"), ("status", b"status")),
    "PND": (("oorspronkelijk_bouwjaar", b"oorspronkelijkBouwjaar"), ("status", b"status")),
    "LIG": (("status", b"status"),),
    "STA": (("status", b"status"),),
}
HAS_ADRES = ("VBO", "LIG", "STA")
HAS_GEOMETRY = ("WPL", "VBO", "PND", "LIG", "STA")

# Text followed by an end tag: (text, local name) of every leaf element. Anchoring on the end
# tag is about a third faster than matching start tags. Whitespace between the end tags of
# nested elements also matches (as the outer element's "text"); no field reads those names.
_LEAF = re.compile(rb">([^<]++)</(?:[\w.-]++:)?(\w++)>")
_GEOM_TOKEN = re.compile(rb"<(?:[\w.-]+:)?(Point|Polygon|exterior|interior|posList|pos)\b([^>]*)>([^<]*)")
_SRS_DIM = re.compile(rb'srsDimension="(\d)"')
_REF = re.compile(rb"Ref\b[^>]*>\s*([^<\s]+)\s*<")
_ENTITY = re.compile(rb"&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);")
# An '&' that does not start one of the references above: an unresolved entity (``&xxe;``).
_UNRESOLVED = re.compile(rb"&(?!(?:#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);)")
# Control characters (XML 1.0 forbids them; tab and newline only occur between elements), checked
# on the string columns of a batch (RE2, vectorised) rather than on every byte of every block.
CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"
_NAMED = {b"amp": b"&", b"lt": b"<", b"gt": b">", b"quot": b'"', b"apos": b"'"}

IO_TYPES = {
    b"identificatieVanVerblijfsobject": "VBO",
    b"identificatieVanPand": "PND",
    b"identificatieVanNummeraanduiding": "NUM",
    b"identificatieVanOpenbareRuimte": "OPR",
    b"identificatieVanOpenbareruimte": "OPR",
    b"identificatieVanWoonplaats": "WPL",
    b"identificatieVanLigplaats": "LIG",
    b"identificatieVanStandplaats": "STA",
}


_POINT_WKB = b"\x01\x01\x00\x00\x00"
_POLYGON_WKB = b"\x01\x03\x00\x00\x00\x01\x00\x00\x00"


class GeometryError(ValueError):
    """A geometry that cannot be read from its GML."""


def _unescape_entity(m: re.Match[bytes]) -> bytes:
    """The UTF-8 of a reference; ValueError for one to a character XML text cannot hold
    (a control character, a surrogate, beyond U+10FFFF)."""
    name = m.group(1)
    if not name.startswith(b"#"):
        return _NAMED[name]
    code = int(name[2:], 16) if name.startswith(b"#x") else int(name[1:])
    if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF) or code > 0x10FFFF:
        raise ValueError("character reference to a character XML text cannot hold")
    return chr(code).encode()


def text_problem(block: bytes) -> str | None:
    """Why the references in a block do not resolve to plain text, or None."""
    if _UNRESOLVED.search(block):
        return "implausible text: unresolved entity reference"
    try:
        _ENTITY.sub(_unescape_entity, block)
    except ValueError as exc:
        return f"implausible text: {exc}"
    return None


def leaves(block: bytes) -> list[tuple[bytes, bytes]]:
    """(local name, text) of every leaf element of a block, in document order."""
    found = [(k, v) for v, k in _LEAF.findall(block)]
    if b"&" in block:
        found = [(k, _ENTITY.sub(_unescape_entity, v)) for k, v in found]
    return found


def section(block: bytes, name: bytes) -> bytes | None:
    """The content of the first element with local name ``name`` (None if absent)."""
    start = block.find(b":" + name + b">")
    if start < 0:
        start = block.find(b"<" + name + b">")
        if start < 0:
            return None
    end = block.find(name + b">", start + len(name) + 2)
    return block[start : end if end >= 0 else len(block)]


def valid_id(object_type: str, ident: bytes) -> bool:
    if object_type == "WPL":
        return len(ident) == 4 and ident.isdigit()
    return len(ident) == 16 and ident.isdigit() and ident[4:6] == TYPE_CODES[object_type]


def _coords(text: bytes, dim: int) -> np.ndarray:
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise GeometryError(f"coordinates are not numbers: {exc}") from None
    if not np.isfinite(values).all():
        raise GeometryError("coordinates are not finite numbers")
    if values.size == 0 or values.size % dim:
        raise GeometryError(f"{values.size} coordinate values do not form {dim}-D positions")
    pts = values.reshape(-1, dim)
    return np.ascontiguousarray(pts[:, :2]) if dim > 2 else pts


def _ring(ring: np.ndarray) -> np.ndarray:
    """A linear ring: at least 4 positions, the last equal to the first."""
    if len(ring) < 4:
        raise GeometryError(f"a ring needs at least 4 positions, found {len(ring)}")
    if (ring[0] != ring[-1]).any():
        raise GeometryError("a ring is not closed (its last position differs from its first)")
    return ring


def geometry_wkb(geom: bytes) -> tuple[bytes, tuple[float, float] | None]:
    """2-D WKB of a BAG ``geometrie`` section (point, polygon or multi-surface), and the point."""
    m = _SRS_DIM.search(geom)
    dim = int(m.group(1)) if m else 2
    point: tuple[float, float] | None = None
    polygons: list[list[np.ndarray]] = []
    for tag, _attrs, text in _GEOM_TOKEN.findall(geom):
        if tag == b"Polygon":
            polygons.append([])
        elif tag == b"pos" and not polygons:
            xy = _coords(text, dim)
            if len(xy) != 1:
                raise GeometryError("a gml:Point needs exactly one position")
            point = (float(xy[0, 0]), float(xy[0, 1]))
        elif tag == b"posList":
            if not polygons:
                raise GeometryError("gml:posList outside a gml:Polygon")
            polygons[-1].append(_ring(_coords(text, dim)))
    if point is not None and not polygons:
        return _POINT_WKB + struct.pack("<dd", *point), point
    if not polygons or any(not p for p in polygons):
        raise GeometryError("no gml:Point or gml:Polygon with a ring")
    parts = [
        b"\x01\x03\x00\x00\x00"
        + struct.pack("<I", len(rings))
        + b"".join(struct.pack("<I", len(r)) + r.tobytes() for r in rings)
        for rings in polygons
    ]
    if len(parts) == 1:
        return parts[0], None
    return b"\x01\x06\x00\x00\x00" + struct.pack("<I", len(parts)) + b"".join(parts), None


def _strings(values: list) -> pa.Array:
    return pa.array(values, pa.binary()).cast(pa.string())


def _string_lists(values: list[list[bytes]]) -> pa.Array:
    return pa.array(values, pa.list_(pa.binary())).cast(pa.list_(pa.string()))


class ObjectBatch:
    """Columns for the voorkomens of one object type, filled block by block."""

    def __init__(self, object_type: str, source_file: str):
        self.object_type = object_type
        self.source_file = source_file
        self.id_column = ID_COLUMNS[object_type]
        self.fields = ((self.id_column, b"identificatie"), *VOORKOMEN_FIELDS, *FIELDS[object_type])
        self.type_code = TYPE_CODES.get(object_type, b"")
        self.has_geometry = object_type in HAS_GEOMETRY
        self.has_adres = object_type in HAS_ADRES
        self.is_vbo = object_type == "VBO"
        self.rows: list[dict[bytes, bytes]] = []
        self.wkb: list[bytes] = []
        self.xy: list[tuple[float, float] | None] = []  # the point, for point geometries
        self.hoofdadres: list[bytes | None] = []
        self.lists: dict[str, list[list[bytes]]] = {}
        if self.has_adres:
            self.lists["nevenadres_ids"] = []
        if object_type == "VBO":
            self.lists.update(gebruiksdoelen=[], pand_ids=[])
        self.rejects: list[Reject] = []

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        """Empty the batch (after :meth:`to_arrow` and taking :attr:`rejects`)."""
        self.rows.clear()
        self.wkb.clear()
        self.xy.clear()
        self.hoofdadres.clear()
        for values in self.lists.values():
            values.clear()
        self.rejects = []

    def _reject(self, d: dict[bytes, bytes], reason: str) -> None:
        ident = (d.get(b"identificatie") or b"?").decode("utf-8", "replace")
        vid = (d.get(b"voorkomenidentificatie") or b"?").decode("utf-8", "replace")
        self.rejects.append(Reject(self.source_file, f"{self.object_type} {ident} voorkomen {vid}", reason))

    def add(self, block: bytes) -> None:
        """Add one ``stand`` block (comments already removed by the scanner)."""
        found = _LEAF.findall(block)
        if b"&" in block:
            if problem := text_problem(block):
                self._reject({k: v for v, k in found}, problem)
                return
            found = [(_ENTITY.sub(_unescape_entity, v), k) for v, k in found]
        d = {k: v for v, k in found}
        ident = d.get(b"identificatie", b"")
        if self.type_code:
            ok = len(ident) == 16 and ident.isdigit() and ident[4:6] == self.type_code
        else:
            ok = len(ident) == 4 and ident.isdigit()
        if not ok:
            expected = (
                f"16 digits with type code {self.type_code.decode()} at positions 5-6"
                if self.type_code
                else "4 digits"
            )
            self._reject(d, f"invalid {self.object_type} identificatie (expected {expected})")
            return
        if not d.get(b"voorkomenidentificatie", b"").isdigit():
            self._reject(d, "missing or non-numeric voorkomenidentificatie")
            return
        if self.has_geometry:
            try:
                wkb, xy = _geometry(block, d)
            except GeometryError as exc:
                self._reject(d, f"unparsable geometry: {exc}")
                return
            self.wkb.append(wkb)
            self.xy.append(xy)
        if self.has_adres:
            if b"Nevenadres" in block:
                hoofd = section(block, b"heeftAlsHoofdadres")
                m = _REF.search(hoofd) if hoofd else None
                self.hoofdadres.append(m.group(1) if m else None)
                self.lists["nevenadres_ids"].append(
                    _REF.findall(section(block, b"heeftAlsNevenadres") or b"")
                )
            else:
                self.hoofdadres.append(d.get(b"NummeraanduidingRef"))
                self.lists["nevenadres_ids"].append([])
        if self.is_vbo:
            doelen: list[bytes] = []
            panden: list[bytes] = []
            for v, k in found:
                if k == b"gebruiksdoel":
                    doelen.append(v)
                elif k == b"PandRef":
                    panden.append(v)
            self.lists["gebruiksdoelen"].append(doelen)
            self.lists["pand_ids"].append(panden)
        self.rows.append(d)

    def to_arrow(self) -> pa.Table:
        rows = self.rows
        data = {col: _strings([d.get(key) for d in rows]) for col, key in self.fields}
        if self.has_adres:
            data["hoofdadres_id"] = _strings(self.hoofdadres)
        for c, v in self.lists.items():
            data[c] = _string_lists(v)
        if self.has_geometry:
            data.update(_geometry_columns(self.object_type, self.wkb, self.xy))
        return pa.table(data)


def _geometry(block: bytes, d: dict[bytes, bytes]) -> tuple[bytes, tuple[float, float] | None]:
    """Fast paths for a point and a one-ring polygon; anything else via :func:`geometry_wkb`."""
    if b"Polygon" not in block:
        pos = d.get(b"pos")
        if pos is not None:
            values = pos.split()
            if len(values) not in (2, 3):
                raise GeometryError(f"a gml:pos needs 2 or 3 values, found {len(values)}")
            try:
                x, y = float(values[0]), float(values[1])
            except ValueError:
                raise GeometryError("coordinates are not numbers") from None
            if not (np.isfinite(x) and np.isfinite(y)):
                raise GeometryError("coordinates are not finite numbers")
            return _POINT_WKB + struct.pack("<dd", x, y), (x, y)
    elif block.count(b"posList") == 2 and block.count(b"Polygon") == 2 and b"interior" not in block:
        m = _SRS_DIM.search(block)
        ring = _ring(_coords(d.get(b"posList", b""), int(m.group(1)) if m else 2))
        return _POLYGON_WKB + struct.pack("<I", len(ring)) + ring.tobytes(), None
    geom = section(block, b"geometrie")
    if geom is None:
        raise GeometryError("no geometrie element")
    return geometry_wkb(geom)


def _geometry_columns(
    object_type: str, wkb: list[bytes], xy: list[tuple[float, float] | None]
) -> dict[str, pa.Array]:
    """Geometry columns of a batch; shapely (GEOS) only where needed: pand validity, and the
    point on surface of polygon verblijfsobjecten, ligplaatsen and standplaatsen."""
    out: dict[str, pa.Array] = {}
    if object_type == "PND":
        reasons = shapely.is_valid_reason(shapely.from_wkb(np.array(wkb, dtype=object)))
        valid = reasons == "Valid Geometry"
        out["geometry_valid"] = pa.array(valid)
        out["geometry_invalid_reason"] = pa.array(np.where(valid, None, reasons).tolist(), pa.string())
    if object_type in ("VBO", "LIG", "STA"):
        xs = np.array([p[0] if p else np.nan for p in xy], dtype=np.float64)
        ys = np.array([p[1] if p else np.nan for p in xy], dtype=np.float64)
        vlak: list[bytes | None] = [None] * len(wkb)
        point_wkb = list(wkb)
        surfaces = [i for i, p in enumerate(xy) if p is None]
        if surfaces:
            points = shapely.point_on_surface(
                shapely.from_wkb(np.array([wkb[i] for i in surfaces], dtype=object))
            )
            xs[surfaces] = shapely.get_x(points)
            ys[surfaces] = shapely.get_y(points)
            for i, point in zip(surfaces, shapely.to_wkb(points).tolist(), strict=True):
                vlak[i] = wkb[i]
                point_wkb[i] = point
        out["x"] = pa.array(xs)
        out["y"] = pa.array(ys)
        if object_type == "VBO":
            out["vlak"] = pa.array(vlak, pa.binary())
            wkb = point_wkb
    out["geometry"] = pa.array(wkb, pa.binary())
    return out


IO_COLUMNS = (
    ("kenmerk", b"kenmerk"),
    ("in_onderzoek", b"inOnderzoek"),
    ("begin_geldigheid", b"beginGeldigheid"),
    ("eind_geldigheid", b"eindGeldigheid"),
    ("tijdstip_registratie", b"tijdstipRegistratie"),
    ("eind_registratie", b"eindRegistratie"),
    ("documentdatum", b"documentdatum"),
    ("documentnummer", b"documentnummer"),
)


class InOnderzoekBatch:
    """Columns for ``kenmerkInOnderzoek`` blocks (which attribute of which object is under investigation)."""

    def __init__(self, source_file: str):
        self.source_file = source_file
        self.columns: dict[str, list] = {"object_type": [], "object_id": []} | {c: [] for c, _ in IO_COLUMNS}
        self.rejects: list[Reject] = []

    def __len__(self) -> int:
        return len(self.columns["object_id"])

    def add(self, block: bytes) -> None:
        if b"&" in block and (problem := text_problem(block)):
            self.rejects.append(Reject(self.source_file, "kenmerkInOnderzoek", problem))
            return
        found = leaves(block)
        d = dict(found)
        typed = [(IO_TYPES[k], v.strip()) for k, v in found if k in IO_TYPES]
        if not typed:
            self.rejects.append(
                Reject(self.source_file, "kenmerkInOnderzoek", "no identificatieVan<object> element")
            )
            return
        object_type, ident = typed[0]
        if not valid_id(object_type, ident):
            self.rejects.append(
                Reject(
                    self.source_file,
                    f"InOnderzoek {object_type} {ident.decode('utf-8', 'replace')}",
                    f"invalid {object_type} identificatie",
                )
            )
            return
        self.columns["object_type"].append(object_type.encode())
        self.columns["object_id"].append(ident)
        for col, key in IO_COLUMNS:
            self.columns[col].append(d.get(key))

    def to_arrow(self) -> pa.Table:
        return pa.table({c: _strings(v) for c, v in self.columns.items()})


def without_control_characters(table: pa.Table, kind: str, source_file: str) -> tuple[pa.Table, list[Reject]]:
    """``table`` (of object type ``kind`` or ``IO``) without the rows whose text holds a control
    character, and a reject per such row."""
    bad = None
    for name in table.column_names:
        column = table[name]
        if pa.types.is_list(column.type):
            if not pc.any(pc.match_substring_regex(pc.list_flatten(column), CONTROL)).as_py():
                continue
            mask = pa.array(
                [any(re.search(CONTROL, v) for v in values or []) for values in column.to_pylist()]
            )
        elif pa.types.is_string(column.type):
            mask = pc.fill_null(pc.match_substring_regex(column, CONTROL), False)
        else:
            continue
        bad = mask if bad is None else pc.or_(bad, mask)
    if bad is None or not pc.any(bad).as_py():
        return table, []
    first, second = table.column_names[:2]
    rows = table.filter(bad).select([first, second]).to_pylist()
    ref = "InOnderzoek {} {}" if kind == "IO" else kind + " {} voorkomen {}"
    reason = "implausible text: control character"
    rejects = [Reject(source_file, ref.format(r[first], r[second]), reason) for r in rows]
    return table.filter(pc.invert(bad)), rejects
