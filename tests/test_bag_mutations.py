"""LVBAG daily mutations: generated files validate against the XSD, and stand(day 0) plus the
mutations of days 0 … n-1 gives the same tables as the stand of day n."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from assets.ingest.bag import BAG_TABLES, load_bag
from assets.ingest.bag_mutations import apply_bag_mutations
from pipelines.cli import app
from pipelines.warehouse import Warehouse
from sources.bag.mutations import read_mutations
from sources.errors import SourceError
from sources.synthetic.bag_mutations import Mutatie, MutationSeries, mutation_xml

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
XSD = FIXTURES / "bag" / "lvbag-xsd" / "lvbag"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
DAYS = 30
START = dt.date(2026, 11, 1)


def _day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


@pytest.fixture(scope="module")
def series() -> MutationSeries:
    s = MutationSeries(start=START, addresses=40, seed=3)
    s.advance(DAYS)
    return s


@pytest.fixture(scope="module")
def files(series: MutationSeries, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("series")
    return {
        "stand": {i: series.write_stand(root / "stand", _day(i)) for i in (0, 2, DAYS)},
        "mutations": [series.write_mutations(root / "mutaties", _day(i)) for i in range(DAYS)],
    }


def _tables(warehouse: Warehouse) -> dict[str, list[str]]:
    """Every bag table as sorted row reprs (``levering`` without its file name and load time)."""
    con = warehouse.connect(read_only=True)
    try:
        out = {}
        for table in BAG_TABLES:
            select = (
                "stand_technische_datum IS NOT NULL, as_of, gemeenten" if table == "bag.levering" else "*"
            )
            out[table] = sorted(map(repr, con.execute(f"SELECT {select} FROM {table}").fetchall()))
        out["rejects.bag"] = sorted(
            map(repr, con.execute("SELECT record_ref, reason FROM rejects.bag").fetchall())
        )
        return out
    finally:
        con.close()


def _applied(warehouse: Warehouse) -> list[tuple]:
    con = warehouse.connect(read_only=True)
    try:
        return con.execute(
            "SELECT source_file, mutatiedatum_vanaf, mutatiedatum_tot FROM bag.mutatie_levering ORDER BY 2"
        ).fetchall()
    finally:
        con.close()


def test_generated_mutation_files_validate_against_the_lvbag_xsd(series: MutationSeries, files) -> None:
    schema = etree.XMLSchema(
        etree.parse(
            str(
                XSD / "extract-deelbestand-mutaties-lvc/v20200601/BagvsExtractDeelbestandMutatieLvc-2.1.0.xsd"
            )
        )
    )
    kinds: set[str] = set()
    for i, path in enumerate(files["mutations"]):
        with zipfile.ZipFile(path) as outer:
            (inner_name,) = outer.namelist()
            with zipfile.ZipFile(outer.open(inner_name)) as inner:
                (xml_name,) = inner.namelist()
                doc = etree.fromstring(inner.read(xml_name))
        assert schema.validate(doc), f"{xml_name}: {schema.error_log.last_error}"
        assert doc.findtext(".//{*}MutatiedatumVanaf") == _day(i).isoformat()
        kinds |= {etree.QName(e).localname for g in doc.iterfind(".//{*}mutatieGroep") for e in g}
    assert kinds == {"toevoeging", "wijziging", "verwijdering"}
    # The series exercises a chain: one voorkomen added and changed again within one file.
    chained = [
        d
        for d, groups in series.groups.items()
        if any(
            m.kind == "wijziging" and f"<Historie:beginGeldigheid>{d}" in (m.was or "")
            for g in groups
            for m in g
        )
    ]
    assert chained


def test_stand_plus_thirty_days_of_mutations_equals_the_later_stand(tmp_path, files) -> None:
    mutated = Warehouse(tmp_path / "mutated")
    load_bag(mutated, files["stand"][0], processes=1)
    before = _tables(mutated)
    report = apply_bag_mutations(mutated, files["mutations"][0].parent)
    assert len(report.extra["applied"].split(",")) == DAYS
    assert report.extra["as_of"] == _day(DAYS).isoformat()
    fresh = Warehouse(tmp_path / "fresh")
    load_bag(fresh, files["stand"][DAYS], processes=1)
    after, expected = _tables(mutated), _tables(fresh)
    assert after == expected
    assert after["bag.history_pand"] != before["bag.history_pand"]  # the series changed something
    assert report.objects["NUM"] > 40
    assert [r[1] for r in _applied(mutated)] == [_day(i) for i in range(DAYS)]


def test_the_same_file_twice_changes_nothing(tmp_path, files) -> None:
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, files["stand"][0], processes=1)
    first = apply_bag_mutations(warehouse, files["mutations"][0])
    assert first.extra["applied"] == files["mutations"][0].name
    once = _tables(warehouse)
    again = apply_bag_mutations(warehouse, files["mutations"][0])
    assert again.extra["applied"] == ""
    assert again.extra["skipped_already_applied"] == files["mutations"][0].name
    assert _tables(warehouse) == once
    assert len(_applied(warehouse)) == 1


def test_a_missing_day_is_refused_with_the_expected_date(tmp_path, files) -> None:
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, files["stand"][0], processes=1)
    apply_bag_mutations(warehouse, files["mutations"][0])
    before = _tables(warehouse)
    with pytest.raises(SourceError, match=f"gap: .*expected MutatiedatumVanaf {_day(1)}") as err:
        apply_bag_mutations(warehouse, files["mutations"][2])
    assert files["mutations"][2].name in str(err.value)
    assert _tables(warehouse) == before


def test_a_folder_applies_up_to_the_gap_and_keeps_that_state(tmp_path, files) -> None:
    folder = tmp_path / "mutaties"
    folder.mkdir()
    for i in (0, 1, 3):
        (folder / files["mutations"][i].name).symlink_to(files["mutations"][i])
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, files["stand"][0], processes=1)
    with pytest.raises(SourceError, match=f"expected MutatiedatumVanaf {_day(2)}"):
        apply_bag_mutations(warehouse, folder)
    fresh = Warehouse(tmp_path / "fresh")
    load_bag(fresh, files["stand"][2], processes=1)
    assert _tables(warehouse)["bag.history_verblijfsobject"] == _tables(fresh)["bag.history_verblijfsobject"]
    assert [r[2] for r in _applied(warehouse)] == [_day(1), _day(2)]


def test_an_earlier_file_is_refused_as_out_of_order(tmp_path, files) -> None:
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, files["stand"][2], processes=1)
    before = _tables(warehouse)
    with pytest.raises(SourceError, match=f"out of order: the loaded BAG is already at {_day(2)}"):
        apply_bag_mutations(warehouse, files["mutations"][1])
    assert _tables(warehouse) == before


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of a generated mutation file with its XML changed by ``change(text) -> text``."""
    with zipfile.ZipFile(source) as outer:
        (inner_name,) = outer.namelist()
        with zipfile.ZipFile(outer.open(inner_name)) as inner:
            (xml_name,) = inner.namelist()
            text = inner.read(xml_name).decode()
    xml = target.with_suffix(".xml")
    xml.write_text(change(text), encoding="utf-8")
    return xml


def test_a_was_that_is_not_in_the_loaded_bag_is_refused(tmp_path, files, series) -> None:
    # A wijziging of a voorkomen registered before its day; its was gets another documentnummer.
    day, was = next(
        (i, m.was)
        for i in range(DAYS)
        for g in series.groups[_day(i)]
        for m in g
        if m.kind == "wijziging" and f"<Historie:beginGeldigheid>{_day(i)}<" not in m.was
    )
    number = re.search(r"<Objecten:documentnummer>([^<]+)<", was).group(1)
    changed = _rewrite(
        files["mutations"][day],
        tmp_path / "changed",
        lambda t: t.replace(
            f">{number}</Objecten:documentnummer>", f">{number}-B</Objecten:documentnummer>", 1
        ),
    )
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, series.write_stand(tmp_path / "stand", _day(day)), processes=1)
    before = _tables(warehouse)
    with pytest.raises(SourceError, match="not in the loaded BAG as delivered"):
        apply_bag_mutations(warehouse, changed)
    assert _tables(warehouse) == before


def _pand_id(element: str) -> str:
    return re.search(r'NL.IMBAG.Pand">(\d{16})</Objecten:identificatie>', element).group(1)


def _lone_added_pand(series) -> tuple[int, str]:
    """(day, identificatie) of a pand added on a day on which nothing else happens to it."""
    return next(
        (i, ident)
        for i in range(DAYS)
        for g in series.groups[_day(i)]
        for m in g
        if m.kind == "toevoeging"
        and m.object_type == "PND"
        and (ident := _pand_id(m.wordt))
        and series.mutation_xml(_day(i)).count(f'Pand">{ident}</Objecten:identificatie>') == 1
    )


def test_an_invalid_wordt_record_becomes_a_reject(tmp_path, files, series) -> None:
    # A pand added on a day on which nothing else happens to it; its identificatie is broken.
    day, ident = _lone_added_pand(series)
    broken = _rewrite(
        files["mutations"][day],
        tmp_path / "broken",
        lambda t: t.replace(f'Pand">{ident}</Objecten:i', f'Pand">{ident[:2]}X{ident[3:]}</Objecten:i'),
    )
    assert len(read_mutations(broken).rejects) == 1
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, series.write_stand(tmp_path / "stand", _day(day)), processes=1)
    report = apply_bag_mutations(warehouse, broken)
    assert report.rejects == 1
    con = warehouse.connect(read_only=True)
    try:
        ((ref, reason),) = con.execute(
            "SELECT record_ref, reason FROM rejects.bag WHERE source_file LIKE 'broken%'"
        ).fetchall()
        pand = con.execute("SELECT count(*) FROM bag.history_pand WHERE pand_id = ?", [ident]).fetchone()[0]
    finally:
        con.close()
    assert ref == f"PND {ident[:2]}X{ident[3:]} voorkomen 1"
    assert "invalid PND identificatie" in reason
    assert pand == 0


def test_a_stand_deelbestand_is_not_a_mutation_file(tmp_path, files) -> None:
    with zipfile.ZipFile(files["stand"][0]) as outer:
        inner = tmp_path / "9999PND.zip"
        inner.write_bytes(outer.read(f"9999PND{_day(0).strftime('%d%m%Y')}.zip"))
    with pytest.raises(SourceError, match="not an LVBAG mutatie deelbestand"):
        read_mutations(inner)


def test_mutations_need_a_loaded_stand(tmp_path, files) -> None:
    with pytest.raises(SourceError, match="no BAG stand loaded"):
        apply_bag_mutations(Warehouse(tmp_path / "wh"), files["mutations"][0])


def test_knooppunt_ingest_bag_mutaties(tmp_path, files) -> None:
    warehouse = tmp_path / "wh"
    load_bag(Warehouse(warehouse), files["stand"][0], processes=1)
    runner = CliRunner()
    args = ["ingest", "bag-mutaties", str(files["mutations"][0]), "--warehouse", str(warehouse), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["as_of"] == _day(1).isoformat()
    gap = runner.invoke(app, [*args[:2], str(files["mutations"][5]), *args[3:]])
    assert gap.exit_code == 1
    assert f"expected MutatiedatumVanaf {_day(1)}" in gap.output


def _open_kenmerk() -> str:
    """A real open kenmerkInOnderzoek element (no eindRegistratie) from the Doesburg extract."""
    with (
        zipfile.ZipFile(EXTRACT) as outer,
        zipfile.ZipFile(outer.open("9999InOnderzoek15092020.zip")) as io_zip,
        zipfile.ZipFile(io_zip.open("0221IOVBO15092020.zip")) as inner,
    ):
        text = inner.read(inner.namelist()[0]).decode()
    blocks = re.findall(r"<sl-bag-extract:kenmerkInOnderzoek>(.*?)</sl-bag-extract:kenmerkInOnderzoek>", text)
    return next(b for b in blocks if "eindRegistratie" not in b and "tijdstipRegistratieLV" in b)


def test_kenmerk_in_onderzoek_mutations(tmp_path) -> None:
    was = _open_kenmerk()
    closed = (
        was.replace(
            "</Historie:tijdstipRegistratie>",
            "</Historie:tijdstipRegistratie><Historie:eindRegistratie>2020-09-15T10:00:00.000</Historie:eindRegistratie>",
        )
        .replace(
            "</Historie:beginGeldigheid>",
            "</Historie:beginGeldigheid><Historie:eindGeldigheid>2020-09-15</Historie:eindGeldigheid>",
        )
        .replace(
            "</Historie:tijdstipRegistratieLV>",
            "</Historie:tijdstipRegistratieLV><Historie:tijdstipEindRegistratieLV>2020-09-15T10:05:00.000</Historie:tijdstipEindRegistratieLV>",
        )
    )
    registered = re.search(r"<Historie:tijdstipRegistratie>([^<]+)<", was).group(1)
    kenmerk = re.search(r"kenmerk>([^<]+)<", was).group(1)
    other = "status" if kenmerk == "oppervlakte" else "oppervlakte"
    flag = re.search(r"inOnderzoek>([JN])<", was).group(1) == "J"
    new = was.replace(f">{kenmerk}<", f">{other}<").replace(registered, "2020-09-15T10:00:00.000")
    groups = [
        [
            Mutatie("wijziging", "VBO", was=was, wordt=closed, model="kenmerkInOnderzoek"),
            Mutatie("toevoeging", "VBO", wordt=new, model="kenmerkInOnderzoek"),
        ]
    ]
    xml = mutation_xml("0221", dt.date(2020, 9, 15), dt.date(2020, 9, 16), groups)
    schema = etree.XMLSchema(
        etree.parse(
            str(
                XSD / "extract-deelbestand-mutaties-lvc/v20200601/BagvsExtractDeelbestandMutatieLvc-2.1.0.xsd"
            )
        )
    )
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log.last_error
    path = tmp_path / "0221MUT15092020-16092020-000001.xml"
    path.write_text(xml, encoding="utf-8")

    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, EXTRACT, processes=1)
    ident = re.search(r'Verblijfsobject">(\d{16})<', was).group(1)
    query = (
        "SELECT kenmerk, in_onderzoek, eind_geldigheid, eind_registratie FROM bag.in_onderzoek "
        f"WHERE object_id = '{ident}' AND ((kenmerk = '{kenmerk}' AND tijdstip_registratie = '{registered}') "
        f"OR (kenmerk = '{other}' AND tijdstip_registratie = '2020-09-15 10:00:00')) ORDER BY 1"
    )

    def rows():
        con = warehouse.connect(read_only=True)
        try:
            return con.execute("SELECT count(*) FROM bag.in_onderzoek").fetchone()[0], con.execute(
                query
            ).fetchall()
        finally:
            con.close()

    count, before = rows()
    assert before == [(kenmerk, flag, None, None)]
    apply_bag_mutations(warehouse, path)
    after_count, after = rows()
    assert after_count == count + 1
    assert sorted(after) == sorted(
        [(kenmerk, flag, dt.date(2020, 9, 15), dt.datetime(2020, 9, 15, 10, 0)), (other, flag, None, None)]
    )
    assert apply_bag_mutations(warehouse, path).extra["applied"] == ""  # the same file: nothing changes
    assert rows() == (after_count, after)


def test_a_wordt_value_that_does_not_cast_becomes_a_reject(tmp_path, files, series) -> None:
    day, ident = _lone_added_pand(series)

    def change(text: str) -> str:
        at = text.index(f'Pand">{ident}</Objecten:identificatie>')
        head, tail = text[:at], text[at:]
        return head + re.sub(r"oorspronkelijkBouwjaar>\d+<", "oorspronkelijkBouwjaar>19x0<", tail, count=1)

    broken = _rewrite(files["mutations"][day], tmp_path / "bouwjaar", change)
    warehouse = Warehouse(tmp_path / "wh")
    load_bag(warehouse, series.write_stand(tmp_path / "stand", _day(day)), processes=1)
    report = apply_bag_mutations(warehouse, broken)
    assert report.rejects == 1 and report.extra["as_of"] == _day(day + 1).isoformat()
    con = warehouse.connect(read_only=True)
    try:
        rejects = con.execute(
            "SELECT record_ref, reason FROM rejects.bag WHERE source_file LIKE 'bouwjaar%'"
        ).fetchall()
        pand = con.execute("SELECT count(*) FROM bag.history_pand WHERE pand_id = ?", [ident]).fetchone()[0]
        applied = con.execute("SELECT rejects FROM bag.mutatie_levering").fetchall()
    finally:
        con.close()
    assert rejects == [(f"PND {ident} voorkomen 1", "oorspronkelijk_bouwjaar: not a whole number")]
    assert pand == 0 and applied == [(1,)]
