"""The LVBAG reader on the real Doesburg extract and on damaged copies of it."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
import shapely

from pipelines.warehouse import connect
from sources.bag import find_parts, load_into, parse_part
from sources.bag.delivery import Part
from sources.errors import SourceError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
STAND = dt.date(2020, 9, 15)
TYPES = {"WPL": "woonplaats", "OPR": "openbare_ruimte", "NUM": "nummeraanduiding", "VBO": "verblijfsobject",
         "PND": "pand", "LIG": "ligplaats", "STA": "standplaats"}  # fmt: skip


def inner_xml(object_type: str) -> bytes:
    """The (only) deelbestand of one object type, straight from the fixture."""
    with zipfile.ZipFile(EXTRACT) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(f"9999{object_type}15092020.zip")))
        name = next(n for n in inner.namelist() if n.endswith(".xml") and not n.startswith("__MACOSX"))
        return inner.read(name)


def expected_current(object_type: str, as_of: dt.date) -> tuple[set[str], int]:
    """Independent oracle: ElementTree over the deelbestand, the current rule written out plainly."""
    root = ElementTree.fromstring(inner_xml(object_type))  # noqa: S314 - the published fixture
    found: dict[str, list[int]] = {}
    total = 0
    for obj in root.iter("{http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-lvc/v20200601}bagObject"):
        total += 1
        values = {el.tag.rsplit("}", 1)[1]: (el.text or "").strip() for el in obj.iter()}
        begin = dt.date.fromisoformat(values["beginGeldigheid"])
        eind = dt.date.fromisoformat(values["eindGeldigheid"]) if "eindGeldigheid" in values else None
        registered = dt.datetime.fromisoformat(values["tijdstipRegistratie"]).date()
        if (
            begin <= as_of
            and (eind is None or eind > as_of)
            and registered <= as_of
            and "eindRegistratie" not in values
        ):
            found.setdefault(values["identificatie"], []).append(int(values["voorkomenidentificatie"]))
    return set(found), total


class Loaded:
    """A connection with the fixture loaded, and the load's statistics."""

    def __init__(self) -> None:
        self.con = connect(":memory:")
        self.stats = load_into(self.con, EXTRACT, processes=1)

    def execute(self, sql: str):
        return self.con.execute(sql)


@pytest.fixture(scope="module")
def con():
    loaded = Loaded()
    yield loaded
    loaded.con.close()


@pytest.mark.parametrize("object_type", list(TYPES))
def test_current_objects_match_independent_selection(con, object_type):
    ids, voorkomens = expected_current(object_type, STAND)
    table = TYPES[object_type]
    got = {r[0] for r in con.execute(f"SELECT {table}_id FROM bag.{table}").fetchall()}
    assert got == ids
    assert con.stats.current[object_type] == len(ids)
    assert con.execute(f"SELECT count(*) FROM bag.history_{table}").fetchone()[0] == voorkomens


def test_vbo_with_history_keeps_only_its_current_voorkomen(con):
    rows = con.execute(
        "SELECT voorkomen_id, status, oppervlakte FROM bag.verblijfsobject "
        "WHERE verblijfsobject_id = '0221010000330226'"
    ).fetchall()
    assert rows == [(4, "Verbouwing verblijfsobject", 223)]
    history = con.execute(
        "SELECT voorkomen_id, eind_geldigheid FROM bag.history_verblijfsobject "
        "WHERE verblijfsobject_id = '0221010000330226' ORDER BY voorkomen_id"
    ).fetchall()
    assert history == [
        (1, dt.date(2019, 1, 15)),
        (2, dt.date(2019, 3, 27)),
        (3, dt.date(2019, 11, 19)),
        (4, None),
    ]


def test_as_of_selects_the_voorkomen_valid_then():
    c = connect(":memory:")
    load_into(c, EXTRACT, as_of=dt.date(2019, 2, 1), processes=1)
    assert c.execute(
        "SELECT voorkomen_id, oppervlakte FROM bag.verblijfsobject "
        "WHERE verblijfsobject_id = '0221010000330226'"
    ).fetchall() == [(2, 315)]
    assert c.execute("SELECT as_of, stand_technische_datum FROM bag.levering").fetchone() == (
        dt.date(2019, 2, 1),
        STAND,
    )


def test_geometry_types_and_points(con):
    kinds = dict(
        con.execute(
            """SELECT 'VBO', any_value(ST_GeometryType(geometry)::VARCHAR) FROM bag.verblijfsobject
            UNION ALL SELECT 'PND', any_value(ST_GeometryType(geometry)::VARCHAR) FROM bag.pand
            UNION ALL SELECT 'LIG', any_value(ST_GeometryType(geometry)::VARCHAR) FROM bag.ligplaats
            UNION ALL SELECT 'WPL', any_value(ST_GeometryType(geometry)::VARCHAR) FROM bag.woonplaats"""
        ).fetchall()
    )
    assert kinds == {"VBO": "POINT", "PND": "POLYGON", "LIG": "POLYGON", "WPL": "POLYGON"}
    # a VBO's point is its gml:pos (z dropped)
    assert con.execute(
        "SELECT x, y FROM bag.verblijfsobject WHERE verblijfsobject_id = '0221010000330226'"
    ).fetchone() == (
        206335.699,
        447529.842,
    )
    # ligplaats / standplaats x/y is a point on (inside) the polygon
    assert con.execute(
        "SELECT bool_and(ST_Contains(geometry, ST_Point(x, y))) FROM "
        "(SELECT geometry, x, y FROM bag.ligplaats UNION ALL SELECT geometry, x, y FROM bag.standplaats)"
    ).fetchone() == (True,)
    assert con.execute("SELECT count(*), bool_and(geometry_valid) FROM bag.pand").fetchone() == (2, True)
    # the Doesburg woonplaats polygon has 753 positions
    assert con.execute("SELECT ST_NPoints(geometry) FROM bag.woonplaats").fetchone() == (753,)


def test_link_tables_and_nevenadressen(con):
    assert con.execute("SELECT * FROM bag.verblijfsobject_pand ORDER BY 1").fetchall() == [
        ("0221010000330226", "0221100000312938"),
        ("0221010000330999", "0221100000311191"),
    ]
    assert con.execute("SELECT * FROM bag.verblijfsobject_gebruiksdoel ORDER BY 1").fetchall() == [
        ("0221010000330226", "woonfunctie"),
        ("0221010000330999", "overige gebruiksfunctie"),
    ]
    neven = con.execute("SELECT object_type, object_id, nummeraanduiding_id FROM bag.nevenadres").fetchall()
    # VBO 0221010000330999 has two nevenadressen; the LIG's nevenadres block is inside an XML comment
    assert ("VBO", "0221010000330999", "0221200000330998") in neven
    assert ("VBO", "0221010000330999", "0221200000330999") in neven
    assert not [n for n in neven if n[0] == "LIG"]


def test_adres_convenience_table(con):
    row = con.execute(
        "SELECT openbare_ruimte_naam, huisnummer, postcode, woonplaats_naam, adresseerbaar_object_id, "
        "object_type, is_hoofdadres FROM bag.adres WHERE nummeraanduiding_id = '0221200000330227'"
    ).fetchone()
    assert row == ("Kosterstraat", 4, "6981CH", "Doesburg", "0221010000330226", "VBO", True)
    assert con.execute("SELECT count(*) FROM bag.adres").fetchone()[0] == con.stats.current["NUM"]


def test_duplicate_current_voorkomen_in_fixture_is_rejected(con):
    # the fixture's NUM 0221200000330998 has two voorkomens without end (1 and 3): 3 is kept
    assert con.execute(
        "SELECT voorkomen_id FROM bag.nummeraanduiding WHERE nummeraanduiding_id = '0221200000330998'"
    ).fetchall() == [(3,)]
    refs = {r.record_ref: r.reason for r in con.stats.rejects}
    assert "NUM 0221200000330998 voorkomen 1" in refs
    assert "duplicate current voorkomen" in refs["NUM 0221200000330998 voorkomen 1"]


def test_in_onderzoek_and_levering(con):
    assert con.stats.in_onderzoek > 30_000
    row = con.execute(
        "SELECT kenmerk, in_onderzoek, begin_geldigheid FROM bag.in_onderzoek "
        "WHERE object_type = 'VBO' AND object_id = '0221010000318727' ORDER BY tijdstip_registratie LIMIT 1"
    ).fetchone()
    assert row == ("gebruiksdoel", True, dt.date(1999, 7, 13))
    assert con.execute("SELECT stand_technische_datum, gemeenten FROM bag.levering").fetchone() == (
        STAND,
        "0221",
    )


# --- accepted shapes -------------------------------------------------------------------------


def test_single_object_zip_and_plain_xml(tmp_path):
    with zipfile.ZipFile(EXTRACT) as outer:
        (tmp_path / "9999VBO15092020.zip").write_bytes(outer.read("9999VBO15092020.zip"))
    delivery = find_parts(tmp_path / "9999VBO15092020.zip", tmp_path / "scratch")
    assert [p.type_hint for p in delivery.parts] == ["VBO"]
    xml = tmp_path / "0221PND15092020-000001.xml"
    xml.write_bytes(inner_xml("PND"))
    result = parse_part(find_parts(xml, tmp_path).parts[0])
    assert result.kind == "PND" and result.tables[0].num_rows == 6
    assert result.header.stand_technische_datum == "2020-09-15"


# --- bad input ---------------------------------------------------------------------------------


def _part(tmp_path: Path, name: str, data: bytes) -> Part:
    path = tmp_path / name
    path.write_bytes(data)
    return Part(name, str(path), None, len(data))


def test_truncated_xml_names_the_file(tmp_path):
    data = inner_xml("VBO")
    with pytest.raises(SourceError, match="truncated") as err:
        parse_part(_part(tmp_path, "0221VBO15092020-000001.xml", data[: len(data) // 2]))
    assert err.value.file == "0221VBO15092020-000001.xml"


def test_truncated_member_inside_outer_zip(tmp_path):
    data = inner_xml("VBO")
    target = tmp_path / "extract.zip"
    with zipfile.ZipFile(EXTRACT) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            payload = src.read(info)
            if info.filename == "9999VBO15092020.zip":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w") as z:
                    z.writestr("0221VBO15092020-000001.xml", data[:-200])
                payload = buf.getvalue()
            dst.writestr(info, payload)
    with pytest.raises(SourceError) as err:
        load_into(connect(":memory:"), target, processes=1)
    assert "9999VBO15092020.zip/0221VBO15092020-000001.xml" in str(err.value)
    assert "not closed" in str(err.value) or "truncated" in str(err.value)


def test_broken_tag_names_the_object(tmp_path):
    data = inner_xml("VBO").replace(
        b"<Objecten:oppervlakte>18</Objecten:oppervlakte>", b"<Objecten:oppervlakte>18</Objecten:opp"
    )
    with pytest.raises(SourceError, match="malformed") as err:
        parse_part(_part(tmp_path, "0221VBO15092020-000001.xml", data))
    assert "0221010000330999" in str(err.value)


def test_outer_zip_without_object_zips_says_which(tmp_path):
    target = tmp_path / "extract.zip"
    with zipfile.ZipFile(EXTRACT) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if info.filename not in ("9999VBO15092020.zip", "9999PND15092020.zip"):
                dst.writestr(info, src.read(info))
    with pytest.raises(SourceError, match="missing VBO, PND"):
        find_parts(target, tmp_path / "scratch")


def test_wrong_encoding(tmp_path):
    latin = inner_xml("OPR").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1)
    with pytest.raises(SourceError, match="ISO-8859-1"):
        parse_part(_part(tmp_path, "a.xml", latin))
    bad_bytes = inner_xml("OPR").replace(b"<Objecten:naam>Rietmaat<", b"<Objecten:naam>Rietm\xe4at<", 1)
    with pytest.raises(SourceError, match="UTF-8"):
        parse_part(_part(tmp_path, "b.xml", bad_bytes))


def test_not_xml(tmp_path):
    with pytest.raises(SourceError, match="not an XML document"):
        parse_part(_part(tmp_path, "c.xml", b"PK\x03\x04 this is no xml"))
    with pytest.raises(SourceError, match="not an LVBAG"):
        parse_part(_part(tmp_path, "d.xml", b'<?xml version="1.0" encoding="UTF-8"?><root><a>1</a></root>'))


def test_invalid_identifiers_and_geometry_are_rejected(tmp_path):
    data = inner_xml("VBO")
    data = data.replace(b">0221010000330999<", b">0221100000330999<")  # pand type code on a VBO
    data = data.replace(b"206335.699 447529.842 0.0</gml:pos>", b"206335.699 x 0.0</gml:pos>", 1)
    result = parse_part(_part(tmp_path, "0221VBO15092020-000001.xml", data))
    reasons = {r.record_ref: r.reason for r in result.rejects}
    assert "type code 01" in reasons["VBO 0221100000330999 voorkomen 1"]
    assert "unparsable geometry" in reasons["VBO 0221010000330226 voorkomen 1"]
    assert result.tables[0].num_rows == 3
    wpl = inner_xml("WPL").replace(b">2142<", b">21420<")
    result = parse_part(_part(tmp_path, "0221WPL15092020-000001.xml", wpl))
    assert [r.reason for r in result.rejects] == ["invalid WPL identificatie (expected 4 digits)"]


def test_duplicate_current_voorkomen_is_rejected(tmp_path):
    data = inner_xml("LIG")
    start = data.index(b"<sl:stand>")
    end = data.index(b"</sl:stand>") + len(b"</sl:stand>")
    block = data[start:end].replace(
        b"<Historie:voorkomenidentificatie>1<", b"<Historie:voorkomenidentificatie>2<"
    )
    (tmp_path / "lig").mkdir()
    (tmp_path / "lig" / "0221LIG15092020-000001.xml").write_bytes(data[:end] + block + data[end:])
    c = connect(":memory:")
    stats = load_into(c, tmp_path / "lig", as_of=STAND, processes=1)
    assert stats.current["LIG"] == 2 and stats.voorkomens["LIG"] == 3
    assert [r.record_ref for r in stats.rejects] == ["LIG 0221020000330152 voorkomen 1"]
    assert c.execute(
        "SELECT voorkomen_id FROM bag.ligplaats WHERE ligplaats_id = '0221020000330152'"
    ).fetchone() == (2,)


def test_exact_duplicate_voorkomen_links_come_from_the_kept_one(tmp_path):
    """Two current copies of one voorkomen (same registration time) that differ in gebruiksdoel
    and pand: the current row and the link tables come from the same (first) copy."""
    data = inner_xml("VBO")
    block = re.search(
        rb"<sl:stand>(?:(?!</sl:stand>).)*?voorkomenidentificatie>4<.*?</sl:stand>", data, flags=re.DOTALL
    ).group(0)
    assert b"0221010000330226" in block
    copy = block.replace(b">woonfunctie<", b">industriefunctie<").replace(
        b">0221100000312938<", b">0221100000399999<"
    )
    end = data.rindex(b"</sl:stand>") + len(b"</sl:stand>")
    (tmp_path / "vbo").mkdir()
    (tmp_path / "vbo" / "0221VBO15092020-000001.xml").write_bytes(data[:end] + copy + data[end:])
    c = connect(":memory:")
    stats = load_into(c, tmp_path / "vbo", as_of=STAND, processes=1)
    assert [r.record_ref for r in stats.rejects] == ["VBO 0221010000330226 voorkomen 4"]
    vbo = "WHERE verblijfsobject_id = '0221010000330226'"
    assert c.execute(f"SELECT count(*) FROM bag.verblijfsobject {vbo}").fetchone() == (1,)
    assert c.execute(f"SELECT gebruiksdoel FROM bag.verblijfsobject_gebruiksdoel {vbo}").fetchall() == [
        ("woonfunctie",)
    ]
    assert c.execute(f"SELECT pand_id FROM bag.verblijfsobject_pand {vbo}").fetchall() == [
        ("0221100000312938",)
    ]


def gml_polygon(*rings: str, dim: int = 2) -> bytes:
    """A gml:Polygon with an exterior ring and optional interior rings (coordinates as text)."""
    exterior, *interiors = rings
    inner = "".join(
        f"<gml:interior><gml:LinearRing><gml:posList>{r}</gml:posList></gml:LinearRing></gml:interior>"
        for r in interiors
    )
    return (
        f'<gml:Polygon srsDimension="{dim}"><gml:exterior><gml:LinearRing><gml:posList>{exterior}'
        f"</gml:posList></gml:LinearRing></gml:exterior>{inner}</gml:Polygon>"
    ).encode()


def test_polygon_with_interior_ring(tmp_path):
    outer = "0 0 0 10 0 0 10 10 0 0 10 0 0 0 0"
    hole = "2 2 0 4 2 0 4 4 0 2 2 0"
    pnd = re.sub(
        rb"<gml:Polygon .*?</gml:Polygon>", gml_polygon(outer, hole, dim=3), inner_xml("PND"), flags=re.DOTALL
    )
    table = parse_part(_part(tmp_path, "0221PND15092020-000001.xml", pnd)).tables[0]
    shapes = [shapely.from_wkb(g) for g in table.column("geometry").to_pylist()]
    assert [len(s.interiors) for s in shapes] == [1] * 6
    assert shapes[0].area == 100 - 2
    assert table.column("geometry_valid").to_pylist() == [True] * 6


def test_invalid_pand_geometry_is_reported_not_fixed(tmp_path):
    bowtie = "0 0 10 10 10 0 0 10 0 0"
    pnd = re.sub(rb"<gml:Polygon .*?</gml:Polygon>", gml_polygon(bowtie), inner_xml("PND"), flags=re.DOTALL)
    table = parse_part(_part(tmp_path, "0221PND15092020-000001.xml", pnd)).tables[0]
    assert table.column("geometry_valid").to_pylist() == [False] * 6
    assert "Self-intersection" in table.column("geometry_invalid_reason")[0].as_py()
    assert (
        shapely.from_wkb(table.column("geometry")[0].as_py()).wkt == "POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"
    )


def test_woonplaats_multisurface_and_entities(tmp_path):
    wpl = inner_xml("WPL")
    vlak = re.search(rb"<gml:Polygon .*?</gml:Polygon>", wpl, flags=re.DOTALL).group(0)
    multi = (
        b'<Objecten:multivlak><gml:MultiSurface srsDimension="2"><gml:surfaceMember>'
        + vlak
        + b"</gml:surfaceMember><gml:surfaceMember>"
        + gml_polygon("1 1 2 1 2 2 1 1")
        + b"</gml:surfaceMember></gml:MultiSurface></Objecten:multivlak>"
    )
    wpl = re.sub(rb"<Objecten:vlak>.*?</Objecten:vlak>", multi, wpl, flags=re.DOTALL)
    wpl = wpl.replace(b">Doesburg<", b">Does &amp; Burg&#233;<")
    table = parse_part(_part(tmp_path, "0221WPL15092020-000001.xml", wpl)).tables[0]
    geometry = shapely.from_wkb(table.column("geometry")[0].as_py())
    assert geometry.geom_type == "MultiPolygon" and len(geometry.geoms) == 2
    assert table.column("naam").to_pylist() == ["Does & Burgé"]


def test_verblijfsobject_with_vlak_gets_point_on_surface(tmp_path):
    square = gml_polygon("0 0 0 10 0 0 10 10 0 0 10 0 0 0 0", dim=3)
    vbo = re.sub(
        rb"<Objecten:punt>\s*<gml:Point [^>]*VBO_0221010000330226_4_.*?</Objecten:punt>",
        b"<Objecten:vlak>" + square + b"</Objecten:vlak>",
        inner_xml("VBO"),
        flags=re.DOTALL,
    )
    table = parse_part(_part(tmp_path, "0221VBO15092020-000001.xml", vbo)).tables[0]
    row = next(r for r in table.to_pylist() if r["voorkomen_id"] == "4")
    assert 0 < row["x"] < 10 and 0 < row["y"] < 10
    assert shapely.from_wkb(row["geometry"]).geom_type == "Point"
    assert shapely.from_wkb(row["vlak"]).geom_type == "Polygon"
    others = [r for r in table.to_pylist() if r["voorkomen_id"] != "4"]
    assert all(r["vlak"] is None for r in others)


def test_value_that_is_not_a_date_is_one_reject_and_the_rest_loads(tmp_path):
    (tmp_path / "vbo").mkdir()
    original = inner_xml("VBO")
    data = original.replace(
        b">2019-11-19</Historie:beginGeldigheid>", b">2019-13-45</Historie:beginGeldigheid>", 1
    )
    assert data != original
    (tmp_path / "vbo" / "0221VBO15092020-000001.xml").write_bytes(data)
    con = connect(":memory:")
    con.execute("BEGIN")
    stats = load_into(con, tmp_path / "vbo", as_of=STAND, processes=1)
    (reject,) = stats.rejects
    assert reject.source_file == "0221VBO15092020-000001.xml"
    assert reject.record_ref.startswith("VBO 0221010000") and " voorkomen " in reject.record_ref
    assert reject.reason == "begin_geldigheid: not a date YYYY-MM-DD"
    voorkomens = original.count(b"<sl:stand>")
    assert stats.voorkomens["VBO"] == voorkomens - 1
    con.execute("COMMIT")  # the transaction is intact
