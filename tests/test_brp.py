"""BRP readers and ingest against RvIG's GBA-V test set and spec-valid Haal Centraal responses."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from assets.ingest.brp import brp_assets, load_brp
from pipelines.resources import DeliveryResource, WarehouseResource
from pipelines.warehouse import Warehouse
from privacy.identity import IdentityStore
from privacy.pseudonym import Pseudonymiser
from sources.brp import BrpPerson, read_brp
from sources.errors import Reject, SourceError

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
LO3 = FIXTURES / "brp" / "gba-v-testset-20220502.csv"
SPEC = FIXTURES / "brp" / "haal-centraal-brp-personen-openapi.yaml"
PEILDATUM = dt.date(2022, 5, 2)  # the test set's date

# Mattheus du Burck (Lg01_501, line 4): partner and four children are in the test set too.
FATHER, PARTNER = "999990639", "999993239"
CHILDREN = ["999992387", "999994736", "999994773", "999993136"]


@pytest.fixture(autouse=True)
def _demo_keys(monkeypatch):
    for var in ("KNOOPPUNT_PSEUDONYM_KEY", "KNOOPPUNT_PSEUDONYM_KEY_FILE", "KNOOPPUNT_IDENTITY_KEY"):
        monkeypatch.delenv(var, raising=False)


def fixture_bsns() -> set[str]:
    """Every BSN in the test set: the persons' own and their relatives' (all ``CC.01.20`` columns)."""
    with LO3.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    cols = [i for i, code in enumerate(rows[0]) if code.endswith(".01.20")]
    return {row[i] for row in rows[1:] for i in cols if row[i]}


def lo3_subset(
    tmp: Path, n_lines: int, replace: tuple[str, str] | None = None, name: str = "lo3.csv"
) -> Path:
    """The test set's header and first ``n_lines`` data lines, optionally with one value replaced."""
    lines = LO3.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    text = "".join(lines[: n_lines + 1])
    if replace:
        text = text.replace(*replace)
    path = tmp / name
    path.write_text("\ufeff" + text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    mp = pytest.MonkeyPatch()
    for var in ("KNOOPPUNT_PSEUDONYM_KEY", "KNOOPPUNT_PSEUDONYM_KEY_FILE", "KNOOPPUNT_IDENTITY_KEY"):
        mp.delenv(var, raising=False)
    warehouse = Warehouse(root)
    report = load_brp(warehouse, [LO3], peildatum=PEILDATUM)
    yield warehouse, report
    mp.undo()


def test_lo3_reader_counts(loaded):
    records = list(read_brp(LO3))
    persons = [r for r in records if isinstance(r, BrpPerson)]
    rejects = [r for r in records if isinstance(r, Reject)]
    # 687 persoonslijsten: 12 rejected (2 without BSN, 2 malformed BAG ids, 1 impossible birth date,
    # 7 living persons born 1898-1904: over 120 years old today)
    assert len(persons) + len(rejects) == 687
    assert len(rejects) == 12
    assert sum(r.reason.endswith("a living person over 120 years old") for r in rejects) == 7
    _, report = loaded
    assert report.objects["brp.persoon"] == 675 - 4  # four BSNs occur twice: the later copy is rejected
    assert report.rejects == 16
    assert report.objects["brp.relatie"] == 1068
    assert report.extra["relations_to_person_in_delivery"] == 927


def test_known_person_pseudonymised(loaded):
    warehouse, _ = loaded
    p = Pseudonymiser.from_environment(warehouse.secrets_dir)
    con = warehouse.connect(read_only=True)
    try:
        row = con.execute(
            """SELECT geslacht, leeftijd, meerderjarig, overleden, gemeente_van_inschrijving, postcode,
                      huisnummer, datum_aanvang_adreshouding, bron FROM brp.persoon WHERE persoon_id = ?""",
            [p(FATHER)],
        ).fetchone()
        assert row == ("M", 99, True, False, "0518", "2584BZ", 132, dt.date(1996, 3, 19), "lo3")
        # Suzanne Moulin (Lg01_716): her BAG ids from 08.11.80 / 08.11.90
        ids = con.execute(
            "SELECT verblijfsobject_id, nummeraanduiding_id, leeftijd FROM brp.persoon WHERE persoon_id = ?",
            [p("999993653")],
        ).fetchone()
        assert ids == ("0599010000208579", "0599200000219678", 36)
        rel = con.execute(
            "SELECT relatie, gerelateerde_id FROM brp.relatie WHERE persoon_id = ? ORDER BY ALL", [p(FATHER)]
        ).fetchall()
        expected = [("kind", p(c)) for c in CHILDREN] + [("ouder", p("999991425")), ("ouder", p("999994803"))]
        expected.append(("partner", p(PARTNER)))
        assert rel == sorted(expected)
        # relations link to the relatives' own records, and come back the other way
        linked = con.execute(
            """SELECT count(*) FROM brp.relatie r JOIN brp.persoon o ON o.persoon_id = r.gerelateerde_id
               WHERE r.persoon_id = ? AND r.relatie IN ('kind', 'partner')""",
            [p(FATHER)],
        ).fetchone()[0]
        assert linked == 5
        back = con.execute(
            "SELECT count(*) FROM brp.relatie WHERE gerelateerde_id = ? AND relatie = 'ouder'", [p(FATHER)]
        ).fetchone()[0]
        assert back == 4
    finally:
        con.close()


def test_person_repr_hides_identifiers():
    father = next(r for r in read_brp(LO3) if isinstance(r, BrpPerson) and r.bsn == FATHER)
    text = repr(father) + repr(father.relaties)
    assert FATHER not in text and PARTNER not in text and "Burck" not in text


def test_rejects_name_no_bsn(loaded):
    warehouse, _ = loaded
    con = warehouse.connect(read_only=True)
    try:
        reasons = dict(con.execute("SELECT record_ref, reason FROM rejects.brp").fetchall())
    finally:
        con.close()
    assert reasons["line 604"] == "missing BSN (element 01.01.20)"
    assert reasons["line 1569"] == "bad date in element 01.03.10"
    assert reasons["line 563"] == "implausible geboortedatum (01.03.10): a living person over 120 years old"
    assert reasons["line 1562"] == "malformed adresseerbaar object id (08.11.80) (expected 16 digits)"
    assert (
        sum(
            r.startswith("duplicate BSN (first at gba-v-testset-20220502.csv line ") for r in reasons.values()
        )
        == 4
    )


def test_no_plain_bsn_in_warehouse(loaded):
    warehouse, _ = loaded
    bsns = fixture_bsns()
    assert len(bsns) > 700
    con = warehouse.connect()
    try:
        con.execute("CHECKPOINT")
        columns = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND table_catalog = current_database()"
        ).fetchall()
        assert ("brp", "persoon", "persoon_id") in columns
        values: set[str] = set()
        for schema, table, column in columns:
            values.update(
                v for (v,) in con.execute(f'SELECT DISTINCT "{column}" FROM {schema}.{table}').fetchall() if v
            )
    finally:
        con.close()
    assert not values & bsns
    assert not [v for v in values for b in bsns if b in v and not v.isdigit()]  # e.g. in a reject reason
    raw = warehouse.path.read_bytes()
    assert not [b for b in bsns if b.startswith("9999") and b.encode() in raw]
    # names stay out too: only the identity store has them
    assert b"Burck" not in raw


def test_identity_store_holds_identifiers(loaded):
    warehouse, _ = loaded
    p = Pseudonymiser.from_environment(warehouse.secrets_dir)
    ident = duckdb.connect(str(warehouse.identity_path), read_only=True)
    try:
        n = ident.execute("SELECT count(*) FROM persoon WHERE source = 'brp'").fetchone()[0]
        row = ident.execute(
            "SELECT voornamen, voorvoegsel, geslachtsnaam, geboortedatum, bsn_encrypted FROM persoon "
            "WHERE persoon_id = ?",
            [p(FATHER)],
        ).fetchone()
    finally:
        ident.close()
    assert n == 671
    assert row[:4] == ("Mattheus", "du", "Burck", dt.date(1922, 9, 25))
    assert IdentityStore(warehouse).decrypt_bsn(row[4]) == FATHER
    assert FATHER.encode() not in warehouse.identity_path.read_bytes()


def test_latin1_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(LO3.read_text(encoding="utf-8-sig").encode("latin-1", errors="replace"))
    with pytest.raises(SourceError, match=r"latin1\.csv.*not valid UTF-8"):
        list(read_brp(path))


def test_invalid_bsn_is_rejected_without_the_bsn(tmp_path):
    path = lo3_subset(tmp_path, 2, replace=("999993653", "999993654"))
    records = list(read_brp(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0] == Reject("lo3.csv", "line 2", "invalid BSN (elfproef fails)")


def test_invalid_related_bsn_rejects_only_the_relation(tmp_path):
    path = lo3_subset(tmp_path, 8, replace=("999994736", "999994737"))
    records = list(read_brp(path))
    rejects = [r for r in records if isinstance(r, Reject)]
    assert [r.record_ref for r in rejects] == ["line 4 category 09 stapel 2"]
    assert "999994737" not in rejects[0].reason
    father = next(r for r in records if isinstance(r, BrpPerson) and r.bsn == FATHER)
    assert [r.relatie for r in father.relaties].count("kind") == 3


def test_not_an_lo3_file(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a;b\n1;2\n", encoding="utf-8")
    with pytest.raises(SourceError, match="other.csv.*header"):
        list(read_brp(path))


def test_peildatum_defaults_to_bag_stand_date(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    con = warehouse.connect()
    con.execute("CREATE SCHEMA bag")
    con.execute("CREATE TABLE bag.levering (stand_technische_datum DATE)")
    con.execute("INSERT INTO bag.levering VALUES ('2020-09-15')")
    con.close()
    report = load_brp(warehouse, [lo3_subset(tmp_path, 2)])
    assert report.extra["peildatum"] == "2020-09-15"
    con = warehouse.connect(read_only=True)
    assert con.execute("SELECT leeftijd FROM brp.persoon").fetchone()[0] == 34  # born 1985-12-01
    con.close()


# --- Haal Centraal -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hc_validator():
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    registry = Registry().with_resource(
        "urn:brp", Resource.from_contents(spec, default_specification=DRAFT202012)
    )

    def validator(name: str) -> OAS31Validator:
        return OAS31Validator({"$ref": f"urn:brp#/components/schemas/{name}"}, registry=registry)

    return validator


def _datum(iso: str) -> dict:
    return {"type": "Datum", "datum": iso, "langFormaat": "datum"}


HC_RESPONSE = {
    "type": "RaadpleegMetBurgerservicenummer",
    "personen": [
        {
            "burgerservicenummer": "999993653",
            "geslacht": {"code": "V", "omschrijving": "vrouw"},
            "leeftijd": 36,
            "naam": {"voornamen": "Suzanne", "geslachtsnaam": "Moulin", "voorletters": "S."},
            "geboorte": {"datum": _datum("1985-12-01")},
            "gemeenteVanInschrijving": {"code": "0599", "omschrijving": "Rotterdam"},
            "verblijfplaats": {
                "type": "Adres",
                "adresseerbaarObjectIdentificatie": "0599010000208579",
                "nummeraanduidingIdentificatie": "0599200000219678",
                "datumVan": _datum("2015-08-08"),
                "verblijfadres": {
                    "officieleStraatnaam": "Boterdiep",
                    "korteStraatnaam": "Boterdiep",
                    "huisnummer": 31,
                    "postcode": "3077AW",
                    "woonplaats": "Rotterdam",
                },
                "inOnderzoek": {
                    "nummeraanduidingIdentificatie": True,
                    "datumIngangOnderzoek": _datum("2022-01-01"),
                },
            },
            "partners": [
                {
                    "burgerservicenummer": "999990639",
                    "soortVerbintenis": {"code": "H", "omschrijving": "huwelijk"},
                },
                {
                    "burgerservicenummer": "999993239",
                    "ontbindingHuwelijkPartnerschap": {"datum": _datum("2010-01-01")},
                },
            ],
            "kinderen": [{"burgerservicenummer": "999991425"}, {"naam": {"voornamen": "Onbekend"}}],
            "ouders": [{"burgerservicenummer": "999994803", "ouderAanduiding": "1"}],
        },
        {
            "burgerservicenummer": "999990639",
            "geslacht": {"code": "M", "omschrijving": "man"},
            "naam": {"voornamen": "Jean", "geslachtsnaam": "Beaudelaire"},
            "geboorte": {"datum": {"type": "JaarDatum", "jaar": 1976, "langFormaat": "1976"}},
            "overlijden": {"datum": _datum("2021-03-01")},
            "partners": [{"burgerservicenummer": "999993653"}],
        },
        {"burgerservicenummer": "999993654", "naam": {"geslachtsnaam": "Fout"}},
    ],
}


def test_hc_test_response_is_valid_against_the_spec(hc_validator):
    hc_validator("RaadpleegMetBurgerservicenummerResponse").validate(HC_RESPONSE)
    for person in HC_RESPONSE["personen"]:
        hc_validator("Persoon").validate(person)
    hc_validator("Adres").validate(HC_RESPONSE["personen"][0]["verblijfplaats"])
    broken = copy.deepcopy(HC_RESPONSE)
    broken["personen"][0]["verblijfplaats"]["nummeraanduidingIdentificatie"] = "599200000219678"
    with pytest.raises(ValidationError):
        hc_validator("Adres").validate(broken["personen"][0]["verblijfplaats"])


def test_hc_reader(tmp_path):
    path = tmp_path / "hc.json"
    path.write_text(json.dumps(HC_RESPONSE), encoding="utf-8")
    records = list(read_brp(path))
    suzanne, jean, bad = records
    assert isinstance(suzanne, BrpPerson) and suzanne.bron == "haal_centraal"
    assert (suzanne.verblijfsobject_id, suzanne.nummeraanduiding_id) == (
        "0599010000208579",
        "0599200000219678",
    )
    assert (suzanne.postcode, suzanne.huisnummer, suzanne.gemeente_van_inschrijving) == ("3077AW", 31, "0599")
    assert suzanne.adres_in_onderzoek and suzanne.datum_aanvang_adreshouding == dt.date(2015, 8, 8)
    # the dissolved partnership is not a current partner; a child without BSN cannot be linked
    assert [(r.relatie, r.bsn) for r in suzanne.relaties] == [
        ("ouder", "999994803"),
        ("partner", "999990639"),
        ("kind", "999991425"),
        ("kind", None),
    ]
    assert jean.overleden and jean.geboortedatum.as_date() is None
    assert bad == Reject("hc.json", "personen[2]", "invalid BSN (elfproef fails)")


def test_hc_load_links_both_ways(tmp_path):
    path = tmp_path / "hc.json"
    path.write_text(json.dumps(HC_RESPONSE), encoding="utf-8")
    warehouse = Warehouse(tmp_path / "wh")
    report = load_brp(warehouse, [path], peildatum=PEILDATUM)
    assert report.objects == {"brp.persoon": 2, "brp.relatie": 4}
    assert report.extra["relations_to_person_in_delivery"] == 2
    p = Pseudonymiser.from_environment(warehouse.secrets_dir)
    con = warehouse.connect(read_only=True)
    try:
        ages = dict(con.execute("SELECT persoon_id, leeftijd FROM brp.persoon").fetchall())
        meerderjarig = con.execute("SELECT bool_and(meerderjarig) FROM brp.persoon").fetchone()[0]
    finally:
        con.close()
    # year-only birth date 1976: 45 or 46 on 2022-05-02, so no exact age but certainly adult
    assert ages == {p("999993653"): 36, p("999990639"): None}
    assert meerderjarig is True


def test_hc_truncated_json_and_wrong_type(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(HC_RESPONSE)[:200], encoding="utf-8")
    with pytest.raises(SourceError, match=r"cut\.json: invalid JSON"):
        list(read_brp(path))
    other = tmp_path / "zoek.json"
    other.write_text(json.dumps({"type": "ZoekMetPostcodeEnHuisnummer", "personen": []}), encoding="utf-8")
    with pytest.raises(SourceError, match="only RaadpleegMetBurgerservicenummer"):
        list(read_brp(other))


def test_failed_load_leaves_previous_tables(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    good = lo3_subset(tmp_path, 8)
    load_brp(warehouse, [good], peildatum=PEILDATUM)
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(HC_RESPONSE)[:200], encoding="utf-8")
    latin = tmp_path / "z.csv"
    latin.write_bytes(good.read_text(encoding="utf-8-sig").encode("latin-1", errors="replace"))
    for bad in (cut, latin):
        with pytest.raises(SourceError):
            load_brp(warehouse, [good, bad], peildatum=PEILDATUM)
    con = warehouse.connect(read_only=True)
    try:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM brp.persoon), (SELECT count(*) FROM brp.relatie), "
            "(SELECT count(*) FROM rejects.brp)"
        ).fetchone()
    finally:
        con.close()
    assert counts == (2, 7, 0)


def test_identity_store_failure_rolls_back_the_warehouse(tmp_path, monkeypatch):
    warehouse = Warehouse(tmp_path / "wh")
    load_brp(warehouse, [lo3_subset(tmp_path, 8)], peildatum=PEILDATUM)

    def fail(self, source, rows):
        raise OSError("identity store not writable (injected)")

    monkeypatch.setattr(IdentityStore, "replace", fail)
    with pytest.raises(OSError, match="injected"):
        load_brp(warehouse, [lo3_subset(tmp_path, 13, name="more.csv")], peildatum=PEILDATUM)
    con = warehouse.connect(read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM brp.persoon").fetchone()[0] == 2
    finally:
        con.close()


def test_dagster_materialize(tmp_path):
    delivery = tmp_path / "delivery"
    (delivery / "brp").mkdir(parents=True)
    lo3_subset(delivery / "brp", 8)
    (delivery / "brp" / "hc.json").write_text(
        json.dumps({**HC_RESPONSE, "personen": HC_RESPONSE["personen"][2:]})
    )
    result = dg.materialize(
        brp_assets,
        resources={
            "warehouse": WarehouseResource(root=str(tmp_path / "wh")),
            "delivery": DeliveryResource(data_dir=str(delivery)),
        },
        run_config={"ops": {"brp_tables": {"config": {"peildatum": "2022-05-02"}}}},
    )
    assert result.success
    materialized = {
        tuple(e.asset_key.path): e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    persoon = materialized[("brp", "persoon")]
    assert persoon["dagster/row_count"].value == 2
    assert persoon["rejects"].value == 1
    assert persoon["peildatum"].value == "2022-05-02"
    assert materialized[("brp", "relatie")]["dagster/row_count"].value == 7
    text = repr(materialized)
    for secret in [FATHER, PARTNER, *CHILDREN, "Burck", "1922"]:
        assert secret not in text


def test_lo3_unknown_bag_ids_are_empty_not_addresses(loaded):
    # LO3 writes an unknown BAG id as sixteen zeros; the fixture has such persons. They must not
    # become a (non-existent) address, which would raise an address_not_in_bag flag.
    assert "0" * 16 in LO3.read_text(encoding="utf-8-sig")
    warehouse, _ = loaded
    con = warehouse.connect(read_only=True)
    try:
        zeros = con.execute(
            "SELECT count(*) FROM brp.persoon WHERE verblijfsobject_id = ? OR nummeraanduiding_id = ?",
            ["0" * 16, "0" * 16],
        ).fetchone()[0]
    finally:
        con.close()
    assert zeros == 0


def test_no_negative_age_for_a_birth_after_the_peildatum():
    from sources.brp.model import BrpPerson, PartialDate, leeftijd

    born = dict.fromkeys(BrpPerson.__slots__, None) | {"ref": "x", "bsn": "", "overleden": False}
    person = BrpPerson(**(born | {"geboortedatum": PartialDate(2023, 1, 1), "adres_in_onderzoek": False}))
    assert leeftijd(person, dt.date(2020, 9, 15)) == (None, None)
    assert leeftijd(person, dt.date(2026, 1, 1)) == (3, False)
