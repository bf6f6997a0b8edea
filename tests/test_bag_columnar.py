"""The vectorised reader (sources.bag.columnar) gives exactly the rows and rejects of the reference
reader (ObjectBatch, block by block) on real and generated extracts and on every kind of irregular
block, and reads the regular blocks itself."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

from sources.bag import columnar, find_parts, parse_part
from sources.bag.delivery import Part
from sources.bag.objects import ObjectBatch
from sources.bag.scanner import StandScanner
from sources.errors import SourceError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"


def inner_xml(object_type: str) -> bytes:
    """The (only) deelbestand of one object type, straight from the fixture."""
    with zipfile.ZipFile(EXTRACT) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read(f"9999{object_type}15092020.zip")))
        name = next(n for n in inner.namelist() if n.endswith(".xml") and not n.startswith("__MACOSX"))
        return inner.read(name)


def both(part: Part, monkeypatch) -> tuple:
    """(table, sorted rejects) of the vectorised reader and of the reference reader."""
    fast = parse_part(part)
    with monkeypatch.context() as m:
        m.setattr(columnar, "TYPES", ())
        reference = parse_part(part)
    results = []
    for r in (fast, reference):
        table = pa.concat_tables(r.tables) if r.tables else None
        results.append((table, sorted(map(str, r.rejects)), r.kind))
    return results


def assert_same(part: Part, monkeypatch) -> tuple:
    (fast, fast_rejects, kind), (ref, ref_rejects, _) = both(part, monkeypatch)
    assert fast_rejects == ref_rejects
    if ref is None:
        assert fast is None
    else:
        assert fast.schema == ref.schema
        for name in ref.column_names:
            assert fast[name].equals(ref[name]), f"{kind} column {name} differs"
    return ref, ref_rejects


def test_doesburg_extract_is_read_identically(monkeypatch, tmp_path):
    parts = find_parts(EXTRACT, tmp_path).parts
    assert {p.type_hint for p in parts} >= set(columnar.TYPES)
    for part in parts:
        assert_same(part, monkeypatch)


def test_generated_extract_is_read_identically(monkeypatch, tmp_path):
    from sources.synthetic import generate

    generate(tmp_path / "m", 2500, 7, max_objects_per_file=1500)
    (extract,) = (tmp_path / "m" / "bag").glob("*.zip")
    (tmp_path / "scratch").mkdir()
    parts = find_parts(extract, tmp_path / "scratch").parts
    assert sum(p.type_hint == "VBO" for p in parts) >= 2
    for part in parts:
        assert_same(part, monkeypatch)


def chunk_of(data: bytes):
    (chunk,) = list(StandScanner("x.xml", io.BytesIO(data)))
    return chunk


def irregular_blocks(data: bytes, object_type: str) -> list[int]:
    """The blocks the vectorised reader leaves to the reference reader (all: it refused the chunk)."""
    batch = ObjectBatch(object_type, "x.xml")
    chunk = chunk_of(data)
    try:
        _, irregular = columnar.read_chunk(chunk, object_type, batch.fields, batch.type_code)
    except ValueError:
        return list(range(len(chunk)))
    return irregular.tolist()


def edit_block(data: bytes, index: int, old: bytes, new: bytes) -> bytes:
    """``data`` with the first match of the pattern ``old`` replaced by ``new`` in the
    ``index``-th stand block only."""
    starts = [m.start() for m in re.finditer(rb"<sl:stand>", data)]
    start, end = starts[index], starts[index + 1] if index + 1 < len(starts) else len(data)
    block, count = re.subn(old, new.replace(b"\\", b"\\\\"), data[start:end], count=1)
    assert count == 1, old
    return data[:start] + block + data[end:]


def part_of(tmp_path: Path, data: bytes) -> Part:
    path = tmp_path / "x.xml"
    path.write_bytes(data)
    return Part("x.xml", str(path), None, len(data))


# (old, new, read by the reference reader?) per case, applied to the fourth block.
VBO_CASES = {
    "entity in a text (the chunk goes whole)": (b"<Objecten:status>", b"<Objecten:status>&#86;", True),
    "control character": (b"<Objecten:status>", b"<Objecten:status>\x01", True),
    "carriage return in a text": (b"<Objecten:status>", b"<Objecten:status>\r", True),
    "15-digit identificatie": (b">0221010000", b">022101000", True),
    "type code of a pand": (b">0221010000", b">0221100000", True),
    "voorkomenidentificatie not a number": (
        b"<Historie:voorkomenidentificatie>",
        b"<Historie:voorkomenidentificatie>x",
        True,
    ),
    "pos in exponent notation": (b"<gml:pos>", b"<gml:pos>1e1 ", True),
    "pos not finite": (b"<gml:pos>", b"<gml:pos>nan ", True),
    "pos with one value": (rb"<gml:pos>[^<]*", b"<gml:pos>7", True),
    "pos with surrounding whitespace": (b"<gml:pos>", b"<gml:pos>\n  ", False),
    "two pos elements: the last counts": (b"<gml:pos>", b"<gml:pos>7 8</gml:pos><gml:pos>", False),
    "empty element": (b"<Objecten:status>", b"<Objecten:status></Objecten:status><Objecten:x>", False),
    "empty-element tag": (b"<Objecten:status>", b"<Objecten:x/><Objecten:status>", True),
    "field that is not a leaf": (b"<Objecten:status>", b"<Objecten:status><x>a</x>", True),
    "comment in a block (removed before reading)": (
        b"<Objecten:status>",
        b"<!-- n --><Objecten:status>",
        False,
    ),
    "'>' in a text": (b"<Objecten:status>", b"<Objecten:status>a>b ", True),
    "nevenadres mentioned in a text": (b"<Objecten:status>", b"<Objecten:status>Nevenadres ", True),
    "a polygon element besides the point": (b"<gml:Point", b"<gml:Polygon/><gml:Point", True),
}


@pytest.mark.parametrize("case", sorted(VBO_CASES))
def test_an_irregular_verblijfsobject_is_read_by_the_reference_reader(case, monkeypatch, tmp_path):
    old, new, irregular = VBO_CASES[case]
    edited = edit_block(inner_xml("VBO"), 3, old, new)
    assert_same(part_of(tmp_path, edited), monkeypatch)
    blocks = irregular_blocks(edited, "VBO")
    assert (3 in blocks) == irregular
    if b"&" not in new and b"a>b" not in new:
        assert len(blocks) <= 2  # the others stay in the vectorised path (4: a nevenadres)


def test_regular_verblijfsobjecten_are_read_vectorised(monkeypatch, tmp_path):
    data = inner_xml("VBO")
    ref, _ = assert_same(part_of(tmp_path, data), monkeypatch)
    irregular = irregular_blocks(data, "VBO")
    nevenadres = [i for i, b in enumerate(chunk_of(data).blocks) if b"Nevenadres" in b]
    vlak = [i for i, b in enumerate(chunk_of(data).blocks) if b"Polygon" in b]
    assert nevenadres and ref.num_rows > 3 * len(irregular)
    assert sorted(set(nevenadres) | set(vlak)) == irregular


def polygon_block(data: bytes, ring: bytes, dim: bytes = b"3", extra: bytes = b"") -> bytes:
    """``data`` (a pand deelbestand) with the first block's posList ring and srsDimension replaced."""
    edited = re.sub(rb"(<gml:posList[^>]*>)[^<]*", lambda m: m.group(1) + ring, data, count=1)
    return re.sub(rb'srsDimension="3"', b'srsDimension="' + dim + b'"' + extra, edited, count=1)


SQUARE_3D = b"0 0 0 10 0 0 10 10 0 0 10 0 0 0 0"
PND_CASES = {
    "2-D ring": polygon_block(inner_xml("PND"), b"0 0 10 0 10 10 0 10 0 0", b"2"),
    "ring not closed": polygon_block(inner_xml("PND"), b"0 0 0 10 0 0 10 10 0 0 10 0 0 1 0"),
    "three positions": polygon_block(inner_xml("PND"), b"0 0 0 10 0 0 0 0 0"),
    "values not a multiple of the dimension": polygon_block(inner_xml("PND"), SQUARE_3D + b" 1"),
    "srsDimension 4": polygon_block(inner_xml("PND"), b"0 0 0 0 10 0 0 0 10 10 0 0 0 0 0 0", b"4"),
    "srsDimension twice": polygon_block(inner_xml("PND"), SQUARE_3D, b"3", b' srsDimension="3"'),
    "srsDimension with a space": polygon_block(inner_xml("PND"), SQUARE_3D, b"3 "),
    "self-intersecting ring (invalid, kept)": polygon_block(
        inner_xml("PND"), b"0 0 0 10 10 0 10 0 0 0 10 0 0 0 0"
    ),
}


@pytest.mark.parametrize("case", sorted(PND_CASES))
def test_an_irregular_pand_is_read_by_the_reference_reader(case, monkeypatch, tmp_path):
    edited = PND_CASES[case]
    assert_same(part_of(tmp_path, edited), monkeypatch)
    irregular = irregular_blocks(edited, "PND")
    if case.startswith(("self-intersecting", "2-D")):
        assert irregular == []  # regular: read vectorised (GEOS finds the first one invalid)
    else:
        assert irregular == [0]


def test_a_pand_with_an_interior_ring_is_irregular(monkeypatch, tmp_path):
    data = inner_xml("PND")
    hole = b"</gml:exterior><gml:interior><gml:LinearRing><gml:posList>2 2 0 4 2 0 4 4 0 2 2 0</gml:posList></gml:LinearRing></gml:interior>"  # noqa: E501
    edited = data.replace(b"</gml:exterior>", hole, 1)
    assert_same(part_of(tmp_path, edited), monkeypatch)
    assert irregular_blocks(edited, "PND") == [0]


@pytest.mark.parametrize(
    ("prefix", "vectorised"),
    [
        (b"ObjectenLang", True),  # names up to 32 bytes: told apart by their first and last 16
        (b"ObjectenMetEenLangVoorvoegsel", True),  # up to 64: compared in full
        (b"ObjectenMetEenHeelErgLangVoorvoegselVanVeertigTekens", False),  # longer: reference reader
    ],
)
def test_long_namespace_prefixes(prefix, vectorised, monkeypatch, tmp_path):
    data = (
        inner_xml("NUM")
        .replace(b"Objecten:", prefix + b":")
        .replace(b"xmlns:Objecten=", b"xmlns:" + prefix + b"=")
    )
    ref, _ = assert_same(part_of(tmp_path, data), monkeypatch)
    assert ref.num_rows > 0
    assert irregular_blocks(data, "NUM") == ([] if vectorised else list(range(len(chunk_of(data)))))


def test_other_prefixes_are_read_vectorised(monkeypatch, tmp_path):
    data = inner_xml("NUM").replace(b"Objecten:", b"o:").replace(b"xmlns:Objecten=", b"xmlns:o=")
    ref, _ = assert_same(part_of(tmp_path, data), monkeypatch)
    assert ref.num_rows > 0 and irregular_blocks(data, "NUM") == []


def test_blocks_after_an_oversized_record_keep_their_order(monkeypatch, tmp_path):
    data = inner_xml("NUM")
    huge = b"<Objecten:documentnummer>" + b"x" * (1 << 20) + b"</Objecten:documentnummer>"
    edited = edit_block(data, 1, b"<Objecten:status>", huge + b"<Objecten:status>")
    ref, rejects = assert_same(part_of(tmp_path, edited), monkeypatch)
    assert any("limit per record" in r for r in rejects)


def test_names_that_differ_only_in_the_middle_are_told_apart(monkeypatch, tmp_path):
    prefix = b"ObjectenMetEenLangVoorvoegsel"
    data = (
        inner_xml("NUM")
        .replace(b"Objecten:", prefix + b":")
        .replace(b"xmlns:Objecten=", b"xmlns:" + prefix + b"=")
    )
    # same length, same first and last 16 bytes as the real end tag: only a full comparison tells
    edited = edit_block(data, 1, b"</" + prefix + b":postcode>", b"</ObjectenMetEenLaXgVoorvoegsel:postcode>")
    assert_same(part_of(tmp_path, edited), monkeypatch)
    assert irregular_blocks(edited, "NUM") == list(range(len(chunk_of(edited))))


def test_text_that_is_not_utf8_is_judged_by_the_reference_reader(monkeypatch, tmp_path):
    data = inner_xml("NUM")
    bad_id = edit_block(data, 2, rb">0221200000", b">\xff221200000")  # rejected: not a valid id
    ref, rejects = assert_same(part_of(tmp_path, bad_id), monkeypatch)
    assert any("invalid NUM identificatie" in r for r in rejects)
    bad_text = edit_block(data, 2, rb"<Objecten:status>", b"<Objecten:status>\xff")  # a read field
    with pytest.raises(SourceError, match="not valid UTF-8"):
        parse_part(part_of(tmp_path, bad_text))
