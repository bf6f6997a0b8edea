"""Hit/no-hit first: lookups on the published release, details as a second logged request."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from pipelines.warehouse import Warehouse, publish
from privacy.identity import IdentityStore
from privacy.log import ProcessingLog
from privacy.lookup import Actor, FlagView, Lookup, LookupRefused, Target
from privacy.scan import find_plain_bsns

NUM_A = "0363200000000001"  # 1011AB 1, in pand P1 with the company flag
NUM_B = "0363200000000002"  # 1011AB 3, staff-safety flag
NUM_C = "0363200000000003"  # 1011AB 5A-bis, no flag
NUM_D = "0363200000000004"  # 1012CD 8, enforcement history
PAND_1 = "0363100000000001"
STREET = "0363300000000001"
PERSON = "P" + "a" * 24  # a family member named in the enforcement evidence
OTHER_PERSON = "P" + "b" * 24
BSN = "999990019"

ANALYST = Actor("analist1", "analyst")
BIBOB = Actor("bibob1", "bibob_officer")
FRONTLINE = Actor("balie1", "frontline")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Warehouse:
    w = Warehouse(tmp_path_factory.mktemp("lookup"))
    with w.transaction() as con:
        con.execute("CREATE SCHEMA bag; CREATE SCHEMA kvk; CREATE SCHEMA signals")
        con.execute(
            f"""CREATE TABLE bag.nummeraanduiding AS SELECT * FROM (VALUES
                ('{NUM_A}', 1, NULL, NULL, '1011AB', '{STREET}'),
                ('{NUM_B}', 3, NULL, NULL, '1011AB', '{STREET}'),
                ('{NUM_C}', 5, 'A', 'bis', '1011AB', '{STREET}'),
                ('{NUM_D}', 8, NULL, NULL, '1012CD', '0363300000000002'))
                t(nummeraanduiding_id, huisnummer, huisletter, huisnummertoevoeging, postcode,
                  openbare_ruimte_id)"""
        )
        con.execute(
            f"""CREATE TABLE bag.openbare_ruimte AS SELECT * FROM (VALUES
                ('{STREET}', 'Fictieve Dwarsstraat'), ('0363300000000002', 'Verzonnen Laan'))
                t(openbare_ruimte_id, naam)"""
        )
        con.execute(
            """CREATE TABLE bag.verblijfsobject AS
               SELECT '03630100000000' || lpad(i::VARCHAR, 2, '0') AS verblijfsobject_id,
                      '03632000000000' || lpad(i::VARCHAR, 2, '0') AS hoofdadres_id,
                      121000.0 + i AS x, 487000.0 AS y
               FROM range(1, 5) t(i)"""
        )
        con.execute(
            f"""CREATE TABLE bag.verblijfsobject_pand AS SELECT * FROM (VALUES
                ('0363010000000001', '{PAND_1}'), ('0363010000000002', '0363100000000002'),
                ('0363010000000003', '0363100000000002'), ('0363010000000004', '0363100000000004'))
                t(verblijfsobject_id, pand_id)"""
        )
        con.execute(
            """CREATE TABLE bag.adres AS
               SELECT n.*, o.naam AS openbare_ruimte_naam, 'Voorbeeldstad' AS woonplaats_naam
               FROM bag.nummeraanduiding n JOIN bag.openbare_ruimte o USING (openbare_ruimte_id)"""
        )
        con.execute(
            f"""CREATE TABLE bag.pand AS
                SELECT pand_id, ST_GeomFromText(wkt) AS geometry FROM (VALUES
                ('{PAND_1}', 'POLYGON((121000 487000, 121010 487000, 121010 487010, 121000 487000))'),
                ('0363100000000002', 'POLYGON((121030 487000, 121040 487000, 121040 487010, 121030 487000))'),
                ('0363100000000004', 'POLYGON((125000 487000, 125010 487000, 125010 487010, 125000 487000))'))
                t(pand_id, wkt)"""
        )
        con.execute(
            """CREATE TABLE kvk.vestiging AS SELECT * FROM (VALUES
                ('000000000001', '10000001', 'Fictief Bouw B.V.', '0363200000000001', '0363010000000001'),
                ('000000000002', '10000002', 'Verzonnen Kapsalon', '0363200000000003', '0363010000000003'))
                t(vestigingsnummer, kvk_nummer, eerste_handelsnaam, nummeraanduiding_id,
                  verblijfsobject_id)"""
        )
        flags = [
            ("many_companies_in_building", None, None, PAND_1, None, {"vestigingen": 12, "threshold": 10}),
            (
                "staff_safety",
                NUM_B,
                "0363010000000002",
                None,
                None,
                {"message": "caution, contact Team Wijkzaken"},
            ),
            (
                "enforcement_history",
                NUM_D,
                "0363010000000004",
                "0363100000000004",
                None,
                {"instrument": "opiumwet_13b", "family_elsewhere": [PERSON]},
            ),
        ]
        con.execute(
            """CREATE TABLE signals.flags (flag VARCHAR, nummeraanduiding_id VARCHAR,
               verblijfsobject_id VARCHAR, pand_id VARCHAR, openbare_ruimte_id VARCHAR, evidence JSON,
               x DOUBLE, y DOUBLE, reference_date DATE)"""
        )
        for flag, num, vbo, pand, opr, evidence in flags:
            con.execute(
                "INSERT INTO signals.flags VALUES (?, ?, ?, ?, ?, ?, 121000, 487000, DATE '2026-11-01')",
                [flag, num, vbo, pand, opr, json.dumps(evidence)],
            )
    publish(w)
    IdentityStore(w).replace(
        "brp",
        pa.table(
            {
                "persoon_id": [PERSON, OTHER_PERSON],
                "bsn": [BSN, "999990020"],
                "voornamen": ["Jan", "Piet"],
                "voorvoegsel": [None, "de"],
                "geslachtsnaam": ["Fictief", "Verzonnen"],
                "geboortedatum": pa.array([dt.date(1980, 1, 1), dt.date(1990, 2, 2)], pa.date32()),
            }
        ),
    )
    return w


@pytest.fixture(scope="module")
def lookup(warehouse) -> Lookup:
    return Lookup(warehouse)


def address(postcode: str, number: int, letter: str = "", addition: str = "") -> Target:
    return Target("address", f"{postcode}|{number}|{letter}|{addition}")


def test_hit_then_detail(lookup, warehouse):
    res = lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-2026-001", address("1011AB", 1))
    assert res.hit and res.target_label == "Fictieve Dwarsstraat 1, 1011 AB Voorbeeldstad"
    det = lookup.detail(ANALYST, res.request_id)
    assert [f.flag for f in det.flags] == ["many_companies_in_building"]
    assert det.flags[0].pand_id == PAND_1 and det.flags[0].evidence["vestigingen"] == 12
    actions = [(e.action, e.details.get("hit")) for e in ProcessingLog(warehouse).entries()][-2:]
    assert actions == [("hit", True), ("detail", None)]


def test_no_hit(lookup):
    res = lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-2026-002", address("1011 ab", 5, "a", "BIS"))
    assert not res.hit and res.target_label == "Fictieve Dwarsstraat 5A-bis, 1011 AB Voorbeeldstad"
    assert res.known and res.outcome == "geen_treffer"
    assert lookup.detail(ANALYST, res.request_id).flags == []


def test_purpose_limits_the_flags(lookup):
    # adreskwaliteit may not see the company flag: for that purpose the address has no hit.
    assert not lookup.hit(ANALYST, "adreskwaliteit", "Z-2026-003", address("1011AB", 1)).hit


def test_kvk_street_and_pand_targets(lookup):
    assert lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-4", Target("kvk", "10000001")).hit
    assert not lookup.hit(
        ANALYST, "signaalanalyse_ondermijning", "Z-4", Target("vestiging", "000000000002")
    ).hit
    assert lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-4", Target("pand", PAND_1)).hit
    street = lookup.hit(
        ANALYST, "signaalanalyse_ondermijning", "Z-4", Target("street", "fictieve dwarsstraat")
    )
    assert street.hit and street.target_label == "Fictieve Dwarsstraat"
    laan = Target("street", "Verzonnen Laan")
    assert lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-4", laan).hit
    assert not lookup.hit(ANALYST, "adreskwaliteit", "Z-4", laan).hit


def test_frontline_sees_only_whom_to_call(lookup):
    res = lookup.hit(FRONTLINE, "veiligheid_medewerkers", "HB-77", address("1011AB", 3))
    assert res.hit
    det = lookup.detail(FRONTLINE, res.request_id)
    assert det.flags == [
        FlagView(
            flag="staff_safety", message="Let op: neem contact op met Team Wijkzaken", team="Team Wijkzaken"
        )
    ]
    analyst_view = lookup.detail(
        ANALYST, lookup.hit(ANALYST, "veiligheid_medewerkers", "HB-78", address("1011AB", 3)).request_id
    )
    assert analyst_view.flags[0].nummeraanduiding_id == NUM_B


@pytest.mark.parametrize(
    ("actor", "purpose", "case", "reason"),
    [
        (FRONTLINE, "signaalanalyse_ondermijning", "Z-1", "role 'frontline' may not use purpose"),
        (ANALYST, "nieuwsgierigheid", "Z-1", "unknown purpose (not in the register)"),
        (ANALYST, "signaalanalyse_ondermijning", " ", "a case number (zaaknummer) is required"),
        (ANALYST, "signaalanalyse_ondermijning", "999990019", "looks like a BSN"),
        (ANALYST, "brancheanalyse", "Z-1", "aggregated-only"),
    ],
)
def test_refusals_are_logged(lookup, warehouse, actor, purpose, case, reason):
    with pytest.raises(LookupRefused, match=re.escape(reason)):
        lookup.hit(actor, purpose, case, address("1011AB", 1))
    last = list(ProcessingLog(warehouse).entries())[-1]
    assert (last.action, last.outcome, last.gebruiker) == ("refusal", "geweigerd", actor.user_id)
    assert reason in last.reason


def test_detail_of_someone_elses_request_is_refused(lookup, warehouse):
    res = lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-9", address("1011AB", 1))
    with pytest.raises(LookupRefused, match="another user"):
        lookup.detail(BIBOB, res.request_id)
    with pytest.raises(LookupRefused, match="no such"):
        lookup.detail(ANALYST, "00000000-0000-4000-8000-000000000000")
    assert list(ProcessingLog(warehouse).entries())[-1].action == "refusal"


def test_reidentification_of_a_person_in_the_evidence(lookup, warehouse):
    res = lookup.hit(BIBOB, "bibob_screening", "BIBOB-12", address("1012CD", 8))
    det = lookup.detail(BIBOB, res.request_id)
    assert det.flags[0].evidence["family_elsewhere"] == [PERSON]
    person = lookup.reidentify(BIBOB, res.request_id, PERSON)
    assert (person.voornamen, person.geslachtsnaam) == ("Jan", "Fictief")
    with pytest.raises(LookupRefused, match="did not appear"):
        lookup.reidentify(BIBOB, res.request_id, OTHER_PERSON)
    # signal analysis may not re-identify at all
    res2 = lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-13", address("1012CD", 8))
    lookup.detail(ANALYST, res2.request_id)
    with pytest.raises(LookupRefused, match="does not allow re-identification"):
        lookup.reidentify(ANALYST, res2.request_id, PERSON)
    entries = list(ProcessingLog(warehouse).entries())
    detail = next(e for e in entries if e.action == "detail" and e.details["request_id"] == res.request_id)
    assert {
        "soortObjectId": "persoon_id (pseudoniem)",
        "objectId": PERSON,
        "betrokkenheid": "in bewijs",
    } in detail.objects
    assert any(e.action == "reidentification" for e in entries)
    assert find_plain_bsns([warehouse.root / "log"]) == []
    assert ProcessingLog(warehouse).verify().ok


def test_open_bag_reads_for_the_interface(lookup):
    choices = lookup.address_choices("1011 ab", 5)
    assert [(c.huisletter, c.toevoeging, c.straat) for c in choices] == [("A", "bis", "Fictieve Dwarsstraat")]
    buildings = lookup.buildings([PAND_1])
    assert [(b.pand_id, b.focus) for b in buildings] == [(PAND_1, True), ("0363100000000002", False)]
    assert buildings[0].wkt.startswith("POLYGON")
    near_point = lookup.buildings([], [(125005.0, 487005.0)], radius=10)
    assert [(b.pand_id, b.focus) for b in near_point] == [("0363100000000004", False)]


def test_export_lists_places_for_the_purpose_and_is_logged(lookup, warehouse):
    rows = lookup.export(ANALYST, "signaalanalyse_ondermijning", "Z-EXP-1", fmt="csv")
    assert [(r["flag"], r["postcode"]) for r in rows] == [
        ("enforcement_history", "1012CD"),
        ("many_companies_in_building", None),
    ]
    assert "evidence" not in rows[0]
    last = list(ProcessingLog(warehouse).entries())[-1]
    assert (last.action, last.row_counts, last.details["case_number"]) == ("export", {"rows": 2}, "Z-EXP-1")
    with_evidence = lookup.export(BIBOB, "bibob_screening", "BIBOB-EXP", fmt="gpkg", with_evidence=True)
    assert json.loads(with_evidence[0]["evidence"])["family_elsewhere"] == [PERSON]
    last = list(ProcessingLog(warehouse).entries())[-1]
    assert last.details["with_evidence"] and PERSON in [o["objectId"] for o in last.objects]
    with pytest.raises(LookupRefused, match="front-line roles cannot export"):
        lookup.export(FRONTLINE, "veiligheid_medewerkers", "HB-9", fmt="csv")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (Target("kvk", "999990019"), "kvk targets must be 8 digits"),
        (Target("street", "Straat 999990019"), "looks like a BSN"),
        (Target("address", "1011AB|x||"), "address targets must be postcode|huisnummer"),
        (Target("pand", "0363200000000001"), "pand targets must be 16 digits with 10"),
        (Target("persoon", "P" + "a" * 24), "unknown target kind;"),  # type: ignore[arg-type]
    ],
)
def test_malformed_targets_are_refused_without_logging_the_value(lookup, warehouse, target, reason):
    with pytest.raises(LookupRefused, match=re.escape(reason)):
        lookup.hit(ANALYST, "signaalanalyse_ondermijning", "Z-20", target)
    last = list(ProcessingLog(warehouse).entries())[-1]
    assert last.action == "refusal" and target.value not in json.dumps(last.details)
