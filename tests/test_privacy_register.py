"""The processing register: complete entries load, incomplete ones are refused by name, VAR export."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30ReadValidator, validate

from privacy.register import DEFAULT_PATH, RegisterError, load_register, subtract_duration

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
VAR_SPEC = FIXTURES / "privacy" / "vng-verwerkingsactiviteiten-register-api.yaml"
PURPOSES = {
    "bibob_screening",
    "signaalanalyse_ondermijning",
    "veiligheid_medewerkers",
    "adreskwaliteit",
    "brancheanalyse",
    "datakwaliteit",
    "integriteitstoets_zakelijke_relaties",
}


def write_variant(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def test_repository_register_is_complete():
    register = load_register()
    assert set(register.purposes) == PURPOSES
    brancheanalyse = register.purposes["brancheanalyse"]
    assert brancheanalyse.aggregated_only and brancheanalyse.min_cell_size == 5
    assert register.purposes["veiligheid_medewerkers"].flags == ("staff_safety",)
    for purpose in register.purposes.values():
        assert purpose.justification.startswith("Grondslag: ")
        assert all("." in table for table in purpose.sources)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("grondslag", "grondslag"),
        ("toelichting_grondslag", "toelichting_grondslag"),
        ("subsidiariteit", "subsidiariteit"),
        ("proportionaliteit", "proportionaliteit"),
        ("dpia", "dpia"),
        ("wettelijke_taak", "wettelijke_taak"),
        ("verenigbaarheid", "verenigbaarheid"),
        ("sources", "sources"),
        ("roles", "roles"),
        ("bewaartermijn", "bewaartermijn"),
        ("valid_until", "valid_until"),
    ],
)
def test_missing_field_is_refused_by_name(tmp_path, field, expected):
    path = write_variant(tmp_path, lambda doc: doc["purposes"]["signaalanalyse_ondermijning"].pop(field))
    with pytest.raises(RegisterError) as exc:
        load_register(path)
    message = str(exc.value)
    assert "signaalanalyse_ondermijning" in message
    assert expected in message.split("missing:")[1]


def test_blank_justification_counts_as_missing(tmp_path):
    def blank(doc):
        doc["purposes"]["adreskwaliteit"]["subsidiariteit"] = "   "

    with pytest.raises(RegisterError, match=r"adreskwaliteit.*missing: subsidiariteit"):
        load_register(write_variant(tmp_path, blank))


def test_criminal_data_need_their_own_ground(tmp_path):
    def drop_ground(doc):
        del doc["purposes"]["bibob_screening"]["strafrechtelijke_gegevens"]["grondslag"]

    with pytest.raises(RegisterError, match="strafrechtelijke_gegevens.grondslag"):
        load_register(write_variant(tmp_path, drop_ground))


def test_external_recipient_needs_a_covenant(tmp_path):
    def add_partner(doc):
        doc["purposes"]["adreskwaliteit"]["ontvangers"].append({"naam": "Politie", "extern": True})

    with pytest.raises(RegisterError, match="convenant for external recipient 'Politie'"):
        load_register(write_variant(tmp_path, add_partner))


def test_aggregated_purpose_needs_a_minimum_cell_size(tmp_path):
    with pytest.raises(RegisterError, match="min_cell_size"):
        load_register(write_variant(tmp_path, lambda d: d["purposes"]["brancheanalyse"].pop("min_cell_size")))


def test_invalid_values_are_named(tmp_path):
    def break_it(doc):
        p = doc["purposes"]["veiligheid_medewerkers"]
        p["grondslag"] = "Omdat het kan"
        p["roles"] = ["frontline", "janitor"]
        p["bewaartermijn"]["resultaten"] = "one year"

    with pytest.raises(RegisterError) as exc:
        load_register(write_variant(tmp_path, break_it))
    message = str(exc.value)
    assert "grondslag must be one of" in message
    assert "janitor" in message
    assert "bewaartermijn.resultaten" in message


def test_every_incomplete_purpose_is_reported(tmp_path):
    def two(doc):
        doc["purposes"]["adreskwaliteit"].pop("dpia")
        doc["purposes"]["bibob_screening"].pop("doel")

    with pytest.raises(RegisterError) as exc:
        load_register(write_variant(tmp_path, two))
    assert "adreskwaliteit" in str(exc.value) and "bibob_screening" in str(exc.value)


def test_column_and_validity_checks():
    register = load_register()
    p = register.purposes["veiligheid_medewerkers"]
    assert p.column_refusals({"handhaving.zaak": ["zaak_id", "team"]}) == []
    assert p.column_refusals({"handhaving.zaak": ["zaak_id", "instrument", "datum_einde"]}) == [
        "column(s) datum_einde of handhaving.zaak are not allowed for purpose 'veiligheid_medewerkers'"
    ]
    assert "not a source" in p.column_refusals({"brp.persoon": ["persoon_id"]})[0]
    assert p.refusal(p.approved_on) is None
    assert "expired" in p.refusal(p.valid_until + dt.timedelta(days=1))
    assert "not approved until" in p.refusal(p.approved_on - dt.timedelta(days=1))


def test_subtract_duration():
    assert subtract_duration(dt.date(2026, 3, 31), "P1M") == dt.date(2026, 2, 28)
    assert subtract_duration(dt.date(2026, 11, 29), "P5Y") == dt.date(2021, 11, 29)
    assert subtract_duration(dt.date(2026, 1, 15), "P18M") == dt.date(2024, 7, 15)
    assert subtract_duration(dt.date(2026, 1, 15), "P2W") == dt.date(2026, 1, 1)


def test_var_export_validates_against_the_vng_spec():
    spec = yaml.safe_load(VAR_SPEC.read_text(encoding="utf-8"))
    response = spec["paths"]["/verwerkingsactiviteiten"]["get"]["responses"]["200"]
    schema = {**response["content"]["application/json"]["schema"], "components": spec["components"]}
    data = load_register().export_vng()
    assert data["count"] == len(PURPOSES)
    validate(data, schema, cls=OAS30ReadValidator, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
    broken = copy.deepcopy(data)
    broken["results"][0]["verantwoordelijkeOrganisatie"] = "not an OIN"
    with pytest.raises(Exception, match="does not match"):
        validate(broken, schema, cls=OAS30ReadValidator, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
