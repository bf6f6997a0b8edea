"""Keeping chosen gemeenten of a national extract by the woonplaats–gemeente relation."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from dagster import materialize
from lxml import etree

from assets.ingest.bag import BAG_TABLES, bag_assets, load_bag
from assets.ingest.bag_mutations import apply_bag_mutations
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.warehouse import Warehouse
from sources.bag.gemeenten import read_relatie
from sources.errors import SourceError
from sources.synthetic.bag_mutations import MutationSeries, mutation_xml, write_stand

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
EXTRACT = FIXTURES / "bag" / "BAGNLDL-15092020-small.zip"
XSD = FIXTURES / "bag" / "lvbag-xsd" / "lvbag"
DAY = dt.date(2026, 11, 1)


def _tables(warehouse: Warehouse, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    con = warehouse.connect(read_only=True)
    try:
        out = {}
        for table in BAG_TABLES:
            if table in skip:
                continue
            select = "stand_technische_datum, as_of, gemeenten" if table == "bag.levering" else "*"
            out[table] = sorted(map(repr, con.execute(f"SELECT {select} FROM {table}").fetchall()))
        return out
    finally:
        con.close()


def test_the_relation_is_read_from_the_real_extract() -> None:
    relaties = read_relatie(EXTRACT)
    assert len(relaties) == 8504
    doesburg = [r for r in relaties if r.woonplaats_id == "2142"]
    assert {r.gemeente for r in doesburg} == {"0221"}
    assert [(r.begin, r.end) for r in doesburg][-1] == (dt.date(2010, 12, 16), None)


def test_selecting_doesburg_from_the_real_extract_keeps_every_object(tmp_path) -> None:
    whole = Warehouse(tmp_path / "whole")
    load_bag(whole, EXTRACT, processes=1)
    chosen = Warehouse(tmp_path / "chosen")
    report = load_bag(chosen, EXTRACT, processes=1, gemeenten=["0221"])
    assert report.objects == {"WPL": 1, "OPR": 198, "NUM": 8, "VBO": 2, "PND": 2, "LIG": 2, "STA": 2}
    skip = ("bag.in_onderzoek", "bag.levering")
    assert _tables(chosen, skip) == _tables(whole, skip)
    con = chosen.connect(read_only=True)
    try:
        # InOnderzoek of this trimmed fixture covers all of Doesburg; only rows of loaded objects stay.
        kept, orphans = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE object_id NOT IN (
                SELECT woonplaats_id FROM bag.history_woonplaats
                UNION ALL SELECT openbare_ruimte_id FROM bag.history_openbare_ruimte
                UNION ALL SELECT nummeraanduiding_id FROM bag.history_nummeraanduiding
                UNION ALL SELECT verblijfsobject_id FROM bag.history_verblijfsobject
                UNION ALL SELECT pand_id FROM bag.history_pand
                UNION ALL SELECT ligplaats_id FROM bag.history_ligplaats
                UNION ALL SELECT standplaats_id FROM bag.history_standplaats))
            FROM bag.in_onderzoek"""
        ).fetchone()
        assert con.execute("SELECT gemeenten FROM bag.levering").fetchone() == ("0221",)
    finally:
        con.close()
    assert kept > 0 and orphans == 0


def test_another_gemeente_keeps_nothing_and_an_unknown_one_is_refused(tmp_path) -> None:
    warehouse = Warehouse(tmp_path / "wh")
    report = load_bag(warehouse, EXTRACT, processes=1, gemeenten=["0893"])  # Bedum: not in the file
    assert set(report.objects.values()) == {0}
    with pytest.raises(SourceError, match="gemeente 9876 has no woonplaats"):
        load_bag(warehouse, EXTRACT, processes=1, gemeenten=["9876"])


@pytest.fixture(scope="module")
def municipalities() -> list[MutationSeries]:
    return [
        MutationSeries(DAY, addresses=30, seed=11, gemeentecode="9901", woonplaats_id="9901"),
        MutationSeries(
            DAY,
            addresses=25,
            seed=12,
            gemeentecode="9902",
            woonplaats_id="9902",
            woonplaats_naam="Oosterwaard",
            gemeentenaam="Oosterwaard",
            origin=(160_000.0, 400_000.0),
        ),
    ]


def test_a_municipality_from_a_national_extract_equals_its_own_extract(tmp_path, municipalities) -> None:
    national = write_stand(tmp_path / "BAGNLDL-01112026.zip", DAY, municipalities)
    own = municipalities[1].write_stand(tmp_path / "own", DAY)
    selected = Warehouse(tmp_path / "selected")
    load_bag(selected, national, processes=1, gemeenten=["9902"])
    alone = Warehouse(tmp_path / "alone")
    load_bag(alone, own, processes=1)
    assert _tables(selected) == _tables(alone)
    con = selected.connect(read_only=True)
    try:
        sheds = con.execute(
            "SELECT count(*) FROM bag.pand "
            "WHERE pand_id NOT IN (SELECT pand_id FROM bag.verblijfsobject_pand)"
        ).fetchone()[0]
        prefixes = con.execute("SELECT DISTINCT left(nummeraanduiding_id, 4) FROM bag.adres").fetchall()
    finally:
        con.close()
    assert sheds == 2  # panden without an address are kept by their place in the woonplaats
    assert prefixes == [("9902",)]
    both = Warehouse(tmp_path / "both")
    report = load_bag(both, national, processes=1, gemeenten=["9901", "9902"])
    assert report.objects["NUM"] == 30 + 25 + 4  # 2 ligplaats/standplaats addresses each


def test_the_generated_relation_validates_against_the_xsd(tmp_path, municipalities) -> None:
    national = write_stand(tmp_path / "BAGNLDL-01112026.zip", DAY, municipalities)
    with (
        zipfile.ZipFile(national) as outer,
        zipfile.ZipFile(outer.open("GEM-WPL-RELATIE-01112026.zip")) as inner,
    ):
        doc = etree.fromstring(inner.read("GEM-WPL-RELATIE-01112026-000001.xml"))
    schema = etree.XMLSchema(
        etree.parse(str(XSD / "gem-wpl-rel/gwr-deelbestand-lvc/v20200601/BagvsGwrDeelbestandLvc-2.1.0.xsd"))
    )
    assert schema.validate(doc), schema.error_log.last_error


def test_selection_needs_the_relation_file(tmp_path) -> None:
    stripped = tmp_path / "no-relation.zip"
    with zipfile.ZipFile(EXTRACT) as src, zipfile.ZipFile(stripped, "w") as dst:
        for info in src.infolist():
            if not info.filename.startswith("GEM-WPL-RELATIE"):
                dst.writestr(info, src.read(info))
    with pytest.raises(SourceError, match="no GEM-WPL-RELATIE file in the delivery"):
        load_bag(Warehouse(tmp_path / "wh"), stripped, processes=1, gemeenten=["0221"])


def test_the_pipeline_takes_the_gemeenten_from_the_environment(tmp_path, municipalities, monkeypatch) -> None:
    data = tmp_path / "delivery"
    write_stand(data / "bag" / "BAGNLDL-01112026.zip", DAY, municipalities)
    monkeypatch.setenv("KNOOPPUNT_BAG_GEMEENTEN", "9901")
    result = materialize(
        bag_assets,
        resources={
            "warehouse": WarehouseResource(root=str(tmp_path / "wh")),
            "delivery": DeliveryResource(data_dir=str(data)),
        },
    )
    assert result.success
    con = Warehouse(tmp_path / "wh").connect(read_only=True)
    try:
        assert con.execute("SELECT DISTINCT woonplaats_id FROM bag.adres").fetchall() == [("9901",)]
    finally:
        con.close()
    monkeypatch.setenv("KNOOPPUNT_BAG_GEMEENTEN", "221")
    with pytest.raises(SourceError, match="not a four-digit gemeentecode: 221"):
        materialize(
            bag_assets,
            resources={
                "warehouse": WarehouseResource(root=str(tmp_path / "wh")),
                "delivery": DeliveryResource(data_dir=str(data)),
            },
        )


def test_national_mutations_keep_to_the_selected_gemeente(tmp_path) -> None:
    days = 8
    series = [
        MutationSeries(DAY, addresses=20, seed=21, gemeentecode="9901", woonplaats_id="9901"),
        MutationSeries(
            DAY,
            addresses=20,
            seed=22,
            gemeentecode="9902",
            woonplaats_id="9902",
            origin=(160_000.0, 400_000.0),
        ),
    ]
    for s in series:
        s.advance(days)
    mutations = tmp_path / "mutaties"
    mutations.mkdir()
    for i in range(days):
        day = DAY + dt.timedelta(days=i)
        groups = series[0].groups[day] + series[1].groups[day]
        xml = mutation_xml("9999", day, day + dt.timedelta(days=1), groups)
        (mutations / f"9999MUT{day:%d%m%Y}-{day + dt.timedelta(days=1):%d%m%Y}-000001.xml").write_text(xml)
    (mutations / "Leveringsdocument-BAG-Extract.xml").write_text("<metadata/>")  # not a mutation file
    mutated = Warehouse(tmp_path / "mutated")
    load_bag(
        mutated, write_stand(tmp_path / "day0" / "BAGNLDL.zip", DAY, series), processes=1, gemeenten=["9902"]
    )
    report = apply_bag_mutations(mutated, mutations)
    assert report.extra["toevoeging"] > 0
    fresh = Warehouse(tmp_path / "fresh")
    later = DAY + dt.timedelta(days=days)
    load_bag(
        fresh, write_stand(tmp_path / "dayn" / "BAGNLDL.zip", later, series), processes=1, gemeenten=["9902"]
    )
    assert _tables(mutated, ("bag.levering",)) == _tables(fresh, ("bag.levering",))
    con = mutated.connect(read_only=True)
    try:
        assert con.execute("SELECT as_of, gemeenten FROM bag.levering").fetchone() == (later, "9902")
        assert con.execute("SELECT DISTINCT left(pand_id, 4) FROM bag.history_pand").fetchall() == [("9902",)]
    finally:
        con.close()
