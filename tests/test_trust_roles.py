"""One role model on every path: the lookup enforces per role which targets may be searched and the
purpose's sources for every lookup and export; exports are logged with format, places and case, and
the anomaly report weighs them like lookups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from test_web_warehouse import build_warehouse

from privacy.log import ProcessingLog
from privacy.lookup import Actor, Lookup, LookupRefused, Target
from web.anomalies import Case, Inspection, accesses, find_anomalies

REGISTER = Path(__file__).resolve().parents[1] / "privacy" / "register.yaml"
BIBOB = Actor("bibob", "bibob_officer")
OTHER = Actor("collega", "bibob_officer")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("roles")
    build_warehouse(root)
    return root


def register_without(tmp_path: Path, purpose: str, tables: list[str]) -> Path:
    doc = yaml.safe_load(REGISTER.read_text(encoding="utf-8"))
    for table in tables:
        doc["purposes"][purpose]["sources"].pop(table)
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_lookups_work_under_the_register_in_force(root):
    lookup = Lookup(root)
    assert lookup.hit(BIBOB, "bibob_screening", "BIB-1", Target("address", "1234AB|3||")).hit
    entry = list(ProcessingLog(root).entries())[-1]
    assert entry.inputs["bag.nummeraanduiding"] == [
        "nummeraanduiding_id",
        "postcode",
        "huisnummer",
        "huisletter",
        "huisnummertoevoeging",
    ]


@pytest.mark.parametrize(
    "tables,target",
    [
        (["bag.nummeraanduiding"], Target("address", "1234AB|3||")),
        (["bag.verblijfsobject_pand"], Target("pand", "0363100000000001")),
        (["kvk.vestiging"], Target("kvk", "90000001")),
        (["bag.openbare_ruimte"], Target("street", "Fictieve Dwarsstraat")),
    ],
)
def test_a_lookup_needs_its_tables_among_the_purposes_sources(root, tmp_path, tables, target):
    lookup = Lookup(root, register_path=register_without(tmp_path, "bibob_screening", tables))
    with pytest.raises(
        LookupRefused, match=f"table {tables[0]} is not a source of purpose 'bibob_screening'"
    ):
        lookup.hit(BIBOB, "bibob_screening", "BIB-1", target)
    last = list(ProcessingLog(root).entries())[-1]
    assert (last.action, last.outcome, last.purpose) == ("refusal", "geweigerd", "bibob_screening")


def test_an_export_needs_its_tables_among_the_sources_too(root, tmp_path):
    lookup = Lookup(root, register_path=register_without(tmp_path, "bibob_screening", ["bag.adres"]))
    with pytest.raises(LookupRefused, match="table bag.adres is not a source"):
        lookup.export(BIBOB, "bibob_screening", "BIB-1", fmt="csv")
    assert list(ProcessingLog(root).entries())[-1].details == {"export": True, "format": "csv"}


def test_frontline_may_search_only_by_address(root):
    lookup = Lookup(root)
    balie = Actor("balie", "frontline")
    for target in (Target("street", "Fictieve Dwarsstraat"), Target("pand", "0363100000000001")):
        with pytest.raises(LookupRefused, match="may not search by"):
            lookup.hit(balie, "veiligheid_medewerkers", "VPD-1", target)
    lookup.hit(balie, "veiligheid_medewerkers", "VPD-1", Target("address", "1234AB|7||"))


def test_exports_are_logged_with_format_places_and_case_and_weighed_by_the_anomaly_report(root):
    lookup = Lookup(root)
    rows = lookup.export(OTHER, "bibob_screening", "BIB-ANDERS", fmt="gpkg")
    entry = list(ProcessingLog(root).entries())[-1]
    assert (entry.action, entry.details["format"], entry.details["case_number"]) == (
        "export",
        "gpkg",
        "BIB-ANDERS",
    )
    addresses = sorted(o["objectId"] for o in entry.objects if o["soortObjectId"].startswith("adres"))
    bag_ids = {o["objectId"] for o in entry.objects if o["soortObjectId"] == "BAG nummeraanduiding"}
    assert addresses and bag_ids == {r["nummeraanduiding_id"] for r in rows if r["nummeraanduiding_id"]}

    exported = [a for a in accesses([entry]) if a.action == "export"]
    assert sorted(a.value for a in exported) == addresses
    inspected = addresses[0]
    cases = {
        "BIB-9": Case(
            "BIB-9", frozenset({"bibob"}), (Inspection(inspected, dt.date.today() + dt.timedelta(days=3)),)
        )
    }
    found = find_anomalies([entry], cases)
    early = [
        (a.rule, a.access.user, a.access.action, a.access.value) for a in found if a.rule == "voor_inspectie"
    ]
    assert early == [("voor_inspectie", "collega", "export", inspected)]
    assert {a.rule for a in found} >= {"voor_inspectie"}


def test_a_case_export_is_checked_and_logged_like_an_export(root, tmp_path):
    lookup = Lookup(root)
    lookup.hit(BIBOB, "bibob_screening", "BIB-ZAAK", Target("address", "1234AB|3||"))
    rows = lookup.case_export(BIBOB, "bibob_screening", "BIB-ZAAK", fmt="csv")
    entry = list(ProcessingLog(root).entries())[-1]
    assert (entry.action, entry.details["format"], entry.details["case_export"]) == ("export", "csv", True)
    assert entry.inputs["bag.pand"] == ["pand_id", "geometry"]
    exported = sorted(a.value for a in accesses([entry]) if a.action == "export")
    assert exported == ["1234AB|3||"]
    assert {o["objectId"] for o in entry.objects if o["soortObjectId"] == "BAG nummeraanduiding"} == {
        r["nummeraanduiding_id"] for r in rows
    }

    without_pand = Lookup(root, register_path=register_without(tmp_path, "bibob_screening", ["bag.pand"]))
    with pytest.raises(LookupRefused, match="table bag.pand is not a source"):
        without_pand.case_export(BIBOB, "bibob_screening", "BIB-ZAAK", fmt="gpkg")
    refused = list(ProcessingLog(root).entries())[-1]
    assert (refused.action, refused.details["format"]) == ("refusal", "gpkg")
